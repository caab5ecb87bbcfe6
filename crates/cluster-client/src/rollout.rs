//! Is a Deployment or StatefulSet rolled out, and if not, what is it waiting for?
//!
//! The same rules as `kubectl rollout status`, as pure functions over the objects, so the
//! deploy command can stream progress lines ("todo-api 1/2 ready, waiting for pod
//! todo-api-xyz: Readiness probe failed: ...") and the doctor can reuse them.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;

use crate::pod_state::{pod_blocker, pod_name};
use crate::snapshot::Snapshot;

/// Where a rollout stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutState {
    /// Every desired replica is updated and ready.
    Done,
    /// Still moving; the text says what it waits for (kubectl's wording).
    Progressing(String),
    /// Will not finish by itself (e.g. the progress deadline was exceeded).
    Failed(String),
}

/// The rollout of one workload, with the pods holding it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutStatus {
    pub kind: &'static str,
    pub name: String,
    pub desired: i32,
    pub ready: i32,
    pub state: RolloutState,
    /// `pod NAME: why` for every selected pod that is not ready, sorted by pod name.
    pub waiting_for: Vec<String>,
}

impl RolloutStatus {
    pub fn is_done(&self) -> bool {
        self.state == RolloutState::Done
    }

    /// One progress line, e.g. `todo-api 1/2 ready, waiting for pod todo-api-xyz: Readiness
    /// probe failed: HTTP probe failed with statuscode: 503`.
    pub fn line(&self) -> String {
        let head = format!("{} {}/{} ready", self.name, self.ready, self.desired);
        match &self.state {
            RolloutState::Done => format!("{head}, rolled out"),
            RolloutState::Failed(why) => format!("{head}, FAILED: {why}"),
            RolloutState::Progressing(why) => match self.waiting_for.first() {
                Some(first) if self.waiting_for.len() > 1 => {
                    format!(
                        "{head}, waiting for {first} (and {} more pod(s))",
                        self.waiting_for.len() - 1
                    )
                }
                Some(first) => format!("{head}, waiting for {first}"),
                None => format!("{head}, {why}"),
            },
        }
    }
}

fn blocked_pods(pods: &[&Pod], snapshot: &Snapshot) -> Vec<String> {
    let mut waiting: Vec<String> = pods
        .iter()
        .filter_map(|pod| {
            pod_blocker(pod, &snapshot.events).map(|why| format!("pod {}: {why}", pod_name(pod)))
        })
        .collect();
    waiting.sort();
    waiting
}

/// `kubectl rollout status deployment/NAME`, as data.
pub fn deployment_rollout(deployment: &Deployment, snapshot: &Snapshot) -> RolloutStatus {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let desired = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let pods = match deployment.spec.as_ref() {
        Some(spec) => snapshot.pods_selected_by(&spec.selector),
        None => Vec::new(),
    };
    let generation = deployment.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let deadline_exceeded = status.conditions.iter().flatten().find(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    let state = if generation > observed {
        RolloutState::Progressing(
            "waiting for the deployment spec update to be observed".to_string(),
        )
    } else if let Some(condition) = deadline_exceeded {
        RolloutState::Failed(
            condition
                .message
                .clone()
                .unwrap_or_else(|| "progress deadline exceeded".to_string()),
        )
    } else if updated < desired {
        RolloutState::Progressing(format!(
            "{updated} out of {desired} new replicas have been updated"
        ))
    } else if replicas > updated {
        RolloutState::Progressing(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ))
    } else if available < updated {
        RolloutState::Progressing(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        RolloutState::Done
    };
    let waiting_for = if state == RolloutState::Done {
        Vec::new()
    } else {
        blocked_pods(&pods, snapshot)
    };
    RolloutStatus {
        kind: "Deployment",
        name,
        desired,
        ready,
        state,
        waiting_for,
    }
}

/// `kubectl rollout status statefulset/NAME`, as data.
pub fn stateful_set_rollout(stateful_set: &StatefulSet, snapshot: &Snapshot) -> RolloutStatus {
    let name = stateful_set.metadata.name.clone().unwrap_or_default();
    let spec = stateful_set.spec.as_ref();
    let desired = spec.and_then(|s| s.replicas).unwrap_or(1);
    let status = stateful_set.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let pods = match spec {
        Some(spec) => snapshot.pods_selected_by(&spec.selector),
        None => Vec::new(),
    };
    let generation = stateful_set.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let partition = spec
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let state = if generation > observed {
        RolloutState::Progressing(
            "waiting for the statefulset spec update to be observed".to_string(),
        )
    } else if ready < desired {
        RolloutState::Progressing(format!("waiting for {} pods to be ready", desired - ready))
    } else if partition > 0 && updated < desired - partition {
        RolloutState::Progressing(format!(
            "waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated",
            desired - partition
        ))
    } else if partition == 0
        && status.update_revision.is_some()
        && status.update_revision != status.current_revision
    {
        RolloutState::Progressing(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {}",
            status.update_revision.as_deref().unwrap_or_default()
        ))
    } else {
        RolloutState::Done
    };
    let waiting_for = if state == RolloutState::Done {
        Vec::new()
    } else {
        blocked_pods(&pods, snapshot)
    };
    RolloutStatus {
        kind: "StatefulSet",
        name,
        desired,
        ready,
        state,
        waiting_for,
    }
}

/// The rollout of every Deployment and StatefulSet in the snapshot, sorted by name.
pub fn all_rollouts(snapshot: &Snapshot) -> Vec<RolloutStatus> {
    let mut all: Vec<RolloutStatus> = snapshot
        .deployments
        .iter()
        .map(|d| deployment_rollout(d, snapshot))
        .chain(
            snapshot
                .stateful_sets
                .iter()
                .map(|s| stateful_set_rollout(s, snapshot)),
        )
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}
