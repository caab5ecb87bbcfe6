//! Upgrades that cannot work are refused at render time, against live objects served by the
//! fake API server (the chart's `lookup` runs for real through `--dry-run=server`):
//! a new volume size or StorageClass (immutable volumeClaimTemplates), a new database user or
//! name (only read when the volume is initialised), and a return to the in-cluster database
//! on a kept volume whose password is gone. Without a cluster the same rules are documented
//! on the values (values.yaml, README).

#![allow(clippy::unwrap_used)]

use fake_apiserver::FakeApiServer;

use crate::live::RenderLive as _;
use chart_policy::tools::{Helm, RenderRequest};
use serde::Deserialize;
use serde_json::{Value, json};

fn helm() -> Helm {
    Helm::primary().unwrap_or_else(|e| panic!("{e:#}"))
}

/// A server holding the StatefulSet of a values-dev.yaml install (as rendered).
fn installed() -> FakeApiServer {
    let server = FakeApiServer::start().unwrap();
    let text = server
        .render(
            &helm(),
            &RenderRequest::new().values_file("values-dev.yaml"),
        )
        .unwrap();
    for document in yaml_serde::Deserializer::from_str(&text) {
        let mut value = Value::deserialize(document).unwrap();
        if value.get("kind").and_then(Value::as_str) == Some("StatefulSet") {
            value["metadata"]["namespace"] = json!("todo");
            // Helm's ownership marks, as an install leaves them (Helm 4 checks them).
            value["metadata"]["annotations"] = json!({
                "meta.helm.sh/release-name": "todo",
                "meta.helm.sh/release-namespace": "todo"
            });
            server.put(value).unwrap();
        }
    }
    server
}

fn refused(server: &FakeApiServer, set: &[&str]) -> String {
    let mut request = RenderRequest::new().values_file("values-dev.yaml");
    for assignment in set {
        request = request.set(*assignment);
    }
    match server.render(&helm(), &request) {
        Ok(_) => panic!("an upgrade with {set:?} must be refused"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn an_unchanged_upgrade_renders() {
    let server = installed();
    server
        .render(
            &helm(),
            &RenderRequest::new().values_file("values-dev.yaml"),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn a_new_volume_size_is_refused_with_the_way_to_grow_it() {
    let message = refused(&installed(), &["postgresql.persistence.size=2Gi"]);
    for fragment in [
        "postgresql.persistence.size changed from 1Gi to 2Gi",
        "kubectl -n todo patch pvc data-todo-postgresql-0",
        "delete statefulset todo-postgresql --cascade=orphan",
    ] {
        assert!(
            message.contains(fragment),
            "{fragment:?} missing from: {message}"
        );
    }
}

#[test]
fn a_new_storage_class_is_refused() {
    let message = refused(
        &installed(),
        &["postgresql.persistence.storageClass=fast-ssd"],
    );
    assert!(
        message.contains("postgresql.persistence.storageClass changed from \"\" to \"fast-ssd\"")
            && message.contains("back up"),
        "{message}"
    );
}

#[test]
fn a_new_database_user_or_name_is_refused() {
    let server = installed();
    let message = refused(&server, &["postgresql.auth.username=app"]);
    assert!(
        message.contains("postgresql.auth.username changed from \"todo\" to \"app\"")
            && message.contains("only applies when the database is first created"),
        "{message}"
    );
    let message = refused(&server, &["postgresql.auth.database=app"]);
    assert!(
        message.contains("postgresql.auth.database changed from \"todo\" to \"app\""),
        "{message}"
    );
}

#[test]
fn back_to_in_cluster_on_a_kept_volume_without_its_password_is_refused() {
    let server = FakeApiServer::start().unwrap();
    server
        .put(json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-todo-postgresql-0", "namespace": "todo"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        }))
        .unwrap();
    let message = refused(&server, &[]);
    assert!(
        message.contains("PersistentVolumeClaim data-todo-postgresql-0 holds the data of an earlier in-cluster database")
            && message.contains("postgresql.auth.existingSecret"),
        "{message}"
    );
    // With the password still in the kept Secret, the reinstall is fine.
    server
        .put(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "todo-secrets", "namespace": "todo",
                         "labels": {"app.kubernetes.io/managed-by": "Helm"},
                         "annotations": {"meta.helm.sh/release-name": "todo", "meta.helm.sh/release-namespace": "todo"}},
            "data": {"postgres-password": "c2VjcmV0", "jwt-secret": "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"}
        }))
        .unwrap();
    server
        .render(
            &helm(),
            &RenderRequest::new().values_file("values-dev.yaml"),
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn the_same_size_in_other_units_is_not_a_change() {
    let server = installed();
    let request = RenderRequest::new()
        .values_file("values-dev.yaml")
        .set_string("postgresql.persistence.size=1024Mi");
    server
        .render(&helm(), &request)
        .unwrap_or_else(|e| panic!("1024Mi is 1Gi: {e:#}"));
    let message = refused(&server, &["postgresql.persistence.size=1025Mi"]);
    assert!(message.contains("changed from 1Gi to 1025Mi"), "{message}");
}
