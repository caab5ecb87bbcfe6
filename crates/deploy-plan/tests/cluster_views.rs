//! Pure functions over cluster objects, on the doctor's YAML fixtures: what the rollout watch
//! decides and prints, the port-forward's pod and port choice, the access lines, `status`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use cluster_doctor::Snapshot;
use deploy_plan::plan::{AccessSpec, WaitSpec};
use deploy_plan::portforward::{pick_ready_pod, target_port};
use deploy_plan::runner::access_lines;
use deploy_plan::status::{parse_helm_status, render_status};
use deploy_plan::wait::{changed_lines, wait_status};

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

#[test]
fn access_lines_on_minikube_and_elsewhere() {
    let minikube = AccessSpec {
        context: Some("todo-chatbot".into()),
        namespace: "todo".into(),
        web_service: "todo-web".into(),
        web_port: 8080,
        minikube_ip_capture: Some("minikube ip"),
        tunnel: false,
    };
    assert_eq!(
        access_lines(&["todo.local".into()], Some("192.168.49.2"), &minikube),
        [
            "The app is at:",
            "  http://todo.local/",
            "which needs this line in /etc/hosts:",
            "  192.168.49.2 todo.local",
            "  (for example: echo '192.168.49.2 todo.local' | sudo tee -a /etc/hosts)",
            "Without ingress: kubectl --context todo-chatbot port-forward -n todo svc/todo-web 8080:8080, then open http://localhost:8080/",
        ]
    );
    // macOS with the docker driver: the tunnel and 127.0.0.1 instead of the unreachable IP.
    let tunnel = AccessSpec {
        tunnel: true,
        ..minikube.clone()
    };
    assert_eq!(
        access_lines(&["todo.local".into()], Some("192.168.49.2"), &tunnel),
        [
            "The minikube IP (192.168.49.2) is not reachable from this machine with the docker driver: run `minikube -p todo-chatbot tunnel` in another terminal (keep it open; it may ask for your password to bind ports 80 and 443), then use 127.0.0.1.",
            "The app is at:",
            "  http://todo.local/",
            "which needs this line in /etc/hosts:",
            "  127.0.0.1 todo.local",
            "  (for example: echo '127.0.0.1 todo.local' | sudo tee -a /etc/hosts)",
            "Without ingress: kubectl --context todo-chatbot port-forward -n todo svc/todo-web 8080:8080, then open http://localhost:8080/",
        ]
    );
    let current = AccessSpec {
        context: None,
        minikube_ip_capture: None,
        ..minikube
    };
    assert_eq!(
        access_lines(&[], None, &current),
        [
            "Without ingress: kubectl port-forward -n todo svc/todo-web 8080:8080, then open http://localhost:8080/"
        ]
    );
}

const HELM_STATUS: &str = r#"{"name":"todo","info":{"first_deployed":"2026-11-02T10:00:00.512345+00:00","last_deployed":"2026-11-02T10:20:00.123456+00:00","deleted":"","description":"Upgrade complete","status":"deployed","notes":"Open http://todo.local/"},"chart":{"metadata":{"name":"todo","version":"0.1.0","description":"Todo chatbot","apiVersion":"v2","appVersion":"0.1.0","type":"application"},"lock":null,"templates":[],"values":{},"schema":null,"files":[]},"config":{"llm":{"existingSecret":"todo-llm-api-key"}},"version":3,"namespace":"todo"}"#;

#[test]
fn status_page_at_a_glance() {
    let release = parse_helm_status(HELM_STATUS).map_err(|e| e.to_string());
    let text = render_status(&release, &fixture("healthy.yaml"));
    assert_eq!(
        text,
        "Release todo in namespace todo: deployed, revision 3, chart todo-0.1.0 (app 0.1.0), last deployed \
         2026-11-02T10:20:00.123456+00:00\n\
         \n\
         Workloads:\n\
         \x20 todo-api 2/2 ready, rolled out\n\
         \x20 todo-mcp 1/1 ready, rolled out\n\
         \x20 todo-postgresql 1/1 ready, rolled out\n\
         \x20 todo-web 1/1 ready, rolled out\n\
         \n\
         Pods:\n\
         \x20 NAME                      READY  STATUS   RESTARTS  IMAGES\n\
         \x20 todo-api-7c9d8b6f4-m4kzp  1/1    Running  0         todo-api:3f9a2c1d0b7e\n\
         \x20 todo-api-7c9d8b6f4-x2x7q  1/1    Running  0         todo-api:3f9a2c1d0b7e\n\
         \x20 todo-mcp-5b8f9d7c6-q8w2n  1/1    Running  0         todo-mcp:8d41be07aa19\n\
         \x20 todo-postgresql-0         1/1    Running  0         postgres:17-alpine\n\
         \x20 todo-web-6c7d8e9f0-h5j6k  1/1    Running  0         todo-web:c02e6f5a9d13\n\
         \n\
         URLs:\n\
         \x20 http://todo.local/  (Ingress todo, address 192.168.49.2)\n\
         \x20 kubectl port-forward -n todo svc/todo-web 8080:8080, then http://localhost:8080/\n"
    );
    // Secrets-adjacent values in the release config are never shown.
    assert!(!text.contains("existingSecret"));
}

#[test]
fn status_shows_waiting_reasons_and_a_missing_release() {
    let text = render_status(
        &Err("helm not found on PATH".into()),
        &fixture("crashloop.yaml"),
    );
    assert!(
        text.starts_with("Release: unknown (helm not found on PATH)\n"),
        "{text}"
    );
    assert!(
        text.contains("todo-api-7c9d8b6f4-x2x7q  0/1    CrashLoopBackOff  5"),
        "{text}"
    );
}
