//! The chart's observability objects (`monitoring.*` values): the ServiceMonitors, the
//! PrometheusRule, the Grafana dashboard ConfigMap and the NetworkPolicy for Prometheus.
//!
//! - [`request`]: a render with all of them on (they are off by default, so the scenarios
//!   of [`crate::scenarios`] and the plain manifests under `k8s/` do not contain them).
//! - [`rule_groups`] + [`promtool_check_rules`]: the PrometheusRule's groups as a rules
//!   file, checked by a real `promtool check rules` (`.ci/install/45-prometheus.sh`).
//! - [`dashboard`] + [`dashboard_queries`] + [`metric_names`]: the dashboard JSON as
//!   rendered, every PromQL query in it, and the metric names each query reads, for the
//!   check against a real scrape (crates/chart-policy/tests/chart/monitoring.rs).

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::tools::RenderRequest;

/// Where promtool comes from.
pub const PROMETHEUS_INSTALLER: &str = "bash .ci/install/45-prometheus.sh";

/// The namespace the render lets Prometheus scrape from.
pub const PROMETHEUS_NAMESPACE: &str = "monitoring";

/// Chart defaults plus every `monitoring.*` object, and an HPA (which an alert watches).
pub fn request() -> RenderRequest {
    RenderRequest::new()
        .set("monitoring.serviceMonitor.enabled=true")
        .set("monitoring.prometheusRule.enabled=true")
        .set("monitoring.dashboard.enabled=true")
        .set(format!(
            "monitoring.prometheus.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name={PROMETHEUS_NAMESPACE}"
        ))
        .set("api.autoscaling.enabled=true")
}

/// The render's documents as JSON values (kinds of any API, CRDs included).
pub fn documents(text: &str) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(document)
            .with_context(|| format!("document {} of the render is not valid YAML", index + 1))?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

/// The documents of one kind.
pub fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents.iter().filter(|d| d["kind"] == kind).collect()
}

/// The groups of the one PrometheusRule, as a Prometheus rules file (YAML).
pub fn rule_groups(documents: &[Value]) -> anyhow::Result<String> {
    let rules = of_kind(documents, "PrometheusRule");
    let [rule] = rules.as_slice() else {
        bail!(
            "expected one PrometheusRule in the render, found {}",
            rules.len()
        );
    };
    let groups = &rule["spec"]["groups"];
    if groups.as_array().is_none_or(Vec::is_empty) {
        bail!("the PrometheusRule has no spec.groups");
    }
    yaml_serde::to_string(&serde_json::json!({ "groups": groups }))
        .context("writing the rule groups as YAML")
}

/// Runs `promtool check rules` on `rules` (a rules file's text); its output on success.
pub fn promtool_check_rules(promtool: &Path, rules: &str) -> anyhow::Result<String> {
    let dir = tempfile_dir()?;
    let path = dir.join("todo-rules.yaml");
    std::fs::write(&path, rules).with_context(|| format!("writing {}", path.display()))?;
    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .with_context(|| format!("running {} check rules", promtool.display()));
    let _ = std::fs::remove_dir_all(&dir);
    let output = output?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!("promtool check rules refused the chart's PrometheusRule:\n{text}\non:\n{rules}");
    }
    Ok(text)
}

/// A private directory under the system temp dir (no tempfile dependency outside tests).
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "chart-policy-promtool-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// The dashboard JSON from its ConfigMap, parsed.
pub fn dashboard(documents: &[Value]) -> anyhow::Result<Value> {
    let maps: Vec<&Value> = of_kind(documents, "ConfigMap")
        .into_iter()
        .filter(|m| m["metadata"]["labels"]["grafana_dashboard"] == "1")
        .collect();
    let [map] = maps.as_slice() else {
        bail!(
            "expected one ConfigMap labelled grafana_dashboard=1 (for Grafana's sidecar), found {}",
            maps.len()
        );
    };
    let text = map["data"]["todo.json"]
        .as_str()
        .context("the dashboard ConfigMap has no data.todo.json")?;
    let dashboard: Value =
        serde_json::from_str(text).context("the dashboard in the ConfigMap is not valid JSON")?;
    if dashboard["panels"].as_array().is_none_or(Vec::is_empty) {
        bail!("the dashboard has no panels");
    }
    Ok(dashboard)
}

/// Every PromQL query of the dashboard: the panels' targets and the template variables'.
pub fn dashboard_queries(dashboard: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push(expr.to_owned());
            }
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query"
            && let Some(query) = variable["query"]["query"].as_str()
        {
            out.push(query.to_owned());
        }
    }
    out
}

/// The metric names a query reads: each identifier right before a `{` selector or a `[`
/// range (outside braces, so label names and values are not taken), and the
/// first argument of Grafana's `label_values(metric, label)`. Histogram series
/// (`_bucket`, `_count`, `_sum`) are named by their family.
pub fn metric_names(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = query.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !is_ident(bytes[i - 1])) {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            let ident = &query[start..i];
            let inside_braces =
                query[..start].matches('{').count() > query[..start].matches('}').count();
            if !inside_braces
                && matches!(bytes.get(i), Some(b'{' | b'['))
                && !ident.as_bytes()[0].is_ascii_digit()
            {
                names.insert(family(ident).to_owned());
            }
            continue;
        }
        i += 1;
    }
    if let Some(rest) = query.trim().strip_prefix("label_values(") {
        let first = rest
            .split([',', '{', ')'])
            .next()
            .unwrap_or_default()
            .trim();
        if !first.is_empty() {
            names.insert(family(first).to_owned());
        }
    }
    names
}

fn family(series: &str) -> &str {
    for suffix in ["_bucket", "_count", "_sum"] {
        if let Some(base) = series.strip_suffix(suffix) {
            return base;
        }
    }
    series
}

/// The metric families a scrape (Prometheus text format) exports: its `# TYPE` lines.
pub fn exported_families(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_the_selectors_not_functions_or_labels() {
        let q = r#"histogram_quantile(0.95, sum by (service, le) (rate(http_server_request_duration_seconds_bucket{namespace=~"$namespace",route!~"/metrics"}[5m]))) / sum(todo_db_up{service="x"})"#;
        let names: Vec<String> = metric_names(q).into_iter().collect();
        assert_eq!(
            names,
            ["http_server_request_duration_seconds", "todo_db_up"]
        );
        let v: Vec<String> = metric_names("label_values(todo_build_info, namespace)")
            .into_iter()
            .collect();
        assert_eq!(v, ["todo_build_info"]);
        let r: Vec<String> = metric_names("sum(rate(x_total[5m]))").into_iter().collect();
        assert_eq!(r, ["x_total"]);
        assert!(metric_names("vector(1) + 2").is_empty());
    }

    #[test]
    fn exported_families_come_from_type_lines() {
        let scrape = "# HELP a_total A\n# TYPE a_total counter\na_total 1\n# TYPE b histogram\nb_bucket{le=\"1\"} 0\n";
        let families: Vec<String> = exported_families(scrape).into_iter().collect();
        assert_eq!(families, ["a_total", "b"]);
    }
}
