//! todo-mcp as an OAuth 2.1 resource server (MCP Authorization, revision 2025-11-25).
//!
//! - Protected Resource Metadata (RFC 9728) at `/.well-known/oauth-protected-resource/mcp`
//!   (the path-suffixed URL RFC 9728 §3.1 derives from the resource) and at
//!   `/.well-known/oauth-protected-resource` (clients of the 2025-06-18 revision probe the
//!   root). Public, no credentials, so any origin may read it (`Access-Control-Allow-Origin:
//!   *`).
//! - Bearer challenges (RFC 6750 §3, RFC 9728 §5.1): every 401 names the metadata URL in
//!   `resource_metadata` and the scopes in `scope`; a presented but bad token adds
//!   `error="invalid_token"` (a request with no credentials gets no error code, as RFC 6750
//!   §3.1 asks). A token lacking a tool's scope gets 403 `error="insufficient_scope"` with the
//!   scope needed (MCP 2025-11-25, "Scope Challenge Handling").
//! - Audience (RFC 8707): an OAuth access token is accepted only when its `aud` is this
//!   server's canonical URL (`MCP_PUBLIC_URL`).
//! - todo-api sign-in tokens: todo-api's chat agent forwards the signed-in user's token to
//!   todo-mcp, and the Inspector/SDK interop clients paste one, so they are accepted by
//!   default, with both scopes. `MCP_ACCEPT_SESSION_TOKENS=false` refuses them (a deployment
//!   where only OAuth clients talk to todo-mcp).
//! - CORS for browser MCP clients: a preflight from an origin in `MCP_ALLOWED_ORIGINS` is
//!   answered (the Origin gate in [`crate::access`] refuses the others first), and responses
//!   to such an origin expose `Mcp-Session-Id`, `Mcp-Protocol-Version` and `WWW-Authenticate`.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, AUTHORIZATION, ORIGIN};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use service_kit::{ApiError, ConfigError, Env};
use std::sync::Arc;
use todo_auth::Tokens;
use todo_oauth::{AccessError, AccessTokens, Scope, Scopes};
use todo_store::Store;
use todo_store::sessions::TokenCheck;
use uuid::Uuid;

use crate::Caller;

/// The resource-server settings, read apart from [`crate::Config`] (whose struct literals in
/// other crates' tests then need no new field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSettings {
    /// `MCP_PUBLIC_URL`: the canonical URL clients use for `/mcp`, the `resource` and token
    /// audience. Default `MCP_URL` if set (as todo-api defaults), else
    /// `http://localhost:$PORT/mcp` (a server reached directly on this machine); behind an
    /// ingress set it to `https://HOST/mcp`.
    pub public_url: String,
    /// `MCP_AUTHORIZATION_SERVERS`: issuer URLs of the authorization servers (comma-separated).
    /// Default: the public URL's origin (todo-api serves OAuth on the same host).
    pub authorization_servers: Vec<String>,
    /// `MCP_ACCEPT_SESSION_TOKENS` (default `true`): accept todo-api sign-in tokens too.
    pub accept_session_tokens: bool,
}

impl ResourceSettings {
    pub fn from_env(env: &Env) -> Result<ResourceSettings, ConfigError> {
        let port: u16 = env.port()?;
        // MCP_URL next (todo-api's default too, so the two agree when neither is told).
        let raw = env
            .optional("MCP_PUBLIC_URL")
            .or_else(|| env.optional("MCP_URL"))
            .unwrap_or_else(|| format!("http://localhost:{port}/mcp"));
        let bad = |variable: &str, message: String| ConfigError {
            variable: variable.into(),
            message,
        };
        let public_url =
            todo_oauth::resource::canonical(&raw).map_err(|m| bad("MCP_PUBLIC_URL", m))?;
        let authorization_servers = match env.optional("MCP_AUTHORIZATION_SERVERS") {
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(todo_oauth::resource::canonical)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| bad("MCP_AUTHORIZATION_SERVERS", m))?,
            None => todo_oauth::resource::origin(&public_url)
                .into_iter()
                .collect(),
        };
        let accept_session_tokens =
            env.parse_or("MCP_ACCEPT_SESSION_TOKENS", true, "true or false")?;
        Ok(ResourceSettings {
            public_url,
            authorization_servers,
            accept_session_tokens,
        })
    }

    /// Settings for a server whose public URL is `public_url` (tests).
    pub fn for_url(public_url: &str) -> ResourceSettings {
        let public_url =
            todo_oauth::resource::canonical(public_url).unwrap_or_else(|_| public_url.to_owned());
        ResourceSettings {
            authorization_servers: todo_oauth::resource::origin(&public_url)
                .into_iter()
                .collect(),
            public_url,
            accept_session_tokens: true,
        }
    }
}

/// What the bearer middleware needs; cheap to clone.
#[derive(Clone)]
pub struct ResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ResourceSettings,
    metadata_url: String,
    access: AccessTokens,
    tokens: Tokens,
    store: Store,
}

/// The verified caller and what it may do.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Uuid,
    pub scopes: Scopes,
}

impl ResourceServer {
    pub fn new(
        settings: ResourceSettings,
        jwt_secret: &str,
        tokens: Tokens,
        store: Store,
    ) -> ResourceServer {
        let metadata_url =
            todo_oauth::resource::metadata_url(&settings.public_url).unwrap_or_else(|| {
                format!(
                    "{}/.well-known/oauth-protected-resource",
                    settings.public_url
                )
            });
        ResourceServer {
            inner: Arc::new(Inner {
                settings,
                metadata_url,
                access: AccessTokens::new(jwt_secret),
                tokens,
                store,
            }),
        }
    }

    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_url
    }

    /// The RFC 9728 document.
    pub fn metadata(&self) -> serde_json::Value {
        let s = &self.inner.settings;
        serde_json::json!({
            "resource": s.public_url,
            "authorization_servers": s.authorization_servers,
            "scopes_supported": Scope::ALL.map(Scope::as_str),
            "bearer_methods_supported": ["header"],
            "resource_name": "todo-chatbot tasks (MCP)",
        })
    }

    /// A 401 with the challenge; `error` is `None` when no credentials were sent.
    fn unauthorized(&self, error: Option<&str>, message: &str) -> Response {
        let mut challenge = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            self.inner.metadata_url,
            Scopes::all()
        );
        if let Some(error) = error {
            challenge.push_str(&format!(
                ", error=\"{error}\", error_description=\"{}\"",
                quoted(message)
            ));
        }
        let mut response = ApiError::unauthorized(message).into_response();
        set_challenge(&mut response, &challenge);
        response
    }

    fn insufficient_scope(&self, needed: Scope, tool: &str) -> Response {
        let message = format!(
            "the access token lacks scope {} needed by tool {tool}; authorize again asking for \
             it",
            needed.as_str()
        );
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", \
             error_description=\"{}\"",
            needed.as_str(),
            self.inner.metadata_url,
            quoted(&message)
        );
        let mut response =
            ApiError::new(StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE", message).into_response();
        set_challenge(&mut response, &challenge);
        response
    }

    /// Who is calling, or the response refusing the request.
    async fn authenticate(&self, header: Option<&str>) -> Result<Principal, Response> {
        let Some(header) = header else {
            return Err(self.unauthorized(
                None,
                "missing bearer token: send `Authorization: Bearer <access token>`; get one \
                 with OAuth starting from the resource_metadata URL in WWW-Authenticate",
            ));
        };
        // RFC 9110 §11.1: the scheme is case-insensitive.
        let token = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => "",
        };
        if token.is_empty() {
            return Err(self.unauthorized(
                Some("invalid_request"),
                "the Authorization header must be `Bearer <token>`",
            ));
        }
        match self
            .inner
            .access
            .verify(token, &self.inner.settings.public_url)
        {
            Ok(claims) => {
                self.live(claims.sub, claims.ver, claims.gid).await?;
                let scopes = Scopes::parse(&claims.scope).unwrap_or_default();
                Ok(Principal {
                    user: claims.sub,
                    scopes,
                })
            }
            Err(AccessError::SessionToken) if self.inner.settings.accept_session_tokens => {
                let normalised = format!("Bearer {token}");
                match todo_auth::authenticate(
                    &self.inner.tokens,
                    &self.inner.store,
                    Some(&normalised),
                )
                .await
                {
                    Ok(user) => Ok(Principal {
                        user: user.id,
                        scopes: Scopes::all(),
                    }),
                    Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                        Err(self.unauthorized(Some("invalid_token"), &e.message))
                    }
                    Err(e) => Err(e.into_response()),
                }
            }
            Err(e) => Err(self.unauthorized(Some("invalid_token"), &e.to_string())),
        }
    }

    /// The user still exists, the token's version is current (a password change or "sign out
    /// everywhere" bumps it) and its grant is not revoked (disconnected, revoked per RFC 7009,
    /// or a reused code or refresh token): the same one indexed lookup as for sign-in tokens,
    /// since a grant is a session.
    async fn live(&self, user: Uuid, version: i32, grant: Uuid) -> Result<(), Response> {
        match self
            .inner
            .store
            .sessions()
            .check_token(user, version, Some(grant))
            .await
        {
            Ok(TokenCheck::Live) => Ok(()),
            Ok(TokenCheck::Revoked) => Err(self.unauthorized(
                Some("invalid_token"),
                "the access token was revoked (the app was disconnected, the password \
                 changed, or its grant was revoked); authorize again",
            )),
            Ok(TokenCheck::NoAccount) => {
                Err(self.unauthorized(Some("invalid_token"), "this account no longer exists"))
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable while checking a token");
                Err(
                    ApiError::unavailable("the database is unavailable; try again shortly")
                        .into_response(),
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "checking a token failed");
                Err(ApiError::internal().into_response())
            }
        }
    }
}

/// A value inside a quoted-string: no `"` or `\` (RFC 6750 §3 limits error_description to
/// printable ASCII without them).
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

fn set_challenge(response: &mut Response, challenge: &str) {
    if let Ok(v) = HeaderValue::from_str(challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
}

/// The largest body read to find a tool's name; rmcp refuses larger ones anyway.
const MAX_BODY: usize = 64 * 1024;

/// Authenticates an `/mcp` request and, for a token without every scope, checks the scope of
/// a `tools/call`.
pub async fn require_token(
    State(rs): State<ResourceServer>,
    mut req: Request,
    next: Next,
) -> Response {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let principal = match rs.authenticate(header.as_deref()).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    req.extensions_mut().insert(Caller(principal.user));
    if Scope::ALL.iter().all(|s| principal.scopes.contains(*s)) {
        return next.run(req).await;
    }
    // Only a narrowed token pays for reading the body up front.
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "the request body is too large (limit 64 KiB)",
            )
            .into_response();
        }
    };
    if let Some(tool) = called_tool(&bytes)
        && let Some(needed) = Scope::for_tool(&tool)
        && !principal.scopes.contains(needed)
    {
        return rs.insufficient_scope(needed, &tool);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The tool a JSON-RPC `tools/call` names; `None` for anything else (rmcp judges those).
/// Read as a `serde_json::Value`, whose objects keep the last of duplicate keys: a body
/// naming `list_tasks` and then `add_task` is judged as `add_task`, whichever way rmcp reads
/// duplicates (last wins, or refused), so a narrowed token cannot smuggle a write past this
/// check.
fn called_tool(body: &[u8]) -> Option<String> {
    let call: serde_json::Value = serde_json::from_slice(body).ok()?;
    if call.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    Some(call.get("params")?.get("name")?.as_str()?.to_owned())
}

const ALLOWED_HEADERS: &str =
    "authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id";
const EXPOSED_HEADERS: &str = "mcp-session-id, mcp-protocol-version, www-authenticate";

/// CORS for `/mcp`, inside the Origin gate: any `Origin` that reaches this layer is allowed.
/// A preflight (OPTIONS with `Access-Control-Request-Method`) is answered here, before the
/// bearer check (browsers send no credentials on a preflight).
pub async fn cors(req: Request, next: Next) -> Response {
    let origin = req.headers().get(ORIGIN).cloned();
    let Some(origin) = origin else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, DELETE, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// The two metadata routes, readable from any origin.
pub fn metadata_routes(rs: ResourceServer) -> Router {
    async fn serve(State(rs): State<ResourceServer>) -> Response {
        let mut r = Json(rs.metadata()).into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        r
    }
    async fn preflight() -> Response {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("mcp-protocol-version"),
        );
        r
    }
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(serve).options(preflight),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(serve).options(preflight),
        )
        .with_state(rs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_read_from_tools_call_only() {
        let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task","arguments":{}}}"#;
        assert_eq!(called_tool(call).as_deref(), Some("add_task"));
        assert_eq!(
            called_tool(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            None
        );
        assert_eq!(called_tool(b"not json"), None);
        let smuggled = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tasks","name":"add_task"}}"#;
        assert_eq!(called_tool(smuggled).as_deref(), Some("add_task"));
        let escaped =
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"add\u005ftask"}}"#;
        assert_eq!(called_tool(escaped).as_deref(), Some("add_task"));
        assert_eq!(quoted("a \"b\" \\ c\n"), "a b  c");
    }

    #[test]
    fn settings_default_to_localhost_and_validate_urls() {
        let s = ResourceSettings::from_env(&Env::from_pairs([("PORT", "9000")]));
        assert_eq!(
            s.as_ref().map(|s| (
                s.public_url.as_str(),
                s.authorization_servers.clone(),
                s.accept_session_tokens
            )),
            Ok((
                "http://localhost:9000/mcp",
                vec!["http://localhost:9000".to_owned()],
                true
            ))
        );
        let s = ResourceSettings::from_env(&Env::from_pairs([
            ("MCP_PUBLIC_URL", "https://Todo.example.com/mcp"),
            ("MCP_AUTHORIZATION_SERVERS", "https://auth.example.com"),
            ("MCP_ACCEPT_SESSION_TOKENS", "false"),
        ]));
        assert_eq!(
            s.as_ref().map(|s| (
                s.public_url.as_str(),
                s.authorization_servers.clone(),
                s.accept_session_tokens
            )),
            Ok((
                "https://todo.example.com/mcp",
                vec!["https://auth.example.com".to_owned()],
                false
            ))
        );
        let bad = ResourceSettings::from_env(&Env::from_pairs([("MCP_PUBLIC_URL", "todo/mcp")]));
        assert!(bad.is_err_and(|e| e.variable == "MCP_PUBLIC_URL"));
    }
}
