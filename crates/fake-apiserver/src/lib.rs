//! A scripted Kubernetes API server on 127.0.0.1 for tests, so code that talks to a cluster
//! (helm's `lookup` in a server-side dry run, kube-rs lists, watches, logs and patches) runs
//! over real HTTP without one. A dev-dependency only: never linked into a shipped binary.
//!
//! What it answers:
//! - version and discovery (`/version`, `/api`, `/apis`, the group/version resource lists)
//!   for the kinds the chart renders, which a `helm template --dry-run=server` asks for;
//! - GET of one object (404 with a Kubernetes `Status` when missing) and of collections, in
//!   a namespace or across all of them, filtered by equality label selectors;
//! - watches (`watch=true`) that stay open and never report a change;
//! - pod logs (`.../pods/<name>/log`), as set with [`FakeApiServer::set_log`];
//! - PATCH of an object or of its `scale` subresource: recorded in
//!   [`FakeApiServer::writes`] and merged into the stored object (RFC 7386, which is also
//!   what a strategic merge does for the fields the tests patch).
//!
//! Every other write is recorded and refused with 405, so a test can prove what was changed
//! (or that nothing was). Objects are stored by resource plural, namespace and name; the
//! group is not checked (no two kinds the tests use share a plural).
//!
//! The server runs on its own thread with its own Tokio runtime, so synchronous tests (which
//! hand helm a kubeconfig) and `#[tokio::test]`s use it alike; it stops when dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// One resource: (plural, kind, namespaced).
type Resource = (&'static str, &'static str, bool);

/// Resources served per group/version: the discovery documents and the plural of a stored
/// object's kind come from here.
const RESOURCES: &[(&str, &[Resource])] = &[
    (
        "v1",
        &[
            ("secrets", "Secret", true),
            ("configmaps", "ConfigMap", true),
            ("services", "Service", true),
            ("serviceaccounts", "ServiceAccount", true),
            ("pods", "Pod", true),
            ("persistentvolumeclaims", "PersistentVolumeClaim", true),
            ("events", "Event", true),
            ("endpoints", "Endpoints", true),
            ("namespaces", "Namespace", false),
            ("nodes", "Node", false),
        ],
    ),
    (
        "apps/v1",
        &[
            ("deployments", "Deployment", true),
            ("statefulsets", "StatefulSet", true),
            ("replicasets", "ReplicaSet", true),
        ],
    ),
    (
        "batch/v1",
        &[("cronjobs", "CronJob", true), ("jobs", "Job", true)],
    ),
    (
        "gateway.networking.k8s.io/v1",
        &[("httproutes", "HTTPRoute", true)],
    ),
    (
        "autoscaling/v2",
        &[("horizontalpodautoscalers", "HorizontalPodAutoscaler", true)],
    ),
    (
        "policy/v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget", true)],
    ),
    (
        "networking.k8s.io/v1",
        &[
            ("networkpolicies", "NetworkPolicy", true),
            ("ingresses", "Ingress", true),
            ("ingressclasses", "IngressClass", false),
        ],
    ),
];

/// One write the server received: a PATCH (applied) or anything else (refused).
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    pub method: String,
    /// Path and query, e.g. `/apis/apps/v1/namespaces/todo/deployments/todo-api/scale`.
    pub uri: String,
    /// The JSON body (`null` when it was not JSON).
    pub body: Value,
}

#[derive(Default)]
struct State {
    /// Objects by resource plural, in insertion order.
    objects: HashMap<String, Vec<Value>>,
    /// Log text by pod name.
    logs: HashMap<String, String>,
    /// "METHOD /path?query" of every request.
    requests: Vec<String>,
    writes: Vec<Write>,
}

/// The running server; stops when dropped.
#[must_use = "the server stops when dropped"]
pub struct FakeApiServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    /// An empty cluster: every lookup is a 404, every list empty.
    pub fn start() -> anyhow::Result<FakeApiServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .context("binding the fake API server to 127.0.0.1")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the fake API server's runtime")?;
        let shared = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app =
                    axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
                        let state = Arc::clone(&shared);
                        async move { serve(&state, &method, &uri, &body) }
                    });
                // Not a graceful shutdown: open watches never end. Dropping the runtime
                // afterwards closes every connection.
                tokio::select! {
                    _ = axum::serve(listener, app) => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(FakeApiServer {
            address,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// A cluster holding `objects` (each needs `kind` and `metadata.name`).
    pub fn with_objects(objects: impl IntoIterator<Item = Value>) -> anyhow::Result<FakeApiServer> {
        let server = FakeApiServer::start()?;
        for object in objects {
            server.put(object)?;
        }
        Ok(server)
    }

    /// Stores `object`, replacing one of the same kind, namespace and name. It needs `kind`
    /// and `metadata.name`; without `metadata.namespace` it is seen in every namespace.
    pub fn put(&self, object: Value) -> anyhow::Result<()> {
        let kind = object["kind"]
            .as_str()
            .context("an object to store needs a kind")?;
        let name = object["metadata"]["name"]
            .as_str()
            .with_context(|| format!("the {kind} to store needs metadata.name"))?;
        let (plural, name, namespace) = (plural_of(kind), name.to_string(), namespace_of(&object));
        let mut state = self.lock();
        let list = state.objects.entry(plural).or_default();
        match list
            .iter_mut()
            .find(|o| o["metadata"]["name"] == name.as_str() && namespace_of(o) == namespace)
        {
            Some(stored) => *stored = object,
            None => list.push(object),
        }
        Ok(())
    }

    /// Serves `text` as the log of pod `pod`.
    pub fn set_log(&self, pod: &str, text: &str) {
        self.lock().logs.insert(pod.to_string(), text.to_string());
    }

    /// The stored object `plural`/`name` in any namespace, as patched so far.
    pub fn object(&self, plural: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(plural)?
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .cloned()
    }

    /// Every request so far, as "METHOD /path?query".
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The path and query of every request so far.
    pub fn uris(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter_map(|r| r.split_once(' ').map(|(_, uri)| uri.to_string()))
            .collect()
    }

    /// Every request other than GET so far.
    pub fn writes(&self) -> Vec<Write> {
        self.lock().writes.clone()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Writes `dir/kubeconfig` whose current context, `context`, points at this server with
    /// `namespace` as its namespace; returns its path.
    pub fn write_kubeconfig(
        &self,
        dir: &Path,
        context: &str,
        namespace: &str,
    ) -> anyhow::Result<PathBuf> {
        write_kubeconfig(dir, &self.url(), context, namespace)
    }

    /// A kube-rs client for this server (call it inside a Tokio runtime).
    #[cfg(feature = "kube")]
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        let url = self.url().parse().context("the fake API server's URL")?;
        kube::Client::try_from(kube::Config::new(url))
            .context("a kube client for the fake API server")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `dir/kubeconfig` whose current context, `context`, points at `url` (this server's,
/// or one where nothing listens) with `namespace` as its namespace; returns its path.
pub fn write_kubeconfig(
    dir: &Path,
    url: &str,
    context: &str,
    namespace: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
         users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: {context}\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
         current-context: {context}\n"
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The items of a YAML `List` file (as `kubectl get -o yaml` writes), e.g. a fixture.
pub fn load_list(path: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let list: yaml_serde::Value =
        yaml_serde::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let list = serde_json::to_value(list)?;
    list["items"]
        .as_array()
        .cloned()
        .with_context(|| format!("{} is not a List with items", path.display()))
}

/// The items of the cluster-doctor fixture `name` (`crates/cluster-doctor/tests/fixtures`),
/// the namespace snapshots the platform tests share.
pub fn doctor_fixture(name: &str) -> anyhow::Result<Vec<Value>> {
    load_list(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../cluster-doctor/tests/fixtures")
            .join(name),
    )
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave State half-updated: recover the data.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn namespace_of(object: &Value) -> Option<String> {
    object["metadata"]["namespace"].as_str().map(str::to_string)
}

fn plural_of(kind: &str) -> String {
    for (_, resources) in RESOURCES {
        if let Some((plural, _, _)) = resources.iter().find(|(_, k, _)| *k == kind) {
            return (*plural).to_string();
        }
    }
    let lower = kind.to_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

fn prefix_of(group_version: &str) -> String {
    if group_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group_version}")
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

fn failure(status: StatusCode, reason: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "reason": reason, "message": message, "code": status.as_u16()}),
    )
}

fn not_found(plural: &str, name: &str) -> Response {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{plural} \"{name}\" not found"),
    )
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// A request path split into what it addresses.
struct Target<'a> {
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
    subresource: Option<&'a str>,
}

/// `/api/v1/...` or `/apis/<group>/<version>/...` to the resource it names.
fn parse(path: &str) -> Option<Target<'_>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", namespace, rest @ ..] if !rest.is_empty() => (Some(*namespace), rest),
        rest => (None, rest),
    };
    match rest {
        [plural] => Some(Target {
            namespace,
            plural,
            name: None,
            subresource: None,
        }),
        [plural, name] => Some(Target {
            namespace,
            plural,
            name: Some(name),
            subresource: None,
        }),
        [plural, name, sub] => Some(Target {
            namespace,
            plural,
            name: Some(name),
            subresource: Some(sub),
        }),
        _ => None,
    }
}

fn in_namespace(object: &Value, namespace: Option<&str>) -> bool {
    match (namespace, object["metadata"]["namespace"].as_str()) {
        (Some(wanted), Some(actual)) => wanted == actual,
        _ => true,
    }
}

fn serve(state: &Mutex<State>, method: &Method, uri: &Uri, body: &Bytes) -> Response {
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let mut state = lock(state);
    state.requests.push(format!("{method} {target}"));
    if method != Method::GET {
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        state.writes.push(Write {
            method: method.to_string(),
            uri: target.to_string(),
            body: body.clone(),
        });
        if method == Method::PATCH
            && let Some(target) = parse(uri.path())
        {
            return patch(&mut state, &target, &body);
        }
        return failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake API server accepts GET and PATCH only",
        );
    }
    let query = uri.query().unwrap_or_default();
    if let Some(response) = discovery(uri.path()) {
        return response;
    }
    let Some(target) = parse(uri.path()) else {
        return failure(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("{} not found", uri.path()),
        );
    };
    if query
        .split('&')
        .any(|pair| pair == "watch=true" || pair == "watch=1")
    {
        // An open watch with no changes: the stream never yields.
        let pending = futures::stream::pending::<Result<Bytes, Infallible>>();
        let mut response = Response::new(Body::from_stream(pending));
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        );
        return response;
    }
    let stored = state
        .objects
        .get(target.plural)
        .cloned()
        .unwrap_or_default();
    if let Some(name) = target.name {
        if target.subresource == Some("log") {
            return match state.logs.get(name) {
                Some(log) => Response::new(Body::from(log.clone())),
                None => not_found("pods", name),
            };
        }
        return match stored
            .iter()
            .find(|o| o["metadata"]["name"] == name && in_namespace(o, target.namespace))
        {
            Some(object) if target.subresource.is_none() => json_response(StatusCode::OK, object),
            Some(_) => failure(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!(
                    "the fake API server has no {:?} subresource",
                    target.subresource
                ),
            ),
            None => not_found(target.plural, name),
        };
    }
    let selector = label_selector(query);
    let items: Vec<Value> = stored
        .into_iter()
        .filter(|o| in_namespace(o, target.namespace))
        .filter(|o| {
            selector
                .iter()
                .all(|(k, v)| o["metadata"]["labels"][k.as_str()] == v.as_str())
        })
        .collect();
    let kind = RESOURCES
        .iter()
        .flat_map(|(_, resources)| resources.iter())
        .find(|(plural, _, _)| *plural == target.plural)
        .map_or("List".to_string(), |(_, kind, _)| format!("{kind}List"));
    json_response(
        StatusCode::OK,
        &json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "100"}, "items": items}),
    )
}

/// PATCH `.../<plural>/<name>` or `.../<plural>/<name>/scale`.
fn patch(state: &mut State, target: &Target<'_>, body: &Value) -> Response {
    let Some(name) = target.name else {
        return failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "a collection cannot be patched",
        );
    };
    let Some(object) = state.objects.get_mut(target.plural).and_then(|list| {
        list.iter_mut()
            .find(|o| o["metadata"]["name"] == name && in_namespace(o, target.namespace))
    }) else {
        return not_found(target.plural, name);
    };
    match target.subresource {
        None => {
            merge(object, body);
            json_response(StatusCode::OK, object)
        }
        Some("scale") => {
            let replicas = body["spec"]["replicas"].clone();
            merge(object, &json!({"spec": {"replicas": replicas}}));
            let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": name, "namespace": object["metadata"]["namespace"]},
                "spec": {"replicas": object["spec"]["replicas"]},
                "status": {"replicas": object["status"]["replicas"].as_i64().unwrap_or(0)}});
            json_response(StatusCode::OK, &scale)
        }
        Some(other) => failure(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("the fake API server has no {other:?} subresource"),
        ),
    }
}

/// Version and discovery documents, for the paths that are one.
fn discovery(path: &str) -> Option<Response> {
    let body = match path {
        "/version" => {
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"})
        }
        "/api" => {
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        }
        "/apis" => {
            let groups: Vec<Value> = RESOURCES
                .iter()
                .filter_map(|(gv, _)| {
                    let (group, version) = gv.split_once('/')?;
                    let entry = json!({"groupVersion": gv, "version": version});
                    Some(json!({"name": group, "versions": [entry], "preferredVersion": entry}))
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        _ => {
            let (group_version, resources) = RESOURCES
                .iter()
                .find(|(group_version, _)| prefix_of(group_version) == path)?;
            let resources: Vec<Value> = resources
                .iter()
                .map(|(plural, kind, namespaced)| {
                    json!({
                        "name": plural,
                        "singularName": kind.to_lowercase(),
                        "namespaced": namespaced,
                        "kind": kind,
                        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
                    })
                })
                .collect();
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
        }
    };
    Some(json_response(StatusCode::OK, &body))
}

/// Decodes `%XX` escapes and `+` (a query string's space).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `labelSelector=a%3Db%2Cc%3D%3Dd` as (key, value) pairs (`=` and `==` selectors only).
fn label_selector(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("labelSelector="))
        .flat_map(|value| {
            percent_decode(value)
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|term| {
            term.split_once('=')
                .map(|(k, v)| (k.to_string(), v.trim_start_matches('=').to_string()))
        })
        .collect()
}
