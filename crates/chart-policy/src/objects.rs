//! `helm template` output as typed Kubernetes objects (k8s-openapi, API 1.33).
//!
//! Parsing is strict about what the chart may render: an object of a kind this module does
//! not know is an error, so a new template cannot slip past the policy checks.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, PersistentVolumeClaim, Pod, PodSpec, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;

use crate::httproute::HttpRoute;

/// The label naming a component (api, mcp, web, postgresql, test).
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// One rendered object.
#[derive(Debug, Clone)]
pub enum Object {
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Pod(Pod),
    Service(Service),
    ConfigMap(ConfigMap),
    Secret(Secret),
    ServiceAccount(ServiceAccount),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    PodDisruptionBudget(PodDisruptionBudget),
    NetworkPolicy(NetworkPolicy),
    Ingress(Ingress),
    CronJob(Box<CronJob>),
    PersistentVolumeClaim(PersistentVolumeClaim),
    /// Gateway API, typed by crate::httproute (no k8s-openapi type exists).
    HttpRoute(Box<HttpRoute>),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Deployment(_) => "Deployment",
            Object::StatefulSet(_) => "StatefulSet",
            Object::Pod(_) => "Pod",
            Object::Service(_) => "Service",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Secret(_) => "Secret",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::HorizontalPodAutoscaler(_) => "HorizontalPodAutoscaler",
            Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Object::NetworkPolicy(_) => "NetworkPolicy",
            Object::Ingress(_) => "Ingress",
            Object::CronJob(_) => "CronJob",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Object::HttpRoute(_) => "HTTPRoute",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Deployment(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
            Object::Pod(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::HorizontalPodAutoscaler(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::CronJob(o) => &o.metadata,
            Object::PersistentVolumeClaim(o) => &o.metadata,
            Object::HttpRoute(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("<unnamed>")
    }

    /// "Kind/name", for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// The value of the component label, if any.
    pub fn component(&self) -> Option<&str> {
        label(&self.metadata().labels, COMPONENT_LABEL)
    }
}

/// Looks a label up in optional labels.
pub fn label<'a>(labels: &'a Option<BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    labels
        .as_ref()
        .and_then(|labels| labels.get(key))
        .map(String::as_str)
}

/// A pod template or pod, whatever object carries it.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    /// "Deployment/todo-api", "Pod/todo-test-readyz-web", ...
    pub kind: &'static str,
    pub name: &'a str,
    /// The workload's selector (None for bare pods).
    pub selector: Option<&'a LabelSelector>,
    pub pod_metadata: Option<&'a ObjectMeta>,
    pub spec: &'a PodSpec,
    /// Deployments and StatefulSets: containers that keep running and get probes.
    pub long_running: bool,
}

impl<'a> Workload<'a> {
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        self.pod_metadata
            .and_then(|meta| meta.labels.clone())
            .unwrap_or_default()
    }

    pub fn pod_annotations(&self) -> BTreeMap<String, String> {
        self.pod_metadata
            .and_then(|meta| meta.annotations.clone())
            .unwrap_or_default()
    }

    pub fn component(&self) -> Option<String> {
        self.pod_labels().get(COMPONENT_LABEL).cloned()
    }

    /// The container named after the workload's component (the service's own, not a sidecar
    /// or the migrate init container).
    pub fn component_container(&self) -> Option<&'a Container> {
        let component = self.component()?;
        self.spec.containers.iter().find(|c| c.name == component)
    }
}

/// Everything one `helm template` run rendered.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub objects: Vec<Object>,
}

impl Rendered {
    /// Parses the multi-document YAML printed by `helm template`.
    pub fn parse(text: &str) -> anyhow::Result<Rendered> {
        let mut objects = Vec::new();
        for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
            let value = serde_json::Value::deserialize(document).with_context(|| {
                format!("document {} of the render is not valid YAML", index + 1)
            })?;
            if value.is_null() {
                continue;
            }
            objects.push(
                parse_object(value)
                    .with_context(|| format!("document {} of the render", index + 1))?,
            );
        }
        Ok(Rendered { objects })
    }

    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> {
        self.objects.iter().filter_map(|o| match o {
            Object::Deployment(d) => Some(d),
            _ => None,
        })
    }

    pub fn stateful_sets(&self) -> impl Iterator<Item = &StatefulSet> {
        self.objects.iter().filter_map(|o| match o {
            Object::StatefulSet(s) => Some(s),
            _ => None,
        })
    }

    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.objects.iter().filter_map(|o| match o {
            Object::Service(s) => Some(s),
            _ => None,
        })
    }

    pub fn config_maps(&self) -> impl Iterator<Item = &ConfigMap> {
        self.objects.iter().filter_map(|o| match o {
            Object::ConfigMap(c) => Some(c),
            _ => None,
        })
    }

    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.objects.iter().filter_map(|o| match o {
            Object::Secret(s) => Some(s),
            _ => None,
        })
    }

    pub fn service_accounts(&self) -> impl Iterator<Item = &ServiceAccount> {
        self.objects.iter().filter_map(|o| match o {
            Object::ServiceAccount(s) => Some(s),
            _ => None,
        })
    }

    pub fn autoscalers(&self) -> impl Iterator<Item = &HorizontalPodAutoscaler> {
        self.objects.iter().filter_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) => Some(h),
            _ => None,
        })
    }

    pub fn disruption_budgets(&self) -> impl Iterator<Item = &PodDisruptionBudget> {
        self.objects.iter().filter_map(|o| match o {
            Object::PodDisruptionBudget(p) => Some(p),
            _ => None,
        })
    }

    pub fn network_policies(&self) -> impl Iterator<Item = &NetworkPolicy> {
        self.objects.iter().filter_map(|o| match o {
            Object::NetworkPolicy(n) => Some(n),
            _ => None,
        })
    }

    pub fn ingresses(&self) -> impl Iterator<Item = &Ingress> {
        self.objects.iter().filter_map(|o| match o {
            Object::Ingress(i) => Some(i),
            _ => None,
        })
    }

    pub fn http_routes(&self) -> impl Iterator<Item = &HttpRoute> {
        self.objects.iter().filter_map(|o| match o {
            Object::HttpRoute(r) => Some(r.as_ref()),
            _ => None,
        })
    }

    /// Every pod the render can create: Deployment and StatefulSet templates, the backup
    /// CronJob's job template, bare pods (the `helm test` pods).
    pub fn workloads(&self) -> Vec<Workload<'_>> {
        let mut workloads = Vec::new();
        for object in &self.objects {
            match object {
                Object::Deployment(d) => {
                    if let Some(spec) = &d.spec
                        && let Some(pod) = &spec.template.spec
                    {
                        workloads.push(Workload {
                            kind: "Deployment",
                            name: object.name(),
                            selector: Some(&spec.selector),
                            pod_metadata: spec.template.metadata.as_ref(),
                            spec: pod,
                            long_running: true,
                        });
                    }
                }
                Object::StatefulSet(s) => {
                    if let Some(spec) = &s.spec
                        && let Some(pod) = &spec.template.spec
                    {
                        workloads.push(Workload {
                            kind: "StatefulSet",
                            name: object.name(),
                            selector: Some(&spec.selector),
                            pod_metadata: spec.template.metadata.as_ref(),
                            spec: pod,
                            long_running: true,
                        });
                    }
                }
                Object::CronJob(c) => {
                    if let Some(template) = c
                        .spec
                        .as_ref()
                        .and_then(|s| s.job_template.spec.as_ref())
                        .map(|j| &j.template)
                        && let Some(spec) = &template.spec
                    {
                        workloads.push(Workload {
                            kind: "CronJob",
                            name: object.name(),
                            selector: None,
                            pod_metadata: template.metadata.as_ref(),
                            spec,
                            long_running: false,
                        });
                    }
                }
                Object::Pod(p) => {
                    if let Some(spec) = &p.spec {
                        workloads.push(Workload {
                            kind: "Pod",
                            name: object.name(),
                            selector: None,
                            pod_metadata: Some(&p.metadata),
                            spec,
                            long_running: false,
                        });
                    }
                }
                _ => {}
            }
        }
        workloads
    }

    /// The object of `kind` named `name`.
    pub fn find(&self, kind: &str, name: &str) -> Option<&Object> {
        self.objects
            .iter()
            .find(|o| o.kind() == kind && o.name() == name)
    }

    /// The one Service labelled with `component` (the chart renders one per component).
    pub fn service_of(&self, component: &str) -> Option<&Service> {
        self.services()
            .find(|s| label(&s.metadata.labels, COMPONENT_LABEL) == Some(component))
    }
}

fn parse_object(value: serde_json::Value) -> anyhow::Result<Object> {
    let api_version = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let kind = value
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    let context = || format!("{api_version} {kind} does not parse as a Kubernetes object");
    let object = match (api_version.as_str(), kind.as_str()) {
        ("apps/v1", "Deployment") => {
            Object::Deployment(serde_json::from_value(value).with_context(context)?)
        }
        ("apps/v1", "StatefulSet") => {
            Object::StatefulSet(serde_json::from_value(value).with_context(context)?)
        }
        ("v1", "Pod") => Object::Pod(serde_json::from_value(value).with_context(context)?),
        ("v1", "Service") => Object::Service(serde_json::from_value(value).with_context(context)?),
        ("v1", "ConfigMap") => {
            Object::ConfigMap(serde_json::from_value(value).with_context(context)?)
        }
        ("v1", "Secret") => Object::Secret(serde_json::from_value(value).with_context(context)?),
        ("v1", "ServiceAccount") => {
            Object::ServiceAccount(serde_json::from_value(value).with_context(context)?)
        }
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            Object::HorizontalPodAutoscaler(serde_json::from_value(value).with_context(context)?)
        }
        ("policy/v1", "PodDisruptionBudget") => {
            Object::PodDisruptionBudget(serde_json::from_value(value).with_context(context)?)
        }
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            Object::NetworkPolicy(serde_json::from_value(value).with_context(context)?)
        }
        ("networking.k8s.io/v1", "Ingress") => {
            Object::Ingress(serde_json::from_value(value).with_context(context)?)
        }
        ("batch/v1", "CronJob") => Object::CronJob(Box::new(
            serde_json::from_value(value).with_context(context)?,
        )),
        ("v1", "PersistentVolumeClaim") => {
            Object::PersistentVolumeClaim(serde_json::from_value(value).with_context(context)?)
        }
        (crate::httproute::API_VERSION, crate::httproute::KIND) => Object::HttpRoute(Box::new(
            serde_json::from_value(value).with_context(context)?,
        )),
        _ => bail!(
            "unexpected object {api_version:?} {kind:?}: teach crates/chart-policy (objects.rs and the policy rules) about it"
        ),
    };
    Ok(object)
}

/// Whether `selector` (matchLabels and matchExpressions) selects `labels`. An empty
/// selector selects everything, as in Kubernetes.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector.match_labels.as_ref().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
    });
    let expressions_match = selector
        .match_expressions
        .as_ref()
        .is_none_or(|expressions| {
            expressions.iter().all(|expression| {
                let value = labels.get(&expression.key);
                let values = expression.values.as_deref().unwrap_or_default();
                match expression.operator.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    // Unknown operators select nothing (the API server would reject them).
                    _ => false,
                }
            })
        });
    labels_match && expressions_match
}
