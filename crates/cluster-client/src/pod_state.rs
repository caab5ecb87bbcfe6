//! Small questions about one pod: is it ready, and if not, what is it waiting for?

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};

use crate::snapshot::event_time;

/// The pod's Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    condition_status(pod, "Ready") == Some("True")
}

/// The status ("True", "False", "Unknown") of one of the pod's conditions.
pub fn condition_status<'a>(pod: &'a Pod, condition: &str) -> Option<&'a str> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == condition)
        .map(|c| c.status.as_str())
}

/// The pod's name ("" when unnamed, which the API never returns).
pub fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

/// Init container statuses (flagged `true`) then regular ones.
pub fn container_statuses(pod: &Pod) -> Vec<(&ContainerStatus, bool)> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let init = status
        .init_container_statuses
        .iter()
        .flatten()
        .map(|c| (c, true));
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| (c, false));
    init.chain(regular).collect()
}

/// The message of the newest `Unhealthy` (failed probe) event about this pod.
pub fn latest_probe_failure<'a>(pod: &Pod, events: &'a [Event]) -> Option<&'a str> {
    let name = pod_name(pod);
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Unhealthy"))
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Pod")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .max_by_key(|e| event_time(e))
        .and_then(|e| e.message.as_deref())
}

/// Why this pod is not ready, in one line, or `None` when it is ready.
///
/// The order follows the pod's life: scheduling, init containers, image pull and container
/// creation, then probes of running containers.
pub fn pod_blocker(pod: &Pod, events: &[Event]) -> Option<String> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Some("terminating".to_string());
    }
    if is_pod_ready(pod) {
        return None;
    }
    let status = pod.status.as_ref();
    if let Some(scheduled) = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "PodScheduled"))
        && scheduled.status == "False"
    {
        let reason = scheduled.reason.as_deref().unwrap_or("Unschedulable");
        return Some(match scheduled.message.as_deref() {
            Some(message) => format!("{reason}: {message}"),
            None => reason.to_string(),
        });
    }
    for (container, init) in container_statuses(pod) {
        let label = if init { "init container" } else { "container" };
        let state = container.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.as_deref().unwrap_or("Waiting");
            return Some(match waiting.message.as_deref() {
                Some(message) => format!("{label} {}: {reason}: {message}", container.name),
                None => format!("{label} {}: {reason}", container.name),
            });
        }
        if init
            && let Some(terminated) = state.and_then(|s| s.terminated.as_ref())
            && terminated.exit_code != 0
        {
            return Some(format!(
                "init container {}: {} (exit code {})",
                container.name,
                terminated.reason.as_deref().unwrap_or("failed"),
                terminated.exit_code
            ));
        }
        if init && state.and_then(|s| s.running.as_ref()).is_some() {
            return Some(format!("init container {} still running", container.name));
        }
    }
    for (container, init) in container_statuses(pod) {
        if !init
            && !container.ready
            && container
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .is_some()
        {
            return Some(match latest_probe_failure(pod, events) {
                Some(message) => message.to_string(),
                None => format!("container {} running, not ready yet", container.name),
            });
        }
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    Some(format!("phase {phase}, not ready"))
}
