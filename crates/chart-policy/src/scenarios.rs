//! The value sets the chart is checked with, and their effective (merged) values.
//!
//! The three values files are what operators use; the variants cover the branches they do
//! not reach (external database by URL, operator-provided secrets, ingress and
//! NetworkPolicies off, digests and a registry, a release not named "todo").

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::objects::Rendered;
use crate::policy::Expectations;
use crate::tools::{Helm, RenderRequest, chart_dir};

/// One way of rendering the chart.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    pub release: &'static str,
    /// Values files in the chart directory, applied in order after values.yaml.
    pub values_files: &'static [&'static str],
    /// `--set` assignments (typed).
    pub set: &'static [&'static str],
    /// `--set-string` assignments.
    pub set_string: &'static [&'static str],
}

/// The namespace every scenario is rendered for.
pub const NAMESPACE: &str = "todo";

/// The three values files.
pub const VALUES_FILES: [&str; 3] = ["values.yaml", "values-dev.yaml", "values-prod.yaml"];

/// Every scenario: the three values files first.
pub fn all() -> Vec<Scenario> {
    let base = Scenario {
        name: "",
        release: "todo",
        values_files: &[],
        set: &[],
        set_string: &[],
    };
    vec![
        Scenario {
            name: "values.yaml",
            ..base
        },
        Scenario {
            name: "values-dev.yaml",
            values_files: &["values-dev.yaml"],
            ..base
        },
        Scenario {
            name: "values-prod.yaml",
            values_files: &["values-prod.yaml"],
            ..base
        },
        Scenario {
            name: "external database by URL, LLM key",
            set: &[
                "database.url=postgres://todo:s3cr3t-Pa55word@db.example.com:5432/todo?sslmode=require",
                "llm.existingSecret=todo-llm-api-key",
            ],
            ..base
        },
        Scenario {
            name: "in-cluster database with operator-provided secrets",
            values_files: &["values-dev.yaml"],
            set: &[
                "postgresql.auth.existingSecret=todo-postgres-auth",
                "jwt.existingSecret=todo-jwt",
                "jwt.existingSecretKey=signing-key",
                "postgresql.persistence.storageClass=fast-ssd",
            ],
            ..base
        },
        Scenario {
            name: "no ingress, no NetworkPolicies, no migrations init container",
            set: &[
                "ingress.enabled=false",
                "networkPolicy.enabled=false",
                "migrations.enabled=false",
                "api.pdb.enabled=false",
                "api.topologySpread.enabled=false",
            ],
            ..base
        },
        Scenario {
            name: "Gateway API, backups, NodePort, extension points, GitOps secrets",
            values_files: &["values-dev.yaml"],
            set: &[
                "gateway.enabled=true",
                "gateway.parentRefs[0].name=shared-gateway",
                "gateway.parentRefs[0].namespace=gateway-system",
                "gateway.parentRefs[0].sectionName=https",
                "ingress.extraHosts[0]=todo.example.org",
                "ingress.extraTls[0].hosts[0]=todo.example.org",
                "ingress.extraTls[0].secretName=org-tls",
                "networkPolicy.gateway.podSelector.matchLabels.app\\.kubernetes\\.io/name=envoy",
                "networkPolicy.extraIngressPeers[0].ipBlock.cidr=198.51.100.0/24",
                "networkPolicy.dns.nodeLocalAddresses=null",
                "postgresql.backup.enabled=true",
                "postgresql.backup.keep=3",
                "web.service.type=NodePort",
                "web.service.nodePort=30080",
                "api.extraEnv[0].name=HTTP_MAX_CONNECTIONS",
                "api.envFrom[0].configMapRef.name=todo-extra",
                "api.extraVolumes[0].name=extra",
                "api.extraVolumes[0].configMap.name=todo-extra",
                "api.extraVolumeMounts[0].name=extra",
                "api.extraVolumeMounts[0].mountPath=/etc/todo-extra",
                "api.priorityClassName=todo-high",
                "api.podLabels.team=platform",
                "postgresql.podSecurityContext.fsGroupChangePolicy=Always",
                "mcp.replicaCount=3",
                "mcp.pdb.minAvailable=2",
                "secrets.generate=false",
                "jwt.existingSecret=todo-jwt",
                "postgresql.auth.existingSecret=todo-postgres-auth",
                "chat.turnTimeoutSeconds=90",
                "web.image.pullPolicy=Always",
            ],
            set_string: &["api.extraEnv[0].value=1024"],
            ..base
        },
        Scenario {
            name: "registry, digests, other service ports, another release name",
            release: "staging",
            values_files: &["values-prod.yaml"],
            set: &[
                "image.registry=registry.example.com:5000/team",
                "web.service.port=80",
                "api.service.port=8081",
                "mcp.preStopSleepSeconds=0",
                "api.pdb.maxUnavailable=50%",
            ],
            set_string: &[
                "api.image.tag=9f2c1e7a",
                "api.image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "web.image.tag=2025.11.1",
            ],
        },
    ]
}

impl Scenario {
    /// The `helm template` request of this scenario (tests included).
    pub fn request(&self) -> RenderRequest {
        let mut request = RenderRequest::new();
        request.release = self.release.to_string();
        request.namespace = NAMESPACE.to_string();
        for file in self.values_files {
            request = request.values_file(file);
        }
        for assignment in self.set {
            request = request.set(*assignment);
        }
        for assignment in self.set_string {
            request = request.set_string(*assignment);
        }
        request
    }

    /// Renders the scenario with plain `helm template` (no cluster: `lookup` finds nothing).
    /// The tests render as `helm install` would against crates/fake-apiserver (tests/chart/live.rs).
    pub fn render_offline(&self, helm: &Helm) -> anyhow::Result<Rendered> {
        let text = helm.template(&self.request())?;
        Rendered::parse(&text)
            .with_context(|| format!("parsing the render of scenario \"{}\"", self.name))
    }

    /// What the render must contain, from the effective values.
    pub fn expectations(&self) -> anyhow::Result<Expectations> {
        Expectations::from_values(&self.effective_values()?, &chart_app_version()?)
            .with_context(|| format!("expectations of scenario \"{}\"", self.name))
    }

    /// values.yaml merged with the scenario's files and assignments, the way Helm does.
    pub fn effective_values(&self) -> anyhow::Result<Value> {
        let dir = chart_dir();
        let mut values = read_yaml(&dir.join("values.yaml"))?;
        for file in self.values_files {
            merge(&mut values, read_yaml(&dir.join(file))?);
        }
        for assignment in self.set {
            let (path, raw) = split_assignment(assignment)?;
            set_path(&mut values, path, typed_value(raw));
        }
        for assignment in self.set_string {
            let (path, raw) = split_assignment(assignment)?;
            set_path(&mut values, path, Value::String(raw.to_string()));
        }
        Ok(values)
    }
}

/// The chart's appVersion (Chart.yaml), the default image tag.
pub fn chart_app_version() -> anyhow::Result<String> {
    let chart = read_yaml(&chart_dir().join("Chart.yaml"))?;
    chart
        .get("appVersion")
        .and_then(Value::as_str)
        .map(str::to_string)
        .context("Chart.yaml has no appVersion string")
}

fn read_yaml(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    yaml_serde::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Deep merge of maps; anything else is replaced. `null` deletes the key, like Helm.
pub fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                if value.is_null() {
                    base.remove(&key);
                } else if let Some(existing) = base.get_mut(&key) {
                    merge(existing, value);
                } else {
                    base.insert(key, value);
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn split_assignment(assignment: &str) -> anyhow::Result<(&str, &str)> {
    match assignment.split_once('=') {
        Some(pair) => Ok(pair),
        None => bail!("assignment {assignment:?} has no '='"),
    }
}

/// How `--set` types a value: booleans, integers and null; everything else is a string.
fn typed_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        _ => raw
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(raw.to_string())),
    }
}

/// One step of a `--set` path: a map key, or a list index (`hosts[0]`).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Splits a `--set` path like Helm does: `.` separates keys (`\.` is a literal dot) and
/// `[N]` indexes a list.
fn path_steps(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut key = String::new();
    let mut chars = path.chars().peekable();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                key.push('.');
                chars.next();
            }
            '.' => flush(&mut key, &mut steps),
            '[' => {
                flush(&mut key, &mut steps);
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                steps.push(Step::Index(digits.parse().unwrap_or(0)));
            }
            _ => key.push(c),
        }
    }
    flush(&mut key, &mut steps);
    steps
}

fn set_path(values: &mut Value, path: &str, value: Value) {
    let steps = path_steps(path);
    let mut current = values;
    for (position, step) in steps.iter().enumerate() {
        let last = position + 1 == steps.len();
        match step {
            Step::Key(key) => {
                if !current.is_object() {
                    *current = Value::Object(serde_json::Map::new());
                }
                let Value::Object(map) = current else { return };
                if last {
                    if value.is_null() {
                        map.remove(key);
                    } else {
                        map.insert(key.clone(), value);
                    }
                    return;
                }
                current = map.entry(key.clone()).or_insert(Value::Null);
            }
            Step::Index(index) => {
                if !current.is_array() {
                    *current = Value::Array(Vec::new());
                }
                let Value::Array(items) = current else { return };
                while items.len() <= *index {
                    items.push(Value::Null);
                }
                if last {
                    items[*index] = value;
                    return;
                }
                current = &mut items[*index];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_paths_with_indexes_and_escaped_dots() {
        let mut values = serde_json::json!({"ingress": {"extraHosts": []}});
        set_path(
            &mut values,
            "ingress.extraHosts[0]",
            Value::from("a.example"),
        );
        set_path(
            &mut values,
            "ingress.extraTls[0].hosts[1]",
            Value::from("b"),
        );
        set_path(
            &mut values,
            "api.podLabels.app\\.kubernetes\\.io/name",
            Value::from("x"),
        );
        assert_eq!(
            values["ingress"]["extraHosts"],
            serde_json::json!(["a.example"])
        );
        assert_eq!(
            values["ingress"]["extraTls"][0]["hosts"],
            serde_json::json!([null, "b"])
        );
        assert_eq!(values["api"]["podLabels"]["app.kubernetes.io/name"], "x");
    }
}
