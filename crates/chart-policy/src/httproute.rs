//! The Gateway API `HTTPRoute` (gateway.networking.k8s.io/v1), typed and checked.
//!
//! kubernetes-validate has no schemas for custom resources and CI cannot fetch the Gateway
//! API CRDs, so the fields and limits here are written from the documented v1 API
//! (gateway-api `apis/v1/httproute_types.go` and `shared_types.go`, standard channel).
//! Parsing rejects unknown fields ([`HttpRoute`] and every nested type use
//! `deny_unknown_fields`), and [`shape_errors`] checks the validation rules the CRD's
//! OpenAPI schema and CEL rules express (enums, patterns, list limits, required ports).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

/// API version and kind of the route.
pub const API_VERSION: &str = "gateway.networking.k8s.io/v1";
pub const KIND: &str = "HTTPRoute";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ParentReference {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
    pub port: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteRule {
    pub name: Option<String>,
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default)]
    pub filters: Vec<serde_json::Value>,
    #[serde(default)]
    pub backend_refs: Vec<HttpBackendRef>,
    pub timeouts: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpRouteMatch {
    pub path: Option<HttpPathMatch>,
    #[serde(default)]
    pub headers: Vec<serde_json::Value>,
    #[serde(default)]
    pub query_params: Vec<serde_json::Value>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpPathMatch {
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpBackendRef {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub namespace: Option<String>,
    pub port: Option<i64>,
    pub weight: Option<i64>,
    #[serde(default)]
    pub filters: Vec<serde_json::Value>,
}

/// RFC 1123 host name with an optional leading `*.` (the CRD's Hostname pattern).
fn valid_hostname(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Object names (DNS-1123 subdomain, as the CRD's ObjectName allows up to 253).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && valid_hostname(name) && !name.starts_with("*.")
}

/// Violations of the v1 schema's rules, as messages naming the field.
pub fn shape_errors(route: &HttpRoute) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |ok: bool, message: String| {
        if !ok {
            errors.push(message);
        }
    };
    check(
        route.api_version == API_VERSION && route.kind == KIND,
        format!("apiVersion/kind {} {}", route.api_version, route.kind),
    );
    check(
        route.metadata.name.as_deref().is_some_and(valid_name),
        "metadata.name is not a valid object name".into(),
    );
    let spec = &route.spec;
    check(
        !spec.parent_refs.is_empty() && spec.parent_refs.len() <= 32,
        format!(
            "spec.parentRefs has {} entries (1 to 32: a route without parents attaches to nothing)",
            spec.parent_refs.len()
        ),
    );
    for (index, parent) in spec.parent_refs.iter().enumerate() {
        check(
            valid_name(&parent.name),
            format!("spec.parentRefs[{index}].name {:?}", parent.name),
        );
        if let Some(port) = parent.port {
            check(
                (1..=65535).contains(&port),
                format!("spec.parentRefs[{index}].port {port}"),
            );
        }
        if let Some(kind) = &parent.kind {
            check(
                !kind.is_empty() && kind.len() <= 63,
                format!("spec.parentRefs[{index}].kind {kind:?}"),
            );
        }
    }
    check(
        spec.hostnames.len() <= 16,
        format!(
            "spec.hostnames has {} entries (at most 16)",
            spec.hostnames.len()
        ),
    );
    for host in &spec.hostnames {
        check(
            valid_hostname(host),
            format!("spec.hostnames: {host:?} is not a host name"),
        );
    }
    check(
        spec.rules.len() <= 16,
        format!("spec.rules has {} entries (at most 16)", spec.rules.len()),
    );
    for (r, rule) in spec.rules.iter().enumerate() {
        check(
            rule.matches.len() <= 64,
            format!("spec.rules[{r}].matches has more than 64 entries"),
        );
        for (m, matched) in rule.matches.iter().enumerate() {
            if let Some(path) = &matched.path {
                let kind = path.type_.as_deref().unwrap_or("PathPrefix");
                check(
                    ["Exact", "PathPrefix", "RegularExpression"].contains(&kind),
                    format!("spec.rules[{r}].matches[{m}].path.type {kind:?}"),
                );
                let value = path.value.as_deref().unwrap_or("/");
                check(
                    value.starts_with('/') && value.len() <= 1024,
                    format!("spec.rules[{r}].matches[{m}].path.value {value:?} must start with /"),
                );
                if kind != "RegularExpression" {
                    // The CRD's CEL rules for Exact and PathPrefix values.
                    let valid_chars = value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-/._~!$&'()*+,;=:@%".contains(c));
                    let lower = value.to_ascii_lowercase();
                    check(
                        valid_chars
                            && !value.contains("//")
                            && !value.contains("/./")
                            && !value.contains("/../")
                            && !lower.contains("%2f")
                            && !value.ends_with("/.")
                            && !value.ends_with("/.."),
                        format!(
                            "spec.rules[{r}].matches[{m}].path.value {value:?}: not a clean absolute path"
                        ),
                    );
                }
            }
            if let Some(method) = &matched.method {
                check(
                    [
                        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                        "PATCH",
                    ]
                    .contains(&method.as_str()),
                    format!("spec.rules[{r}].matches[{m}].method {method:?}"),
                );
            }
        }
        check(
            rule.backend_refs.len() <= 16,
            format!("spec.rules[{r}].backendRefs has more than 16 entries"),
        );
        for (b, backend) in rule.backend_refs.iter().enumerate() {
            let core_service = backend.group.as_deref().unwrap_or("").is_empty()
                && backend.kind.as_deref().unwrap_or("Service") == "Service";
            check(
                valid_name(&backend.name),
                format!("spec.rules[{r}].backendRefs[{b}].name {:?}", backend.name),
            );
            // CEL rule of BackendObjectReference: "Must have port for Service reference".
            check(
                !core_service || backend.port.is_some(),
                format!("spec.rules[{r}].backendRefs[{b}]: a Service backend needs a port"),
            );
            if let Some(port) = backend.port {
                check(
                    (1..=65535).contains(&port),
                    format!("spec.rules[{r}].backendRefs[{b}].port {port}"),
                );
            }
            if let Some(weight) = backend.weight {
                check(
                    (0..=1_000_000).contains(&weight),
                    format!("spec.rules[{r}].backendRefs[{b}].weight {weight}"),
                );
            }
        }
    }
    errors
}

/// The (path prefix, backend Service name, port) triples the route sends traffic to.
pub fn prefix_routes(route: &HttpRoute) -> Vec<(String, String, i64)> {
    let mut routes = Vec::new();
    for rule in &route.spec.rules {
        for matched in &rule.matches {
            let Some(path) = &matched.path else { continue };
            if path.type_.as_deref().unwrap_or("PathPrefix") != "PathPrefix" {
                continue;
            }
            let prefix = path.value.clone().unwrap_or_else(|| "/".into());
            for backend in &rule.backend_refs {
                routes.push((
                    prefix.clone(),
                    backend.name.clone(),
                    backend.port.unwrap_or(0),
                ));
            }
        }
    }
    routes
}
