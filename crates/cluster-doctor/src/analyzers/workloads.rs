//! Deployments and StatefulSets below their desired ready replicas, or stuck mid-rollout.

use k8s_openapi::api::apps::v1::{DeploymentCondition, StatefulSetCondition};

use crate::finding::{Finding, ObjectRef};
use cluster_client::rollout::{
    RolloutState, RolloutStatus, deployment_rollout, stateful_set_rollout,
};
use cluster_client::snapshot::Snapshot;

struct Condition<'a> {
    type_: &'a str,
    status: &'a str,
    reason: Option<&'a str>,
    message: Option<&'a str>,
}

impl<'a> From<&'a DeploymentCondition> for Condition<'a> {
    fn from(c: &'a DeploymentCondition) -> Self {
        Condition {
            type_: &c.type_,
            status: &c.status,
            reason: c.reason.as_deref(),
            message: c.message.as_deref(),
        }
    }
}

impl<'a> From<&'a StatefulSetCondition> for Condition<'a> {
    fn from(c: &'a StatefulSetCondition) -> Self {
        Condition {
            type_: &c.type_,
            status: &c.status,
            reason: c.reason.as_deref(),
            message: c.message.as_deref(),
        }
    }
}

fn finding(
    snapshot: &Snapshot,
    namespace: Option<&str>,
    rollout: RolloutStatus,
    conditions: Vec<Condition>,
) -> Finding {
    let namespace = namespace.unwrap_or(&snapshot.namespace);
    let mut evidence = vec![format!(
        "{}/{} replicas ready",
        rollout.ready, rollout.desired
    )];
    match &rollout.state {
        RolloutState::Progressing(why) => evidence.push(format!("rollout: {why}")),
        RolloutState::Failed(why) => evidence.push(format!("rollout failed: {why}")),
        RolloutState::Done => {}
    }
    let mut replica_failure = None;
    for condition in &conditions {
        let bad = (condition.type_ == "ReplicaFailure" && condition.status == "True")
            || (condition.type_ != "ReplicaFailure" && condition.status != "True");
        if bad {
            evidence.push(format!(
                "condition {}={}, reason {}: {}",
                condition.type_,
                condition.status,
                condition.reason.unwrap_or("-"),
                condition.message.unwrap_or("-")
            ));
        }
        if condition.type_ == "ReplicaFailure" && condition.status == "True" {
            replica_failure = condition.message;
        }
    }
    evidence.extend(
        rollout
            .waiting_for
            .iter()
            .map(|w| format!("waiting for {w}")),
    );
    let describe = format!(
        "`kubectl describe {} -n {namespace} {}`",
        rollout.kind.to_lowercase(),
        rollout.name
    );
    let suggestion = if let Some(message) = replica_failure {
        format!(
            "Its pods cannot even be created ({message}): check quotas, the service account and admission \
             policies; {describe} has the details."
        )
    } else if matches!(rollout.state, RolloutState::Failed(_)) {
        format!(
            "The rollout gave up. Fix the pod problems listed above, then re-run `cargo xtask deploy`; {describe} \
             has the details."
        )
    } else if rollout.waiting_for.is_empty() {
        format!("No pod of it is running yet: {describe} and its events say why.")
    } else {
        format!("It waits for its pods: see their findings above; {describe} has the details.")
    };
    Finding {
        analyzer: "unready-workload",
        object: ObjectRef::new(rollout.kind, Some(namespace), &rollout.name),
        problem: format!("{}/{} replicas ready", rollout.ready, rollout.desired),
        evidence,
        suggestion,
    }
}

/// Workloads whose rollout is not done (fewer ready replicas than desired, old replicas left,
/// or a progress deadline exceeded).
pub fn unready_workloads(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for deployment in &snapshot.deployments {
        let rollout = deployment_rollout(deployment, snapshot);
        if rollout.is_done() && rollout.ready >= rollout.desired {
            continue;
        }
        let conditions = deployment
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(Condition::from)
            .collect();
        findings.push(finding(
            snapshot,
            deployment.metadata.namespace.as_deref(),
            rollout,
            conditions,
        ));
    }
    for stateful_set in &snapshot.stateful_sets {
        let rollout = stateful_set_rollout(stateful_set, snapshot);
        if rollout.is_done() && rollout.ready >= rollout.desired {
            continue;
        }
        let conditions = stateful_set
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(Condition::from)
            .collect();
        findings.push(finding(
            snapshot,
            stateful_set.metadata.namespace.as_deref(),
            rollout,
            conditions,
        ));
    }
    findings
}
