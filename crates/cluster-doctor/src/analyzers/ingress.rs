//! Ingresses whose class or backends do not exist: the route never works.

use k8s_openapi::api::networking::v1::{Ingress, IngressServiceBackend};

use crate::finding::{Finding, ObjectRef};
use cluster_client::snapshot::Snapshot;

const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

fn class_name(ingress: &Ingress) -> Option<&str> {
    ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.as_deref())
        .or_else(|| {
            ingress
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/ingress.class"))
                .map(String::as_str)
        })
}

fn backends(ingress: &Ingress) -> Vec<(String, &IngressServiceBackend)> {
    let Some(spec) = ingress.spec.as_ref() else {
        return Vec::new();
    };
    let mut all = Vec::new();
    if let Some(service) = spec
        .default_backend
        .as_ref()
        .and_then(|b| b.service.as_ref())
    {
        all.push(("default backend".to_string(), service));
    }
    for rule in spec.rules.iter().flatten() {
        let host = rule.host.as_deref().unwrap_or("*");
        for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
            if let Some(service) = path.backend.service.as_ref() {
                all.push((
                    format!("{host}{}", path.path.as_deref().unwrap_or("/")),
                    service,
                ));
            }
        }
    }
    all
}

pub fn ingress_problems(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for ingress in &snapshot.ingresses {
        let name = ingress.metadata.name.as_deref().unwrap_or_default();
        let namespace = ingress
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(&snapshot.namespace);
        let object = ObjectRef::new("Ingress", Some(namespace), name);
        if let Some(classes) = snapshot.ingress_classes.as_ref() {
            let known: Vec<&str> = classes
                .iter()
                .filter_map(|c| c.metadata.name.as_deref())
                .collect();
            let default = classes.iter().find(|c| {
                c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .map(String::as_str)
                    == Some("true")
            });
            let known_list = if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            };
            let problem = match class_name(ingress) {
                Some(class) if !known.contains(&class) => {
                    Some(format!("IngressClass {class} does not exist"))
                }
                None if default.is_none() => {
                    Some("no ingressClassName and no default IngressClass".to_string())
                }
                _ => None,
            };
            if let Some(problem) = problem {
                findings.push(Finding {
                    analyzer: "ingress",
                    object: object.clone(),
                    problem,
                    evidence: vec![
                        format!("ingressClassName: {}", class_name(ingress).unwrap_or("(unset)")),
                        format!("IngressClasses in the cluster: {known_list}"),
                    ],
                    suggestion: "No ingress controller serves this Ingress. On minikube: `minikube -p <profile> addons \
                                 enable ingress` (`cargo xtask deploy` does); elsewhere install one (e.g. \
                                 ingress-nginx) or set the chart's ingress.className to an existing class."
                        .to_string(),
                });
            }
        }
        for (route, backend) in backends(ingress) {
            let service = snapshot
                .services
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(backend.name.as_str()));
            let wanted_port = backend.port.as_ref().map(|p| match (&p.name, p.number) {
                (Some(name), _) => name.clone(),
                (None, Some(number)) => number.to_string(),
                (None, None) => "?".to_string(),
            });
            let Some(service) = service else {
                findings.push(Finding {
                    analyzer: "ingress",
                    object: object.clone(),
                    problem: format!("backend Service {} does not exist", backend.name),
                    evidence: vec![format!("route {route} -> service {}", backend.name)],
                    suggestion: format!(
                        "Fix the backend's service name in the chart's Ingress or create the Service (`kubectl get svc \
                         -n {namespace}` lists what exists)."
                    ),
                });
                continue;
            };
            let ports = service.spec.as_ref().and_then(|s| s.ports.as_ref());
            let port_ok = backend.port.as_ref().is_none_or(|wanted| {
                ports
                    .into_iter()
                    .flatten()
                    .any(|p| match (&wanted.name, wanted.number) {
                        (Some(name), _) => p.name.as_deref() == Some(name.as_str()),
                        (None, Some(number)) => p.port == number,
                        (None, None) => true,
                    })
            });
            if !port_ok {
                let available: Vec<String> = ports
                    .into_iter()
                    .flatten()
                    .map(|p| match &p.name {
                        Some(n) => format!("{n}:{}", p.port),
                        None => p.port.to_string(),
                    })
                    .collect();
                findings.push(Finding {
                    analyzer: "ingress",
                    object: object.clone(),
                    problem: format!(
                        "backend port {} is not a port of Service {}",
                        wanted_port.clone().unwrap_or_default(),
                        backend.name
                    ),
                    evidence: vec![
                        format!("route {route} -> service {} port {}", backend.name, wanted_port.unwrap_or_default()),
                        format!("Service {} ports: {}", backend.name, available.join(", ")),
                    ],
                    suggestion: "Make the Ingress backend port match a Service port (by number or name) in the chart."
                        .to_string(),
                });
            }
        }
    }
    findings
}
