//! Services with a selector but no ready endpoint: traffic to them fails.

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::format_labels;
use crate::finding::{Finding, ObjectRef};
use cluster_client::pod_state::{is_pod_ready, pod_blocker, pod_name};
use cluster_client::snapshot::Snapshot;

/// Ready and total endpoint counts, and where they came from.
struct EndpointCount {
    ready: usize,
    total: usize,
    source: String,
}

fn count_endpoints(snapshot: &Snapshot, service: &str, pods: &[&Pod]) -> EndpointCount {
    let slices: Vec<_> = snapshot
        .endpoint_slices
        .iter()
        .filter(|slice| {
            slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("kubernetes.io/service-name"))
                .map(String::as_str)
                == Some(service)
        })
        .collect();
    if !slices.is_empty() {
        let endpoints: Vec<_> = slices.iter().flat_map(|s| s.endpoints.iter()).collect();
        // A missing `ready` condition means ready (discovery.k8s.io/v1 semantics).
        let ready = endpoints
            .iter()
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
            .count();
        let names: Vec<_> = slices
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        return EndpointCount {
            ready,
            total: endpoints.len(),
            source: format!("EndpointSlice {}", names.join(", ")),
        };
    }
    if let Some(endpoints) = snapshot
        .endpoints
        .iter()
        .find(|e| e.metadata.name.as_deref() == Some(service))
    {
        let subsets = endpoints.subsets.iter().flatten();
        let (ready, not_ready) = subsets.fold((0, 0), |(r, n), s| {
            (
                r + s.addresses.as_ref().map_or(0, Vec::len),
                n + s.not_ready_addresses.as_ref().map_or(0, Vec::len),
            )
        });
        return EndpointCount {
            ready,
            total: ready + not_ready,
            source: format!("Endpoints {service}"),
        };
    }
    let ready = pods.iter().filter(|p| is_pod_ready(p)).count();
    EndpointCount {
        ready,
        total: pods.len(),
        source: "ready pods (no EndpointSlice found)".to_string(),
    }
}

/// Named target ports no selected pod declares.
fn unresolved_named_ports(service: &Service, pods: &[&Pod]) -> Vec<String> {
    let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
    ports
        .into_iter()
        .flatten()
        .filter_map(|port| match &port.target_port {
            Some(IntOrString::String(name)) => Some(name.clone()),
            _ => None,
        })
        .filter(|name| {
            !pods.iter().any(|pod| {
                pod.spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .flat_map(|c| c.ports.iter().flatten())
                    .any(|p| p.name.as_deref() == Some(name.as_str()))
            })
        })
        .collect()
}

pub fn services_without_endpoints(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for service in &snapshot.services {
        let Some(spec) = service.spec.as_ref() else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let namespace = service
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(&snapshot.namespace);
        let pods = snapshot.pods_matching(selector);
        let count = count_endpoints(snapshot, name, &pods);
        if count.ready > 0 {
            continue;
        }
        let mut evidence = vec![
            format!("selector {}", format_labels(selector)),
            format!(
                "{}: {} ready of {} endpoint(s)",
                count.source, count.ready, count.total
            ),
        ];
        for pod in &pods {
            match pod_blocker(pod, &snapshot.events) {
                Some(why) => evidence.push(format!("pod {} not ready: {why}", pod_name(pod))),
                None => evidence.push(format!("pod {} is ready", pod_name(pod))),
            }
        }
        let unresolved = unresolved_named_ports(service, &pods);
        let suggestion = if pods.is_empty() {
            format!(
                "No pod carries these labels: compare with `kubectl get pods -n {namespace} --show-labels`; the \
                 workload may be scaled to 0 or unable to create pods (see the workload findings)."
            )
        } else if !unresolved.is_empty() {
            evidence.push(format!(
                "targetPort name(s) no container declares: {}",
                unresolved.join(", ")
            ));
            "The Service's named targetPort matches no container port name: make them agree in the chart."
                .to_string()
        } else if pods.iter().any(|p| !is_pod_ready(p)) {
            "The pods behind it are not ready (see their findings); it gets endpoints once their readiness probes \
             pass."
                .to_string()
        } else {
            format!(
                "The pods are ready but not yet in the endpoints: wait a few seconds, then `kubectl get \
                 endpointslices -n {namespace} -l kubernetes.io/service-name={name}`."
            )
        };
        findings.push(Finding {
            analyzer: "service-endpoints",
            object: ObjectRef::new("Service", Some(namespace), name),
            problem: "no ready endpoint: requests to it fail".to_string(),
            evidence,
            suggestion,
        });
    }
    findings
}
