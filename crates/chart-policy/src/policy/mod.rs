//! Rules every render of the chart must follow, checked over typed objects.
//!
//! Each rule is a function returning [`Violation`]s, so a test can run one rule on a
//! deliberately broken render and see it fail. [`check`] runs them all. What a render must
//! contain for its values (replicas, autoscalers, images, ingress, secrets the operator
//! provides) comes from [`Expectations`] (module `expectations`), built from the effective
//! values.
//!
//! One module per rule family: `security` (resources, security contexts, Pod Security
//! "restricted"), `lifecycle` (probes, shutdown, rollout, stable pod templates), `images`,
//! `secrets` (no secret in plain text), `wiring` (references, each service's settings,
//! the connection budget), `networking` (selectors, Services, Ingress, HTTPRoute) and
//! `scaling`. Their rules are re-exported here.

mod images;
mod lifecycle;
mod networking;
mod scaling;
mod secrets;
mod security;
mod wiring;

pub use images::*;
pub use lifecycle::*;
pub use networking::*;
pub use scaling::*;
pub use secrets::*;
pub use security::*;
pub use wiring::*;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use crate::expectations::{
    Autoscaling, Expectations, ExternalEgress, IngressExpectation, NetworkPolicyExpectation,
    PostgresExpectation, ServiceExpectation,
};
use crate::objects::{COMPONENT_LABEL, Object, Rendered, Workload, label, selector_matches};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, Probe};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The three services.
pub const SERVICES: [&str; 3] = ["api", "mcp", "web"];
/// The port every service listens on (container port "http").
pub const SERVICE_PORT: i32 = 8080;
/// The path prefixes of the Ingress and the HTTPRoute and the component each goes to. The
/// OAuth discovery documents and endpoints (MCP Authorization 2025-11-25) go to the service
/// that owns them: RFC 9728 Protected Resource Metadata to mcp, RFC 8414 metadata, OpenID
/// discovery and `/oauth/...` to api; without these rules `/.well-known/*` fell to web.
pub const ROUTES: [(&str, &str); 7] = [
    ("/", "web"),
    ("/api", "api"),
    ("/mcp", "mcp"),
    ("/.well-known/oauth-protected-resource", "mcp"),
    ("/.well-known/oauth-authorization-server", "api"),
    ("/.well-known/openid-configuration", "api"),
    ("/oauth", "api"),
];
/// Probe periods the spec asks for.
pub const LIVENESS_PERIOD_SECONDS: i32 = 10;
pub const READINESS_PERIOD_SECONDS: i32 = 5;
/// The uid/gid of the service images ("nonroot").
pub const SERVICE_UID: i64 = 65532;
/// Environment variables that carry secrets: never literal values.
pub const SECRET_ENV: [&str; 5] = [
    "DATABASE_URL",
    "JWT_SECRET",
    "LLM_API_KEY",
    "POSTGRES_PASSWORD",
    "DATABASE_PASSWORD",
];

/// Where a container's database connection comes from (the pool size is not part of it).
const DATABASE_CONNECTION_ENV: [&str; 2] = ["DATABASE_URL", "DATABASE_PASSWORD"];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The object, e.g. "Deployment/todo-api".
    pub object: String,
    /// The rule's name, e.g. "probes".
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.object, self.message)
    }
}

/// Collects violations of one rule.
struct Report {
    rule: &'static str,
    violations: Vec<Violation>,
}

impl Report {
    fn new(rule: &'static str) -> Report {
        Report {
            rule,
            violations: Vec::new(),
        }
    }

    fn fail(&mut self, object: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            object: object.into(),
            rule: self.rule,
            message: message.into(),
        });
    }

    fn check(&mut self, ok: bool, object: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.fail(object, message);
        }
    }
}

/// Runs every rule.
pub fn check(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut all = Vec::new();
    all.extend(containers(rendered));
    all.extend(pod_security(rendered));
    all.extend(probes_and_lifecycle(rendered, expect));
    all.extend(images(rendered, expect));
    all.extend(secrets_not_leaked(rendered));
    all.extend(references(rendered, expect));
    all.extend(wiring(rendered, expect));
    all.extend(selectors(rendered));
    all.extend(services(rendered));
    all.extend(ingress(rendered, expect));
    all.extend(scaling(rendered, expect));
    all.extend(rollout(rendered, expect));
    all.extend(connection_budget(rendered));
    all.extend(restricted(rendered));
    all.extend(service_types(rendered, expect));
    all.extend(stable_pod_templates(rendered));
    all.extend(http_routes(rendered, expect));
    all
}

pub(super) fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
}

/// Parses a resource quantity into base units (cores, bytes).
pub fn parse_quantity(quantity: &Quantity) -> Option<f64> {
    let text = quantity.0.trim();
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, multiplier) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * multiplier);
        }
    }
    text.parse().ok()
}
