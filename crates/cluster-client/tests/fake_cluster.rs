//! The kube-rs code paths (snapshot fetch, rollout watch, port-forward) against the shared
//! scripted Kubernetes API server (crates/fake-apiserver) serving the doctor's YAML fixtures:
//! real HTTP, real kube-rs list, watch and log calls. (A real cluster cannot run here.)
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use cluster_client::{ContainerKey, FetchOptions, WaitSpec, fetch_snapshot, watch_rollout};
use fake_apiserver::{FakeApiServer, doctor_fixture};

/// A fake API server holding the doctor fixture `fixture`, and a client for it.
fn start(fixture: &str) -> (kube::Client, FakeApiServer) {
    let server = FakeApiServer::with_objects(doctor_fixture(fixture).unwrap()).unwrap();
    (server.client().unwrap(), server)
}

fn spec(timeout: Duration) -> WaitSpec {
    WaitSpec {
        context: None,
        namespace: "todo".into(),
        release: "todo".into(),
        deployments: vec!["todo-api".into(), "todo-mcp".into(), "todo-web".into()],
        stateful_sets: vec!["todo-postgresql".into()],
        timeout,
    }
}

#[tokio::test]
async fn fetch_reads_every_kind_and_the_crash_log() {
    let log = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cluster-doctor/tests/fixtures/crashloop.todo-api.log"),
    )
    .unwrap();
    let (client, cluster) = start("crashloop.yaml");
    cluster.set_log("todo-api-7c9d8b6f4-x2x7q", &log);
    let snapshot = fetch_snapshot(&client, "todo", &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(snapshot.pods.len(), 1);
    assert_eq!(snapshot.deployments.len(), 1);
    assert_eq!(snapshot.events.len(), 1);
    assert_eq!(snapshot.ingress_classes.as_ref().map(Vec::len), Some(0));
    assert_eq!(
        snapshot
            .logs
            .get(&ContainerKey::new("todo-api-7c9d8b6f4-x2x7q", "api")),
        Some(&log)
    );
    // What the doctor makes of this snapshot: cluster-doctor's tests/analyzers.rs (same fixture).
    let requests = cluster.uris();
    assert!(
        requests.iter().any(|r| r
            .starts_with("/api/v1/namespaces/todo/pods/todo-api-7c9d8b6f4-x2x7q/log?")
            && r.contains("previous=true")
            && r.contains("tailLines=30")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/apis/discovery.k8s.io/v1/namespaces/todo/endpointslices"))
    );
}

#[tokio::test]
async fn watch_ends_when_the_release_is_rolled_out() {
    let (client, cluster) = start("healthy.yaml");
    let mut lines = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        watch_rollout(client, &spec(Duration::from_secs(15)), |l| {
            lines.push(l.to_string())
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        lines,
        [
            "todo-api 2/2 ready, rolled out",
            "todo-mcp 1/1 ready, rolled out",
            "todo-postgresql 1/1 ready, rolled out",
            "todo-web 1/1 ready, rolled out",
        ]
    );
    let requests = cluster.uris();
    assert!(
        requests.iter().any(
            |r| r.starts_with("/apis/apps/v1/namespaces/todo/deployments?")
                && r.contains("labelSelector=app.kubernetes.io%2Finstance%3Dtodo")
        ),
        "{requests:?}"
    );
}

#[tokio::test]
async fn watch_fails_fast_on_a_failed_rollout() {
    let (client, _server) = start("workloads.yaml");
    let error = watch_rollout(client, &spec(Duration::from_secs(15)), |_| {})
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "rollout failed: todo-api: ReplicaSet \"todo-api-6b5a4f3e2\" has timed out progressing."
    );
}

#[tokio::test]
async fn watch_times_out_saying_what_still_waits() {
    let (client, _server) = start("probes.yaml");
    let mut lines = Vec::new();
    let error = watch_rollout(client, &spec(Duration::from_secs(2)), |l| {
        lines.push(l.to_string())
    })
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "timed out after 2s waiting for:\n  todo-api 1/2 ready, waiting for pod todo-api-7c9d8b6f4-x2x7q: Readiness \
         probe failed: HTTP probe failed with statuscode: 503\n  todo-mcp: not created yet\n  todo-web: not created yet"
    );
    // Each line is printed once, not every second.
    assert_eq!(lines.len(), 3, "{lines:?}");
}

#[tokio::test]
async fn port_forward_finds_a_ready_pod_behind_the_service() {
    let (client, cluster) = start("healthy.yaml");
    let (port, forward) = cluster_client::port_forward(client, "todo", "todo-web", 8080)
        .await
        .unwrap();
    assert_eq!(port, forward.local_port());
    assert_eq!(forward.base_url(), format!("http://127.0.0.1:{port}"));
    // The local listener is up (forwarding itself needs a real API server's websocket).
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let requests = cluster.uris();
    assert!(
        requests.contains(&"/api/v1/namespaces/todo/services/todo-web".to_string()),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces/todo/pods?")
                && r.contains("app.kubernetes.io%2Fcomponent%3Dweb")),
        "{requests:?}"
    );
    drop(forward);
}

#[tokio::test]
async fn port_forward_refuses_a_service_without_ready_pods() {
    let (client, _server) = start("services.yaml");
    let error = cluster_client::port_forward(client.clone(), "todo", "todo-api", 8080)
        .await
        .err()
        .unwrap();
    assert_eq!(
        error.to_string(),
        "no ready pod behind Service todo-api (`cargo xtask doctor` says why)"
    );
    let error = cluster_client::port_forward(client, "todo", "todo-nope", 8080)
        .await
        .err()
        .unwrap();
    assert_eq!(error.to_string(), "reading Service todo/todo-nope");
}
