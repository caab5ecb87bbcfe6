//! HorizontalPodAutoscalers that cannot read metrics (usually: no metrics-server) or their target.

use crate::finding::{Finding, ObjectRef};
use cluster_client::snapshot::Snapshot;

const METRIC_EVENT_REASONS: &[&str] = &[
    "FailedGetResourceMetric",
    "FailedComputeMetricsReplicas",
    "FailedGetScale",
];

pub fn hpa_without_metrics(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for hpa in &snapshot.hpas {
        let name = hpa.metadata.name.as_deref().unwrap_or_default();
        let namespace = hpa
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(&snapshot.namespace);
        let conditions: Vec<_> = hpa
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .collect();
        let failing: Vec<_> = conditions
            .iter()
            .filter(|c| {
                (c.type_ == "ScalingActive" || c.type_ == "AbleToScale") && c.status == "False"
            })
            .collect();
        let scaling_active = conditions
            .iter()
            .any(|c| c.type_ == "ScalingActive" && c.status == "True");
        let events: Vec<_> = snapshot
            .events_for("HorizontalPodAutoscaler", name)
            .into_iter()
            .filter(|e| {
                e.reason
                    .as_deref()
                    .is_some_and(|r| METRIC_EVENT_REASONS.contains(&r))
            })
            .collect();
        if failing.is_empty() && (scaling_active || events.is_empty()) {
            continue;
        }
        let mut evidence: Vec<String> = failing
            .iter()
            .map(|c| {
                format!(
                    "condition {}=False, reason {}: {}",
                    c.type_,
                    c.reason.as_deref().unwrap_or("-"),
                    c.message.as_deref().unwrap_or("-")
                )
            })
            .collect();
        if let Some(event) = events.last() {
            evidence.push(format!(
                "event {} (x{}): {}",
                event.reason.as_deref().unwrap_or_default(),
                event.count.unwrap_or(1),
                event.message.as_deref().unwrap_or_default()
            ));
        }
        let text = evidence.join("\n");
        let target = hpa
            .spec
            .as_ref()
            .map(|s| format!("{} {}", s.scale_target_ref.kind, s.scale_target_ref.name));
        let (problem, suggestion) = if text.contains("FailedGetScale") {
            (
                "cannot read its scale target".to_string(),
                format!(
                    "The target {} does not exist or has no scale subresource: fix scaleTargetRef in the chart.",
                    target.unwrap_or_default()
                ),
            )
        } else if text.contains("missing request for") {
            (
                "cannot compute utilization".to_string(),
                "The target's containers have no resource request for this metric; the HPA computes utilization \
                 from requests: set resources.requests in the values."
                    .to_string(),
            )
        } else {
            (
                "has no metrics, so it cannot scale".to_string(),
                "The resource metrics API is not available: enable metrics-server (`minikube addons enable \
                 metrics-server`, add `-p <profile>`; `cargo xtask deploy` does it), then check `kubectl top pods`."
                    .to_string(),
            )
        };
        findings.push(Finding {
            analyzer: "hpa-metrics",
            object: ObjectRef::new("HorizontalPodAutoscaler", Some(namespace), name),
            problem,
            evidence,
            suggestion,
        });
    }
    findings
}
