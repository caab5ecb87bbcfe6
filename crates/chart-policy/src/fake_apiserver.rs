//! A minimal, read-only Kubernetes API server for `helm template --dry-run=server`.
//!
//! The chart keeps generated secrets across upgrades with `lookup`, which only queries a
//! live cluster. Without a cluster, this server answers what Helm asks during a server-side
//! dry run: version and discovery (for the kinds the chart renders), GETs of single objects
//! (404 unless stored with [`FakeApiServer::put`]) and lists. Anything but GET is refused
//! with 405 and recorded, so a test can also prove the dry run wrote nothing.
//!
//! Plain HTTP/1.1 on 127.0.0.1, one thread, one request per connection.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;
use serde_json::{Value, json};

use crate::tools::{Helm, RenderRequest};

/// Resources served per group/version: (plural, kind).
const RESOURCES: &[(&str, &[(&str, &str)])] = &[
    (
        "v1",
        &[
            ("secrets", "Secret"),
            ("configmaps", "ConfigMap"),
            ("services", "Service"),
            ("serviceaccounts", "ServiceAccount"),
            ("pods", "Pod"),
            ("persistentvolumeclaims", "PersistentVolumeClaim"),
        ],
    ),
    (
        "apps/v1",
        &[
            ("deployments", "Deployment"),
            ("statefulsets", "StatefulSet"),
        ],
    ),
    ("batch/v1", &[("cronjobs", "CronJob")]),
    (
        "gateway.networking.k8s.io/v1",
        &[("httproutes", "HTTPRoute")],
    ),
    (
        "autoscaling/v2",
        &[("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    ),
    (
        "policy/v1",
        &[("poddisruptionbudgets", "PodDisruptionBudget")],
    ),
    (
        "networking.k8s.io/v1",
        &[
            ("networkpolicies", "NetworkPolicy"),
            ("ingresses", "Ingress"),
        ],
    ),
];

#[derive(Default)]
struct State {
    /// Object path (e.g. /api/v1/namespaces/todo/secrets/x) to object.
    objects: BTreeMap<String, Value>,
    /// "METHOD path" of every request.
    requests: Vec<String>,
}

/// The running server; stops when dropped.
pub struct FakeApiServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    pub fn start() -> anyhow::Result<FakeApiServer> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the fake API server")?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // A broken connection only fails the request the client made.
                        let _ = serve(stream, &state);
                    }
                }
            })
        };
        Ok(FakeApiServer {
            address,
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// Stores an object (it needs apiVersion, kind, metadata.name and metadata.namespace).
    pub fn put(&self, object: Value) -> anyhow::Result<()> {
        let path = object_path(&object)
            .context("object to store needs apiVersion, kind, name and namespace")?;
        self.lock().objects.insert(path, object);
        Ok(())
    }

    /// Every request so far, as "METHOD /path?query".
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Writes a kubeconfig for this server (namespace `namespace`) into `dir`.
    pub fn write_kubeconfig(&self, dir: &Path, namespace: &str) -> anyhow::Result<PathBuf> {
        let path = dir.join("kubeconfig");
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{}\n\
             users:\n- name: fake\n  user: {{}}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
             current-context: fake\n",
            self.address
        );
        std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Renders `request` as `helm install`/`upgrade` would against this cluster:
    /// `helm template --dry-run=server`, so `lookup` queries this server.
    pub fn render(&self, helm: &Helm, request: &RenderRequest) -> anyhow::Result<String> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chart-policy-kubeconfig-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let kubeconfig = self.write_kubeconfig(&dir, &request.namespace);
        let result = kubeconfig.and_then(|kubeconfig| {
            let mut request = request.clone();
            request.extra_args.extend([
                "--dry-run=server".to_string(),
                "--disable-openapi-validation".to_string(),
            ]);
            request
                .env
                .push(("KUBECONFIG".into(), kubeconfig.display().to_string()));
            helm.template(&request)
        });
        // Best effort: a leftover kubeconfig in the temp dir holds nothing secret.
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic in the server thread cannot leave State half-updated: recover the data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn plural_of(api_version: &str, kind: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|(group_version, _)| *group_version == api_version)?
        .1
        .iter()
        .find(|(_, k)| *k == kind)
        .map(|(plural, _)| *plural)
}

fn prefix_of(api_version: &str) -> String {
    if api_version == "v1" {
        "/api/v1".to_string()
    } else {
        format!("/apis/{api_version}")
    }
}

fn object_path(object: &Value) -> Option<String> {
    let api_version = object.get("apiVersion")?.as_str()?;
    let kind = object.get("kind")?.as_str()?;
    let metadata = object.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let namespace = metadata.get("namespace")?.as_str()?;
    let plural = plural_of(api_version, kind)?;
    Some(format!(
        "{}/namespaces/{namespace}/{plural}/{name}",
        prefix_of(api_version)
    ))
}

fn resource_list(group_version: &str, resources: &[(&str, &str)]) -> Value {
    let resources: Vec<Value> = resources
        .iter()
        .map(|(plural, kind)| {
            json!({
                "name": plural,
                "singularName": kind.to_lowercase(),
                "namespaced": true,
                "kind": kind,
                "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
            })
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "reason": reason, "message": message, "code": code}),
    )
}

fn route(method: &str, path: &str, state: &State) -> (u16, Value) {
    if method != "GET" {
        return status(405, "MethodNotAllowed", "the fake API server is read-only");
    }
    match path {
        "/version" => {
            return (
                200,
                json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "platform": "linux/amd64"}),
            );
        }
        "/api" => {
            return (
                200,
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            );
        }
        "/apis" => {
            let groups: Vec<Value> = RESOURCES
                .iter()
                .filter(|(gv, _)| gv.contains('/'))
                .filter_map(|(gv, _)| {
                    let (group, version) = gv.split_once('/')?;
                    let entry = json!({"groupVersion": gv, "version": version});
                    Some(json!({"name": group, "versions": [entry], "preferredVersion": entry}))
                })
                .collect();
            return (
                200,
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        _ => {}
    }
    for (group_version, resources) in RESOURCES {
        let prefix = prefix_of(group_version);
        if path == prefix {
            return (200, resource_list(group_version, resources));
        }
        // Collections: <prefix>/namespaces/<ns>/<plural>
        if let Some(rest) = path.strip_prefix(&format!("{prefix}/namespaces/")) {
            let parts: Vec<&str> = rest.split('/').collect();
            if let [_, plural] = parts.as_slice()
                && let Some((_, kind)) = resources.iter().find(|(p, _)| p == plural)
            {
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(stored, _)| stored.starts_with(&format!("{path}/")))
                    .map(|(_, object)| object.clone())
                    .collect();
                return (
                    200,
                    json!({"kind": format!("{kind}List"), "apiVersion": group_version,
                           "metadata": {"resourceVersion": "1"}, "items": items}),
                );
            }
        }
    }
    match state.objects.get(path) {
        Some(object) => (200, object.clone()),
        None => status(404, "NotFound", &format!("{path} not found")),
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 20)];
    reader.read_exact(&mut body)?;

    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let path = target.split('?').next().unwrap_or_default().to_string();
    let (code, response) = {
        let mut state = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.requests.push(format!("{method} {target}"));
        route(&method, &path, &state)
    };
    let body = response.to_string();
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
