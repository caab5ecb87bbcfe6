//! PersistentVolumeClaims stuck in Pending: the database pod that mounts one cannot start.

use crate::finding::{Finding, ObjectRef};
use cluster_client::snapshot::Snapshot;

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

pub fn pending_pvcs(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    for pvc in &snapshot.pvcs {
        if pvc.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Pending") {
            continue;
        }
        let name = pvc.metadata.name.as_deref().unwrap_or_default();
        let namespace = pvc
            .metadata
            .namespace
            .as_deref()
            .unwrap_or(&snapshot.namespace);
        let wanted = pvc
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref());
        let events = snapshot.events_for("PersistentVolumeClaim", name);
        // WaitForFirstConsumer is the normal state until a pod mounts the claim.
        if !events.is_empty()
            && events
                .iter()
                .all(|e| e.reason.as_deref() == Some("WaitForFirstConsumer"))
        {
            continue;
        }
        let mut evidence = vec![format!(
            "storageClassName: {}",
            wanted.unwrap_or("(unset: the default class)")
        )];
        for event in events.iter().rev().take(2) {
            evidence.push(format!(
                "event {} (x{}): {}",
                event.reason.as_deref().unwrap_or_default(),
                event.count.unwrap_or(1),
                event.message.as_deref().unwrap_or_default()
            ));
        }
        let enable = "on minikube `minikube -p <profile> addons enable storage-provisioner` and `minikube -p \
                      <profile> addons enable default-storageclass`";
        let (problem, suggestion) = match (snapshot.storage_classes.as_ref(), wanted) {
            (Some(classes), Some(class))
                if !classes
                    .iter()
                    .any(|c| c.metadata.name.as_deref() == Some(class))
                    && !class.is_empty() =>
            {
                (
                    format!("Pending: StorageClass {class} does not exist"),
                    format!(
                        "Set the chart's persistence storageClass to an existing class (`kubectl get storageclass`) \
                         or leave it empty for the default; {enable}."
                    ),
                )
            }
            (Some(classes), None)
                if !classes.iter().any(|c| {
                    c.metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                        .map(String::as_str)
                        == Some("true")
                }) =>
            {
                (
                    "Pending: no storage class given and the cluster has no default StorageClass"
                        .to_string(),
                    format!("Give the claim a storage class, or make one the default; {enable}."),
                )
            }
            _ => (
                "Pending: no volume provisioned".to_string(),
                format!(
                    "The provisioner has not created a volume: `kubectl describe pvc -n {namespace} {name}` shows \
                     why; {enable}."
                ),
            ),
        };
        findings.push(Finding {
            analyzer: "pvc-pending",
            object: ObjectRef::new("PersistentVolumeClaim", Some(namespace), name),
            problem,
            evidence,
            suggestion,
        });
    }
    findings
}
