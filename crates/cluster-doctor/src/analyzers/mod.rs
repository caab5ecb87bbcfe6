//! The analyzers: each one a pure function from a `Snapshot` to findings.

mod hpa;
mod ingress;
mod pods;
mod pvc;
mod services;
mod workloads;

use crate::finding::Finding;
use cluster_client::snapshot::Snapshot;

pub use hpa::hpa_without_metrics;
pub use ingress::ingress_problems;
pub use pods::{
    container_config, crash_loop, failing_probes, image_pull, oom_killed, unschedulable,
};
pub use pvc::pending_pvcs;
pub use services::services_without_endpoints;
pub use workloads::unready_workloads;

/// An analyzer: looks at the whole snapshot, reports what is wrong.
pub type Analyzer = fn(&Snapshot) -> Vec<Finding>;

/// Every analyzer, in the order their findings are printed: pods first (the root causes),
/// then what is broken because of them.
pub const ALL: &[(&str, Analyzer)] = &[
    ("unschedulable", unschedulable),
    ("image-pull", image_pull),
    ("container-config", container_config),
    ("oom-killed", oom_killed),
    ("crash-loop", crash_loop),
    ("failing-probes", failing_probes),
    ("unready-workload", unready_workloads),
    ("service-endpoints", services_without_endpoints),
    ("ingress", ingress_problems),
    ("hpa-metrics", hpa_without_metrics),
    ("pvc-pending", pending_pvcs),
];

/// Runs every analyzer over the snapshot.
pub fn analyze(snapshot: &Snapshot) -> Vec<Finding> {
    ALL.iter()
        .flat_map(|(_, analyzer)| analyzer(snapshot))
        .collect()
}

/// `key=value,key=value` for a selector, for evidence lines.
pub(crate) fn format_labels(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The text between `before` and the next `after` in `message`.
pub(crate) fn between<'a>(message: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let start = message.find(before)? + before.len();
    let rest = &message[start..];
    let end = rest.find(after)?;
    Some(&rest[..end])
}
