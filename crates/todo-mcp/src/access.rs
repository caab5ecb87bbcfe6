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

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{HOST, ORIGIN};
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
        None => next.run(req).await,
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

#[cfg(test)]
mod tests {
    use super::*;

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
