//! Probes, graceful shutdown, rollout strategy and pod templates that stay stable across upgrades.

use super::*;

pub(super) fn http_probe(probe: Option<&Probe>) -> Option<(String, String)> {
    let get = probe?.http_get.as_ref()?;
    let port = match &get.port {
        IntOrString::String(name) => name.clone(),
        IntOrString::Int(number) => number.to_string(),
    };
    Some((get.path.clone().unwrap_or_default(), port))
}

/// Startup, liveness and readiness probes on every long-running container (the services:
/// /livez and /readyz on port "http", periods 10 s and 5 s); preStop within the grace period.
pub fn probes_and_lifecycle(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("probes");
    for workload in rendered.workloads().into_iter().filter(|w| w.long_running) {
        let component = workload.component().unwrap_or_default();
        let grace = workload.spec.termination_grace_period_seconds.unwrap_or(30);
        for container in &workload.spec.containers {
            let id = format!("{} container {}", workload.id(), container.name);
            report.check(container.startup_probe.is_some(), &id, "no startup probe");
            report.check(container.liveness_probe.is_some(), &id, "no liveness probe");
            report.check(
                container.readiness_probe.is_some(),
                &id,
                "no readiness probe",
            );
            for probe in [
                &container.startup_probe,
                &container.liveness_probe,
                &container.readiness_probe,
            ]
            .into_iter()
            .flatten()
            {
                if let Some(IntOrString::String(port)) = probe.http_get.as_ref().map(|g| &g.port) {
                    let declared = container
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| p.name.as_deref() == Some(port));
                    report.check(
                        declared,
                        &id,
                        format!("probe port {port:?} is not a named container port"),
                    );
                }
            }
            if let Some(service) = expect.services.get(&component) {
                let live = ("/livez".to_string(), "http".to_string());
                let ready = ("/readyz".to_string(), "http".to_string());
                report.check(
                    http_probe(container.startup_probe.as_ref()) == Some(live.clone()),
                    &id,
                    "startup probe is not GET /livez on port http",
                );
                report.check(
                    http_probe(container.liveness_probe.as_ref()) == Some(live),
                    &id,
                    "liveness probe is not GET /livez on port http",
                );
                report.check(
                    http_probe(container.readiness_probe.as_ref()) == Some(ready),
                    &id,
                    "readiness probe is not GET /readyz on port http",
                );
                let liveness = container
                    .liveness_probe
                    .as_ref()
                    .and_then(|p| p.period_seconds);
                let readiness = container
                    .readiness_probe
                    .as_ref()
                    .and_then(|p| p.period_seconds);
                report.check(
                    liveness == Some(LIVENESS_PERIOD_SECONDS),
                    &id,
                    format!(
                        "liveness period {liveness:?}, the spec asks for {LIVENESS_PERIOD_SECONDS}s"
                    ),
                );
                report.check(
                    readiness == Some(READINESS_PERIOD_SECONDS),
                    &id,
                    format!("readiness period {readiness:?}, the spec asks for {READINESS_PERIOD_SECONDS}s"),
                );
                let sleep = container
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.pre_stop.as_ref())
                    .and_then(|h| h.sleep.as_ref())
                    .map(|s| s.seconds);
                if service.pre_stop_sleep_seconds > 0 {
                    report.check(
                        sleep == Some(service.pre_stop_sleep_seconds),
                        &id,
                        format!(
                            "preStop sleep is {sleep:?}, values ask for {}",
                            service.pre_stop_sleep_seconds
                        ),
                    );
                } else {
                    report.check(
                        sleep.is_none(),
                        &id,
                        "preStop sleep rendered although disabled",
                    );
                }
                report.check(
                    sleep.is_none_or(|s| s < grace),
                    &id,
                    format!("preStop sleep {sleep:?} does not end before terminationGracePeriodSeconds {grace}"),
                );
            } else {
                // PostgreSQL: some preStop (fast shutdown) and probes of any kind.
                report.check(
                    container
                        .lifecycle
                        .as_ref()
                        .and_then(|l| l.pre_stop.as_ref())
                        .is_some(),
                    &id,
                    "no preStop hook",
                );
            }
        }
    }
    report.violations
}

/// Rollouts that drop no request: RollingUpdate with maxUnavailable 0 / maxSurge 1, config
/// and secret checksums on the services' pod templates, topology spread when enabled.
pub fn rollout(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("rollout");
    for deployment in rendered.deployments() {
        let id = format!(
            "Deployment/{}",
            deployment.metadata.name.as_deref().unwrap_or_default()
        );
        let strategy = deployment.spec.as_ref().and_then(|s| s.strategy.as_ref());
        let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
        report.check(
            strategy.and_then(|s| s.type_.as_deref()) == Some("RollingUpdate")
                && rolling.and_then(|r| r.max_unavailable.clone()) == Some(IntOrString::Int(0))
                && rolling.and_then(|r| r.max_surge.clone()) == Some(IntOrString::Int(1)),
            &id,
            "strategy is not RollingUpdate with maxUnavailable 0 and maxSurge 1",
        );
    }
    for workload in rendered.workloads().into_iter().filter(|w| w.long_running) {
        let annotations = workload.pod_annotations();
        let component = workload.component().unwrap_or_default();
        // The services read their config and secrets at start-up; PostgreSQL reads its
        // password only when it initialises an empty volume, so it needs no checksums.
        let wanted: &[&str] = if workload.kind == "Deployment" {
            &["checksum/config", "checksum/secret"]
        } else {
            &[]
        };
        for key in wanted {
            report.check(
                annotations
                    .get(*key)
                    .is_some_and(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())),
                workload.id(),
                format!("pod template has no {key} annotation"),
            );
        }
        if let Some(service) = expect.services.get(&component) {
            let spread = workload
                .spec
                .topology_spread_constraints
                .iter()
                .flatten()
                .any(|c| {
                    c.label_selector
                        .as_ref()
                        .is_some_and(|s| selector_matches(s, &workload.pod_labels()))
                });
            report.check(
                spread == service.topology_spread,
                workload.id(),
                format!(
                    "topology spread present: {spread}, enabled in values: {}",
                    service.topology_spread
                ),
            );
        }
    }
    report.violations
}

/// Labels that change with every chart or app version.
pub const VERSION_LABELS: [&str; 2] = ["helm.sh/chart", "app.kubernetes.io/version"];

/// The StatefulSet's pod template (the single database) carries no version labels: a
/// template change restarts the pod, and a chart bump alone must not restart the database.
pub fn stable_pod_templates(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("stable-pod-template");
    for workload in rendered.workloads() {
        if workload.kind != "StatefulSet" && workload.kind != "CronJob" {
            continue;
        }
        let labels = workload.pod_labels();
        for label in VERSION_LABELS {
            report.check(
                !labels.contains_key(label),
                workload.id(),
                format!("the pod template carries {label}: every chart bump would restart it"),
            );
        }
    }
    report.violations
}
