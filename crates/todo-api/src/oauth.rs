//! todo-api as the OAuth 2.1 authorization server of todo-mcp (MCP Authorization, revision
//! 2025-11-25). The rules live in `todo-oauth` (PKCE, redirect matching, scopes, the token
//! endpoint's checks, the access token); the state in PostgreSQL (`todo_store::oauth`, grants
//! being sign-in sessions), so any replica serves any step.
//!
//! - `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
//! - `GET /.well-known/openid-configuration`: 404 with a JSON body pointing at the RFC 8414
//!   document. MCP 2025-11-25 has clients try both, and asks servers for at least one; this
//!   server is no OpenID Provider (no ID tokens, no UserInfo, no JWKS: OpenID Connect
//!   Discovery 1.0 §3 requires `jwks_uri` and the ID token algorithms), so publishing the
//!   document would be a false claim.
//! - `POST /oauth/register`: RFC 7591 dynamic registration of public clients (no secret;
//!   `token_endpoint_auth_method` `none`), redirect URIs checked as OAuth 2.1 asks.
//! - Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00): a
//!   `client_id` that is an https URL is fetched ([`todo_oauth::metadata_fetch`]: size, time,
//!   no redirects, JSON, `client_id` equal to the URL, SSRF guard after DNS resolution) the
//!   first time it is seen and again once its cache lifetime ends; the cached copy is a row of
//!   `oauth_clients`, so every replica shares it. Its redirect URIs are enforced like a
//!   registered client's.
//! - `GET /oauth/authorize`: checks the request (code flow, PKCE S256, a registered redirect
//!   URI, `resource` = todo-mcp's URL, scopes) and sends the browser to todo-web's consent
//!   page ([`todo_oauth::CONSENT_PATH`], same query). Errors before the redirect URI is
//!   known-good are a 400 JSON here, never a redirect (RFC 6749 §4.1.2.1).
//! - `GET /oauth/consent` and `POST /oauth/consent`, with the signed-in user's bearer token:
//!   what todo-web's consent page shows (client, scopes), and the decision, answered with the
//!   URL to send the browser to (`code`, `state`, `iss` per RFC 9207, or `error=access_denied`).
//! - `POST /oauth/token`: `authorization_code` and `refresh_token` (rotation; reuse revokes
//!   the grant), answering audience-bound, scoped access tokens ([`todo_oauth::access`]).
//! - `POST /oauth/revoke`: RFC 7009, for refresh and access tokens; revokes the grant.
//! - `GET /api/oauth/grants`, `DELETE /api/oauth/grants/{id}` (in the OpenAPI table): the
//!   signed-in user's connected apps, and disconnecting one (every grant of that client to
//!   that user revoked: its access tokens get 401 at todo-mcp, its refresh tokens
//!   `invalid_grant`).
//!
//! Settings: `MCP_PUBLIC_URL` (the one resource; default `MCP_URL`), `OAUTH_ISSUER`
//! (default the resource's origin: todo-api behind the same ingress host) and
//! `OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK` (default `false`; tests only: lets metadata
//! documents be fetched over http from loopback).

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, LOCATION, PRAGMA};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use service_kit::{ApiError, ConfigError, Env};
use std::collections::HashMap;
use std::net::SocketAddr;
use todo_auth::AuthUser;
use todo_oauth::access::Grant;
use todo_oauth::apps::{ConnectedApp, ConnectedApps};
use todo_oauth::client_metadata::{self, FetchPolicy};
use todo_oauth::grant::{self, Exchange, IssuedCode, OAuthError};
use todo_oauth::metadata_fetch::Fetcher;
use todo_oauth::{AccessTokens, Scope, Scopes, pkce, redirect};
use todo_store::oauth::{Client, CodeGrant, Redemption};
use todo_store::sessions::Rotation;

use crate::state::AppState;

/// Where the authorization server lives and what it issues tokens for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `OAUTH_ISSUER`: the issuer identifier and base of every endpoint URL.
    pub issuer: String,
    /// `MCP_PUBLIC_URL`: the only resource tokens are issued for.
    pub resource: String,
}

/// The limits of the client metadata document fetch, with `OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK`
/// (tests only). Not a [`Settings`] field, so the struct literals elsewhere need none:
/// [`Settings::from_env`] checks it (a bad value stops start-up) and [`Server::new`] reads it
/// from the process environment, as `REFRESH_TOKEN_TTL_SECONDS` is read.
pub fn client_metadata_policy(env: &Env) -> Result<FetchPolicy, ConfigError> {
    Ok(FetchPolicy {
        allow_loopback: env.parse_or(
            "OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK",
            false,
            "true or false (true only in tests: it allows http and loopback addresses)",
        )?,
        ..FetchPolicy::default()
    })
}

impl Settings {
    /// From the environment; `mcp_url` (`MCP_URL`) is the fallback resource.
    pub fn from_env(env: &Env, mcp_url: Option<&str>) -> Result<Settings, ConfigError> {
        let bad = |variable: &str, message: String| ConfigError {
            variable: variable.into(),
            message,
        };
        let raw = env
            .optional("MCP_PUBLIC_URL")
            .or_else(|| mcp_url.map(str::to_owned))
            .unwrap_or_else(|| "http://localhost:8080/mcp".to_owned());
        let resource =
            todo_oauth::resource::canonical(&raw).map_err(|m| bad("MCP_PUBLIC_URL", m))?;
        let issuer = match env.optional("OAUTH_ISSUER") {
            Some(v) => todo_oauth::resource::canonical(&v).map_err(|m| bad("OAUTH_ISSUER", m))?,
            None => todo_oauth::resource::origin(&resource).unwrap_or_default(),
        };
        client_metadata_policy(env)?;
        Ok(Settings { issuer, resource })
    }
}

/// The authorization server's settings and signing key, in [`AppState`].
#[derive(Clone)]
pub struct Server {
    pub issuer: String,
    pub resource: String,
    pub access: AccessTokens,
    /// The client metadata document fetcher, or why it could not be built (then URL client
    /// ids are refused with that reason).
    pub fetcher: Result<Fetcher, String>,
}

impl Server {
    pub fn new(settings: Settings, jwt_secret: &str) -> Server {
        let policy = client_metadata_policy(&Env::from_process()).unwrap_or_default();
        let fetcher = Fetcher::new(policy);
        if let Err(e) = &fetcher {
            tracing::error!(error = %e, "client metadata documents cannot be fetched");
        }
        Server {
            issuer: settings.issuer,
            resource: settings.resource,
            access: AccessTokens::new(jwt_secret),
            fetcher,
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }
}

/// The OAuth routes (outside `/api` and the OpenAPI document: their shapes are the RFCs').
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/.well-known/openid-configuration",
            get(no_openid_configuration),
        )
        .route("/oauth/register", post(register))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/consent", get(consent_preview).post(consent_decide))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

/// An OAuth error body with its status and `Cache-Control: no-store`.
fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    no_store(
        (
            status,
            Json(json!({"error": e.error, "error_description": e.description})),
        )
            .into_response(),
    )
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn store_failed(e: todo_store::StoreError) -> Response {
    if e.is_unavailable() {
        ApiError::unavailable("the database is unavailable; try again shortly").into_response()
    } else {
        tracing::error!(error = %e, "an OAuth database operation failed");
        ApiError::internal().into_response()
    }
}

async fn metadata(State(state): State<AppState>) -> Response {
    let s = &state.oauth;
    let mut r = Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": s.endpoint("/oauth/authorize"),
        "token_endpoint": s.endpoint("/oauth/token"),
        "registration_endpoint": s.endpoint("/oauth/register"),
        "revocation_endpoint": s.endpoint("/oauth/revoke"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": Scope::ALL.map(Scope::as_str),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": true,
    }))
    .into_response();
    r.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// OpenID Connect Discovery is not offered (see the module docs): a 404 whose body says where
/// the RFC 8414 metadata is, so a person reading a client's log knows what to fix.
async fn no_openid_configuration(State(state): State<AppState>) -> Response {
    let mut r = ApiError::not_found(
        "NOT_AN_OPENID_PROVIDER",
        format!(
            "this authorization server does not offer OpenID Connect; its OAuth 2.0 metadata \
             (RFC 8414) is at {}",
            state
                .oauth
                .endpoint("/.well-known/oauth-authorization-server")
        ),
    )
    .into_response();
    r.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// RFC 7591 §3.2.2 error body.
fn registration_error(error: &'static str, description: impl Into<String>) -> Response {
    oauth_error(OAuthError::new(error, description))
}

/// RFC 7591 registration is open to anyone, so it spends the same per-address budget as
/// account registration (`REGISTER_ATTEMPTS_PER_MINUTE`): a script cannot fill the client
/// table from one address.
async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let limits = &state.login_limiter;
    if let Err(secs) = limits.register.check(limits.client_ip(peer, &headers)) {
        let mut e = ApiError::too_many_requests(secs);
        e.message =
            format!("too many client registrations from this address; try again in {secs} s");
        return e.into_response();
    }
    let Ok(meta) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return registration_error(
            "invalid_client_metadata",
            "the body must be a JSON object of client metadata (RFC 7591 §2)",
        );
    };
    let checked = match client_metadata::check_metadata(&meta, "MCP client") {
        Ok(m) => m,
        Err(e) => return oauth_error(e),
    };
    let (name, redirect_uris) = (checked.client_name.as_str(), checked.redirect_uris);
    let client_id = uuid::Uuid::new_v4().to_string();
    if let Err(e) = state
        .store
        .oauth()
        .register_client(&client_id, name, &redirect_uris)
        .await
    {
        return store_failed(e);
    }
    tracing::info!(%client_id, client_name = name, "registered an OAuth client");
    no_store(
        (
            StatusCode::CREATED,
            Json(json!({
                "client_id": client_id,
                "client_id_issued_at": time::OffsetDateTime::now_utc().unix_timestamp(),
                "client_name": name,
                "redirect_uris": redirect_uris,
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            })),
        )
            .into_response(),
    )
}

/// The parameters of an authorization request (query of `/oauth/authorize`, repeated to
/// `/oauth/consent` by todo-web).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub state: Option<String>,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

/// A checked authorization request.
struct Checked {
    client_id: String,
    client_name: String,
    redirect_uri: String,
    code_challenge: String,
    state: Option<String>,
    scopes: Scopes,
    resource: String,
}

/// Why an authorization request failed: either the redirect URI cannot be trusted (answer
/// here) or the error goes back to the client through it.
enum Refusal {
    Here(Response),
    Redirect(String),
}

/// Why a client could not be looked up.
enum ClientLookup {
    /// Its metadata document could not be fetched or is not acceptable (the message says why).
    Document(String),
    /// Fetching it would exceed the address's registration budget: retry after these seconds.
    Limited(u64),
    Store(todo_store::StoreError),
}

/// A registered client, or the client a metadata document describes: the cached copy while
/// it is fresh, else fetched (and cached) now.
///
/// A fetch is a registration on the fly, so it spends the same per-address budget as
/// `/oauth/register` (`REGISTER_ATTEMPTS_PER_MINUTE`): one address cannot make this server
/// fetch an unbounded stream of URLs.
async fn find_client(
    state: &AppState,
    client_id: &str,
    fetcher_ip: Option<std::net::IpAddr>,
) -> Result<Option<Client>, ClientLookup> {
    let oauth = state.store.oauth();
    let cached = oauth.client(client_id).await.map_err(ClientLookup::Store)?;
    if !client_metadata::is_document_id(client_id) {
        return Ok(cached);
    }
    if let Some(c) = cached
        && !c.stale
    {
        return Ok(Some(c));
    }
    let fetcher = state
        .oauth
        .fetcher
        .as_ref()
        .map_err(|e| ClientLookup::Document(format!("client metadata documents are unavailable here ({e}); register the client at /oauth/register instead")))?;
    if let Some(ip) = fetcher_ip {
        state
            .login_limiter
            .register
            .check(ip)
            .map_err(ClientLookup::Limited)?;
    }
    let fetched = match fetcher.fetch(client_id).await {
        Ok(f) => f,
        Err(message) => {
            tracing::warn!(client_id, error = %message, "a client metadata document was refused");
            return Err(ClientLookup::Document(message));
        }
    };
    let m = fetched.metadata;
    oauth
        .cache_document_client(client_id, &m.client_name, &m.redirect_uris, fetched.ttl)
        .await
        .map_err(ClientLookup::Store)?;
    tracing::info!(client_id, client_name = %m.client_name, ttl_secs = fetched.ttl.as_secs(), "fetched a client metadata document");
    Ok(Some(Client {
        client_id: client_id.to_owned(),
        client_name: m.client_name,
        redirect_uris: m.redirect_uris,
        stale: false,
    }))
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", q.finish())
}

/// Checks an authorization request. `fetcher_ip` is the browser's address at
/// `/oauth/authorize`, whose registration budget a metadata document fetch spends (the
/// consent calls come from todo-web, by when the document is cached: `None`).
async fn check_authorize(
    state: &AppState,
    p: &AuthorizeParams,
    fetcher_ip: Option<std::net::IpAddr>,
) -> Result<Checked, Refusal> {
    let here = |field: &str, message: String| {
        Refusal::Here(
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_AUTHORIZATION_REQUEST",
                message,
            )
            .with_field(field)
            .into_response(),
        )
    };
    let Some(client_id) = p.client_id.as_deref() else {
        return Err(here("client_id", "client_id is required".into()));
    };
    let client = match find_client(state, client_id, fetcher_ip).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(here(
                "client_id",
                format!(
                    "unknown client_id {client_id:?}: register the client at /oauth/register \
                     first, or use the https URL of a client metadata document"
                ),
            ));
        }
        Err(ClientLookup::Document(message)) => return Err(here("client_id", message)),
        Err(ClientLookup::Limited(secs)) => {
            let mut e = ApiError::too_many_requests(secs);
            e.message = format!(
                "too many new client metadata documents from this address; try again in {secs} s"
            );
            return Err(Refusal::Here(e.into_response()));
        }
        Err(ClientLookup::Store(e)) => return Err(Refusal::Here(store_failed(e))),
    };
    let Some(presented) = p.redirect_uri.as_deref() else {
        return Err(here("redirect_uri", "redirect_uri is required".into()));
    };
    if redirect::find(&client.redirect_uris, presented).is_none() {
        return Err(here(
            "redirect_uri",
            format!(
                "redirect_uri {presented:?} is not registered for this client (exact match; \
                 only the port of an http loopback URI may differ)"
            ),
        ));
    }
    // From here on errors go back to the client (RFC 6749 §4.1.2.1), with its state and our
    // issuer (RFC 9207).
    let issuer = state.oauth.issuer.clone();
    let back = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(s) = p.state.as_deref() {
            pairs.push(("state", s));
        }
        pairs.push(("iss", &issuer));
        Refusal::Redirect(with_query(presented, &pairs))
    };
    if p.response_type.as_deref() != Some("code") {
        return Err(back(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let challenge = p.code_challenge.as_deref().unwrap_or("");
    if let Err(e) = pkce::check_challenge(challenge, p.code_challenge_method.as_deref()) {
        return Err(back("invalid_request", &e.to_string()));
    }
    let scopes = match p.scope.as_deref() {
        None => Scopes::all(),
        Some(s) => match Scopes::parse(s) {
            Ok(s) if s.is_empty() => Scopes::all(),
            Ok(s) => s,
            Err(m) => return Err(back("invalid_scope", &m)),
        },
    };
    let resource = match p.resource.as_deref() {
        // Clients of revisions before 2025-06-18 send none: there is only one resource.
        None => state.oauth.resource.clone(),
        Some(r) => match todo_oauth::resource::canonical(r) {
            Ok(r) if r == state.oauth.resource => r,
            _ => {
                return Err(back(
                    "invalid_target",
                    &format!(
                        "resource {r:?} is not served here; the MCP server is {}",
                        state.oauth.resource
                    ),
                ));
            }
        },
    };
    Ok(Checked {
        client_id: client.client_id,
        client_name: client.client_name,
        redirect_uri: presented.to_owned(),
        code_challenge: challenge.to_owned(),
        state: p.state.clone(),
        scopes,
        resource,
    })
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(LOCATION, v);
            no_store(r)
        }
        Err(_) => ApiError::internal().into_response(),
    }
}

async fn authorize(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(p): Query<AuthorizeParams>,
    raw: axum::http::Uri,
) -> Response {
    let ip = state.login_limiter.client_ip(peer, &headers);
    match check_authorize(&state, &p, Some(ip)).await {
        Ok(_) => see_other(&format!(
            "{}{}?{}",
            state.oauth.issuer,
            todo_oauth::CONSENT_PATH,
            raw.query().unwrap_or("")
        )),
        Err(Refusal::Here(r)) => r,
        Err(Refusal::Redirect(to)) => see_other(&to),
    }
}

/// What the consent page shows, or where to send the browser instead.
async fn consent_preview(
    State(state): State<AppState>,
    _user: AuthUser,
    Query(p): Query<AuthorizeParams>,
) -> Response {
    match check_authorize(&state, &p, None).await {
        Ok(c) => no_store(
            Json(json!({
                "client_id": c.client_id,
                "client_name": c.client_name,
                "redirect_uri": c.redirect_uri,
                "resource": c.resource,
                "scopes": c.scopes.iter().map(|s| json!({
                    "scope": s.as_str(), "description": s.description()
                })).collect::<Vec<_>>(),
            }))
            .into_response(),
        ),
        Err(Refusal::Here(r)) => r,
        Err(Refusal::Redirect(to)) => no_store(Json(json!({"redirect_to": to})).into_response()),
    }
}

/// The user's decision: `{"approve": bool, ...the authorization parameters}`.
#[derive(Debug, Deserialize)]
pub struct Decision {
    pub approve: bool,
    #[serde(flatten)]
    pub params: AuthorizeParams,
}

async fn consent_decide(State(state): State<AppState>, user: AuthUser, body: Bytes) -> Response {
    let decision: Decision = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            return ApiError::validation(
                "approve",
                format!("the body must be the authorization parameters plus \"approve\": true or false ({e})"),
            )
            .into_response();
        }
    };
    let c = match check_authorize(&state, &decision.params, None).await {
        Ok(c) => c,
        Err(Refusal::Here(r)) => return r,
        Err(Refusal::Redirect(to)) => {
            return no_store(Json(json!({"redirect_to": to})).into_response());
        }
    };
    let issuer = state.oauth.issuer.as_str();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let code = todo_auth::new_refresh_token();
    if decision.approve {
        let grant = CodeGrant {
            client_id: c.client_id.clone(),
            user_id: user.id,
            redirect_uri: c.redirect_uri.clone(),
            code_challenge: c.code_challenge.clone(),
            resource: c.resource.clone(),
            scope: c.scopes.to_string(),
        };
        let ttl = std::time::Duration::from_secs(grant::CODE_TTL_SECS);
        if let Err(e) = state.store.oauth().create_code(&code, &grant, ttl).await {
            return store_failed(e);
        }
        tracing::info!(client_id = %c.client_id, user = %user.id, scope = %c.scopes, "authorization granted");
        pairs.push(("code", &code));
    } else {
        pairs.push(("error", "access_denied"));
        pairs.push(("error_description", "the user declined"));
    }
    if let Some(s) = c.state.as_deref() {
        pairs.push(("state", s));
    }
    pairs.push(("iss", issuer));
    no_store(Json(json!({"redirect_to": with_query(&c.redirect_uri, &pairs)})).into_response())
}

/// A form body as single-valued parameters; a repeated one is `invalid_request` (RFC 6749 §3.2).
fn form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {k} is sent more than once"
            )));
        }
    }
    Ok(out)
}

async fn token(State(state): State<AppState>, body: Bytes) -> Response {
    let p = match form(&body) {
        Ok(p) => p,
        Err(e) => return oauth_error(e),
    };
    let get = |k: &str| param(&p, k);
    let Some(client_id) = get("client_id") else {
        return oauth_error(OAuthError::invalid_request(
            "client_id is required (public clients identify themselves with it)",
        ));
    };
    let result = match get("grant_type") {
        Some("authorization_code") => exchange_code(&state, client_id, &p).await,
        Some("refresh_token") => refresh(&state, client_id, &p).await,
        Some(other) => Err(Failure::OAuth(OAuthError::new(
            "unsupported_grant_type",
            format!(
                "grant_type {other:?} is not supported: use authorization_code or refresh_token"
            ),
        ))),
        None => Err(Failure::OAuth(OAuthError::invalid_request(
            "grant_type is required",
        ))),
    };
    match result {
        Ok(r) => r,
        Err(Failure::Ready(r)) => *r,
        Err(Failure::OAuth(e)) => oauth_error(e),
    }
}

/// A non-empty parameter.
fn param<'a>(p: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    p.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

/// A token-endpoint failure: an OAuth error, or a ready response (database trouble).
enum Failure {
    OAuth(OAuthError),
    Ready(Box<Response>),
}

fn ready(r: Response) -> Failure {
    Failure::Ready(Box::new(r))
}

fn issue(state: &AppState, grant: &Grant<'_>, refresh_token: &str) -> Result<Response, Failure> {
    let access = state.oauth.access.issue(grant).map_err(|e| {
        tracing::error!(error = %e, "signing an access token failed");
        ready(ApiError::internal().into_response())
    })?;
    Ok(no_store(
        Json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": todo_oauth::access::ACCESS_TTL_SECS,
            "refresh_token": refresh_token,
            "scope": grant.scopes.to_string(),
        }))
        .into_response(),
    ))
}

async fn exchange_code(
    state: &AppState,
    client_id: &str,
    p: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let Some(code) = param(p, "code") else {
        return Err(Failure::OAuth(OAuthError::invalid_request(
            "code is required",
        )));
    };
    let (code_id, issued) = match state.store.oauth().redeem_code(code).await {
        Ok(Redemption::Redeemed { code_id, grant }) => (code_id, grant),
        Ok(Redemption::Reused) => {
            return Err(Failure::OAuth(OAuthError::invalid_grant(
                "the authorization code was already used; the tokens it gave are revoked",
            )));
        }
        Ok(Redemption::Invalid) => {
            return Err(Failure::OAuth(OAuthError::invalid_grant(
                "the authorization code is unknown or expired; authorize again",
            )));
        }
        Err(e) => return Err(ready(store_failed(e))),
    };
    grant::check_exchange(
        &IssuedCode {
            client_id: &issued.client_id,
            redirect_uri: &issued.redirect_uri,
            code_challenge: &issued.code_challenge,
            resource: &issued.resource,
        },
        &Exchange {
            client_id,
            redirect_uri: param(p, "redirect_uri"),
            code_verifier: param(p, "code_verifier"),
            resource: param(p, "resource"),
        },
    )
    .map_err(Failure::OAuth)?;
    let scopes = Scopes::parse(&issued.scope).unwrap_or_default();
    let refresh_token = todo_auth::new_refresh_token();
    let (session, version) = state
        .store
        .oauth()
        .start_grant(&code_id, &issued, &refresh_token, state.refresh_ttl)
        .await
        .map_err(|e| ready(store_failed(e)))?;
    let grant = Grant {
        user: issued.user_id,
        version,
        resource: &issued.resource,
        scopes: &scopes,
        client_id,
        grant: session,
    };
    issue(state, &grant, &refresh_token)
}

async fn refresh(
    state: &AppState,
    client_id: &str,
    p: &HashMap<String, String>,
) -> Result<Response, Failure> {
    let Some(presented) = param(p, "refresh_token") else {
        return Err(Failure::OAuth(OAuthError::invalid_request(
            "refresh_token is required",
        )));
    };
    let invalid = || {
        Failure::OAuth(OAuthError::invalid_grant(
            "the refresh token is unknown, expired or revoked; authorize again",
        ))
    };
    let binding = match state.store.oauth().grant_of_refresh(presented).await {
        Ok(Some(b)) => b,
        // A sign-in session's refresh token is not rotated here.
        Ok(None) => return Err(invalid()),
        Err(e) => return Err(ready(store_failed(e))),
    };
    if binding.client_id != client_id {
        return Err(Failure::OAuth(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        )));
    }
    if let Some(r) = param(p, "resource")
        && todo_oauth::resource::canonical(r).ok().as_deref() != Some(binding.resource.as_str())
    {
        return Err(Failure::OAuth(OAuthError::invalid_target(format!(
            "resource {r:?} is not the one this grant is for ({})",
            binding.resource
        ))));
    }
    let granted = Scopes::parse(&binding.scope).unwrap_or_default();
    let scopes = grant::refresh_scopes(&granted, param(p, "scope")).map_err(Failure::OAuth)?;
    let new_token = todo_auth::new_refresh_token();
    match state
        .store
        .sessions()
        .rotate(presented, &new_token, state.refresh_ttl)
        .await
    {
        Ok(Rotation::Rotated {
            session,
            token_version,
            user,
        }) => {
            let grant = Grant {
                user: user.id,
                version: token_version,
                resource: &binding.resource,
                scopes: &scopes,
                client_id,
                grant: session,
            };
            issue(state, &grant, &new_token)
        }
        Ok(Rotation::Reused) => Err(Failure::OAuth(OAuthError::invalid_grant(
            "the refresh token was already used: the grant is revoked (a copy of it exists); \
             authorize again",
        ))),
        Ok(Rotation::Invalid) => Err(invalid()),
        Err(e) => Err(ready(store_failed(e))),
    }
}

async fn revoke(State(state): State<AppState>, body: Bytes) -> Response {
    let p = match form(&body) {
        Ok(p) => p,
        Err(e) => return oauth_error(e),
    };
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(OAuthError::invalid_request(
            "token is required (RFC 7009 §2.1)",
        ));
    };
    let client_id = p.get("client_id").map(String::as_str);
    // A refresh token of an OAuth grant, else an access token; anything else is already
    // useless, and RFC 7009 §2.2 answers 200 all the same.
    let grant = match state.store.oauth().grant_of_refresh(token).await {
        Ok(Some(b)) => Some((b.session_id, b.client_id)),
        Ok(None) => state
            .oauth
            .access
            .verify(token, &state.oauth.resource)
            .ok()
            .map(|c| (c.gid, c.client_id)),
        Err(e) => return store_failed(e),
    };
    if let Some((session, owner)) = grant {
        if client_id.is_some_and(|c| c != owner) {
            return oauth_error(OAuthError::new(
                "unauthorized_client",
                "the token was issued to another client",
            ));
        }
        if let Err(e) = state.store.oauth().revoke_grant(session).await {
            return store_failed(e);
        }
        tracing::info!(%session, "an OAuth grant was revoked (RFC 7009)");
    }
    no_store(StatusCode::OK.into_response())
}

/// `GET /api/oauth/grants`: the apps the caller has connected.
pub async fn list_grants(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<ConnectedApps>, ApiError> {
    let apps = state
        .store
        .oauth()
        .connected_apps(user.id)
        .await
        .map_err(crate::errors::from_store)?;
    let apps = apps
        .into_iter()
        .map(|a| ConnectedApp {
            // Several grants of one client may repeat a scope; Scopes keeps each once, in order.
            scopes: Scopes::parse(&a.scope)
                .unwrap_or_default()
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            client_id: a.client_id,
            client_name: a.client_name,
            granted_at: a.granted_at,
            last_used_at: a.last_used_at,
        })
        .collect();
    Ok(Json(ConnectedApps { apps }))
}

/// `DELETE /api/oauth/grants/{id}`: disconnects the app `id` (a client id): every grant it
/// holds from the caller is revoked. 404 when the caller has none (whoever else may).
pub async fn disconnect(
    State(state): State<AppState>,
    user: AuthUser,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = state
        .store
        .oauth()
        .disconnect(user.id, &client_id)
        .await
        .map_err(crate::errors::from_store)?;
    if revoked == 0 {
        return Err(ApiError::not_found(
            "GRANT_NOT_FOUND",
            format!("no app with client_id {client_id:?} is connected to your account"),
        ));
    }
    tracing::info!(client_id, user = %user.id, grants = revoked, "an app was disconnected");
    Ok(StatusCode::NO_CONTENT)
}
