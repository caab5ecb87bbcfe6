//! Selectors, Services, Ingress and HTTPRoute: every route reaches the component that owns it.

use super::*;

/// Selectors match their own pods and nothing else: workload selectors against their
/// templates; Services, PodDisruptionBudgets and NetworkPolicies against the pods.
pub fn selectors(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("selectors");
    let workloads = rendered.workloads();
    let pods: Vec<(String, BTreeMap<String, String>)> =
        workloads.iter().map(|w| (w.id(), w.pod_labels())).collect();
    let controllers: Vec<&Workload<'_>> =
        workloads.iter().filter(|w| w.selector.is_some()).collect();
    for workload in &controllers {
        let Some(selector) = workload.selector else {
            continue;
        };
        let labels = workload.pod_labels();
        report.check(
            selector
                .match_labels
                .as_ref()
                .is_some_and(|m| !m.is_empty())
                && selector.match_expressions.is_none(),
            workload.id(),
            "selector is not a non-empty matchLabels",
        );
        report.check(
            selector_matches(selector, &labels),
            workload.id(),
            "selector does not match its pod template labels",
        );
        for (other, other_labels) in &pods {
            if *other != workload.id() && selector_matches(selector, other_labels) {
                report.fail(
                    workload.id(),
                    format!("selector also matches the pods of {other}"),
                );
            }
        }
    }
    let matching =
        |selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector| -> Vec<String> {
            controllers
                .iter()
                .filter(|w| selector_matches(selector, &w.pod_labels()))
                .map(|w| w.id())
                .collect()
        };
    for service in rendered.services() {
        let id = format!(
            "Service/{}",
            service.metadata.name.as_deref().unwrap_or_default()
        );
        let selector = service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        report.check(!selector.is_empty(), &id, "no selector");
        let as_label_selector = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some(selector),
            match_expressions: None,
        };
        let matched = matching(&as_label_selector);
        report.check(
            matched.len() == 1,
            &id,
            format!("selects {matched:?}, not exactly one workload"),
        );
    }
    for pdb in rendered.disruption_budgets() {
        let id = format!(
            "PodDisruptionBudget/{}",
            pdb.metadata.name.as_deref().unwrap_or_default()
        );
        match pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            Some(selector) => {
                let matched = matching(selector);
                report.check(
                    matched.len() == 1,
                    &id,
                    format!("selects {matched:?}, not exactly one workload"),
                );
            }
            None => report.fail(&id, "no selector"),
        }
    }
    for hpa in rendered.autoscalers() {
        let id = format!(
            "HorizontalPodAutoscaler/{}",
            hpa.metadata.name.as_deref().unwrap_or_default()
        );
        let target = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
        let found = target.and_then(|t| rendered.find(&t.kind, &t.name));
        report.check(
            found.is_some() && target.is_some_and(|t| t.api_version.as_deref() == Some("apps/v1")),
            &id,
            "scaleTargetRef does not name a rendered apps/v1 workload",
        );
    }
    for policy in rendered.network_policies() {
        let id = format!(
            "NetworkPolicy/{}",
            policy.metadata.name.as_deref().unwrap_or_default()
        );
        let selector = policy
            .spec
            .as_ref()
            .and_then(|s| s.pod_selector.clone())
            .unwrap_or_default();
        report.check(
            pods.iter()
                .any(|(_, labels)| selector_matches(&selector, labels)),
            &id,
            "podSelector selects no pod of the release",
        );
        report.check(
            selector
                .match_labels
                .as_ref()
                .is_some_and(|m| m.contains_key("app.kubernetes.io/instance")),
            &id,
            "podSelector is not limited to this release",
        );
    }
    report.violations
}

/// Each service's Service has the type its values ask for (ClusterIP unless NodePort).
pub fn service_types(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("service-types");
    for (component, want) in &expect.services {
        let Some(service) = rendered.service_of(component) else {
            continue;
        };
        let got = service.spec.as_ref().and_then(|s| s.type_.clone());
        report.check(
            got.as_deref() == Some(want.service_type.as_str()),
            format!(
                "Service/{}",
                service.metadata.name.as_deref().unwrap_or_default()
            ),
            format!("type {got:?}, the values say {}", want.service_type),
        );
    }
    report.violations
}

/// Every Service is a ClusterIP (or a NodePort the values ask for) whose ports target a named container port that the
/// selected pods declare; a StatefulSet's serviceName is a headless Service of its pods.
pub fn services(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("services");
    let workloads = rendered.workloads();
    for service in rendered.services() {
        let name = service.metadata.name.clone().unwrap_or_default();
        let id = format!("Service/{name}");
        let Some(spec) = &service.spec else {
            report.fail(&id, "no spec");
            continue;
        };
        // NodePort only as the values ask for it (checked by service_types).
        report.check(
            matches!(spec.type_.as_deref(), Some("ClusterIP" | "NodePort")),
            &id,
            format!("type {:?}, not ClusterIP or NodePort", spec.type_),
        );
        let selector = spec.selector.clone().unwrap_or_default();
        let selected: Vec<&Workload<'_>> = workloads
            .iter()
            .filter(|w| {
                w.selector.is_some()
                    && !selector.is_empty()
                    && selector
                        .iter()
                        .all(|(k, v)| w.pod_labels().get(k) == Some(v))
            })
            .collect();
        let ports = spec.ports.as_deref().unwrap_or_default();
        report.check(!ports.is_empty(), &id, "no ports");
        for port in ports {
            let pid = format!("{id} port {}", port.name.as_deref().unwrap_or("<unnamed>"));
            report.check(port.name.is_some(), &pid, "unnamed port");
            match &port.target_port {
                Some(IntOrString::String(target)) => {
                    for workload in &selected {
                        let declared = workload
                            .spec
                            .containers
                            .iter()
                            .flat_map(|c| c.ports.iter().flatten())
                            .any(|p| {
                                p.name.as_deref() == Some(target.as_str())
                                    && p.protocol.as_deref().unwrap_or("TCP")
                                        == port.protocol.as_deref().unwrap_or("TCP")
                            });
                        report.check(
                            declared,
                            &pid,
                            format!(
                                "targetPort {target:?} is not a container port of {}",
                                workload.id()
                            ),
                        );
                    }
                }
                other => report.fail(
                    &pid,
                    format!("targetPort {other:?} is not a named container port"),
                ),
            }
        }
    }
    for set in rendered.stateful_sets() {
        let id = format!(
            "StatefulSet/{}",
            set.metadata.name.as_deref().unwrap_or_default()
        );
        let service_name = set
            .spec
            .as_ref()
            .and_then(|s| s.service_name.clone())
            .unwrap_or_default();
        match rendered.find("Service", &service_name) {
            Some(Object::Service(service)) => report.check(
                service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None"),
                &id,
                format!("serviceName {service_name} is not a headless Service"),
            ),
            _ => report.fail(
                &id,
                format!("serviceName {service_name:?} is not a rendered Service"),
            ),
        }
    }
    report.violations
}

/// The Ingress routes / to web, /api to api and /mcp to mcp, and the OAuth paths ([`ROUTES`])
/// (Prefix) on the values' host
/// and class, with TLS when asked; every backend is a rendered Service and port.
pub fn ingress(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("ingress");
    let ingresses: Vec<_> = rendered.ingresses().collect();
    let Some(want) = &expect.ingress else {
        report.check(
            ingresses.is_empty(),
            "Ingress",
            "rendered although ingress.enabled is false",
        );
        return report.violations;
    };
    report.check(
        ingresses.len() == 1,
        "Ingress",
        format!("{} rendered, want 1", ingresses.len()),
    );
    for ingress in ingresses {
        let id = format!(
            "Ingress/{}",
            ingress.metadata.name.as_deref().unwrap_or_default()
        );
        let Some(spec) = &ingress.spec else {
            report.fail(&id, "no spec");
            continue;
        };
        report.check(
            spec.ingress_class_name.as_deref() == Some(want.class.as_str()),
            &id,
            "ingressClassName differs from the values",
        );
        let tls: Vec<_> = spec.tls.iter().flatten().collect();
        match &want.tls_secret {
            Some(secret) => report.check(
                tls.len() == 1 + want.extra_tls.len()
                    && tls[0].secret_name.as_deref() == Some(secret.as_str())
                    && tls[0].hosts.as_deref() == Some(&[want.host.clone()][..]),
                &id,
                "TLS is not the values' secret for the host",
            ),
            None => report.check(
                tls.len() == want.extra_tls.len(),
                &id,
                "TLS configured although disabled",
            ),
        }
        let extra_tls: Vec<(Vec<String>, String)> = tls
            .iter()
            .skip(usize::from(want.tls_secret.is_some()))
            .map(|t| {
                (
                    t.hosts.clone().unwrap_or_default(),
                    t.secret_name.clone().unwrap_or_default(),
                )
            })
            .collect();
        report.check(
            extra_tls == want.extra_tls,
            &id,
            format!(
                "extra TLS entries {extra_tls:?}, the values say {:?}",
                want.extra_tls
            ),
        );
        let hosts: Vec<String> = spec
            .rules
            .iter()
            .flatten()
            .filter_map(|r| r.host.clone())
            .collect();
        let mut want_hosts = vec![want.host.clone()];
        want_hosts.extend(want.extra_hosts.iter().cloned());
        report.check(
            hosts == want_hosts,
            &id,
            format!("rule hosts {hosts:?}, the values say {want_hosts:?}"),
        );
        let mut routes = BTreeMap::new();
        for rule in spec.rules.iter().flatten() {
            report.check(rule.host.is_some(), &id, "a rule without a host");
            for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
                let backend = path.backend.service.as_ref();
                let service_name = backend.map(|b| b.name.clone()).unwrap_or_default();
                report.check(
                    path.path_type == "Prefix",
                    &id,
                    format!("path {:?} is not Prefix", path.path),
                );
                match rendered.find("Service", &service_name) {
                    Some(Object::Service(service)) => {
                        let ports = service
                            .spec
                            .as_ref()
                            .and_then(|s| s.ports.clone())
                            .unwrap_or_default();
                        let port = backend.and_then(|b| b.port.as_ref());
                        let exists = port.is_some_and(|p| {
                            ports.iter().any(|sp| {
                                p.name
                                    .as_deref()
                                    .is_some_and(|n| sp.name.as_deref() == Some(n))
                                    || p.number == Some(sp.port)
                            })
                        });
                        report.check(
                            exists,
                            &id,
                            format!(
                                "backend {service_name} port {port:?} is not a port of the Service"
                            ),
                        );
                        let component = label(&service.metadata.labels, COMPONENT_LABEL)
                            .unwrap_or_default()
                            .to_string();
                        routes.insert(path.path.clone().unwrap_or_default(), component);
                    }
                    _ => report.fail(
                        &id,
                        format!("backend Service {service_name:?} is not rendered"),
                    ),
                }
            }
        }
        let want_routes: BTreeMap<String, String> = ROUTES
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        report.check(
            routes == want_routes,
            &id,
            format!("routes {routes:?}, want {want_routes:?}"),
        );
    }
    report.violations
}

/// The HTTPRoute: rendered exactly when gateway.enabled, valid for the documented
/// gateway.networking.k8s.io/v1 schema, and routing like the Ingress (same path prefixes to
/// the same Services, on the Services' ports).
pub fn http_routes(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("httproute");
    let routes: Vec<_> = rendered.http_routes().collect();
    report.check(
        routes.len() == usize::from(expect.gateway),
        "HTTPRoute",
        format!(
            "{} rendered, want {}",
            routes.len(),
            usize::from(expect.gateway)
        ),
    );
    let want: BTreeSet<(String, String)> = ROUTES
        .into_iter()
        .filter_map(|(prefix, component)| {
            let service = rendered.service_of(component)?;
            Some((prefix.to_string(), service.metadata.name.clone()?))
        })
        .collect();
    for route in routes {
        let id = format!(
            "HTTPRoute/{}",
            route.metadata.name.as_deref().unwrap_or_default()
        );
        for error in crate::httproute::shape_errors(route) {
            report.fail(&id, error);
        }
        let got = crate::httproute::prefix_routes(route);
        let pairs: BTreeSet<(String, String)> =
            got.iter().map(|(p, s, _)| (p.clone(), s.clone())).collect();
        report.check(
            pairs == want,
            &id,
            format!("routes {pairs:?}, want the Ingress's {want:?}"),
        );
        for (prefix, service, port) in &got {
            let service_port = rendered
                .services()
                .find(|s| s.metadata.name.as_deref() == Some(service.as_str()))
                .and_then(|s| s.spec.as_ref()?.ports.as_ref()?.first().map(|p| p.port));
            report.check(
                service_port.map(i64::from) == Some(*port),
                &id,
                format!(
                    "{prefix} -> {service}:{port}, but that Service's port is {service_port:?}"
                ),
            );
        }
    }
    report.violations
}
