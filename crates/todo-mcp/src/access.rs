//! Who may reach `/mcp` besides holding a token: the `Host` and `Origin` checks, answered in
//! the JSON error shape (403 `FORBIDDEN_HOST`, `FORBIDDEN_ORIGIN`) before the bearer check.
//!
//! - Origin (MCP 2025-11-25, Streamable HTTP: servers MUST validate the Origin header; a
//!   present, invalid one gets 403). Browsers send `Origin` with every cross-origin POST, so a
//!   page on another site (or a DNS-rebinding page) is refused; programs such as todo-api send
//!   none and are not affected. Origins compare as RFC 6454 tuples (scheme, host, port, the
//!   port defaulting to the scheme's), case-insensitively.
//! - Host (`MCP_ALLOWED_HOSTS`, when set): DNS rebinding protection. An entry without a port
//!   matches any port; with one, only that port.
//!
//! rmcp's transport checks both too, with the same lists (a backstop: these checks are at
//! least as strict, so its plain-text 403 is never what a client sees).
//!
//! The transport's own refusals (broken JSON, a message that is not JSON-RPC, a wrong
//! `Accept`, `Content-Type` or `MCP-Protocol-Version`, GET/DELETE, an oversized body) come out
//! of rmcp as `text/plain`, and broken JSON as a 415. [`jsonrpc_refusal`] rewrites each into a
//! JSON-RPC error object with `"id": null`, as the TypeScript SDK's server answers them, so a
//! client's JSON-RPC layer can read the reason: broken JSON is a 400 with -32700, a body that
//! is not a JSON-RPC request a 400 with -32600, the HTTP-level refusals keep their status with
//! -32000.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use service_kit::ApiError;
use std::collections::HashSet;
use std::sync::Arc;

/// `scheme://host:port`, lower-cased, the port explicit (80 for http, 443 for https), or
/// `None` when `raw` is not an origin (no scheme or host, or a path, query or user info).
pub fn normalise(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    let uri: axum::http::Uri = raw.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || uri.query().is_some() {
        return None;
    }
    if !matches!(uri.path(), "" | "/") || raw.ends_with('/') {
        return None;
    }
    let host = authority.host().to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    let port = authority.port_u16().or(match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    Some(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// Reads `MCP_ALLOWED_ORIGINS` (comma-separated), normalised; the error says what is wrong.
pub fn parse_list(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let origin = normalise(entry).ok_or_else(|| {
            format!(
                "{entry:?} is not an origin; list origins as scheme://host[:port] separated by \
                 commas, e.g. https://todo.example.com,http://localhost:3000"
            )
        })?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

/// `host[:port]` of a Host header or an allow-list entry: the host lower-cased, IPv6
/// brackets dropped.
pub fn authority(raw: &str) -> Option<HostPort> {
    let authority: axum::http::uri::Authority = raw.trim().parse().ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    let host = authority
        .host()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    Some((host, authority.port_u16()))
}

/// Reads `MCP_ALLOWED_HOSTS` (comma-separated `host` or `host:port`).
pub fn parse_hosts(raw: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if authority(entry).is_none() {
            return Err(format!(
                "{entry:?} is not a host; list host names or host:port separated by commas, \
                 e.g. todo.example.com,todo-mcp:8080"
            ));
        }
        if !out.iter().any(|o| o == entry) {
            out.push(entry.to_owned());
        }
    }
    Ok(out)
}

/// A host (lower-case, no IPv6 brackets) and its port, if one is given.
type HostPort = (String, Option<u16>);

/// Who may reach `/mcp`; see [`crate::Access`] for the configuration.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// `None`: any Host.
    hosts: Option<Arc<Vec<HostPort>>>,
    origins: Arc<HashSet<String>>,
}

impl Gate {
    /// Entries are normalised here, so raw ones work too; malformed ones match nothing.
    pub fn new(allowed_hosts: Option<&[String]>, allowed_origins: &[String]) -> Gate {
        Gate {
            hosts: allowed_hosts
                .map(|hosts| Arc::new(hosts.iter().filter_map(|h| authority(h)).collect())),
            origins: Arc::new(
                allowed_origins
                    .iter()
                    .filter_map(|o| normalise(o))
                    .collect(),
            ),
        }
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        normalise(origin).is_some_and(|o| self.origins.contains(&o))
    }

    pub fn allows_host(&self, host: Option<&str>) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let Some((host, port)) = host.and_then(authority) else {
            return false;
        };
        hosts
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port))
    }
}

/// Refuses a request for a Host that is not allowed, or whose `Origin` header is present and
/// not allowed (403, JSON error).
pub async fn require_allowed(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    if !gate.allows_host(host.as_deref()) {
        let host = host.unwrap_or_default();
        tracing::warn!(%host, "refused a request for a host that is not allowed");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN_HOST",
            format!(
                "requests for host {host:?} are not allowed (DNS rebinding protection); if \
                 clients reach this MCP server by that name, add it to MCP_ALLOWED_HOSTS \
                 (comma-separated host or host:port)"
            ),
        )
        .into_response();
    }
    let refused = req
        .headers()
        .get_all(ORIGIN)
        .iter()
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .find(|v| !gate.allows_origin(v));
    match refused {
        None => jsonrpc_refusal(next.run(req).await).await,
        Some(origin) => {
            tracing::warn!(%origin, "refused a request from a browser origin that is not allowed");
            ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN_ORIGIN",
                format!(
                    "requests from origin {origin:?} are not allowed; to let a browser app at \
                     that origin call this MCP server, add the origin to MCP_ALLOWED_ORIGINS \
                     (comma-separated, e.g. https://todo.example.com)"
                ),
            )
            .into_response()
        }
    }
}

/// JSON-RPC 2.0 "Parse error" and "Invalid Request"; -32000 is the implementation-defined
/// server error the TypeScript SDK uses for transport refusals.
const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;
const TRANSPORT_ERROR: i32 = -32000;

/// A 4xx that is not JSON (rmcp's plain-text refusals) becomes a JSON-RPC error object; every
/// other response passes unchanged (JSON and SSE answers, 202 for notifications).
pub async fn jsonrpc_refusal(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    if !status.is_client_error() || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // rmcp's refusal texts are one line; anything longer is cut, not buffered.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let (status, code, message) = refusal(status, &text);
    parts.status = status;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// The status, JSON-RPC code and message for one of rmcp's plain-text refusals.
fn refusal(status: StatusCode, text: &str) -> (StatusCode, i32, String) {
    const UNREADABLE: &str = "fail to deserialize request body";
    if let Some(detail) = text.strip_prefix(UNREADABLE) {
        let detail = detail.trim();
        let detail = detail.find(" at line ").map_or(detail, |i| &detail[..i]);
        return if detail.starts_with("unrecognized JSON-RPC message") {
            (
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "the body is JSON but not one JSON-RPC 2.0 request, notification or response \
                 (batches are not supported): send an object with \"jsonrpc\": \"2.0\", a \
                 string \"method\" and, for a request, a string or number \"id\""
                    .to_owned(),
            )
        } else {
            (
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                format!("the body is not valid JSON ({detail}); send one JSON-RPC 2.0 message"),
            )
        };
    }
    let message = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            "this stateless MCP server takes POST only (no GET event stream, no DELETE of a \
             session)"
                .to_owned()
        }
        (StatusCode::PAYLOAD_TOO_LARGE, _) => {
            "the request body is too large (limit 64 KiB)".to_owned()
        }
        (_, true) => format!(
            "the request was refused ({status}); see the MCP Streamable HTTP transport for the \
             headers a POST needs"
        ),
        (_, false) => text.to_owned(),
    };
    (status, TRANSPORT_ERROR, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_refusals_become_jsonrpc_errors() {
        let (status, code, message) = refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "fail to deserialize request body EOF while parsing a value at line 1 column 17",
        );
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, PARSE_ERROR));
        assert!(message.contains("EOF while parsing a value"), "{message}");
        assert!(!message.contains("line 1"), "{message}");
        let (status, code, _) = refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "fail to deserialize request body unrecognized JSON-RPC message",
        );
        assert_eq!((status, code), (StatusCode::BAD_REQUEST, INVALID_REQUEST));
        let (status, code, message) = refusal(
            StatusCode::NOT_ACCEPTABLE,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        );
        assert_eq!(
            (status, code),
            (StatusCode::NOT_ACCEPTABLE, TRANSPORT_ERROR)
        );
        assert!(message.contains("text/event-stream"), "{message}");
        let (_, _, message) = refusal(StatusCode::BAD_REQUEST, "");
        assert!(message.contains("400"), "{message}");
    }

    #[test]
    fn origins_compare_as_scheme_host_port() {
        assert_eq!(
            normalise("https://Todo.Example.com").as_deref(),
            Some("https://todo.example.com:443")
        );
        assert_eq!(
            normalise("http://localhost:3000/").as_deref(),
            Some("http://localhost:3000")
        );
        for bad in [
            "todo.example.com",
            "https://x.io/path",
            "https://u@x.io",
            "null",
            "",
        ] {
            assert_eq!(normalise(bad), None, "{bad}");
        }
        let o = Gate::new(
            None,
            &parse_list(" https://a.io, http://localhost:3000 ,").unwrap_or_default(),
        );
        assert!(o.allows_origin("https://a.io"));
        assert!(o.allows_origin("https://a.io:443"));
        assert!(!o.allows_origin("http://a.io"), "another scheme");
        assert!(!o.allows_origin("https://a.io:8443"), "another port");
        assert!(!o.allows_origin("https://evil.a.io"));
        assert!(!o.allows_origin("null"));
        assert!(o.allows_origin("http://LOCALHOST:3000"));
        assert!(o.allows_host(Some("anything:1")), "no host list: any host");
        assert!(parse_list("https://a.io,not an origin").is_err());
    }

    #[test]
    fn hosts_match_with_or_without_a_port() {
        let hosts = parse_hosts("todo.example.com, todo-mcp:8080,[::1]").unwrap_or_default();
        let g = Gate::new(Some(&hosts), &[]);
        assert!(g.allows_host(Some("todo.example.com")));
        assert!(
            g.allows_host(Some("TODO.example.com:443")),
            "no port: any port"
        );
        assert!(g.allows_host(Some("todo-mcp:8080")));
        assert!(
            !g.allows_host(Some("todo-mcp:9090")),
            "a port: only that port"
        );
        assert!(!g.allows_host(Some("todo-mcp")));
        assert!(g.allows_host(Some("[::1]:8080")));
        assert!(!g.allows_host(Some("evil.example")));
        assert!(!g.allows_host(None));
        assert!(parse_hosts("ok.example, http://x").is_err());
    }
}
