//! Rules every render of the chart must follow, checked over typed objects.
//!
//! Each rule is a function returning [`Violation`]s, so a test can run one rule on a
//! deliberately broken render and see it fail. [`check`] runs them all. What a render must
//! contain for its values (replicas, autoscalers, images, ingress, secrets the operator
//! provides) comes from [`Expectations`] (module `expectations`), built from the effective
//! values.

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

fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
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

/// Requests and limits of cpu and memory on every container, requests within limits; the
/// container security settings.
pub fn containers(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("containers");
    for workload in rendered.workloads() {
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let resources = container.resources.as_ref();
            for resource in ["cpu", "memory"] {
                let request = resources
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get(resource));
                let limit = resources
                    .and_then(|r| r.limits.as_ref())
                    .and_then(|r| r.get(resource));
                report.check(request.is_some(), &id, format!("no {resource} request"));
                report.check(limit.is_some(), &id, format!("no {resource} limit"));
                if let (Some(request), Some(limit)) = (request, limit) {
                    match (parse_quantity(request), parse_quantity(limit)) {
                        (Some(r), Some(l)) => report.check(
                            r <= l,
                            &id,
                            format!(
                                "{resource} request {} exceeds its limit {}",
                                request.0, limit.0
                            ),
                        ),
                        _ => report.fail(
                            &id,
                            format!("unparsable {resource} quantity {} / {}", request.0, limit.0),
                        ),
                    }
                }
            }

            let security = container.security_context.as_ref();
            report.check(
                security.and_then(|s| s.allow_privilege_escalation) == Some(false),
                &id,
                "allowPrivilegeEscalation is not false",
            );
            report.check(
                security.and_then(|s| s.read_only_root_filesystem) == Some(true),
                &id,
                "readOnlyRootFilesystem is not true",
            );
            report.check(
                security.and_then(|s| s.privileged) != Some(true),
                &id,
                "privileged",
            );
            let capabilities = security.and_then(|s| s.capabilities.as_ref());
            report.check(
                capabilities
                    .and_then(|c| c.drop.as_ref())
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                &id,
                "capabilities do not drop ALL",
            );
            report.check(
                capabilities
                    .and_then(|c| c.add.as_ref())
                    .is_none_or(Vec::is_empty),
                &id,
                "capabilities are added",
            );
            // With a read-only root, the only writable paths are volumes; /tmp must be one.
            let mounts: Vec<&str> = container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str())
                .collect();
            report.check(mounts.contains(&"/tmp"), &id, "no writable /tmp volume");
            for mount in container.volume_mounts.iter().flatten() {
                let volume = workload
                    .spec
                    .volumes
                    .iter()
                    .flatten()
                    .find(|v| v.name == mount.name);
                let claim = mount.name == "data" && workload.kind == "StatefulSet";
                // Writable: emptyDirs, the StatefulSet's claim and claims of the pod (the
                // backup volume); configMap, secret and projected volumes are read-only.
                let allowed = volume.is_some_and(|v| {
                    v.empty_dir.is_some()
                        || v.persistent_volume_claim.is_some()
                        || v.config_map.is_some()
                        || v.secret.is_some()
                        || v.projected.is_some()
                });
                report.check(
                    allowed || claim,
                    &id,
                    format!(
                        "mount {} is neither an emptyDir, a volume claim nor a read-only configMap/secret/projected volume",
                        mount.mount_path
                    ),
                );
            }
        }
    }
    report.violations
}

/// Pod-level security: non-root (65532 for the services), seccomp RuntimeDefault, no
/// service account token, service accounts that exist and do not automount either.
pub fn pod_security(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("pod-security");
    for workload in rendered.workloads() {
        let id = workload.id();
        let pod = workload.spec.security_context.as_ref();
        report.check(
            workload.spec.automount_service_account_token == Some(false),
            &id,
            "automountServiceAccountToken is not false",
        );
        report.check(workload.spec.host_network != Some(true), &id, "hostNetwork");
        let component = workload.component().unwrap_or_default();
        for container in all_containers(workload.spec) {
            let cid = format!("{id} container {}", container.name);
            let own = container.security_context.as_ref();
            let run_as_non_root = own
                .and_then(|s| s.run_as_non_root)
                .or(pod.and_then(|s| s.run_as_non_root));
            let user = own
                .and_then(|s| s.run_as_user)
                .or(pod.and_then(|s| s.run_as_user));
            let group = own
                .and_then(|s| s.run_as_group)
                .or(pod.and_then(|s| s.run_as_group));
            let seccomp = own
                .and_then(|s| s.seccomp_profile.as_ref())
                .or(pod.and_then(|s| s.seccomp_profile.as_ref()))
                .map(|p| p.type_.as_str());
            report.check(
                run_as_non_root == Some(true),
                &cid,
                "runAsNonRoot is not true",
            );
            report.check(
                user.is_some_and(|u| u != 0),
                &cid,
                "runAsUser is not set to a non-root uid",
            );
            report.check(
                seccomp == Some("RuntimeDefault"),
                &cid,
                "seccomp profile is not RuntimeDefault",
            );
            // The PostgreSQL image's own user runs the database and its backup job.
            if component != "postgresql" && component != "backup" {
                report.check(
                    user == Some(SERVICE_UID) && group == Some(SERVICE_UID),
                    &cid,
                    format!("runs as {user:?}:{group:?}, not {SERVICE_UID}:{SERVICE_UID}"),
                );
            }
        }
        if workload.kind != "Pod" {
            let account = workload
                .spec
                .service_account_name
                .as_deref()
                .unwrap_or("default");
            report.check(
                account != "default",
                &id,
                "uses the namespace's default ServiceAccount",
            );
            if let Some(Object::ServiceAccount(sa)) = rendered.find("ServiceAccount", account) {
                report.check(
                    sa.automount_service_account_token == Some(false),
                    format!("ServiceAccount/{account}"),
                    "automountServiceAccountToken is not false",
                );
            } else {
                report.fail(&id, format!("ServiceAccount {account} is not rendered"));
            }
        }
    }
    for sa in rendered.service_accounts() {
        report.check(
            sa.automount_service_account_token == Some(false),
            format!(
                "ServiceAccount/{}",
                sa.metadata.name.as_deref().unwrap_or_default()
            ),
            "automountServiceAccountToken is not false",
        );
    }
    report.violations
}

fn http_probe(probe: Option<&Probe>) -> Option<(String, String)> {
    let get = probe?.http_get.as_ref()?;
    let port = match &get.port {
        IntOrString::String(name) => name.clone(),
        IntOrString::Int(number) => number.to_string(),
    };
    Some((get.path.clone().unwrap_or_default(), port))
}

/// Startup, liveness and readiness probes on every long-running container (the services:
/// /livez and /readyz on port "http", periods 10 s and 5 s); preStop within the grace period.
pub fn probes_and_lifecycle(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("probes");
    for workload in rendered.workloads().into_iter().filter(|w| w.long_running) {
        let component = workload.component().unwrap_or_default();
        let grace = workload.spec.termination_grace_period_seconds.unwrap_or(30);
        for container in &workload.spec.containers {
            let id = format!("{} container {}", workload.id(), container.name);
            report.check(container.startup_probe.is_some(), &id, "no startup probe");
            report.check(container.liveness_probe.is_some(), &id, "no liveness probe");
            report.check(
                container.readiness_probe.is_some(),
                &id,
                "no readiness probe",
            );
            for probe in [
                &container.startup_probe,
                &container.liveness_probe,
                &container.readiness_probe,
            ]
            .into_iter()
            .flatten()
            {
                if let Some(IntOrString::String(port)) = probe.http_get.as_ref().map(|g| &g.port) {
                    let declared = container
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| p.name.as_deref() == Some(port));
                    report.check(
                        declared,
                        &id,
                        format!("probe port {port:?} is not a named container port"),
                    );
                }
            }
            if let Some(service) = expect.services.get(&component) {
                let live = ("/livez".to_string(), "http".to_string());
                let ready = ("/readyz".to_string(), "http".to_string());
                report.check(
                    http_probe(container.startup_probe.as_ref()) == Some(live.clone()),
                    &id,
                    "startup probe is not GET /livez on port http",
                );
                report.check(
                    http_probe(container.liveness_probe.as_ref()) == Some(live),
                    &id,
                    "liveness probe is not GET /livez on port http",
                );
                report.check(
                    http_probe(container.readiness_probe.as_ref()) == Some(ready),
                    &id,
                    "readiness probe is not GET /readyz on port http",
                );
                let liveness = container
                    .liveness_probe
                    .as_ref()
                    .and_then(|p| p.period_seconds);
                let readiness = container
                    .readiness_probe
                    .as_ref()
                    .and_then(|p| p.period_seconds);
                report.check(
                    liveness == Some(LIVENESS_PERIOD_SECONDS),
                    &id,
                    format!(
                        "liveness period {liveness:?}, the spec asks for {LIVENESS_PERIOD_SECONDS}s"
                    ),
                );
                report.check(
                    readiness == Some(READINESS_PERIOD_SECONDS),
                    &id,
                    format!("readiness period {readiness:?}, the spec asks for {READINESS_PERIOD_SECONDS}s"),
                );
                let sleep = container
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.pre_stop.as_ref())
                    .and_then(|h| h.sleep.as_ref())
                    .map(|s| s.seconds);
                if service.pre_stop_sleep_seconds > 0 {
                    report.check(
                        sleep == Some(service.pre_stop_sleep_seconds),
                        &id,
                        format!(
                            "preStop sleep is {sleep:?}, values ask for {}",
                            service.pre_stop_sleep_seconds
                        ),
                    );
                } else {
                    report.check(
                        sleep.is_none(),
                        &id,
                        "preStop sleep rendered although disabled",
                    );
                }
                report.check(
                    sleep.is_none_or(|s| s < grace),
                    &id,
                    format!("preStop sleep {sleep:?} does not end before terminationGracePeriodSeconds {grace}"),
                );
            } else {
                // PostgreSQL: some preStop (fast shutdown) and probes of any kind.
                report.check(
                    container
                        .lifecycle
                        .as_ref()
                        .and_then(|l| l.pre_stop.as_ref())
                        .is_some(),
                    &id,
                    "no preStop hook",
                );
            }
        }
    }
    report.violations
}

/// Splits an image reference into (name, tag, digest).
pub fn split_image(reference: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest.to_string())),
        None => (reference, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(colon) => (
            rest[..slash + colon].to_string(),
            Some(rest[slash + colon + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

/// Every image pinned by a tag other than "latest", pulled as the values say; the services run
/// exactly the image the values name (the api image for migrations and tests too).
pub fn images(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("images");
    for workload in rendered.workloads() {
        let component = workload.component().unwrap_or_default();
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let image = container.image.clone().unwrap_or_default();
            let (_, tag, digest) = split_image(&image);
            report.check(tag.is_some(), &id, format!("image {image} has no tag"));
            report.check(
                tag.as_deref() != Some("latest"),
                &id,
                format!("image {image} uses the latest tag"),
            );
            if let Some(digest) = digest {
                report.check(
                    digest.len() == 71 && digest.starts_with("sha256:"),
                    &id,
                    format!("image {image} has a malformed digest"),
                );
            }
            // The values choose (IfNotPresent by default); the services' containers must
            // carry what their values say.
            let wanted = match component.as_str() {
                "test" => expect.services.get("api"),
                "api" | "mcp" | "web" => expect.services.get(&component),
                _ => None,
            }
            .map(|s| s.pull_policy.as_str());
            let policy = container.image_pull_policy.as_deref();
            report.check(
                matches!(policy, Some("IfNotPresent" | "Always" | "Never"))
                    && wanted.is_none_or(|w| policy == Some(w)),
                &id,
                format!(
                    "imagePullPolicy is {policy:?}, not the values' {}",
                    wanted.unwrap_or("IfNotPresent, Always or Never")
                ),
            );
            let expected = match component.as_str() {
                "test" => expect.services.get("api"),
                "api" | "mcp" | "web" => expect.services.get(&component),
                _ => None,
            };
            if let Some(service) = expected {
                report.check(
                    image == service.image,
                    &id,
                    format!("image {image}, values ask for {}", service.image),
                );
            }
        }
    }
    report.violations
}

/// Decoded values of every rendered Secret.
fn secret_values(rendered: &Rendered) -> Vec<(String, String, String)> {
    let mut values = Vec::new();
    for secret in rendered.secrets() {
        let name = secret.metadata.name.clone().unwrap_or_default();
        for (key, value) in secret.data.iter().flatten() {
            values.push((
                name.clone(),
                key.clone(),
                String::from_utf8_lossy(&value.0).into_owned(),
            ));
        }
        for (key, value) in secret.string_data.iter().flatten() {
            values.push((name.clone(), key.clone(), value.clone()));
        }
    }
    values
}

/// No Secret value appears anywhere else: ConfigMaps, env literals, args, annotations,
/// labels. Secret-carrying variables come from secretKeyRef (or expand one).
pub fn secrets_not_leaked(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("secrets");
    let secrets = secret_values(rendered);
    for (name, key, value) in &secrets {
        report.check(
            value.len() >= 16,
            format!("Secret/{name}"),
            format!("{key} is shorter than 16 bytes"),
        );
    }
    let mut places: Vec<(String, String)> = Vec::new();
    for object in &rendered.objects {
        if matches!(object, Object::Secret(_)) {
            continue;
        }
        let meta = object.metadata();
        for (key, value) in meta
            .annotations
            .iter()
            .flatten()
            .chain(meta.labels.iter().flatten())
        {
            places.push((object.id(), format!("metadata {key}={value}")));
        }
        if let Object::ConfigMap(cm) = object {
            for (key, value) in cm.data.iter().flatten() {
                places.push((object.id(), format!("{key}={value}")));
                report.check(
                    !SECRET_ENV.contains(&key.as_str())
                        && !key.contains("PASSWORD")
                        && !key.contains("SECRET")
                        && !key.contains("API_KEY"),
                    object.id(),
                    format!("ConfigMap key {key} names a secret"),
                );
            }
        }
    }
    for workload in rendered.workloads() {
        for (key, value) in workload.pod_annotations() {
            places.push((workload.id(), format!("pod annotation {key}={value}")));
        }
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            for arg in container
                .args
                .iter()
                .flatten()
                .chain(container.command.iter().flatten())
            {
                places.push((id.clone(), format!("argument {arg}")));
            }
            let env = container.env.as_deref().unwrap_or_default();
            for var in env {
                let Some(value) = &var.value else { continue };
                places.push((id.clone(), format!("env {}={value}", var.name)));
                if SECRET_ENV.contains(&var.name.as_str()) {
                    report.check(
                        expands_only_secrets(value, env),
                        &id,
                        format!(
                            "{} is a literal; it must come from a secretKeyRef",
                            var.name
                        ),
                    );
                }
            }
        }
    }
    for (object, place) in &places {
        for (name, key, value) in &secrets {
            if value.len() >= 8 && place.contains(value.as_str()) {
                report.fail(
                    object,
                    format!("value of Secret {name} key {key} appears in {place}"),
                );
            }
        }
    }
    report.violations
}

/// A literal that only assembles a value from secret-sourced variables: it references at
/// least one `$(VAR)` and every referenced VAR comes from a secretKeyRef.
fn expands_only_secrets(value: &str, env: &[EnvVar]) -> bool {
    let mut referenced = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("$(") {
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        referenced.push(&rest[start + 2..start + end]);
        rest = &rest[start + end..];
    }
    !referenced.is_empty()
        && referenced.iter().all(|name| {
            env.iter().any(|var| {
                var.name == *name
                    && var
                        .value_from
                        .as_ref()
                        .and_then(|from| from.secret_key_ref.as_ref())
                        .is_some()
            })
        })
}

/// Every configMapKeyRef and secretKeyRef resolves: to a rendered ConfigMap/Secret with
/// that key, or to a Secret the operator provides per the values. References are never
/// optional, and each operator secret is actually used.
pub fn references(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("references");
    let mut used_operator_secrets = BTreeSet::new();
    for workload in rendered.workloads() {
        for container in all_containers(workload.spec) {
            let id = format!("{} container {}", workload.id(), container.name);
            let mut names = BTreeSet::new();
            for var in container.env.iter().flatten() {
                report.check(
                    names.insert(var.name.clone()),
                    &id,
                    format!("{} is set twice", var.name),
                );
                let Some(from) = &var.value_from else {
                    continue;
                };
                if let Some(reference) = &from.config_map_key_ref {
                    report.check(
                        reference.optional != Some(true),
                        &id,
                        format!("{} is optional", var.name),
                    );
                    let found = rendered
                        .config_maps()
                        .find(|cm| cm.metadata.name.as_deref() == Some(reference.name.as_str()));
                    match found {
                        Some(cm) => report.check(
                            cm.data
                                .as_ref()
                                .is_some_and(|d| d.contains_key(&reference.key)),
                            &id,
                            format!(
                                "{}: ConfigMap {} has no key {}",
                                var.name, reference.name, reference.key
                            ),
                        ),
                        None => report.fail(
                            &id,
                            format!("{}: ConfigMap {} is not rendered", var.name, reference.name),
                        ),
                    }
                }
                if let Some(reference) = &from.secret_key_ref {
                    report.check(
                        reference.optional != Some(true),
                        &id,
                        format!("{} is optional", var.name),
                    );
                    let pair = (reference.name.clone(), reference.key.clone());
                    let rendered_secret = rendered
                        .secrets()
                        .find(|s| s.metadata.name.as_deref() == Some(reference.name.as_str()));
                    match rendered_secret {
                        Some(secret) => report.check(
                            secret
                                .data
                                .as_ref()
                                .is_some_and(|d| d.contains_key(&reference.key)),
                            &id,
                            format!(
                                "{}: Secret {} has no key {}",
                                var.name, reference.name, reference.key
                            ),
                        ),
                        None if expect.operator_secrets.contains(&pair) => {
                            used_operator_secrets.insert(pair);
                        }
                        None => report.fail(
                            &id,
                            format!(
                                "{}: Secret {} key {} is neither rendered nor named in the values",
                                var.name, reference.name, reference.key
                            ),
                        ),
                    }
                }
            }
        }
    }
    for (name, key) in &expect.operator_secrets {
        if !used_operator_secrets.contains(&(name.clone(), key.clone())) {
            report.fail(
                format!("Secret/{name}"),
                format!("named in the values (key {key}) but no container uses it"),
            );
        }
    }
    report.violations
}

/// A container's variable as the pod would see it: literal, or the referenced ConfigMap or
/// rendered Secret value. None when it comes from elsewhere (operator secrets).
fn resolve_env(rendered: &Rendered, container: &Container, name: &str) -> Option<String> {
    let var = container.env.iter().flatten().find(|v| v.name == name)?;
    if let Some(value) = &var.value {
        return Some(value.clone());
    }
    let from = var.value_from.as_ref()?;
    if let Some(reference) = &from.config_map_key_ref {
        return rendered
            .config_maps()
            .find(|cm| cm.metadata.name.as_deref() == Some(reference.name.as_str()))?
            .data
            .as_ref()?
            .get(&reference.key)
            .cloned();
    }
    if let Some(reference) = &from.secret_key_ref {
        let secret = rendered
            .secrets()
            .find(|s| s.metadata.name.as_deref() == Some(reference.name.as_str()))?;
        return secret
            .data
            .as_ref()?
            .get(&reference.key)
            .map(|v| String::from_utf8_lossy(&v.0).into_owned());
    }
    None
}

fn secret_ref_of(container: &Container, name: &str) -> Option<(String, String)> {
    let reference = container
        .env
        .iter()
        .flatten()
        .find(|v| v.name == name)?
        .value_from
        .as_ref()?
        .secret_key_ref
        .as_ref()?;
    Some((reference.name.clone(), reference.key.clone()))
}

/// The in-cluster PostgreSQL's container, when the render has one.
fn postgres_container(rendered: &Rendered) -> Option<Container> {
    rendered
        .workloads()
        .into_iter()
        .find(|w| w.component().as_deref() == Some("postgresql"))
        .and_then(|w| w.spec.containers.first().cloned())
}

/// The services' environment contract and how they find each other: API_URL and MCP_URL
/// name the rendered Services and ports, PORT is the "http" port, DATABASE_URL reaches the
/// in-cluster PostgreSQL with its password.
pub fn wiring(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("wiring");
    let required: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        (
            "api",
            vec![
                "PORT",
                "RUST_LOG",
                "LOG_FORMAT",
                "DATABASE_URL",
                "JWT_SECRET",
                "MCP_URL",
                "LLM_BASE_URL",
                "LLM_MODEL",
                "DATABASE_MAX_CONNECTIONS",
            ],
        ),
        (
            "mcp",
            vec![
                "PORT",
                "RUST_LOG",
                "LOG_FORMAT",
                "DATABASE_URL",
                "JWT_SECRET",
                "DATABASE_MAX_CONNECTIONS",
            ],
        ),
        (
            "web",
            vec!["PORT", "RUST_LOG", "LOG_FORMAT", "API_URL", "COOKIE_SECURE"],
        ),
    ]);
    let service_url = |component: &str| -> Option<String> {
        let service = rendered.service_of(component)?;
        let port = service.spec.as_ref()?.ports.as_ref()?.first()?.port;
        Some(format!(
            "http://{}:{port}",
            service.metadata.name.as_deref()?
        ))
    };
    let postgres_service = rendered.service_of("postgresql");
    let postgres_container = postgres_container(rendered);

    let mut seen = BTreeSet::new();
    for workload in rendered
        .workloads()
        .into_iter()
        .filter(|w| w.kind == "Deployment")
    {
        let component = workload.component().unwrap_or_default();
        let Some(names) = required.get(component.as_str()) else {
            report.fail(
                workload.id(),
                format!("Deployment of unknown component {component:?}"),
            );
            continue;
        };
        seen.insert(component.clone());
        let Some(container) = workload.component_container() else {
            report.fail(workload.id(), format!("no container named {component}"));
            continue;
        };
        let id = format!("{} container {}", workload.id(), container.name);
        let present: BTreeSet<&str> = container
            .env
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        for name in names {
            report.check(present.contains(name), &id, format!("{name} is not set"));
        }
        report.check(
            present.contains("LLM_API_KEY") == (component == "api" && expect.llm_key),
            &id,
            "LLM_API_KEY is set exactly when llm.existingSecret is",
        );
        let http_port = container
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some("http"))
            .map(|p| p.container_port);
        report.check(
            http_port == Some(SERVICE_PORT),
            &id,
            format!("container port http is {http_port:?}"),
        );
        report.check(
            resolve_env(rendered, container, "PORT") == Some(SERVICE_PORT.to_string()),
            &id,
            "PORT is not the http container port",
        );
        match component.as_str() {
            "web" => {
                let want = service_url("api");
                let got = resolve_env(rendered, container, "API_URL");
                report.check(
                    got.is_some() && got == want,
                    &id,
                    format!("API_URL is {got:?}, the api Service is {want:?}"),
                );
                let secure = expect
                    .ingress
                    .as_ref()
                    .is_some_and(|i| i.tls_secret.is_some());
                let got = resolve_env(rendered, container, "COOKIE_SECURE");
                report.check(
                    got.as_deref() == Some(if secure { "true" } else { "false" }),
                    &id,
                    format!("COOKIE_SECURE is {got:?} with TLS {secure}"),
                );
            }
            "api" => {
                let want = service_url("mcp").map(|url| format!("{url}/mcp"));
                let got = resolve_env(rendered, container, "MCP_URL");
                report.check(
                    got.is_some() && got == want,
                    &id,
                    format!("MCP_URL is {got:?}, the mcp Service is {want:?}"),
                );
                let init = workload
                    .spec
                    .init_containers
                    .iter()
                    .flatten()
                    .find(|c| c.name == "migrate");
                report.check(
                    init.is_some() == expect.migrations,
                    &id,
                    format!(
                        "migrate init container present: {}, migrations.enabled: {}",
                        init.is_some(),
                        expect.migrations
                    ),
                );
                if let Some(init) = init {
                    report.check(
                        init.args.as_deref() == Some(&["migrate".to_string()][..]),
                        &id,
                        "migrate init container does not run `migrate`",
                    );
                    let api_db = container
                        .env
                        .iter()
                        .flatten()
                        .filter(|v| DATABASE_CONNECTION_ENV.contains(&v.name.as_str()))
                        .cloned()
                        .collect::<Vec<_>>();
                    let init_db = init
                        .env
                        .iter()
                        .flatten()
                        .filter(|v| DATABASE_CONNECTION_ENV.contains(&v.name.as_str()))
                        .cloned()
                        .collect::<Vec<_>>();
                    report.check(
                        api_db == init_db,
                        &id,
                        "migrate init container has another database configuration than api",
                    );
                }
            }
            _ => {}
        }
        if component == "web" {
            for name in SECRET_ENV {
                report.check(
                    !present.contains(name),
                    &id,
                    format!("web gets {name}, which it does not need"),
                );
            }
            continue;
        }
        // The in-cluster database: URL to its Service, password of its container.
        if let (Some(pg), Some(pg_service), Some(pg_container)) =
            (&expect.postgresql, postgres_service, &postgres_container)
        {
            let host = pg_service.metadata.name.clone().unwrap_or_default();
            let password_ref = secret_ref_of(pg_container, "POSTGRES_PASSWORD");
            let url = resolve_env(rendered, container, "DATABASE_URL");
            if pg.generated_password {
                let password = password_ref.as_ref().and_then(|(name, key)| {
                    rendered
                        .secrets()
                        .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
                        .and_then(|s| {
                            s.data
                                .as_ref()?
                                .get(key)
                                .map(|v| String::from_utf8_lossy(&v.0).into_owned())
                        })
                });
                let want = password.map(|password| {
                    format!(
                        "postgres://{}:{password}@{host}:{}/{}?sslmode=disable",
                        pg.username, pg.port, pg.database
                    )
                });
                report.check(
                    url.is_some() && url == want,
                    &id,
                    "DATABASE_URL does not reach the in-cluster PostgreSQL with its generated password",
                );
            } else {
                report.check(
                    secret_ref_of(container, "DATABASE_PASSWORD") == password_ref
                        && password_ref.is_some(),
                    &id,
                    "DATABASE_PASSWORD is not PostgreSQL's password",
                );
                let want = format!(
                    "postgres://{}:$(DATABASE_PASSWORD)@{host}:{}/{}?sslmode=disable",
                    pg.username, pg.port, pg.database
                );
                report.check(
                    url.as_deref() == Some(want.as_str()),
                    &id,
                    format!("DATABASE_URL is {url:?}, want {want}"),
                );
            }
        }
    }
    for component in SERVICES {
        report.check(
            seen.contains(component),
            format!("Deployment of {component}"),
            "not rendered",
        );
    }
    report.check(
        postgres_container.is_some() == expect.postgresql.is_some(),
        "StatefulSet of postgresql",
        format!(
            "rendered: {}, expected: {}",
            postgres_container.is_some(),
            expect.postgresql.is_some()
        ),
    );
    report.violations
}

/// Selectors match their own pods and nothing else: workload selectors against their
/// templates; Services, PodDisruptionBudgets and NetworkPolicies against the pods.
pub fn selectors(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("selectors");
    let workloads = rendered.workloads();
    let pods: Vec<(String, BTreeMap<String, String>)> =
        workloads.iter().map(|w| (w.id(), w.pod_labels())).collect();
    let controllers: Vec<&Workload<'_>> =
        workloads.iter().filter(|w| w.selector.is_some()).collect();
    for workload in &controllers {
        let Some(selector) = workload.selector else {
            continue;
        };
        let labels = workload.pod_labels();
        report.check(
            selector
                .match_labels
                .as_ref()
                .is_some_and(|m| !m.is_empty())
                && selector.match_expressions.is_none(),
            workload.id(),
            "selector is not a non-empty matchLabels",
        );
        report.check(
            selector_matches(selector, &labels),
            workload.id(),
            "selector does not match its pod template labels",
        );
        for (other, other_labels) in &pods {
            if *other != workload.id() && selector_matches(selector, other_labels) {
                report.fail(
                    workload.id(),
                    format!("selector also matches the pods of {other}"),
                );
            }
        }
    }
    let matching =
        |selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector| -> Vec<String> {
            controllers
                .iter()
                .filter(|w| selector_matches(selector, &w.pod_labels()))
                .map(|w| w.id())
                .collect()
        };
    for service in rendered.services() {
        let id = format!(
            "Service/{}",
            service.metadata.name.as_deref().unwrap_or_default()
        );
        let selector = service
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        report.check(!selector.is_empty(), &id, "no selector");
        let as_label_selector = k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
            match_labels: Some(selector),
            match_expressions: None,
        };
        let matched = matching(&as_label_selector);
        report.check(
            matched.len() == 1,
            &id,
            format!("selects {matched:?}, not exactly one workload"),
        );
    }
    for pdb in rendered.disruption_budgets() {
        let id = format!(
            "PodDisruptionBudget/{}",
            pdb.metadata.name.as_deref().unwrap_or_default()
        );
        match pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            Some(selector) => {
                let matched = matching(selector);
                report.check(
                    matched.len() == 1,
                    &id,
                    format!("selects {matched:?}, not exactly one workload"),
                );
            }
            None => report.fail(&id, "no selector"),
        }
    }
    for hpa in rendered.autoscalers() {
        let id = format!(
            "HorizontalPodAutoscaler/{}",
            hpa.metadata.name.as_deref().unwrap_or_default()
        );
        let target = hpa.spec.as_ref().map(|s| &s.scale_target_ref);
        let found = target.and_then(|t| rendered.find(&t.kind, &t.name));
        report.check(
            found.is_some() && target.is_some_and(|t| t.api_version.as_deref() == Some("apps/v1")),
            &id,
            "scaleTargetRef does not name a rendered apps/v1 workload",
        );
    }
    for policy in rendered.network_policies() {
        let id = format!(
            "NetworkPolicy/{}",
            policy.metadata.name.as_deref().unwrap_or_default()
        );
        let selector = policy
            .spec
            .as_ref()
            .and_then(|s| s.pod_selector.clone())
            .unwrap_or_default();
        report.check(
            pods.iter()
                .any(|(_, labels)| selector_matches(&selector, labels)),
            &id,
            "podSelector selects no pod of the release",
        );
        report.check(
            selector
                .match_labels
                .as_ref()
                .is_some_and(|m| m.contains_key("app.kubernetes.io/instance")),
            &id,
            "podSelector is not limited to this release",
        );
    }
    report.violations
}

/// Each service's Service has the type its values ask for (ClusterIP unless NodePort).
pub fn service_types(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("service-types");
    for (component, want) in &expect.services {
        let Some(service) = rendered.service_of(component) else {
            continue;
        };
        let got = service.spec.as_ref().and_then(|s| s.type_.clone());
        report.check(
            got.as_deref() == Some(want.service_type.as_str()),
            format!(
                "Service/{}",
                service.metadata.name.as_deref().unwrap_or_default()
            ),
            format!("type {got:?}, the values say {}", want.service_type),
        );
    }
    report.violations
}

/// Every Service is a ClusterIP (or a NodePort the values ask for) whose ports target a named container port that the
/// selected pods declare; a StatefulSet's serviceName is a headless Service of its pods.
pub fn services(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("services");
    let workloads = rendered.workloads();
    for service in rendered.services() {
        let name = service.metadata.name.clone().unwrap_or_default();
        let id = format!("Service/{name}");
        let Some(spec) = &service.spec else {
            report.fail(&id, "no spec");
            continue;
        };
        // NodePort only as the values ask for it (checked by service_types).
        report.check(
            matches!(spec.type_.as_deref(), Some("ClusterIP" | "NodePort")),
            &id,
            format!("type {:?}, not ClusterIP or NodePort", spec.type_),
        );
        let selector = spec.selector.clone().unwrap_or_default();
        let selected: Vec<&Workload<'_>> = workloads
            .iter()
            .filter(|w| {
                w.selector.is_some()
                    && !selector.is_empty()
                    && selector
                        .iter()
                        .all(|(k, v)| w.pod_labels().get(k) == Some(v))
            })
            .collect();
        let ports = spec.ports.as_deref().unwrap_or_default();
        report.check(!ports.is_empty(), &id, "no ports");
        for port in ports {
            let pid = format!("{id} port {}", port.name.as_deref().unwrap_or("<unnamed>"));
            report.check(port.name.is_some(), &pid, "unnamed port");
            match &port.target_port {
                Some(IntOrString::String(target)) => {
                    for workload in &selected {
                        let declared = workload
                            .spec
                            .containers
                            .iter()
                            .flat_map(|c| c.ports.iter().flatten())
                            .any(|p| {
                                p.name.as_deref() == Some(target.as_str())
                                    && p.protocol.as_deref().unwrap_or("TCP")
                                        == port.protocol.as_deref().unwrap_or("TCP")
                            });
                        report.check(
                            declared,
                            &pid,
                            format!(
                                "targetPort {target:?} is not a container port of {}",
                                workload.id()
                            ),
                        );
                    }
                }
                other => report.fail(
                    &pid,
                    format!("targetPort {other:?} is not a named container port"),
                ),
            }
        }
    }
    for set in rendered.stateful_sets() {
        let id = format!(
            "StatefulSet/{}",
            set.metadata.name.as_deref().unwrap_or_default()
        );
        let service_name = set
            .spec
            .as_ref()
            .and_then(|s| s.service_name.clone())
            .unwrap_or_default();
        match rendered.find("Service", &service_name) {
            Some(Object::Service(service)) => report.check(
                service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None"),
                &id,
                format!("serviceName {service_name} is not a headless Service"),
            ),
            _ => report.fail(
                &id,
                format!("serviceName {service_name:?} is not a rendered Service"),
            ),
        }
    }
    report.violations
}

/// The Ingress routes / to web, /api to api and /mcp to mcp, and the OAuth paths ([`ROUTES`])
/// (Prefix) on the values' host
/// and class, with TLS when asked; every backend is a rendered Service and port.
pub fn ingress(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("ingress");
    let ingresses: Vec<_> = rendered.ingresses().collect();
    let Some(want) = &expect.ingress else {
        report.check(
            ingresses.is_empty(),
            "Ingress",
            "rendered although ingress.enabled is false",
        );
        return report.violations;
    };
    report.check(
        ingresses.len() == 1,
        "Ingress",
        format!("{} rendered, want 1", ingresses.len()),
    );
    for ingress in ingresses {
        let id = format!(
            "Ingress/{}",
            ingress.metadata.name.as_deref().unwrap_or_default()
        );
        let Some(spec) = &ingress.spec else {
            report.fail(&id, "no spec");
            continue;
        };
        report.check(
            spec.ingress_class_name.as_deref() == Some(want.class.as_str()),
            &id,
            "ingressClassName differs from the values",
        );
        let tls: Vec<_> = spec.tls.iter().flatten().collect();
        match &want.tls_secret {
            Some(secret) => report.check(
                tls.len() == 1 + want.extra_tls.len()
                    && tls[0].secret_name.as_deref() == Some(secret.as_str())
                    && tls[0].hosts.as_deref() == Some(&[want.host.clone()][..]),
                &id,
                "TLS is not the values' secret for the host",
            ),
            None => report.check(
                tls.len() == want.extra_tls.len(),
                &id,
                "TLS configured although disabled",
            ),
        }
        let extra_tls: Vec<(Vec<String>, String)> = tls
            .iter()
            .skip(usize::from(want.tls_secret.is_some()))
            .map(|t| {
                (
                    t.hosts.clone().unwrap_or_default(),
                    t.secret_name.clone().unwrap_or_default(),
                )
            })
            .collect();
        report.check(
            extra_tls == want.extra_tls,
            &id,
            format!(
                "extra TLS entries {extra_tls:?}, the values say {:?}",
                want.extra_tls
            ),
        );
        let hosts: Vec<String> = spec
            .rules
            .iter()
            .flatten()
            .filter_map(|r| r.host.clone())
            .collect();
        let mut want_hosts = vec![want.host.clone()];
        want_hosts.extend(want.extra_hosts.iter().cloned());
        report.check(
            hosts == want_hosts,
            &id,
            format!("rule hosts {hosts:?}, the values say {want_hosts:?}"),
        );
        let mut routes = BTreeMap::new();
        for rule in spec.rules.iter().flatten() {
            report.check(rule.host.is_some(), &id, "a rule without a host");
            for path in rule.http.iter().flat_map(|h| h.paths.iter()) {
                let backend = path.backend.service.as_ref();
                let service_name = backend.map(|b| b.name.clone()).unwrap_or_default();
                report.check(
                    path.path_type == "Prefix",
                    &id,
                    format!("path {:?} is not Prefix", path.path),
                );
                match rendered.find("Service", &service_name) {
                    Some(Object::Service(service)) => {
                        let ports = service
                            .spec
                            .as_ref()
                            .and_then(|s| s.ports.clone())
                            .unwrap_or_default();
                        let port = backend.and_then(|b| b.port.as_ref());
                        let exists = port.is_some_and(|p| {
                            ports.iter().any(|sp| {
                                p.name
                                    .as_deref()
                                    .is_some_and(|n| sp.name.as_deref() == Some(n))
                                    || p.number == Some(sp.port)
                            })
                        });
                        report.check(
                            exists,
                            &id,
                            format!(
                                "backend {service_name} port {port:?} is not a port of the Service"
                            ),
                        );
                        let component = label(&service.metadata.labels, COMPONENT_LABEL)
                            .unwrap_or_default()
                            .to_string();
                        routes.insert(path.path.clone().unwrap_or_default(), component);
                    }
                    _ => report.fail(
                        &id,
                        format!("backend Service {service_name:?} is not rendered"),
                    ),
                }
            }
        }
        let want_routes: BTreeMap<String, String> = ROUTES
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect();
        report.check(
            routes == want_routes,
            &id,
            format!("routes {routes:?}, want {want_routes:?}"),
        );
    }
    report.violations
}

/// Replicas, HorizontalPodAutoscalers and PodDisruptionBudgets per component as the values
/// ask; a single PostgreSQL with a volume claim.
pub fn scaling(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("scaling");
    for (component, service) in &expect.services {
        let of = |o: &&Object| o.component() == Some(component.as_str());
        let deployment = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::Deployment(d) => Some(d),
            _ => None,
        });
        let hpa = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::HorizontalPodAutoscaler(h) => Some(h),
            _ => None,
        });
        let pdb = rendered.objects.iter().filter(of).find_map(|o| match o {
            Object::PodDisruptionBudget(p) => Some(p),
            _ => None,
        });
        let id = component.clone();
        let replicas = deployment
            .and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas);
        match &service.autoscaling {
            Some(want) => {
                report.check(
                    replicas.is_none(),
                    &id,
                    "Deployment sets replicas although an HPA owns them",
                );
                match hpa.and_then(|h| h.spec.as_ref()) {
                    Some(spec) => {
                        let target = spec.metrics.iter().flatten().find_map(|m| {
                            let resource = m.resource.as_ref()?;
                            (resource.name == "cpu" && resource.target.type_ == "Utilization")
                                .then_some(resource.target.average_utilization)
                                .flatten()
                        });
                        report.check(
                            spec.min_replicas == Some(want.min)
                                && spec.max_replicas == want.max
                                && target == Some(want.target_cpu),
                            &id,
                            format!(
                                "HPA {:?}..{} at {target:?}% CPU, values ask for {}..{} at {}%",
                                spec.min_replicas,
                                spec.max_replicas,
                                want.min,
                                want.max,
                                want.target_cpu
                            ),
                        );
                    }
                    None => report.fail(&id, "autoscaling is enabled but no HPA is rendered"),
                }
            }
            None => {
                report.check(
                    hpa.is_none(),
                    &id,
                    "HPA rendered although autoscaling is disabled",
                );
                report.check(
                    replicas == Some(service.replicas),
                    &id,
                    format!("replicas {replicas:?}, values ask for {}", service.replicas),
                );
            }
        }
        report.check(
            pdb.is_some() == service.pdb,
            &id,
            format!(
                "PDB rendered: {}, pdb.enabled: {}",
                pdb.is_some(),
                service.pdb
            ),
        );
    }
    let sets: Vec<_> = rendered.stateful_sets().collect();
    match (&expect.postgresql, sets.as_slice()) {
        (Some(_), [set]) => {
            let spec = set.spec.as_ref();
            report.check(
                spec.and_then(|s| s.replicas) == Some(1),
                "postgresql",
                "StatefulSet replicas is not 1",
            );
            let claims = spec
                .and_then(|s| s.volume_claim_templates.clone())
                .unwrap_or_default();
            report.check(
                claims.iter().any(|c| {
                    c.metadata.name.as_deref() == Some("data")
                        && c.spec
                            .as_ref()
                            .and_then(|s| s.resources.as_ref())
                            .and_then(|r| r.requests.as_ref())
                            .is_some_and(|r| r.contains_key("storage"))
                }),
                "postgresql",
                "no volume claim template \"data\" with a storage request",
            );
        }
        (None, []) => {}
        (want, found) => report.fail(
            "postgresql",
            format!(
                "{} StatefulSets rendered, in-cluster database expected: {}",
                found.len(),
                want.is_some()
            ),
        ),
    }
    report.violations
}

/// Rollouts that drop no request: RollingUpdate with maxUnavailable 0 / maxSurge 1, config
/// and secret checksums on the services' pod templates, topology spread when enabled.
pub fn rollout(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("rollout");
    for deployment in rendered.deployments() {
        let id = format!(
            "Deployment/{}",
            deployment.metadata.name.as_deref().unwrap_or_default()
        );
        let strategy = deployment.spec.as_ref().and_then(|s| s.strategy.as_ref());
        let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
        report.check(
            strategy.and_then(|s| s.type_.as_deref()) == Some("RollingUpdate")
                && rolling.and_then(|r| r.max_unavailable.clone()) == Some(IntOrString::Int(0))
                && rolling.and_then(|r| r.max_surge.clone()) == Some(IntOrString::Int(1)),
            &id,
            "strategy is not RollingUpdate with maxUnavailable 0 and maxSurge 1",
        );
    }
    for workload in rendered.workloads().into_iter().filter(|w| w.long_running) {
        let annotations = workload.pod_annotations();
        let component = workload.component().unwrap_or_default();
        // The services read their config and secrets at start-up; PostgreSQL reads its
        // password only when it initialises an empty volume, so it needs no checksums.
        let wanted: &[&str] = if workload.kind == "Deployment" {
            &["checksum/config", "checksum/secret"]
        } else {
            &[]
        };
        for key in wanted {
            report.check(
                annotations
                    .get(*key)
                    .is_some_and(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())),
                workload.id(),
                format!("pod template has no {key} annotation"),
            );
        }
        if let Some(service) = expect.services.get(&component) {
            let spread = workload
                .spec
                .topology_spread_constraints
                .iter()
                .flatten()
                .any(|c| {
                    c.label_selector
                        .as_ref()
                        .is_some_and(|s| selector_matches(s, &workload.pod_labels()))
                });
            report.check(
                spread == service.topology_spread,
                workload.id(),
                format!(
                    "topology spread present: {spread}, enabled in values: {}",
                    service.topology_spread
                ),
            );
        }
    }
    report.violations
}

/// PostgreSQL's default max_connections, and the slots it keeps for superusers.
pub const POSTGRES_DEFAULT_MAX_CONNECTIONS: i64 = 100;
pub const POSTGRES_RESERVED_CONNECTIONS: i64 = 3;
/// A service's pool size when DATABASE_MAX_CONNECTIONS is unset.
pub const SERVICE_DEFAULT_POOL: i64 = 10;

/// Pods of a Deployment at full scale-out: the HPA's maximum (or the replicas), plus the pods a
/// rollout adds on top (maxSurge; Kubernetes' default is 25%, rounded up).
fn peak_pods(rendered: &Rendered, component: &str) -> Option<i64> {
    let deployment = rendered
        .deployments()
        .find(|d| label(&d.metadata.labels, COMPONENT_LABEL) == Some(component))?;
    let spec = deployment.spec.as_ref()?;
    let pods = rendered
        .autoscalers()
        .find(|h| label(&h.metadata.labels, COMPONENT_LABEL) == Some(component))
        .and_then(|h| h.spec.as_ref())
        .map(|s| i64::from(s.max_replicas))
        .unwrap_or(i64::from(spec.replicas.unwrap_or(1)));
    let surge = spec
        .strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_surge.clone())
        .unwrap_or(IntOrString::String("25%".into()));
    let surge = match surge {
        IntOrString::Int(n) => i64::from(n),
        IntOrString::String(percent) => {
            let percent: i64 = percent.trim_end_matches('%').parse().ok()?;
            (pods * percent + 99) / 100
        }
    };
    Some(pods + surge)
}

/// `max_connections` from a postgres container's arguments (`-c max_connections=N`).
fn max_connections(container: &Container) -> Option<i64> {
    container
        .args
        .iter()
        .flatten()
        .chain(container.command.iter().flatten())
        .find_map(|arg| {
            arg.trim_start_matches("-c")
                .trim()
                .strip_prefix("max_connections=")
        })
        .and_then(|n| n.parse().ok())
}

/// The services' database pools fit the in-cluster PostgreSQL even at full scale-out during a
/// rollout: otherwise new pods fail to connect exactly when load is highest. (An external
/// database's limit is not in the render; `database.poolSize` documents it.)
pub fn connection_budget(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("connections");
    let Some(postgres) = postgres_container(rendered) else {
        return report.violations;
    };
    let available = max_connections(&postgres).unwrap_or(POSTGRES_DEFAULT_MAX_CONNECTIONS)
        - POSTGRES_RESERVED_CONNECTIONS;
    let mut needed = 0;
    let mut parts = Vec::new();
    for workload in rendered
        .workloads()
        .into_iter()
        .filter(|w| w.kind == "Deployment")
    {
        let component = workload.component().unwrap_or_default();
        let Some(container) = workload.component_container() else {
            continue;
        };
        if !container
            .env
            .iter()
            .flatten()
            .any(|v| v.name == "DATABASE_URL")
        {
            continue;
        }
        let pool = match resolve_env(rendered, container, "DATABASE_MAX_CONNECTIONS") {
            None => SERVICE_DEFAULT_POOL,
            Some(value) => match value.parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    report.fail(
                        workload.id(),
                        format!("DATABASE_MAX_CONNECTIONS is {value:?}, not a number"),
                    );
                    continue;
                }
            },
        };
        let Some(pods) = peak_pods(rendered, &component) else {
            report.fail(workload.id(), "cannot tell its peak pod count");
            continue;
        };
        needed += pods * pool;
        parts.push(format!("{component} {pods} pods x {pool}"));
    }
    report.check(
        needed <= available,
        "postgresql",
        format!(
            "the services may open {needed} connections ({}) but PostgreSQL accepts {available}",
            parts.join(", ")
        ),
    );
    report.violations
}

/// Volume types the Pod Security "restricted" profile allows.
const RESTRICTED_VOLUME_TYPES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls the baseline (and so restricted) profile allows.
const SAFE_SYSCTLS: [&str; 9] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
];

/// Pod Security Standards "restricted" (latest, which includes "baseline"), on every pod the
/// render can create (Deployments, the StatefulSet, the backup CronJob, the test pods): what
/// the admission controller of a namespace labelled `pod-security.kubernetes.io/enforce:
/// restricted` would check.
pub fn restricted(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("pod-security-restricted");
    for workload in rendered.workloads() {
        let id = workload.id();
        let spec = workload.spec;
        let pod = spec.security_context.as_ref();
        for (flag, name) in [
            (spec.host_network, "hostNetwork"),
            (spec.host_pid, "hostPID"),
            (spec.host_ipc, "hostIPC"),
        ] {
            report.check(flag != Some(true), &id, format!("{name} is true"));
        }
        for volume in spec.volumes.iter().flatten() {
            let value = serde_json::to_value(volume).unwrap_or_default();
            let types: Vec<&String> = value
                .as_object()
                .map(|o| o.keys().filter(|k| *k != "name").collect())
                .unwrap_or_default();
            for kind in types {
                report.check(
                    RESTRICTED_VOLUME_TYPES.contains(&kind.as_str()),
                    &id,
                    format!(
                        "volume {} is of type {kind}, not allowed by restricted",
                        volume.name
                    ),
                );
            }
        }
        if let Some(pod) = pod {
            for sysctl in pod.sysctls.iter().flatten() {
                report.check(
                    SAFE_SYSCTLS.contains(&sysctl.name.as_str()),
                    &id,
                    format!("sysctl {} is not in the safe set", sysctl.name),
                );
            }
            report.check(pod.run_as_user != Some(0), &id, "pod runAsUser is 0");
            if let Some(profile) = &pod.seccomp_profile {
                report.check(
                    matches!(profile.type_.as_str(), "RuntimeDefault" | "Localhost"),
                    &id,
                    format!("pod seccompProfile {}", profile.type_),
                );
            }
        }
        for container in all_containers(spec) {
            let cid = format!("{id} container {}", container.name);
            let own = container.security_context.as_ref();
            report.check(
                own.and_then(|s| s.privileged) != Some(true),
                &cid,
                "privileged",
            );
            report.check(
                own.and_then(|s| s.allow_privilege_escalation) == Some(false),
                &cid,
                "allowPrivilegeEscalation is not false",
            );
            let capabilities = own.and_then(|s| s.capabilities.as_ref());
            report.check(
                capabilities
                    .and_then(|c| c.drop.as_ref())
                    .is_some_and(|d| d.iter().any(|c| c == "ALL")),
                &cid,
                "capabilities.drop does not contain ALL",
            );
            for added in capabilities
                .and_then(|c| c.add.as_ref())
                .into_iter()
                .flatten()
            {
                report.check(
                    added == "NET_BIND_SERVICE",
                    &cid,
                    format!("adds capability {added}"),
                );
            }
            report.check(
                own.and_then(|s| s.run_as_non_root)
                    .or(pod.and_then(|s| s.run_as_non_root))
                    == Some(true),
                &cid,
                "runAsNonRoot is not true",
            );
            report.check(
                own.and_then(|s| s.run_as_user) != Some(0),
                &cid,
                "runAsUser is 0",
            );
            let seccomp = own
                .and_then(|s| s.seccomp_profile.as_ref())
                .or(pod.and_then(|s| s.seccomp_profile.as_ref()))
                .map(|p| p.type_.as_str());
            report.check(
                matches!(seccomp, Some("RuntimeDefault" | "Localhost")),
                &cid,
                "seccompProfile is neither RuntimeDefault nor Localhost",
            );
            report.check(
                own.and_then(|s| s.proc_mount.as_deref())
                    .is_none_or(|m| m == "Default"),
                &cid,
                "procMount is not Default",
            );
            for port in container.ports.iter().flatten() {
                report.check(
                    port.host_port.is_none_or(|p| p == 0),
                    &cid,
                    format!("hostPort {:?}", port.host_port),
                );
            }
        }
    }
    report.violations
}

/// Labels that change with every chart or app version.
pub const VERSION_LABELS: [&str; 2] = ["helm.sh/chart", "app.kubernetes.io/version"];

/// The StatefulSet's pod template (the single database) carries no version labels: a
/// template change restarts the pod, and a chart bump alone must not restart the database.
pub fn stable_pod_templates(rendered: &Rendered) -> Vec<Violation> {
    let mut report = Report::new("stable-pod-template");
    for workload in rendered.workloads() {
        if workload.kind != "StatefulSet" && workload.kind != "CronJob" {
            continue;
        }
        let labels = workload.pod_labels();
        for label in VERSION_LABELS {
            report.check(
                !labels.contains_key(label),
                workload.id(),
                format!("the pod template carries {label}: every chart bump would restart it"),
            );
        }
    }
    report.violations
}

/// The HTTPRoute: rendered exactly when gateway.enabled, valid for the documented
/// gateway.networking.k8s.io/v1 schema, and routing like the Ingress (same path prefixes to
/// the same Services, on the Services' ports).
pub fn http_routes(rendered: &Rendered, expect: &Expectations) -> Vec<Violation> {
    let mut report = Report::new("httproute");
    let routes: Vec<_> = rendered.http_routes().collect();
    report.check(
        routes.len() == usize::from(expect.gateway),
        "HTTPRoute",
        format!(
            "{} rendered, want {}",
            routes.len(),
            usize::from(expect.gateway)
        ),
    );
    let want: BTreeSet<(String, String)> = ROUTES
        .into_iter()
        .filter_map(|(prefix, component)| {
            let service = rendered.service_of(component)?;
            Some((prefix.to_string(), service.metadata.name.clone()?))
        })
        .collect();
    for route in routes {
        let id = format!(
            "HTTPRoute/{}",
            route.metadata.name.as_deref().unwrap_or_default()
        );
        for error in crate::httproute::shape_errors(route) {
            report.fail(&id, error);
        }
        let got = crate::httproute::prefix_routes(route);
        let pairs: BTreeSet<(String, String)> =
            got.iter().map(|(p, s, _)| (p.clone(), s.clone())).collect();
        report.check(
            pairs == want,
            &id,
            format!("routes {pairs:?}, want the Ingress's {want:?}"),
        );
        for (prefix, service, port) in &got {
            let service_port = rendered
                .services()
                .find(|s| s.metadata.name.as_deref() == Some(service.as_str()))
                .and_then(|s| s.spec.as_ref()?.ports.as_ref()?.first().map(|p| p.port));
            report.check(
                service_port.map(i64::from) == Some(*port),
                &id,
                format!(
                    "{prefix} -> {service}:{port}, but that Service's port is {service_port:?}"
                ),
            );
        }
    }
    report.violations
}
