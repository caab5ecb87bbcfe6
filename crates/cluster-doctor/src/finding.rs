//! What an analyzer reports: one problem with one object, the evidence for it, and a fix.

use std::fmt;

use serde::Serialize;

/// The Kubernetes object a finding is about, e.g. `Pod todo/todo-api-5d9c7-abcde`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One diagnosed problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which analyzer produced it (stable identifier, e.g. `crash-loop`).
    pub analyzer: &'static str,
    pub object: ObjectRef,
    /// One line: what is wrong.
    pub problem: String,
    /// What was observed that shows it (status fields, event messages, log lines).
    pub evidence: Vec<String>,
    /// What to do about it, with commands where there are some.
    pub suggestion: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.object, self.problem)?;
        for line in &self.evidence {
            let mut lines = line.lines();
            if let Some(first) = lines.next() {
                writeln!(f, "    - {first}")?;
            }
            for more in lines {
                writeln!(f, "      {more}")?;
            }
        }
        write!(f, "    fix: {}", self.suggestion)
    }
}

/// Renders findings the way `cargo xtask doctor` prints them.
pub fn render_findings(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "No problems found.".to_string();
    }
    let mut out = format!("{} problem(s) found:\n", findings.len());
    for (i, finding) in findings.iter().enumerate() {
        out.push_str(&format!("\n{}. {finding}\n", i + 1));
    }
    out
}
