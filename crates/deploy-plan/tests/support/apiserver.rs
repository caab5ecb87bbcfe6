//! A scripted Kubernetes API server on 127.0.0.1 serving the doctor's YAML fixtures: lists,
//! never-ending watches and pod logs, so kube-rs code runs over real HTTP.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use kube::{Client, Config};
use serde_json::{Value, json};

/// Objects by resource plural (`pods`, `deployments`, ...), and log text by pod name.
pub struct Cluster {
    pub objects: HashMap<String, Vec<Value>>,
    pub logs: HashMap<String, String>,
    pub requests: Mutex<Vec<String>>,
}

fn plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

pub fn load(fixture: &str) -> HashMap<String, Vec<Value>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cluster-doctor/tests/fixtures")
        .join(fixture);
    let list: yaml_serde::Value =
        yaml_serde::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let list: Value = serde_json::to_value(list).unwrap();
    let mut objects: HashMap<String, Vec<Value>> = HashMap::new();
    for item in list["items"].as_array().unwrap() {
        objects
            .entry(plural(item["kind"].as_str().unwrap()))
            .or_default()
            .push(item.clone());
    }
    objects
}

async fn serve(cluster: Arc<Cluster>, uri: Uri) -> Response {
    cluster.requests.lock().unwrap().push(uri.to_string());
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let query = uri.query().unwrap_or_default();
    if query.contains("watch=true") {
        // An open watch with no changes: the stream never yields.
        let pending = futures::stream::pending::<Result<Bytes, Infallible>>();
        return Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(pending))
            .unwrap();
    }
    if segments.last() == Some(&"log") {
        let pod = segments[segments.len() - 2];
        return match cluster.logs.get(pod) {
            Some(log) => Response::new(Body::from(log.clone())),
            None => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::from("{}"))
                .unwrap(),
        };
    }
    // GET .../<plural>/<name>: one object.
    if segments.len() >= 2 {
        let (plural, name) = (segments[segments.len() - 2], segments[segments.len() - 1]);
        if let Some(objects) = cluster.objects.get(plural) {
            return match objects.iter().find(|o| o["metadata"]["name"] == name) {
                Some(object) => Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(object.to_string()))
                    .unwrap(),
                None => not_found(plural, name),
            };
        }
    }
    let resource = segments.last().copied().unwrap_or_default();
    let selector = label_selector(query);
    let items: Vec<Value> = cluster
        .objects
        .get(resource)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| {
            selector
                .iter()
                .all(|(k, v)| o["metadata"]["labels"][k.as_str()] == v.as_str())
        })
        .collect();
    let list = json!({ "kind": "List", "apiVersion": "v1", "metadata": { "resourceVersion": "100" }, "items": items });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(list.to_string()))
        .unwrap()
}

pub async fn start_server(cluster: Cluster) -> (String, Arc<Cluster>) {
    let cluster = Arc::new(cluster);
    let shared = cluster.clone();
    let app = axum::Router::new().fallback(move |uri: Uri| serve(shared.clone(), uri));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), cluster)
}

/// A client for the server at `url`.
pub fn client(url: &str) -> Client {
    Client::try_from(Config::new(url.parse().unwrap())).unwrap()
}

/// Serves `cluster`; returns a client for it and the shared state.
pub async fn start(cluster: Cluster) -> (Client, Arc<Cluster>) {
    let (url, cluster) = start_server(cluster).await;
    (client(&url), cluster)
}

/// A kubeconfig file in `dir` whose context `context` points at `url`.
pub fn kubeconfig(dir: &Path, url: &str, context: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\nusers:\n- name: fake\n  user: {{}}\n\
         contexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: fake\n    namespace: todo\n\
         current-context: {context}\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A cluster with the objects of `fixture` and no logs.
pub fn fixture_cluster(fixture: &str) -> Cluster {
    Cluster {
        objects: load(fixture),
        logs: HashMap::new(),
        requests: Mutex::new(Vec::new()),
    }
}

fn not_found(plural: &str, name: &str) -> Response {
    let status = json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
        "message":format!("{plural} \"{name}\" not found"),"reason":"NotFound","code":404});
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header("content-type", "application/json")
        .body(Body::from(status.to_string()))
        .unwrap()
}

/// `labelSelector=a%3Db%2Cc%3Dd` as (key, value) pairs (equality selectors only).
fn label_selector(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        s.replace("%3D", "=")
            .replace("%2C", ",")
            .replace("%2F", "/")
    };
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("labelSelector="))
        .flat_map(|value| {
            decode(value)
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|term| {
            term.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}
