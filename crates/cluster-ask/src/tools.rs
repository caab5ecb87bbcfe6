//! The typed tools `ask` offers the model, over kube-rs (never a shell).
//!
//! Reads (get, describe, logs, events, rollout status, the doctor's analyzers) run at once.
//! Changes (scale a Deployment, set HPA bounds, rollout restart) are prepared into a
//! [`Change`] first: what it does, the exact equivalent `kubectl` command and any warning,
//! shown to the user, and applied only once confirmed. There is no delete tool: a model
//! asking for one gets an error naming what is offered.
//!
//! Every tool answers in text, which both the user and the model read; a failure is an
//! [`ToolError`] whose message goes back to the model (and is shown to the user).

use std::fmt;

use cluster_client::{FetchOptions, all_rollouts, deployment_rollout, fetch_snapshot};
use cluster_doctor::analyze;
use deploy_plan::plan::shell_quote;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{ApiResource, DynamicObject, ListParams, LogParams, Patch, PatchParams};
use kube::{Api, Client};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::release::{Release, Target, WorkloadKind};

/// The most replicas `scale` sets, so a slip ("scale api to 500") cannot flood the cluster.
pub const MAX_REPLICAS: i32 = 50;
/// Log lines returned per pod when the model does not say (and the most it may ask for).
const DEFAULT_TAIL: i64 = 100;
const MAX_TAIL: i64 = 500;
/// Pods whose logs one `logs` call returns.
const MAX_LOG_PODS: usize = 3;
/// Events returned by one `events` call (the newest).
const MAX_EVENTS: usize = 40;

/// A tool that failed; the message says what and is sent to the model as the tool's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolError(pub String);

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ToolError {}

fn api_error(what: &str, error: kube::Error) -> ToolError {
    let detail = match &error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.reason),
        other => other.to_string(),
    };
    ToolError(format!("{what}: the API server answered: {detail}"))
}

/// Where the tools act: a client, the release and its namespace, and the kubeconfig context
/// named on the command line (shown in the kubectl commands when given).
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub release: Release,
    pub context: Option<String>,
}

impl Cluster {
    fn namespace(&self) -> &str {
        &self.release.namespace
    }

    /// `kubectl [--context C] <args> -n <namespace>`.
    fn kubectl(&self, args: &[&str]) -> String {
        let mut parts = vec!["kubectl".to_string()];
        if let Some(context) = &self.context {
            parts.push("--context".into());
            parts.push(shell_quote(context));
        }
        parts.extend(args.iter().map(|a| shell_quote(a)));
        parts.push("-n".into());
        parts.push(shell_quote(self.namespace()));
        parts.join(" ")
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.namespace())
    }
}

/// The kinds `get` and `describe` read. Secrets are deliberately absent: their values must
/// never reach a model.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[serde(alias = "pod")]
    Pods,
    #[serde(alias = "deployment", alias = "deploy")]
    Deployments,
    #[serde(alias = "statefulset", alias = "sts")]
    StatefulSets,
    #[serde(alias = "service", alias = "svc")]
    Services,
    #[serde(alias = "horizontalpodautoscaler", alias = "horizontalpodautoscalers")]
    Hpa,
    #[serde(
        alias = "persistentvolumeclaim",
        alias = "persistentvolumeclaims",
        alias = "pvcs"
    )]
    Pvc,
    #[serde(alias = "ingress", alias = "ing")]
    Ingresses,
    #[serde(alias = "configmap", alias = "cm")]
    ConfigMaps,
}

const KINDS: &[&str] = &[
    "pods",
    "deployments",
    "statefulsets",
    "services",
    "hpa",
    "pvc",
    "ingresses",
    "configmaps",
];

impl Kind {
    fn kubectl(self) -> &'static str {
        match self {
            Kind::Pods => "pods",
            Kind::Deployments => "deployments",
            Kind::StatefulSets => "statefulsets",
            Kind::Services => "services",
            Kind::Hpa => "hpa",
            Kind::Pvc => "pvc",
            Kind::Ingresses => "ingresses",
            Kind::ConfigMaps => "configmaps",
        }
    }

    fn resource(self) -> ApiResource {
        match self {
            Kind::Pods => ApiResource::erase::<Pod>(&()),
            Kind::Deployments => ApiResource::erase::<Deployment>(&()),
            Kind::StatefulSets => ApiResource::erase::<StatefulSet>(&()),
            Kind::Services => ApiResource::erase::<Service>(&()),
            Kind::Hpa => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
            Kind::Pvc => ApiResource::erase::<PersistentVolumeClaim>(&()),
            Kind::Ingresses => ApiResource::erase::<Ingress>(&()),
            Kind::ConfigMaps => ApiResource::erase::<ConfigMap>(&()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    kind: Kind,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DescribeArgs {
    kind: Kind,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsArgs {
    workload: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    tail_lines: Option<i64>,
    #[serde(default)]
    previous: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsArgs {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleArgs {
    workload: String,
    replicas: i32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HpaArgs {
    name: String,
    min_replicas: Option<i32>,
    max_replicas: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadArgs {
    workload: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusArgs {
    workload: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

/// The tool names, in the order offered.
pub const NAMES: &[&str] = &[
    "get",
    "describe",
    "logs",
    "events",
    "rollout_status",
    "doctor",
    "scale",
    "scale_hpa",
    "rollout_restart",
];

/// The function definitions sent to the model (OpenAI `tools`).
pub fn definitions(release: &Release) -> Vec<Value> {
    let workload = json!({"type": "string", "description": format!(
        "{} (the release's {}, {}, {} Deployments and {} StatefulSet), or another object name in the namespace",
        Release::SHORT_NAMES, release.resolve("api").map(|t| t.name).unwrap_or_default(),
        release.resolve("web").map(|t| t.name).unwrap_or_default(),
        release.resolve("mcp").map(|t| t.name).unwrap_or_default(), release.postgres())});
    let kind = json!({"type": "string", "enum": KINDS});
    let function = |name: &str, description: &str, properties: Value, required: &[&str]| {
        json!({"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required, "additionalProperties": false}
        }})
    };
    vec![
        function(
            "get",
            "List objects of a kind in the release's namespace (a summary line each), or read one object by name. Read-only.",
            json!({"kind": kind, "name": {"type": "string"}}),
            &["kind"],
        ),
        function(
            "describe",
            "One object in full (without managed fields) plus the events about it, like `kubectl describe`. Read-only.",
            json!({"kind": kind, "name": {"type": "string"}}),
            &["kind", "name"],
        ),
        function(
            "logs",
            "The last lines of a workload's pods' logs (or one pod's). previous=true reads the run before the last restart, which is where a crash's reason is. Read-only.",
            json!({"workload": workload, "pod": {"type": "string"}, "container": {"type": "string"},
                   "tail_lines": {"type": "integer", "minimum": 1, "maximum": MAX_TAIL}, "previous": {"type": "boolean"}}),
            &[],
        ),
        function(
            "events",
            "Recent events in the namespace, newest last; name filters to the objects whose name contains it. Read-only.",
            json!({"name": {"type": "string"}}),
            &[],
        ),
        function(
            "rollout_status",
            "Whether a workload (or every workload) is rolled out, and which pods it waits for, like `kubectl rollout status`. Read-only.",
            json!({"workload": workload}),
            &[],
        ),
        function(
            "doctor",
            "Runs the project's diagnostics (failing pods with log tails, unready workloads, Services without endpoints, Ingress, HPA and PVC problems) and returns each finding with its suggested fix. Read-only.",
            json!({}),
            &[],
        ),
        function(
            "scale",
            "Sets a Deployment's replicas (`kubectl scale`). A change: the user is shown the kubectl command and must confirm; the result says whether it ran.",
            json!({"workload": workload, "replicas": {"type": "integer", "minimum": 0, "maximum": MAX_REPLICAS}}),
            &["workload", "replicas"],
        ),
        function(
            "scale_hpa",
            "Sets a HorizontalPodAutoscaler's minReplicas and/or maxReplicas. A change: shown as a kubectl command, runs only when the user confirms.",
            json!({"name": workload, "min_replicas": {"type": "integer", "minimum": 1, "maximum": MAX_REPLICAS},
                   "max_replicas": {"type": "integer", "minimum": 1, "maximum": MAX_REPLICAS}}),
            &["name"],
        ),
        function(
            "rollout_restart",
            "Restarts a workload's pods one by one (`kubectl rollout restart`). A change: shown as a kubectl command, runs only when the user confirms.",
            json!({"workload": workload}),
            &["workload"],
        ),
    ]
}

/// A read-only call, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub enum Read {
    Get {
        kind: Kind,
        name: Option<String>,
    },
    Describe {
        kind: Kind,
        name: String,
    },
    Logs {
        target: Option<Target>,
        pod: Option<String>,
        container: Option<String>,
        tail: i64,
        previous: bool,
    },
    Events {
        name: Option<String>,
    },
    RolloutStatus {
        target: Option<Target>,
    },
    Doctor,
}

/// What a change does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    Scale {
        deployment: String,
        replicas: i32,
    },
    HpaBounds {
        name: String,
        min: Option<i32>,
        max: Option<i32>,
    },
    Restart(Target),
}

/// A change, as shown before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub action: ChangeAction,
    /// What it does, e.g. `scale deployment/todo-api from 2 to 5 replicas`.
    pub summary: String,
    /// The exact equivalent kubectl command.
    pub kubectl: String,
    /// Something the user should know before confirming (e.g. an HPA will undo a scale).
    pub warning: Option<String>,
}

/// A tool call, parsed and checked.
#[derive(Clone, Debug, PartialEq)]
pub enum Prepared {
    Read(Read),
    Change(ChangeAction),
}

fn arguments<T: DeserializeOwned>(tool: &str, arguments: &Value) -> Result<T, ToolError> {
    // Models send `{}` or nothing for no arguments, and sometimes null.
    let arguments = if arguments.is_null() {
        json!({})
    } else {
        arguments.clone()
    };
    serde_json::from_value(arguments).map_err(|e| {
        ToolError(format!(
            "{tool}: invalid arguments: {e}; see the tool's parameters"
        ))
    })
}

fn target(release: &Release, name: &str) -> Result<Target, ToolError> {
    release.resolve(name).map_err(ToolError)
}

/// Parses and checks a call of tool `name` (no cluster access yet).
pub fn prepare(release: &Release, name: &str, args: &Value) -> Result<Prepared, ToolError> {
    Ok(match name {
        "get" => {
            let a: GetArgs = arguments(name, args)?;
            Prepared::Read(Read::Get {
                kind: a.kind,
                name: a.name.filter(|n| !n.trim().is_empty()),
            })
        }
        "describe" => {
            let a: DescribeArgs = arguments(name, args)?;
            Prepared::Read(Read::Describe {
                kind: a.kind,
                name: a.name,
            })
        }
        "logs" => {
            let a: LogsArgs = arguments(name, args)?;
            if a.workload.is_none() && a.pod.is_none() {
                return Err(ToolError(
                    "logs: name a workload (api, web, mcp, postgres) or a pod".into(),
                ));
            }
            let tail = a.tail_lines.unwrap_or(DEFAULT_TAIL);
            if !(1..=MAX_TAIL).contains(&tail) {
                return Err(ToolError(format!(
                    "logs: tail_lines must be between 1 and {MAX_TAIL}, not {tail}"
                )));
            }
            Prepared::Read(Read::Logs {
                target: a.workload.map(|w| target(release, &w)).transpose()?,
                pod: a.pod,
                container: a.container,
                tail,
                previous: a.previous,
            })
        }
        "events" => {
            let a: EventsArgs = arguments(name, args)?;
            Prepared::Read(Read::Events {
                name: a.name.filter(|n| !n.trim().is_empty()),
            })
        }
        "rollout_status" => {
            let a: StatusArgs = arguments(name, args)?;
            Prepared::Read(Read::RolloutStatus {
                target: a.workload.map(|w| target(release, &w)).transpose()?,
            })
        }
        "doctor" => {
            let _: NoArgs = arguments(name, args)?;
            Prepared::Read(Read::Doctor)
        }
        "scale" => {
            let a: ScaleArgs = arguments(name, args)?;
            let target = target(release, &a.workload)?;
            if target.kind != WorkloadKind::Deployment {
                return Err(ToolError(format!(
                    "scale: {target} is the database; ask scales Deployments only (one PostgreSQL instance owns the volume)"
                )));
            }
            if !(0..=MAX_REPLICAS).contains(&a.replicas) {
                return Err(ToolError(format!(
                    "scale: replicas must be between 0 and {MAX_REPLICAS}, not {}",
                    a.replicas
                )));
            }
            Prepared::Change(ChangeAction::Scale {
                deployment: target.name,
                replicas: a.replicas,
            })
        }
        "scale_hpa" => {
            let a: HpaArgs = arguments(name, args)?;
            if a.min_replicas.is_none() && a.max_replicas.is_none() {
                return Err(ToolError(
                    "scale_hpa: give min_replicas, max_replicas or both".into(),
                ));
            }
            for value in [a.min_replicas, a.max_replicas].into_iter().flatten() {
                if !(1..=MAX_REPLICAS).contains(&value) {
                    return Err(ToolError(format!(
                        "scale_hpa: bounds must be between 1 and {MAX_REPLICAS}, not {value}"
                    )));
                }
            }
            if let (Some(min), Some(max)) = (a.min_replicas, a.max_replicas)
                && min > max
            {
                return Err(ToolError(format!(
                    "scale_hpa: min_replicas {min} is above max_replicas {max}"
                )));
            }
            Prepared::Change(ChangeAction::HpaBounds {
                name: target(release, &a.name)?.name,
                min: a.min_replicas,
                max: a.max_replicas,
            })
        }
        "rollout_restart" => {
            let a: WorkloadArgs = arguments(name, args)?;
            Prepared::Change(ChangeAction::Restart(target(release, &a.workload)?))
        }
        other if other.contains("delete") || other.contains("remove") => {
            return Err(ToolError(format!(
                "refused: there is no tool {other:?}. ask offers no deletes and never deletes PersistentVolumeClaims or Secrets; \
                 tell the user to use `cargo xtask teardown --purge` for that. Tools: {}",
                NAMES.join(", ")
            )));
        }
        other => {
            return Err(ToolError(format!(
                "there is no tool {other:?}; use one of {}",
                NAMES.join(", ")
            )));
        }
    })
}

/// The kubectl command a read stands for (shown to the user as it runs).
pub fn read_kubectl(cluster: &Cluster, read: &Read) -> String {
    match read {
        Read::Get { kind, name } => {
            let mut args = vec!["get", kind.kubectl()];
            if let Some(name) = name {
                args.push(name);
            }
            cluster.kubectl(&args)
        }
        Read::Describe { kind, name } => cluster.kubectl(&["describe", kind.kubectl(), name]),
        Read::Logs {
            target,
            pod,
            container,
            tail,
            previous,
        } => {
            let object = match (pod, target) {
                (Some(pod), _) => pod.clone(),
                (None, Some(target)) => target.to_string(),
                (None, None) => String::new(),
            };
            let tail = format!("--tail={tail}");
            let mut args = vec!["logs", object.as_str(), tail.as_str()];
            if *previous {
                args.push("--previous");
            }
            if let Some(container) = container {
                args.push("-c");
                args.push(container);
            }
            cluster.kubectl(&args)
        }
        Read::Events { .. } => cluster.kubectl(&["get", "events", "--sort-by=.lastTimestamp"]),
        Read::RolloutStatus {
            target: Some(target),
        } => cluster.kubectl(&["rollout", "status", &target.to_string()]),
        Read::RolloutStatus { target: None } => {
            cluster.kubectl(&["get", "deployments,statefulsets"])
        }
        Read::Doctor => format!(
            "cargo xtask doctor --namespace {}",
            shell_quote(cluster.namespace())
        ),
    }
}

/// Runs a read.
pub async fn read(cluster: &Cluster, read: &Read) -> Result<String, ToolError> {
    match read {
        Read::Get { kind, name } => get(cluster, *kind, name.as_deref()).await,
        Read::Describe { kind, name } => describe(cluster, *kind, name).await,
        Read::Logs {
            target,
            pod,
            container,
            tail,
            previous,
        } => {
            logs(
                cluster,
                target.as_ref(),
                pod.as_deref(),
                container.as_deref(),
                *tail,
                *previous,
            )
            .await
        }
        Read::Events { name } => events(cluster, name.as_deref()).await,
        Read::RolloutStatus { target } => rollout_status(cluster, target.as_ref()).await,
        Read::Doctor => doctor(cluster).await,
    }
}

fn dynamic(cluster: &Cluster, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        cluster.namespace(),
        &kind.resource(),
    )
}

/// An object as JSON without the noise (managed fields, last-applied annotation).
fn trimmed(object: &DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        if let Some(annotations) = metadata
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
        {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    value
}

fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

/// One summary line of an object, as `kubectl get` prints the important columns.
fn summary(kind: Kind, object: &Value) -> String {
    let name = text(object, "/metadata/name");
    match kind {
        Kind::Pods => {
            let statuses = object
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ready = statuses.iter().filter(|s| s["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|s| s["restartCount"].as_i64())
                .sum();
            let waiting: Vec<String> = statuses
                .iter()
                .filter_map(|s| s.pointer("/state/waiting/reason").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            let phase = text(object, "/status/phase");
            let state = if waiting.is_empty() {
                phase
            } else {
                waiting.join(",")
            };
            format!(
                "{name}  ready {ready}/{}  status {state}  restarts {restarts}",
                statuses.len()
            )
        }
        Kind::Deployments | Kind::StatefulSets => format!(
            "{name}  replicas {}  ready {}  updated {}",
            text(object, "/spec/replicas"),
            text(object, "/status/readyReplicas"),
            text(object, "/status/updatedReplicas"),
        ),
        Kind::Services => format!(
            "{name}  type {}  cluster-ip {}",
            text(object, "/spec/type"),
            text(object, "/spec/clusterIP")
        ),
        Kind::Hpa => format!(
            "{name}  target {}/{}  min {}  max {}  current {}  desired {}",
            text(object, "/spec/scaleTargetRef/kind"),
            text(object, "/spec/scaleTargetRef/name"),
            text(object, "/spec/minReplicas"),
            text(object, "/spec/maxReplicas"),
            text(object, "/status/currentReplicas"),
            text(object, "/status/desiredReplicas"),
        ),
        Kind::Pvc => format!(
            "{name}  status {}  capacity {}  storage-class {}",
            text(object, "/status/phase"),
            text(object, "/status/capacity/storage"),
            text(object, "/spec/storageClassName"),
        ),
        Kind::Ingresses => {
            let hosts: Vec<String> = object
                .pointer("/spec/rules")
                .and_then(Value::as_array)
                .map(|rules| {
                    rules
                        .iter()
                        .filter_map(|r| r["host"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            format!("{name}  hosts {}", hosts.join(","))
        }
        Kind::ConfigMaps => {
            let keys: Vec<String> = object
                .get("data")
                .and_then(Value::as_object)
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            format!("{name}  keys {}", keys.join(","))
        }
    }
}

async fn get(cluster: &Cluster, kind: Kind, name: Option<&str>) -> Result<String, ToolError> {
    let api = dynamic(cluster, kind);
    let what = format!("{} in namespace {}", kind.kubectl(), cluster.namespace());
    match name {
        Some(name) => {
            let object = api
                .get(name)
                .await
                .map_err(|e| api_error(&format!("reading {} {name}", kind.kubectl()), e))?;
            Ok(serde_json::to_string_pretty(&trimmed(&object)).unwrap_or_default())
        }
        None => {
            let list = api
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error(&format!("listing {what}"), e))?;
            if list.items.is_empty() {
                return Ok(format!("no {what}"));
            }
            Ok(list
                .items
                .iter()
                .map(|o| summary(kind, &trimmed(o)))
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

async fn describe(cluster: &Cluster, kind: Kind, name: &str) -> Result<String, ToolError> {
    let object = dynamic(cluster, kind)
        .get(name)
        .await
        .map_err(|e| api_error(&format!("reading {} {name}", kind.kubectl()), e))?;
    let events = event_lines(cluster, Some(name), true).await?;
    Ok(format!(
        "{}\n\nEvents:\n{}",
        serde_json::to_string_pretty(&trimmed(&object)).unwrap_or_default(),
        if events.is_empty() {
            "  (none)".to_string()
        } else {
            events.join("\n")
        }
    ))
}

/// The pods a workload selects (by its own selector, as kubectl does).
async fn workload_pods(cluster: &Cluster, target: &Target) -> Result<Vec<Pod>, ToolError> {
    let reading = format!("reading {target}");
    let selector = match target.kind {
        WorkloadKind::Deployment => cluster
            .api::<Deployment>()
            .get(&target.name)
            .await
            .map_err(|e| api_error(&reading, e))?
            .spec
            .map(|s| s.selector),
        WorkloadKind::StatefulSet => cluster
            .api::<StatefulSet>()
            .get(&target.name)
            .await
            .map_err(|e| api_error(&reading, e))?
            .spec
            .map(|s| s.selector),
    };
    let labels = selector
        .and_then(|s| s.match_labels)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if labels.is_empty() {
        return Err(ToolError(format!(
            "{target} has no label selector to find its pods"
        )));
    }
    let mut pods = cluster
        .api::<Pod>()
        .list(&ListParams::default().labels(&labels))
        .await
        .map_err(|e| api_error(&format!("listing the pods of {target}"), e))?
        .items;
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(pods)
}

async fn logs(
    cluster: &Cluster,
    target: Option<&Target>,
    pod: Option<&str>,
    container: Option<&str>,
    tail: i64,
    previous: bool,
) -> Result<String, ToolError> {
    let pods: Vec<Pod> = match (pod, target) {
        (Some(pod), _) => vec![
            cluster
                .api::<Pod>()
                .get(pod)
                .await
                .map_err(|e| api_error(&format!("reading pod {pod}"), e))?,
        ],
        (None, Some(target)) => workload_pods(cluster, target).await?,
        (None, None) => return Err(ToolError("logs: name a workload or a pod".into())),
    };
    if pods.is_empty() {
        return Err(ToolError(format!(
            "{} has no pods: `rollout_status` or `events` say why",
            target.map(ToString::to_string).unwrap_or_default()
        )));
    }
    let api = cluster.api::<Pod>();
    let mut out = Vec::new();
    for pod in pods.iter().take(MAX_LOG_PODS) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        // Without a container name the API refuses pods with several; take the first, as
        // kubectl does without a default-container annotation.
        let container = container.map(str::to_string).or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map(|c| c.name.clone())
        });
        let params = LogParams {
            container: container.clone(),
            previous,
            tail_lines: Some(tail),
            ..LogParams::default()
        };
        let log = api.logs(&name, &params).await.map_err(|e| {
            api_error(
                &format!(
                    "reading the {}log of pod {name}",
                    if previous { "previous " } else { "" }
                ),
                e,
            )
        })?;
        out.push(format!(
            "--- pod {name}, container {}{}:\n{}",
            container.unwrap_or_default(),
            if previous { " (previous run)" } else { "" },
            if log.trim().is_empty() {
                "(empty)"
            } else {
                log.trim_end()
            }
        ));
    }
    if pods.len() > MAX_LOG_PODS {
        out.push(format!(
            "({} more pod(s) not shown)",
            pods.len() - MAX_LOG_PODS
        ));
    }
    Ok(out.join("\n"))
}

async fn event_lines(
    cluster: &Cluster,
    name: Option<&str>,
    exact: bool,
) -> Result<Vec<String>, ToolError> {
    let mut events = cluster
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error(&format!("listing events in {}", cluster.namespace()), e))?
        .items;
    if let Some(name) = name {
        events.retain(|e| {
            let involved = e.involved_object.name.as_deref().unwrap_or_default();
            if exact {
                involved == name
            } else {
                involved.contains(name)
            }
        });
    }
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.event_time.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    };
    events.sort_by_key(when);
    let skip = events.len().saturating_sub(MAX_EVENTS);
    Ok(events
        .iter()
        .skip(skip)
        .map(|e| {
            format!(
                "{}  {}  {}/{}  {}  (x{})",
                e.type_.as_deref().unwrap_or("-"),
                e.reason.as_deref().unwrap_or("-"),
                e.involved_object.kind.as_deref().unwrap_or("-"),
                e.involved_object.name.as_deref().unwrap_or("-"),
                e.message.as_deref().unwrap_or_default().trim(),
                e.count.unwrap_or(1),
            )
        })
        .collect())
}

async fn events(cluster: &Cluster, name: Option<&str>) -> Result<String, ToolError> {
    let lines = event_lines(cluster, name, false).await?;
    Ok(if lines.is_empty() {
        format!("no events in namespace {}", cluster.namespace())
    } else {
        lines.join("\n")
    })
}

async fn snapshot(
    cluster: &Cluster,
    options: &FetchOptions,
) -> Result<cluster_client::Snapshot, ToolError> {
    fetch_snapshot(&cluster.client, cluster.namespace(), options)
        .await
        .map_err(|e| ToolError(format!("reading namespace {}: {e:#}", cluster.namespace())))
}

async fn rollout_status(cluster: &Cluster, target: Option<&Target>) -> Result<String, ToolError> {
    let snapshot = snapshot(cluster, &FetchOptions { log_tail_lines: 0 }).await?;
    let lines: Vec<String> = match target {
        Some(target) => {
            let named = |name: &Option<String>| name.as_deref() == Some(target.name.as_str());
            let status = match target.kind {
                WorkloadKind::Deployment => snapshot
                    .deployments
                    .iter()
                    .find(|d| named(&d.metadata.name))
                    .map(|d| deployment_rollout(d, &snapshot)),
                WorkloadKind::StatefulSet => snapshot
                    .stateful_sets
                    .iter()
                    .find(|s| named(&s.metadata.name))
                    .map(|s| cluster_client::stateful_set_rollout(s, &snapshot)),
            };
            let status = status.ok_or_else(|| {
                ToolError(format!(
                    "there is no {target} in namespace {}",
                    cluster.namespace()
                ))
            })?;
            vec![status.line()]
        }
        None => all_rollouts(&snapshot).iter().map(|s| s.line()).collect(),
    };
    Ok(if lines.is_empty() {
        format!(
            "no Deployments or StatefulSets in namespace {}",
            cluster.namespace()
        )
    } else {
        lines.join("\n")
    })
}

async fn doctor(cluster: &Cluster) -> Result<String, ToolError> {
    let snapshot = snapshot(cluster, &FetchOptions::default()).await?;
    let findings = analyze(&snapshot);
    Ok(cluster_doctor::render_findings(&findings))
}

fn merge_patch(spec: Value) -> String {
    json!({ "spec": spec }).to_string()
}

/// Turns a change into what the user is shown: it reads the current state (the replicas now,
/// an HPA that would undo a scale), so a change of an object that does not exist fails here,
/// before anyone is asked.
pub async fn preview(cluster: &Cluster, action: ChangeAction) -> Result<Change, ToolError> {
    match &action {
        ChangeAction::Scale {
            deployment,
            replicas,
        } => {
            let current = cluster
                .api::<Deployment>()
                .get(deployment)
                .await
                .map_err(|e| api_error(&format!("reading deployment/{deployment}"), e))?;
            let now = current.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
            let hpas = cluster
                .api::<HorizontalPodAutoscaler>()
                .list(&ListParams::default())
                .await
                .map_err(|e| api_error("listing HorizontalPodAutoscalers", e))?
                .items;
            let warning = hpas.iter().find_map(|hpa| {
                let spec = hpa.spec.as_ref()?;
                (spec.scale_target_ref.kind == "Deployment"
                    && spec.scale_target_ref.name == *deployment)
                    .then(|| {
                        format!(
                            "HPA {} manages this Deployment (min {}, max {}): it moves the replicas back into that range; \
                             change the range with scale_hpa instead",
                            hpa.metadata.name.as_deref().unwrap_or_default(),
                            spec.min_replicas.unwrap_or(1),
                            spec.max_replicas
                        )
                    })
            });
            Ok(Change {
                summary: format!("scale deployment/{deployment} from {now} to {replicas} replicas"),
                kubectl: cluster.kubectl(&[
                    "scale",
                    &format!("deployment/{deployment}"),
                    &format!("--replicas={replicas}"),
                ]),
                warning,
                action,
            })
        }
        ChangeAction::HpaBounds { name, min, max } => {
            let current = cluster
                .api::<HorizontalPodAutoscaler>()
                .get(name)
                .await
                .map_err(|e| api_error(&format!("reading hpa/{name}"), e))?;
            let spec = current.spec.unwrap_or_default();
            let now_min = spec.min_replicas.unwrap_or(1);
            let new_min = min.unwrap_or(now_min);
            let new_max = max.unwrap_or(spec.max_replicas);
            if new_min > new_max {
                return Err(ToolError(format!(
                    "scale_hpa: minReplicas {new_min} would be above maxReplicas {new_max}; give both"
                )));
            }
            let mut patch = serde_json::Map::new();
            if let Some(min) = min {
                patch.insert("minReplicas".into(), json!(min));
            }
            if let Some(max) = max {
                patch.insert("maxReplicas".into(), json!(max));
            }
            Ok(Change {
                summary: format!(
                    "set hpa/{name} bounds from min {now_min} max {} to min {new_min} max {new_max}",
                    spec.max_replicas
                ),
                kubectl: cluster.kubectl(&[
                    "patch",
                    &format!("hpa/{name}"),
                    "--type=merge",
                    "-p",
                    &merge_patch(Value::Object(patch)),
                ]),
                warning: None,
                action,
            })
        }
        ChangeAction::Restart(target) => {
            let reading = format!("reading {target}");
            match target.kind {
                WorkloadKind::Deployment => {
                    cluster
                        .api::<Deployment>()
                        .get(&target.name)
                        .await
                        .map_err(|e| api_error(&reading, e))?;
                }
                WorkloadKind::StatefulSet => {
                    cluster
                        .api::<StatefulSet>()
                        .get(&target.name)
                        .await
                        .map_err(|e| api_error(&reading, e))?;
                }
            }
            Ok(Change {
                summary: format!("restart the pods of {target}, one at a time"),
                kubectl: cluster.kubectl(&["rollout", "restart", &target.to_string()]),
                warning: (target.kind == WorkloadKind::StatefulSet).then(|| {
                    "the database is unavailable while its single pod restarts".to_string()
                }),
                action,
            })
        }
    }
}

/// Applies a confirmed change; the text says what was done.
pub async fn apply(cluster: &Cluster, change: &Change) -> Result<String, ToolError> {
    let params = PatchParams::default();
    match &change.action {
        ChangeAction::Scale {
            deployment,
            replicas,
        } => {
            let scale = cluster
                .api::<Deployment>()
                .patch_scale(
                    deployment,
                    &params,
                    &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                )
                .await
                .map_err(|e| api_error(&format!("scaling deployment/{deployment}"), e))?;
            let now = scale.spec.and_then(|s| s.replicas).unwrap_or(*replicas);
            Ok(format!(
                "deployment/{deployment} scaled: {now} replicas wanted"
            ))
        }
        ChangeAction::HpaBounds { name, min, max } => {
            let mut spec = serde_json::Map::new();
            if let Some(min) = min {
                spec.insert("minReplicas".into(), json!(min));
            }
            if let Some(max) = max {
                spec.insert("maxReplicas".into(), json!(max));
            }
            let hpa = cluster
                .api::<HorizontalPodAutoscaler>()
                .patch(name, &params, &Patch::Merge(json!({ "spec": spec })))
                .await
                .map_err(|e| api_error(&format!("patching hpa/{name}"), e))?;
            let spec = hpa.spec.unwrap_or_default();
            Ok(format!(
                "hpa/{name} patched: min {} max {}",
                spec.min_replicas.unwrap_or(1),
                spec.max_replicas
            ))
        }
        ChangeAction::Restart(target) => {
            let doing = format!("restarting {target}");
            // What `kubectl rollout restart` sends (kube-rs's own `restart` uses another
            // annotation key, so a later kubectl restart would not see this one).
            let patch = Patch::Merge(json!({"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": k8s_openapi::jiff::Timestamp::now().to_string()
            }}}}}));
            match target.kind {
                WorkloadKind::Deployment => {
                    cluster
                        .api::<Deployment>()
                        .patch(&target.name, &params, &patch)
                        .await
                        .map_err(|e| api_error(&doing, e))?;
                }
                WorkloadKind::StatefulSet => {
                    cluster
                        .api::<StatefulSet>()
                        .patch(&target.name, &params, &patch)
                        .await
                        .map_err(|e| api_error(&doing, e))?;
                }
            }
            Ok(format!(
                "{target} restarting; `rollout_status` shows the progress"
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_checked_before_anything_runs() {
        let release = Release::default();
        assert_eq!(
            prepare(
                &release,
                "scale",
                &json!({"workload": "api", "replicas": 5})
            ),
            Ok(Prepared::Change(ChangeAction::Scale {
                deployment: "todo-api".into(),
                replicas: 5
            }))
        );
        let error = |name: &str, args: Value| prepare(&release, name, &args).unwrap_err().0;
        assert!(
            error("scale", json!({"workload": "postgres", "replicas": 2}))
                .contains("Deployments only")
        );
        assert!(
            error("scale", json!({"workload": "api", "replicas": 500}))
                .contains("between 0 and 50")
        );
        assert!(error("scale", json!({"workload": "api"})).contains("invalid arguments"));
        assert!(error("get", json!({"kind": "secrets"})).contains("invalid arguments"));
        assert!(error("delete", json!({"kind": "pvc"})).starts_with("refused"));
        assert!(error("kubectl", json!({})).contains("there is no tool"));
        assert!(
            error(
                "scale_hpa",
                json!({"name": "api", "min_replicas": 4, "max_replicas": 2})
            )
            .contains("above")
        );
        assert_eq!(
            prepare(&release, "doctor", &Value::Null),
            Ok(Prepared::Read(Read::Doctor))
        );
        let offered: Vec<String> = definitions(&release)
            .iter()
            .map(|d| {
                d["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(offered, NAMES);
        assert!(offered.iter().all(|n| !n.contains("delete")));
    }
}
