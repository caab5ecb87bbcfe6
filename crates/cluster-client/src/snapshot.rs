//! Everything the analyzers look at: the objects of one namespace (plus the cluster-scoped
//! classes they refer to) and log tails of crashing containers, as plain data.
//!
//! A snapshot comes from the cluster (`crate::fetch`) or from YAML as `kubectl get -o yaml`
//! prints it (`Snapshot::from_yaml`), which is how the analyzers are tested.

use std::collections::BTreeMap;

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Endpoints, Event, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

/// Identifies one container of one pod (for log tails).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ContainerKey {
    pub pod: String,
    pub container: String,
}

impl ContainerKey {
    pub fn new(pod: &str, container: &str) -> ContainerKey {
        ContainerKey {
            pod: pod.to_string(),
            container: container.to_string(),
        }
    }
}

/// The state of one namespace, as the analyzers see it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub namespace: String,
    pub pods: Vec<Pod>,
    pub events: Vec<Event>,
    pub deployments: Vec<Deployment>,
    pub stateful_sets: Vec<StatefulSet>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
    /// core/v1 Endpoints (deprecated since 1.33); used only when a Service has no EndpointSlice.
    pub endpoints: Vec<Endpoints>,
    pub ingresses: Vec<Ingress>,
    pub hpas: Vec<HorizontalPodAutoscaler>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    /// Cluster-scoped; `None` when they could not be read (e.g. RBAC), so no check relies on them.
    pub ingress_classes: Option<Vec<IngressClass>>,
    /// Cluster-scoped; `None` when they could not be read.
    pub storage_classes: Option<Vec<StorageClass>>,
    /// Tail of the previous run's log of containers that restarted.
    pub logs: BTreeMap<ContainerKey, String>,
    /// References (`name:tag`) of the images the last local build produced
    /// (`target/images/manifest.json`), to spot a tag mismatch.
    pub built_images: Vec<String>,
}

/// Just enough of an object to know what it is.
#[derive(Deserialize)]
struct TypeMeta {
    #[serde(rename = "apiVersion", default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

impl Snapshot {
    /// Reads objects from YAML as `kubectl get ... -o yaml` prints it: one or more documents,
    /// each a single object or a `kind: List` of them. Objects of other kinds are ignored;
    /// the cluster-scoped class lists are taken as complete (possibly empty).
    pub fn from_yaml(namespace: &str, text: &str) -> anyhow::Result<Snapshot> {
        let mut snapshot = Snapshot {
            namespace: namespace.to_string(),
            ingress_classes: Some(Vec::new()),
            storage_classes: Some(Vec::new()),
            ..Snapshot::default()
        };
        for document in yaml_serde::Deserializer::from_str(text) {
            let value =
                yaml_serde::Value::deserialize(document).context("reading a YAML document")?;
            if value.is_null() {
                continue;
            }
            snapshot.add_value(value)?;
        }
        Ok(snapshot)
    }

    fn add_value(&mut self, value: yaml_serde::Value) -> anyhow::Result<()> {
        let meta: TypeMeta =
            yaml_serde::from_value(value.clone()).context("reading apiVersion and kind")?;
        if meta.kind == "List" || (meta.kind.ends_with("List") && value.get("items").is_some()) {
            if let Some(items) = value.get("items").and_then(|items| items.as_sequence()) {
                for item in items.clone() {
                    self.add_value(item)?;
                }
            }
            return Ok(());
        }
        let what = format!("{} {}", meta.api_version, meta.kind);
        let parse_error = || format!("parsing a {what} object");
        match (meta.api_version.as_str(), meta.kind.as_str()) {
            ("v1", "Pod") => self
                .pods
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("v1", "Event") => self
                .events
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("v1", "Service") => self
                .services
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("v1", "Endpoints") => self
                .endpoints
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("v1", "PersistentVolumeClaim") => self
                .pvcs
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("apps/v1", "Deployment") => self
                .deployments
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("apps/v1", "StatefulSet") => self
                .stateful_sets
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("discovery.k8s.io/v1", "EndpointSlice") => self
                .endpoint_slices
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("networking.k8s.io/v1", "Ingress") => self
                .ingresses
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("networking.k8s.io/v1", "IngressClass") => self
                .ingress_classes
                .get_or_insert_with(Vec::new)
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("storage.k8s.io/v1", "StorageClass") => self
                .storage_classes
                .get_or_insert_with(Vec::new)
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            ("autoscaling/v2", "HorizontalPodAutoscaler") => self
                .hpas
                .push(yaml_serde::from_value(value).with_context(parse_error)?),
            _ => {}
        }
        Ok(())
    }

    /// The pods a label selector (Deployment, StatefulSet) picks, skipping terminating ones.
    pub fn pods_selected_by(&self, selector: &LabelSelector) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| label_selector_matches(selector, pod.metadata.labels.as_ref()))
            .collect()
    }

    /// The pods a Service's plain selector picks, skipping terminating ones.
    pub fn pods_matching(&self, selector: &BTreeMap<String, String>) -> Vec<&Pod> {
        self.pods
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| labels_match(selector, pod.metadata.labels.as_ref()))
            .collect()
    }

    /// Events about one object, oldest first.
    pub fn events_for(&self, kind: &str, name: &str) -> Vec<&Event> {
        let mut events: Vec<&Event> = self
            .events
            .iter()
            .filter(|event| {
                event.involved_object.kind.as_deref() == Some(kind)
                    && event.involved_object.name.as_deref() == Some(name)
            })
            .collect();
        events.sort_by_key(|event| event_time(event));
        events
    }
}

/// When an event last happened (core/v1 events fill one of these three).
pub fn event_time(event: &Event) -> Option<k8s_openapi::jiff::Timestamp> {
    event
        .last_timestamp
        .as_ref()
        .map(|time| time.0)
        .or_else(|| event.event_time.as_ref().map(|time| time.0))
        .or_else(|| event.first_timestamp.as_ref().map(|time| time.0))
}

/// Every `key: value` of the selector is among the labels (an empty selector matches nothing,
/// as for Services).
pub fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    if selector.is_empty() {
        return false;
    }
    let Some(labels) = labels else { return false };
    selector
        .iter()
        .all(|(key, value)| labels.get(key) == Some(value))
}

/// Full `LabelSelector` semantics: matchLabels and matchExpressions (In, NotIn, Exists,
/// DoesNotExist). An empty selector matches everything, as the API defines.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let labels_ok = selector.match_labels.as_ref().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
    });
    let expressions_ok = selector
        .match_expressions
        .as_ref()
        .is_none_or(|expressions| {
            expressions.iter().all(|requirement| {
                let value = labels.get(&requirement.key);
                let values = requirement.values.as_deref().unwrap_or_default();
                match requirement.operator.as_str() {
                    "In" => value.is_some_and(|value| values.contains(value)),
                    "NotIn" => value.is_none_or(|value| !values.contains(value)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
        });
    labels_ok && expressions_ok
}
