//! The fake API server over real HTTP: lookups, lists, selectors, namespaces, logs, watches,
//! patches and refused writes, as a client sees them.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use fake_apiserver::{FakeApiServer, Write, doctor_fixture};
use serde_json::{Value, json};

fn deployment(namespace: &str, name: &str, app: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
           "spec": {"replicas": 1}, "status": {"replicas": 1}})
}

async fn get(server: &FakeApiServer, path: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{}{path}", server.url()))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn lookups_lists_and_discovery() {
    let server = FakeApiServer::with_objects([
        deployment("todo", "todo-api", "api"),
        deployment("todo", "todo-web", "web"),
        deployment("staging", "todo-api", "api"),
    ])
    .unwrap();
    let (status, missing) = get(&server, "/api/v1/namespaces/todo/secrets/nope").await;
    assert_eq!(
        (status, missing["reason"].as_str()),
        (404, Some("NotFound"))
    );

    let (status, one) = get(
        &server,
        "/apis/apps/v1/namespaces/staging/deployments/todo-api",
    )
    .await;
    assert_eq!(
        (status, one["metadata"]["namespace"].as_str()),
        (200, Some("staging"))
    );

    let (_, list) = get(
        &server,
        "/apis/apps/v1/namespaces/todo/deployments?labelSelector=app%3Dapi",
    )
    .await;
    assert_eq!(list["kind"], "DeploymentList");
    let names: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metadata"]["namespace"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("todo", "todo-api")]);
    let (_, all) = get(&server, "/apis/apps/v1/deployments").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    let (_, groups) = get(&server, "/apis").await;
    assert!(
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "apps")
    );
    let (_, core) = get(&server, "/api/v1").await;
    assert!(
        core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "secrets")
    );
    let (status, version) = get(&server, "/version").await;
    assert_eq!((status, version["major"].as_str()), (200, Some("1")));

    // put replaces the object of the same namespace and name.
    let mut changed = deployment("todo", "todo-api", "api");
    changed["spec"]["replicas"] = json!(4);
    server.put(changed).unwrap();
    let (_, one) = get(
        &server,
        "/apis/apps/v1/namespaces/todo/deployments/todo-api",
    )
    .await;
    assert_eq!(one["spec"]["replicas"], 4);
    assert!(server.requests().iter().all(|r| r.starts_with("GET /")));
    assert!(server.writes().is_empty());
}

#[tokio::test]
async fn patches_are_recorded_and_merged_other_writes_refused() {
    let server = FakeApiServer::with_objects([deployment("todo", "todo-api", "api")]).unwrap();
    let client = reqwest::Client::new();
    let base = format!(
        "{}/apis/apps/v1/namespaces/todo/deployments/todo-api",
        server.url()
    );
    let patched: Value = client
        .patch(&base)
        .json(&json!({"metadata": {"labels": {"app": null, "tier": "x"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({"tier": "x"}));
    let scale: Value = client
        .patch(format!("{base}/scale"))
        .json(&json!({"spec": {"replicas": 3}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()),
        (Some("Scale"), Some(3))
    );
    assert_eq!(
        server.object("deployments", "todo-api").unwrap()["spec"]["replicas"],
        3
    );

    let refused = client.delete(&base).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 405);
    let missing = client
        .patch(format!(
            "{}/apis/apps/v1/namespaces/other/deployments/todo-api",
            server.url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    let writes = server.writes();
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert_eq!(
        writes[1],
        Write {
            method: "PATCH".into(),
            uri: "/apis/apps/v1/namespaces/todo/deployments/todo-api/scale".into(),
            body: json!({"spec": {"replicas": 3}}),
        }
    );
    assert_eq!(writes[2].method, "DELETE");
    assert_eq!(
        server.object("deployments", "todo-api").unwrap()["metadata"]["name"],
        "todo-api"
    );
}

#[tokio::test]
async fn logs_and_open_watches() {
    let server = FakeApiServer::with_objects(doctor_fixture("crashloop.yaml").unwrap()).unwrap();
    server.set_log("todo-api-7c9d8b6f4-x2x7q", "boom\n");
    let log = reqwest::get(format!(
        "{}/api/v1/namespaces/todo/pods/todo-api-7c9d8b6f4-x2x7q/log",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(log.text().await.unwrap(), "boom\n");
    let (_, pods) = get(&server, "/api/v1/namespaces/todo/pods").await;
    assert_eq!(pods["items"].as_array().unwrap().len(), 1);

    // A watch answers 200 and then never sends a change (bounded: a generous 2 s).
    let watch = reqwest::get(format!(
        "{}/api/v1/namespaces/todo/pods?watch=true",
        server.url()
    ))
    .await
    .unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    let chunk = tokio::time::timeout(Duration::from_secs(2), watch.bytes()).await;
    assert!(chunk.is_err(), "the watch ended: {chunk:?}");
    assert_eq!(
        server.uris().last().unwrap(),
        "/api/v1/namespaces/todo/pods?watch=true"
    );
}

/// Synchronous callers (helm tests) start and drop it without a runtime of their own.
#[test]
fn starts_and_stops_without_a_runtime() {
    let dir = std::env::temp_dir().join(format!("fake-apiserver-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = FakeApiServer::start().unwrap();
    let kubeconfig = server.write_kubeconfig(&dir, "fake", "todo").unwrap();
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        text.contains(&format!("server: {}", server.url())),
        "{text}"
    );
    assert!(text.contains("namespace: todo"), "{text}");
    let address = server.url().trim_start_matches("http://").to_string();
    drop(server);
    assert!(
        std::net::TcpStream::connect(address).is_err(),
        "still listening after drop"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
