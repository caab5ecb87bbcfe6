//! `cargo xtask status`: release, workloads, pods, images and URLs at a glance. The release
//! comes from `helm status -o json`, the rest from kube-rs; the rendering is pure.

use std::ffi::OsStr;

use cluster_client::pod_state::{container_statuses, pod_name};
use cluster_client::{Snapshot, all_rollouts};
use serde_json::Value;

use crate::facts::probe_output;

/// What `helm status` says about the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    pub status: String,
    pub revision: i64,
    pub chart: String,
    pub app_version: String,
    pub last_deployed: String,
}

/// Parses `helm status NAME -n NS -o json` (Helm 3 and 4 print the release object). Only
/// names and states are read: the release's `config` may hold values nobody should print.
pub fn parse_helm_status(json: &str) -> anyhow::Result<HelmRelease> {
    let value: Value = serde_json::from_str(json)?;
    let text = |pointer: &str| {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let chart_name = text("/chart/metadata/name");
    let chart_version = text("/chart/metadata/version");
    Ok(HelmRelease {
        name: text("/name"),
        namespace: text("/namespace"),
        status: text("/info/status"),
        revision: value
            .pointer("/version")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        chart: format!("{chart_name}-{chart_version}"),
        app_version: text("/chart/metadata/appVersion"),
        last_deployed: text("/info/last_deployed"),
    })
}

fn pod_status(pod: &k8s_openapi::api::core::v1::Pod) -> String {
    if pod.metadata.deletion_timestamp.is_some() {
        return "Terminating".to_string();
    }
    for (status, _) in container_statuses(pod) {
        if let Some(reason) = status
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
        {
            return reason;
        }
    }
    pod.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".to_string())
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| format!("{cell:<width$}", width = widths[c]))
                .collect();
            format!("  {}\n", cells.join("  ").trim_end())
        })
        .collect()
}

/// The status page. Pure.
pub fn render_status(release: &Result<HelmRelease, String>, snapshot: &Snapshot) -> String {
    let namespace = &snapshot.namespace;
    let mut out = match release {
        Ok(r) => format!(
            "Release {} in namespace {}: {}, revision {}, chart {} (app {}), last deployed {}\n",
            r.name, r.namespace, r.status, r.revision, r.chart, r.app_version, r.last_deployed
        ),
        Err(why) => format!("Release: unknown ({why})\n"),
    };
    let rollouts = all_rollouts(snapshot);
    out.push_str("\nWorkloads:\n");
    if rollouts.is_empty() {
        out.push_str(&format!("  none in namespace {namespace}\n"));
    }
    for rollout in &rollouts {
        out.push_str(&format!("  {}\n", rollout.line()));
    }
    out.push_str("\nPods:\n");
    let mut rows = vec![vec![
        "NAME".into(),
        "READY".into(),
        "STATUS".into(),
        "RESTARTS".into(),
        "IMAGES".into(),
    ]];
    let mut pods: Vec<_> = snapshot.pods.iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pod in pods {
        let statuses: Vec<_> = container_statuses(pod)
            .into_iter()
            .filter(|(_, init)| !init)
            .collect();
        let ready = statuses.iter().filter(|(s, _)| s.ready).count();
        let total = pod
            .spec
            .as_ref()
            .map_or(statuses.len(), |s| s.containers.len());
        let restarts: i32 = statuses.iter().map(|(s, _)| s.restart_count).sum();
        let images: Vec<String> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .filter_map(|c| c.image.clone())
            .collect();
        rows.push(vec![
            pod_name(pod).to_string(),
            format!("{ready}/{total}"),
            pod_status(pod),
            restarts.to_string(),
            images.join(","),
        ]);
    }
    if rows.len() == 1 {
        out.push_str(&format!("  none in namespace {namespace}\n"));
    } else {
        out.push_str(&table(&rows));
    }
    out.push_str("\nURLs:\n");
    for ingress in &snapshot.ingresses {
        let address = ingress
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .and_then(|all| all.first())
            .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()))
            .unwrap_or_else(|| "no address yet".to_string());
        for rule in ingress.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
            let host = rule.host.clone().unwrap_or_else(|| address.clone());
            out.push_str(&format!(
                "  http://{host}/  (Ingress {}, address {address})\n",
                ingress.metadata.name.as_deref().unwrap_or_default()
            ));
        }
    }
    let web = snapshot
        .services
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .find(|name| name.ends_with("-web"))
        .unwrap_or("todo-web");
    out.push_str(&format!(
        "  kubectl port-forward -n {namespace} svc/{web} 8080:8080, then http://localhost:8080/\n"
    ));
    out
}

/// `helm status` for the release, or why it could not be read.
pub fn helm_release(release: &str, namespace: &str, path: &OsStr) -> Result<HelmRelease, String> {
    match probe_output(
        "helm",
        &["status", release, "--namespace", namespace, "-o", "json"],
        path,
    ) {
        None => Err("helm not found on PATH".to_string()),
        Some((Some(0), json)) => {
            parse_helm_status(&json).map_err(|e| format!("unexpected `helm status` output: {e}"))
        }
        Some(_) => Err(format!(
            "`helm status {release} -n {namespace}` failed: not installed?"
        )),
    }
}

/// Gathers and renders the status of `release` in `namespace` (current kube context).
pub async fn status(release: &str, namespace: &str, path: &OsStr) -> anyhow::Result<String> {
    let helm = helm_release(release, namespace, path);
    let client = cluster_client::kube_client(None).await?;
    let options = cluster_client::FetchOptions { log_tail_lines: 0 };
    let snapshot = cluster_client::fetch_snapshot(&client, namespace, &options).await?;
    Ok(render_status(&helm, &snapshot))
}
