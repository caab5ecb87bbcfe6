//! Pure functions over cluster objects, on the doctor's YAML fixtures: what the rollout watch
//! decides and prints, and the port-forward's pod and port choice.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use cluster_client::Snapshot;
use cluster_client::portforward::{pick_ready_pod, target_port};
use cluster_client::wait::{WaitSpec, changed_lines, wait_status};

fn fixture(name: &str) -> Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cluster-doctor/tests/fixtures")
        .join(name);
    Snapshot::from_yaml("todo", &std::fs::read_to_string(path).unwrap()).unwrap()
}

fn spec() -> WaitSpec {
    WaitSpec {
        context: None,
        namespace: "todo".into(),
        release: "todo".into(),
        deployments: vec!["todo-api".into(), "todo-mcp".into(), "todo-web".into()],
        stateful_sets: vec!["todo-postgresql".into()],
        timeout: Duration::from_secs(600),
    }
}

#[test]
fn healthy_release_ends_the_wait() {
    let status = wait_status(&spec(), &fixture("healthy.yaml"));
    assert!(status.done);
    assert_eq!(status.failed, None);
    assert_eq!(
        status.lines["todo-postgresql"],
        "todo-postgresql 1/1 ready, rolled out"
    );
}

#[test]
fn wait_reports_what_each_workload_waits_for() {
    let status = wait_status(&spec(), &fixture("probes.yaml"));
    assert!(!status.done);
    let lines: Vec<&String> = status.lines.values().collect();
    assert_eq!(
        lines,
        [
            "todo-api 1/2 ready, waiting for pod todo-api-7c9d8b6f4-x2x7q: Readiness probe failed: HTTP probe failed with statuscode: 503",
            "todo-mcp: not created yet",
            "todo-web: not created yet",
        ]
    );
    // Only changes are printed again.
    let mut later = status.clone();
    later
        .lines
        .insert("todo-web".into(), "todo-web 1/1 ready, rolled out".into());
    assert_eq!(
        changed_lines(&status, &later),
        ["todo-web 1/1 ready, rolled out"]
    );
    assert!(changed_lines(&later, &later).is_empty());
}

#[test]
fn a_failed_rollout_stops_the_wait() {
    let status = wait_status(&spec(), &fixture("workloads.yaml"));
    assert!(!status.done);
    assert_eq!(
        status.failed.as_deref(),
        Some("todo-api: ReplicaSet \"todo-api-6b5a4f3e2\" has timed out progressing.")
    );
}

#[test]
fn release_without_a_database_statefulset() {
    // External database: no StatefulSet; the Deployments alone decide.
    let mut snapshot = fixture("healthy.yaml");
    snapshot.stateful_sets.clear();
    let status = wait_status(&spec(), &snapshot);
    assert!(status.done);
    assert!(!status.lines.contains_key("todo-postgresql"));
}

#[test]
fn port_forward_picks_a_ready_pod_and_resolves_named_ports() {
    let snapshot = fixture("probes.yaml");
    let api_pods: Vec<_> = snapshot
        .pods
        .iter()
        .filter(|p| p.metadata.name.as_deref().unwrap().starts_with("todo-api"))
        .cloned()
        .collect();
    let pod = pick_ready_pod(&api_pods).unwrap();
    assert_eq!(
        pod.metadata.name.as_deref(),
        Some("todo-api-7c9d8b6f4-m4kzp"),
        "the unready one is skipped"
    );
    let unready: Vec<_> = api_pods
        .iter()
        .filter(|p| p.metadata.name.as_deref() == Some("todo-api-7c9d8b6f4-x2x7q"))
        .cloned()
        .collect();
    assert!(pick_ready_pod(&unready).is_none());

    let healthy = fixture("healthy.yaml");
    let service = healthy
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("todo-api"))
        .unwrap();
    let pod = healthy
        .pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("todo-api-7c9d8b6f4-x2x7q"))
        .unwrap();
    assert_eq!(target_port(service, pod, 8080).unwrap(), 8080);
    let error = target_port(service, pod, 80).unwrap_err().to_string();
    assert_eq!(error, "Service todo-api has no port 80 (it has 8080)");
    // A pod without the named port.
    let db = healthy
        .pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("todo-postgresql-0"))
        .unwrap();
    let error = target_port(service, db, 8080).unwrap_err().to_string();
    assert_eq!(
        error,
        "Service todo-api targets port `http`, which no container of pod todo-postgresql-0 declares"
    );
}
