//! checkov (static analysis of Kubernetes manifests) over the chart's renders and `k8s/`,
//! with a reviewed list of skips.
//!
//! checkov's own skip mechanisms are per check (`--skip-check`, for every object) or per
//! object (annotations in the manifests). The skip list here is per check and object name
//! pattern, one reason each, in `crates/chart-policy/checkov-skips.txt`; [`evaluate`] fails
//! on every failed check no skip covers and on every skip that covers nothing any more.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::tools;

/// Installer of checkov (into its own virtualenv, linked into `.tools/bin`).
pub const INSTALLER: &str = ".ci/install/12-checkov.sh";

/// The skip list.
pub fn skips_file() -> PathBuf {
    tools::repo_root()
        .join("crates")
        .join("chart-policy")
        .join("checkov-skips.txt")
}

/// One reviewed exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub check: String,
    pub kind: String,
    /// The object name, or `*suffix`, `prefix*` or `*middle*`.
    pub name: String,
    pub reason: String,
}

impl Skip {
    /// Whether this skip covers a failed check on `resource` (checkov's "Kind.namespace.name").
    pub fn covers(&self, check: &str, resource: &str) -> bool {
        let mut parts = resource.splitn(3, '.');
        let (Some(kind), Some(_namespace), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        self.check == check && self.kind == kind && glob(&self.name, name)
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (index, part) in parts.iter().enumerate() {
        if index == 0 {
            let Some(after) = rest.strip_prefix(part) else {
                return false;
            };
            rest = after;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(found) = rest.find(part) else {
                return false;
            };
            rest = &rest[found + part.len()..];
        }
    }
    true
}

/// Parses the skip list: `<check> <Kind>/<name pattern> <reason>` per line, `#` comments.
pub fn parse_skips(text: &str) -> anyhow::Result<Vec<Skip>> {
    let mut skips = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.splitn(3, char::is_whitespace);
        let (Some(check), Some(object), Some(reason)) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!(
                "checkov skip list line {}: want `<check id> <Kind>/<name> <reason>`, got {line:?}",
                number + 1
            );
        };
        let Some((kind, name)) = object.split_once('/') else {
            bail!(
                "checkov skip list line {}: {object:?} is not <Kind>/<name pattern>",
                number + 1
            );
        };
        let reason = reason.trim();
        if reason.len() < 20 {
            bail!(
                "checkov skip list line {}: the reason {reason:?} is too short to justify skipping {check}",
                number + 1
            );
        }
        skips.push(Skip {
            check: check.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            reason: reason.to_string(),
        });
    }
    Ok(skips)
}

/// The skip list from [`skips_file`].
pub fn skips() -> anyhow::Result<Vec<Skip>> {
    let path = skips_file();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse_skips(&text)
}

/// What one checkov run found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub passed: u64,
    /// Failed checks covered by a skip.
    pub skipped: u64,
    /// "CHECK resource (file): name" of every failure no skip covers.
    pub failures: Vec<String>,
    /// Skips that covered no failure.
    pub stale: Vec<Skip>,
    pub parsing_errors: u64,
}

/// Applies `skips` to checkov's JSON report (`-o json`: one report object, or a list of them).
pub fn evaluate(report: &Value, skips: &[Skip]) -> anyhow::Result<Outcome> {
    let reports: Vec<&Value> = match report {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![report],
        _ => bail!("checkov printed no JSON report"),
    };
    let mut outcome = Outcome::default();
    let mut used = vec![false; skips.len()];
    for report in reports {
        let summary = &report["summary"];
        outcome.passed += summary["passed"].as_u64().unwrap_or(0);
        outcome.parsing_errors += summary["parsing_errors"].as_u64().unwrap_or(0);
        for failed in report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let check = failed["check_id"].as_str().unwrap_or_default();
            let resource = failed["resource"].as_str().unwrap_or_default();
            match skips.iter().position(|s| s.covers(check, resource)) {
                Some(index) => {
                    used[index] = true;
                    outcome.skipped += 1;
                }
                None => outcome.failures.push(format!(
                    "{check} {resource} ({}): {}",
                    failed["file_path"].as_str().unwrap_or_default(),
                    failed["check_name"].as_str().unwrap_or_default()
                )),
            }
        }
    }
    outcome.stale = skips
        .iter()
        .zip(used)
        .filter(|(_, used)| !used)
        .map(|(skip, _)| skip.clone())
        .collect();
    Ok(outcome)
}

/// Runs checkov's Kubernetes checks over every YAML file in `dir`; its JSON report.
pub fn run(dir: &Path) -> anyhow::Result<Value> {
    let checkov = tools::find_tool("checkov", INSTALLER)?;
    let output = Command::new(&checkov)
        .args([
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-d",
        ])
        .arg(dir)
        .output()
        .with_context(|| format!("running {}", checkov.display()))?;
    // checkov exits 1 when a check fails: the report decides, not the status.
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&stdout).with_context(|| {
        format!(
            "checkov printed no JSON report (exit {:?}): {}",
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    })
}

/// Runs checkov over `dir` and fails with every unexcused failure and stale skip.
pub fn check(dir: &Path) -> anyhow::Result<Outcome> {
    let outcome = evaluate(&run(dir)?, &skips()?)?;
    let mut problems = Vec::new();
    if outcome.passed == 0 {
        problems.push("checkov passed no check at all: it found no manifests (checkov skips hidden directories)".to_string());
    }
    if outcome.parsing_errors > 0 {
        problems.push(format!("{} files failed to parse", outcome.parsing_errors));
    }
    problems.extend(outcome.failures.iter().map(|f| format!("failed: {f}")));
    problems.extend(outcome.stale.iter().map(|s| {
        format!(
            "stale skip {} {}/{} (nothing fails it any more: remove it from {})",
            s.check,
            s.kind,
            s.name,
            skips_file().display()
        )
    }));
    if !problems.is_empty() {
        bail!(
            "checkov over {}:\n  - {}\nFix the chart, or add a skip with its reason to {}.",
            dir.display(),
            problems.join("\n  - "),
            skips_file().display()
        );
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn skip(check: &str, kind: &str, name: &str) -> Skip {
        Skip {
            check: check.into(),
            kind: kind.into(),
            name: name.into(),
            reason: "a reason long enough to count".into(),
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*-postgresql", "todo-postgresql"));
        assert!(!glob("*-postgresql", "todo-postgresql-x"));
        assert!(glob("*-test-readyz-*", "staging-test-readyz-web"));
        assert!(glob("todo-api", "todo-api"));
        assert!(!glob("todo-api", "todo-apix"));
        assert!(glob("*", "anything"));
    }

    #[test]
    fn unexcused_failures_and_stale_skips_are_reported() {
        let report = json!([{ "check_type": "kubernetes",
        "summary": {"passed": 10, "failed": 2, "parsing_errors": 0},
        "results": {"failed_checks": [
            {"check_id": "CKV_K8S_40", "resource": "StatefulSet.todo.todo-postgresql", "file_path": "/a.yaml", "check_name": "high UID"},
            {"check_id": "CKV_K8S_40", "resource": "Deployment.todo.todo-api", "file_path": "/a.yaml", "check_name": "high UID"}
        ]}}]);
        let skips = [
            skip("CKV_K8S_40", "StatefulSet", "*-postgresql"),
            skip("CKV_K8S_8", "Pod", "*"),
        ];
        let outcome = evaluate(&report, &skips).unwrap();
        assert_eq!(outcome.passed, 10);
        assert_eq!(outcome.skipped, 1);
        assert_eq!(outcome.failures.len(), 1);
        assert!(outcome.failures[0].starts_with("CKV_K8S_40 Deployment.todo.todo-api"));
        assert_eq!(outcome.stale, vec![skip("CKV_K8S_8", "Pod", "*")]);
    }

    #[test]
    fn the_skip_list_parses_and_every_skip_has_a_reason() {
        let skips = skips().unwrap();
        assert!(!skips.is_empty());
        assert!(parse_skips("CKV_K8S_8 Pod/x short").is_err());
        assert!(parse_skips("CKV_K8S_8 Pod a reason that is long enough").is_err());
    }
}
