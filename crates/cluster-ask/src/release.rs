//! The release's objects by the names people use.
//!
//! The chart names every object `<fullname>-<component>` (`todo-api`, `todo-web`, `todo-mcp`
//! Deployments and the `todo-postgresql` StatefulSet for release `todo`); the fullname rule and
//! the service list come from `deploy-plan`, which deploys them, so the names are defined once.

use std::fmt;

/// What kind of workload a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    /// The kubectl resource name (`deployment`, `statefulset`).
    pub fn kubectl(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }
}

/// One workload of the release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: WorkloadKind,
    pub name: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.kubectl(), self.name)
    }
}

/// A Helm release of the chart and the namespace it lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
}

impl Default for Release {
    fn default() -> Self {
        let defaults = deploy_plan::DeployOptions::default();
        Release {
            name: defaults.release,
            namespace: defaults.namespace,
        }
    }
}

impl Release {
    /// The chart's fullname for this release (`todo` for release `todo`).
    pub fn fullname(&self) -> String {
        deploy_plan::DeployOptions {
            release: self.name.clone(),
            ..deploy_plan::DeployOptions::default()
        }
        .fullname()
    }

    /// The chart's PostgreSQL StatefulSet.
    pub fn postgres(&self) -> String {
        format!("{}-postgresql", self.fullname())
    }

    /// The short names understood, for messages.
    pub const SHORT_NAMES: &'static str = "api, web, mcp or postgres";

    /// A workload by short name (`api`, `backend`, `web`, `frontend`, `mcp`, `postgres`, `db`)
    /// or by object name (`todo-api`). Any other name is taken as a Deployment of the namespace
    /// (the API server then says whether it exists).
    pub fn resolve(&self, name: &str) -> Result<Target, String> {
        let wanted = name.trim().trim_matches(['"', '\'', '`']).to_lowercase();
        let wanted = wanted
            .strip_prefix("deployment/")
            .or_else(|| wanted.strip_prefix("deploy/"))
            .or_else(|| wanted.strip_prefix("statefulset/"))
            .or_else(|| wanted.strip_prefix("sts/"))
            .unwrap_or(&wanted)
            .to_string();
        if wanted.is_empty() {
            return Err(format!(
                "no workload named: say which one ({})",
                Self::SHORT_NAMES
            ));
        }
        if !wanted
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(format!(
                "{name:?} is not a Kubernetes object name; use {}",
                Self::SHORT_NAMES
            ));
        }
        let fullname = self.fullname();
        let component = match wanted.as_str() {
            "api" | "backend" | "todo-api" => Some("api"),
            "web" | "frontend" | "ui" | "todo-web" => Some("web"),
            "mcp" | "todo-mcp" | "mcp-server" => Some("mcp"),
            _ => None,
        };
        if let Some(component) = component {
            return Ok(Target {
                kind: WorkloadKind::Deployment,
                name: format!("{fullname}-{component}"),
            });
        }
        let postgres = self.postgres();
        if matches!(
            wanted.as_str(),
            "postgres" | "postgresql" | "db" | "database" | "todo-postgresql"
        ) || wanted == postgres
        {
            return Ok(Target {
                kind: WorkloadKind::StatefulSet,
                name: postgres,
            });
        }
        Ok(Target {
            kind: WorkloadKind::Deployment,
            name: wanted,
        })
    }

    /// The release's Deployments, in the chart's order.
    pub fn deployments(&self) -> Vec<String> {
        let fullname = self.fullname();
        deploy_plan::deploy::SERVICES
            .iter()
            .map(|(_, key)| format!("{fullname}-{key}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_map_to_the_charts_objects() {
        let release = Release::default();
        let deployment = |name: &str| Target {
            kind: WorkloadKind::Deployment,
            name: name.into(),
        };
        assert_eq!(release.resolve("api"), Ok(deployment("todo-api")));
        assert_eq!(release.resolve("Backend"), Ok(deployment("todo-api")));
        assert_eq!(release.resolve("web"), Ok(deployment("todo-web")));
        assert_eq!(release.resolve("todo-mcp"), Ok(deployment("todo-mcp")));
        assert_eq!(
            release.resolve("postgres"),
            Ok(Target {
                kind: WorkloadKind::StatefulSet,
                name: "todo-postgresql".into()
            })
        );
        assert!(release.resolve("a b").is_err());
        let other = Release {
            name: "prod".into(),
            namespace: "p".into(),
        };
        assert_eq!(other.resolve("api"), Ok(deployment("prod-todo-api")));
        assert_eq!(
            other.deployments(),
            ["prod-todo-api", "prod-todo-mcp", "prod-todo-web"]
        );
    }
}
