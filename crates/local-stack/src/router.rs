//! One local address routed like the chart's Ingress: `/api` and `/api/...` to todo-api,
//! `/mcp` and `/mcp/...` to todo-mcp, everything else to todo-web. OAuth (MCP Authorization
//! 2025-11-25): `/.well-known/oauth-protected-resource[/...]` (RFC 9728) to todo-mcp, the
//! resource server; `/.well-known/oauth-authorization-server[/...]` (RFC 8414),
//! `/.well-known/openid-configuration` and `/oauth/...` to todo-api, the authorization server.
//!
//! A small reverse proxy: bodies stream both ways (MCP may answer with an SSE stream), method,
//! headers and status pass through, hop-by-hop headers are dropped and `X-Forwarded-For`,
//! `-Proto` and `-Host` are added the way ingress-nginx does. The original `Host` is kept, as
//! ingress-nginx keeps it. When a service is absent or not answering, the router answers 502
//! itself (JSON in the API's error shape, or an HTML page for browsers) naming the service,
//! so "todo-web is not running" is a message, not a hang. Protocol upgrades (WebSocket) are
//! not proxied: no service uses them.

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Which service a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Api,
    Mcp,
    Web,
}

impl Backend {
    pub fn service(self) -> &'static str {
        match self {
            Backend::Api => "todo-api",
            Backend::Mcp => "todo-mcp",
            Backend::Web => "todo-web",
        }
    }
}

/// The Ingress rules (`pathType: Prefix`): a prefix matches whole path segments, so `/api`
/// and `/api/tasks` go to the api but `/apix` goes to the web.
pub fn route(path: &str) -> Backend {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/api")
        || under("/oauth")
        || under("/.well-known/oauth-authorization-server")
        || under("/.well-known/openid-configuration")
    {
        Backend::Api
    } else if under("/mcp") || under("/.well-known/oauth-protected-resource") {
        Backend::Mcp
    } else {
        Backend::Web
    }
}

/// Base URLs (`http://127.0.0.1:PORT`) of the services behind the router. No web means the
/// stack runs without todo-web: `/` then answers 502 saying so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstreams {
    pub api: String,
    pub mcp: String,
    pub web: Option<String>,
}

impl Upstreams {
    fn base(&self, backend: Backend) -> Option<&str> {
        match backend {
            Backend::Api => Some(self.api.as_str()),
            Backend::Mcp => Some(self.mcp.as_str()),
            Backend::Web => self.web.as_deref(),
        }
        .map(|b| b.trim_end_matches('/'))
    }
}

/// The running router; [`RouterHandle::stop`] (or dropping it) stops it.
pub struct RouterHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RouterHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (at most 5 s), then returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

impl Drop for RouterHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` (port 0: any free port) and serves the router there.
pub async fn start(addr: SocketAddr, upstreams: Upstreams) -> Result<RouterHandle> {
    let listener = TcpListener::bind(addr).await.with_context(|| {
        format!("binding the router to {addr}: is the port in use? pick another with --port")
    })?;
    serve(listener, upstreams)
}

/// Serves the router on an already bound listener.
pub fn serve(listener: TcpListener, upstreams: Upstreams) -> Result<RouterHandle> {
    let addr = listener.local_addr()?;
    let mut connector = HttpConnector::new();
    // A stopped service refuses at once on loopback; a wedged one must not hang the browser.
    connector.set_connect_timeout(Some(Duration::from_secs(3)));
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let app = Router::new()
        .fallback(proxy)
        .with_state(Arc::new(Shared { upstreams, client }));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            eprintln!("router on {addr} stopped: {e}");
        }
    });
    Ok(RouterHandle {
        addr,
        shutdown: Some(tx),
        task,
    })
}

struct Shared {
    upstreams: Upstreams,
    client: Client<HttpConnector, Body>,
}

/// Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers named in `Connection` are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Adds the `X-Forwarded-*` headers: the client address appended to any existing
/// `X-Forwarded-For` (the services walk it from the right, believing it only because the
/// stack lists this router's loopback address in their `TRUSTED_PROXIES`), the scheme (`http`:
/// the router does not terminate TLS) and the host the client asked for, replacing whatever
/// the client sent as `X-Forwarded-Host`.
pub fn add_forwarded(headers: &mut HeaderMap, peer: SocketAddr, host: Option<&HeaderValue>) {
    let ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(existing) if !existing.trim().is_empty() => format!("{existing}, {ip}"),
        _ => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    match host {
        Some(host) => headers.insert("x-forwarded-host", host.clone()),
        // Never pass on a value the client wrote: the services believe this router.
        None => headers.remove("x-forwarded-host"),
    };
}

async fn proxy(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let backend = route(request.uri().path());
    let wants_html = wants_html(request.headers());
    let Some(base) = shared.upstreams.base(backend) else {
        return bad_gateway(
            backend,
            wants_html,
            &format!(
                "{} is not running: this stack was started without it (build it with \
                 `cargo build -p {}` and restart `cargo xtask dev` without --no-web)",
                backend.service(),
                backend.service()
            ),
        );
    };
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let target: Uri = match format!("{base}{path_and_query}").parse() {
        Ok(uri) => uri,
        Err(e) => {
            return bad_gateway(
                backend,
                wants_html,
                &format!("cannot build the upstream URL from {base}{path_and_query}: {e}"),
            );
        }
    };
    // HTTP/2 clients send the host as :authority, not as a Host header.
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded(&mut parts.headers, peer, host.as_ref());
    if let Some(host) = &host {
        parts.headers.insert(header::HOST, host.clone());
    }
    parts.uri = target;
    parts.version = Version::HTTP_11;
    match shared
        .client
        .request(Request::from_parts(parts, body))
        .await
    {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => bad_gateway(
            backend,
            wants_html,
            &format!(
                "{} is not answering at {base}: {}",
                backend.service(),
                error_chain(&error)
            ),
        ),
    }
}

/// The innermost causes say what happened ("Connection refused"); the outer ones are generic.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

fn bad_gateway(backend: Backend, html: bool, message: &str) -> Response {
    let mut response = if html {
        let escaped = message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        axum::response::Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>502: {service} unavailable</title></head>\
             <body><h1>502: {service} is unavailable</h1><p>{escaped}</p>\
             <p>The dev router routes <code>/api</code> to todo-api, <code>/mcp</code> to todo-mcp \
             and everything else to todo-web.</p></body></html>",
            service = backend.service()
        ))
        .into_response()
    } else {
        axum::Json(serde_json::json!({
            "error": { "code": "BAD_GATEWAY", "message": message, "service": backend.service() }
        }))
        .into_response()
    };
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_like_the_ingress_prefix_rules() {
        for (path, backend) in [
            ("/api", Backend::Api),
            ("/api/", Backend::Api),
            ("/api/tasks/3/complete", Backend::Api),
            ("/apix", Backend::Web),
            ("/mcp", Backend::Mcp),
            ("/mcp/", Backend::Mcp),
            ("/mcpx", Backend::Web),
            ("/", Backend::Web),
            ("/health", Backend::Web),
            ("/login", Backend::Web),
            ("/static/app.css", Backend::Web),
            ("/x/api", Backend::Web),
            ("/.well-known/oauth-protected-resource", Backend::Mcp),
            ("/.well-known/oauth-protected-resource/mcp", Backend::Mcp),
            ("/.well-known/oauth-authorization-server", Backend::Api),
            ("/.well-known/oauth-authorization-server/mcp", Backend::Api),
            ("/.well-known/openid-configuration", Backend::Api),
            ("/oauth/authorize", Backend::Api),
            ("/oauth/token", Backend::Api),
            ("/oauthx", Backend::Web),
            ("/.well-known/security.txt", Backend::Web),
        ] {
            assert_eq!(route(path), backend, "{path}");
        }
    }

    #[test]
    fn hop_by_hop_headers_are_dropped_and_forwarded_ones_added() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "connection",
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        headers.insert("x-kept", HeaderValue::from_static("yes"));
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        strip_hop_by_hop(&mut headers);
        let peer: SocketAddr = ([127, 0, 0, 1], 5000).into();
        add_forwarded(
            &mut headers,
            peer,
            Some(&HeaderValue::from_static("todo.local:8080")),
        );
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(get("connection"), None);
        assert_eq!(get("x-secret-hop"), None);
        assert_eq!(get("transfer-encoding"), None);
        assert_eq!(get("x-kept"), Some("yes"));
        assert_eq!(get("x-forwarded-for"), Some("203.0.113.7, 127.0.0.1"));
        assert_eq!(get("x-forwarded-proto"), Some("http"));
        assert_eq!(get("x-forwarded-host"), Some("todo.local:8080"));
    }

    #[test]
    fn a_client_sent_forwarded_host_never_passes() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        add_forwarded(&mut headers, ([127, 0, 0, 1], 5000).into(), None);
        assert!(headers.get("x-forwarded-host").is_none());
    }
}
