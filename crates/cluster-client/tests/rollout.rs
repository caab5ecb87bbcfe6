//! Readiness and progress (what a rollout waits for) on fixtures.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use cluster_client::{RolloutState, Snapshot, all_rollouts};

fn fixture(name: &str) -> Snapshot {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cluster-doctor/tests/fixtures")
            .join(name),
    )
    .unwrap();
    Snapshot::from_yaml("todo", &text).unwrap()
}

#[test]
fn healthy_release_is_rolled_out() {
    let lines: Vec<String> = all_rollouts(&fixture("healthy.yaml"))
        .iter()
        .map(|r| r.line())
        .collect();
    assert_eq!(
        lines,
        [
            "todo-api 2/2 ready, rolled out",
            "todo-mcp 1/1 ready, rolled out",
            "todo-postgresql 1/1 ready, rolled out",
            "todo-web 1/1 ready, rolled out",
        ]
    );
}

#[test]
fn progress_line_says_which_pod_waits_for_what() {
    let rollouts = all_rollouts(&fixture("probes.yaml"));
    assert_eq!(rollouts.len(), 1);
    let api = &rollouts[0];
    assert_eq!(
        api.state,
        RolloutState::Progressing("1 of 2 updated replicas are available".to_string())
    );
    assert_eq!(
        api.line(),
        "todo-api 1/2 ready, waiting for pod todo-api-7c9d8b6f4-x2x7q: Readiness probe failed: HTTP probe failed \
         with statuscode: 503"
    );
}

#[test]
fn failed_and_stuck_rollouts() {
    let rollouts = all_rollouts(&fixture("workloads.yaml"));
    let lines: Vec<String> = rollouts.iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "todo-api 1/2 ready, FAILED: ReplicaSet \"todo-api-6b5a4f3e2\" has timed out progressing.",
            "todo-postgresql 0/1 ready, waiting for pod todo-postgresql-0: SchedulerError: running PreBind plugin \
             \"VolumeBinding\": binding volumes: context deadline exceeded",
            "todo-web 0/1 ready, 0 out of 1 new replicas have been updated",
        ]
    );
    assert!(rollouts.iter().all(|r| !r.is_done()));
}

#[test]
fn crash_looping_pod_blocks_with_its_reason() {
    let rollouts = all_rollouts(&fixture("crashloop.yaml"));
    assert_eq!(
        rollouts[0].line(),
        "todo-api 0/1 ready, waiting for pod todo-api-7c9d8b6f4-x2x7q: container api: CrashLoopBackOff: back-off \
         2m40s restarting failed container=api pod=todo-api-7c9d8b6f4-x2x7q_todo(5b1e4f0a-2c3d-4e5f-8a9b-0c1d2e3f4a51)"
    );
}

#[test]
fn unobserved_generation_waits_for_the_controller() {
    let mut snapshot = fixture("healthy.yaml");
    snapshot.deployments[0].metadata.generation = Some(2);
    let rollouts = all_rollouts(&snapshot);
    assert_eq!(
        rollouts[0].state,
        RolloutState::Progressing(
            "waiting for the deployment spec update to be observed".to_string()
        )
    );
    let mut snapshot = fixture("healthy.yaml");
    let status = snapshot.stateful_sets[0].status.as_mut().unwrap();
    status.update_revision = Some("todo-postgresql-7e0a9d8c6e".to_string());
    status.updated_replicas = Some(0);
    let db = all_rollouts(&snapshot)
        .into_iter()
        .find(|r| r.name == "todo-postgresql")
        .unwrap();
    assert_eq!(
        db.state,
        RolloutState::Progressing(
            "waiting for statefulset rolling update to complete 0 pods at revision todo-postgresql-7e0a9d8c6e"
                .to_string()
        )
    );
}
