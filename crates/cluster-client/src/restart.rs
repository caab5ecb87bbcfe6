//! The cluster side of `cargo xtask smoke --namespace NS --restart`: delete the api and
//! database pods of the release and wait until their replacements are ready, so the suite
//! can check that the data survived.
//!
//! The decisions (names, selectors, "is a replacement ready") are pure functions tested on
//! fixtures; [`restart_pods`] only lists, deletes and polls with kube-rs, and needs a cluster
//! (not available where this was written, so it has not run against one).

use crate::pod_state::is_pod_ready;
use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The chart's name (`app.kubernetes.io/name`).
const CHART: &str = "todo";

/// The chart's `todo.fullname` for a release: the release name when it contains "todo",
/// else `<release>-todo`.
pub fn fullname(release: &str) -> String {
    if release.contains(CHART) {
        release.to_owned()
    } else {
        format!("{release}-{CHART}")
    }
}

/// The chart's `todo.componentName`: `<fullname>-<component>`, the fullname cut so the
/// whole stays within 52 characters.
pub fn component_name(release: &str, component: &str) -> String {
    let suffix = format!("-{component}");
    let full = fullname(release);
    let prefix: String = full
        .chars()
        .take(52usize.saturating_sub(suffix.len()))
        .collect();
    format!("{}{suffix}", prefix.trim_end_matches('-'))
}

/// The label selector of one component's pods.
pub fn component_selector(release: &str, component: &str) -> String {
    format!(
        "app.kubernetes.io/name={CHART},app.kubernetes.io/instance={release},app.kubernetes.io/component={component}"
    )
}

/// True when a pod that is not one of `old` (by UID) is ready and not terminating.
pub fn replacement_ready(old: &BTreeSet<String>, pods: &[Pod]) -> bool {
    pods.iter().any(|pod| {
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        !old.contains(uid) && pod.metadata.deletion_timestamp.is_none() && is_pod_ready(pod)
    })
}

/// Deletes every todo-api pod and the database pod of `release` (an external database has
/// none: noted, not an error), then waits up to `timeout` for ready replacements.
pub async fn restart_pods(
    client: Client,
    namespace: &str,
    release: &str,
    timeout: Duration,
) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let mut deleted: Vec<(&str, BTreeSet<String>)> = Vec::new();
    let mut names = Vec::new();
    let mut notes = String::new();
    for component in ["api", "postgresql"] {
        let selector = component_selector(release, component);
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .with_context(|| format!("listing pods {selector} in {namespace}"))?;
        let live: Vec<&Pod> = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        if live.is_empty() {
            if component == "api" {
                bail!(
                    "no pods match {selector} in namespace {namespace}: is the release deployed (`cargo xtask status`)?"
                );
            }
            notes.push_str("; no database pod (external database): not restarted");
            continue;
        }
        let mut uids = BTreeSet::new();
        for pod in live {
            let name = pod.metadata.name.clone().unwrap_or_default();
            pods.delete(&name, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting pod {namespace}/{name}"))?;
            uids.insert(pod.metadata.uid.clone().unwrap_or_default());
            names.push(name);
        }
        deleted.push((component, uids));
    }
    let started = Instant::now();
    loop {
        let mut waiting = Vec::new();
        for (component, old) in &deleted {
            let list = pods
                .list(&ListParams::default().labels(&component_selector(release, component)))
                .await?;
            if !replacement_ready(old, &list.items) {
                waiting.push(component_name(release, component));
            }
        }
        if waiting.is_empty() {
            break;
        }
        if started.elapsed() > timeout {
            bail!(
                "no ready replacement for {} after {} s: `cargo xtask doctor --namespace {namespace}` says why",
                waiting.join(", "),
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(format!(
        "deleted pods {}; replacements ready after {:.0} s{notes}",
        names.join(", "),
        started.elapsed().as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(uid: &str, ready: bool, terminating: bool) -> Pod {
        let mut value = json!({
            "metadata": { "name": format!("todo-api-{uid}"), "uid": uid },
            "status": { "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] }
        });
        if terminating {
            value["metadata"]["deletionTimestamp"] = json!("2026-11-20T10:00:00Z");
        }
        serde_json::from_value(value).unwrap_or_default()
    }

    #[test]
    fn names_follow_the_chart() {
        assert_eq!(fullname("todo"), "todo");
        assert_eq!(fullname("my-todo-app"), "my-todo-app");
        assert_eq!(fullname("prod"), "prod-todo");
        assert_eq!(component_name("todo", "api"), "todo-api");
        assert_eq!(component_name("prod", "postgresql"), "prod-todo-postgresql");
        let long = component_name(&"x".repeat(60), "postgresql");
        assert_eq!(long.len(), 52);
        assert!(long.ends_with("-todo-postgresql") || long.ends_with("x-postgresql"));
        assert_eq!(
            component_selector("todo", "api"),
            "app.kubernetes.io/name=todo,app.kubernetes.io/instance=todo,app.kubernetes.io/component=api"
        );
    }

    #[test]
    fn only_a_new_ready_running_pod_counts_as_a_replacement() {
        let old: BTreeSet<String> = ["a".to_owned()].into();
        assert!(
            !replacement_ready(&old, &[pod("a", true, false)]),
            "the old pod"
        );
        assert!(!replacement_ready(
            &old,
            &[pod("a", true, true), pod("b", false, false)]
        ));
        assert!(
            !replacement_ready(&old, &[pod("b", true, true)]),
            "terminating"
        );
        assert!(replacement_ready(
            &old,
            &[pod("a", true, true), pod("b", true, false)]
        ));
        assert!(!replacement_ready(&old, &[]));
    }
}
