//! Pure functions over cluster objects, on the doctor's YAML fixtures: the access lines and
//! `status`. (The rollout watch's and port-forward's are cluster-client's tests/views.rs.)
#![allow(clippy::unwrap_used)]

use std::path::Path;

use cluster_client::Snapshot;
use deploy_plan::plan::AccessSpec;
use deploy_plan::runner::access_lines;
use deploy_plan::status::{parse_helm_status, render_status};

fn fixture(name: &str) -> Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cluster-doctor/tests/fixtures")
        .join(name);
    Snapshot::from_yaml("todo", &std::fs::read_to_string(path).unwrap()).unwrap()
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
