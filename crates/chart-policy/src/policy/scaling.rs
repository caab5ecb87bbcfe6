//! Replicas, autoscalers and disruption budgets for the values given.

use super::*;

/// Replicas, HorizontalPodAutoscalers and PodDisruptionBudgets per component as the values
/// ask; a single PostgreSQL with a volume claim.
pub fn scaling(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("scaling");
    for (component, service) in &expect.services {
        let of = |o: &&Object| o.component() == Some(component.as_str());
        let deployment = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::Deployment(d) => Some(d),
            _ => None,
        });
        let hpa = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) => Some(h),
            _ => None,
        });
        let pdb = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::PodDisruptionBudget(p) => Some(p),
            _ => None,
        });
        let id = component.clone();
        let replicas = deployment
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas);
        match &service.autoscaling {
            Some(want) => {
                report.check(
                    replicas.is_none(),
                    &id,
                    "Deployment sets replicas although an HPA owns them",
                );
                match hpa.and_then(|h| h.spec.as_ref()) {
                    Some(spec) => {
                        let target = spec.metrics.iter().flatten().find_map(|m| {
                            let resource = m.resource.as_ref()?;
                            (resource.name == "cpu" && resource.target.type_ == "Utilization")
                                .then_some(resource.target.average_utilization)
                                .flatten()
                        });
                        report.check(
                            spec.min_replicas == Some(want.min)
                                && spec.max_replicas == want.max
                                && target == Some(want.target_cpu),
                            &id,
                            format!(
                                "HPA {:?}..{} at {target:?}% CPU, values ask for {}..{} at {}%",
                                spec.min_replicas,
                                spec.max_replicas,
                                want.min,
                                want.max,
                                want.target_cpu
                            ),
                        );
                    }
                    None => report.fail(&id, "autoscaling is enabled but no HPA is rendered"),
                }
            }
            None => {
                report.check(
                    hpa.is_none(),
                    &id,
                    "HPA rendered although autoscaling is disabled",
                );
                report.check(
                    replicas == Some(service.replicas),
                    &id,
                    format!("replicas {replicas:?}, values ask for {}", service.replicas),
                );
            }
        }
        report.check(
            pdb.is_some() == service.pdb,
            &id,
            format!(
                "PDB rendered: {}, pdb.enabled: {}",
                pdb.is_some(),
                service.pdb
            ),
        );
    }
    let sets: Vec<_> = rendered.stateful_sets().collect();
    match (&expect.postgresql, sets.as_slice()) {
        (Some(_), [set]) => {
            let spec = set.spec.as_ref();
            report.check(
                spec.and_then(|s| s.replicas) == Some(1),
                "postgresql",
                "StatefulSet replicas is not 1",
            );
            let claims = spec
                .and_then(|s| s.volume_claim_templates.clone())
                .unwrap_or_default();
            report.check(
                claims.iter().any(|c| {
                    c.metadata.name.as_deref() == Some("data")
                        && c.spec
                            .as_ref()
                            .and_then(|s| s.resources.as_ref())
                            .and_then(|r| r.requests.as_ref())
                            .is_some_and(|r| r.contains_key("storage"))
                }),
                "postgresql",
                "no volume claim template \"data\" with a storage request",
            );
        }
        (None, []) => {}
        (want, found) => report.fail(
            "postgresql",
            format!(
                "{} StatefulSets rendered, in-cluster database expected: {}",
                found.len(),
                want.is_some()
            ),
        ),
    }
    report.violations
}
