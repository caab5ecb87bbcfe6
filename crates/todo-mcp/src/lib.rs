//! todo-mcp: the task tools over MCP Streamable HTTP at `/mcp`.
//!
//! - Stateless: every POST stands alone (no session to pin to a replica), so the service
//!   scales horizontally behind a plain Kubernetes Service.
//! - Authenticated: every request to `/mcp` carries `Authorization: Bearer <token>`: an
//!   OAuth access token issued for this server's URL (audience-bound, scoped; see
//!   [`resource`], which also serves the Protected Resource Metadata), or a todo-api sign-in
//!   token (unless `MCP_ACCEPT_SESSION_TOKENS=false`). The middleware verifies it and checks in
//!   PostgreSQL that its user still exists and it is not revoked (the same check as
//!   todo-api's), and the tools read the caller from the request, never from an argument.
//! - Browser-safe: a request to `/mcp` whose `Origin` header is present and not in
//!   `MCP_ALLOWED_ORIGINS` is refused with 403 (MCP 2025-11-25, Streamable HTTP security);
//!   requests without `Origin` (every non-browser client, todo-api among them) pass. With
//!   `MCP_ALLOWED_HOSTS` set, so is a request for another Host (see [`access`]).

pub mod access;
pub mod resource;
pub mod tools;

pub use tools::{TaskTools, ToolError};

use axum::Router;
use axum::middleware;
use axum::response::IntoResponse;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use service_kit::config::LogFormat;
use service_kit::{ApiError, ConfigError, Env, Health};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use todo_auth::Tokens;
use todo_store::{PoolSettings, Store};
use tokio::net::TcpListener;
use uuid::Uuid;

pub const SERVICE: &str = "todo-mcp";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub jwt_secret: String,
    pub port: u16,
    pub log_format: LogFormat,
    /// `MCP_ALLOWED_HOSTS`: when set, requests whose Host is not listed (`host` matches any
    /// port, `host:port` that port) are refused (DNS rebinding protection). Off by default:
    /// every request needs a valid bearer token, which a rebinding page cannot have, and the
    /// Host varies by deployment; the Helm chart sets it to the ingress host and the Service's
    /// in-cluster names.
    pub allowed_hosts: Option<Vec<String>>,
    /// `MCP_ALLOWED_ORIGINS`: browser origins (`https://todo.example.com`, scheme and host,
    /// port optional) allowed to call `/mcp`. Empty (the default): a request carrying any
    /// `Origin` header is refused; requests without one are not affected.
    pub allowed_origins: Vec<String>,
    pub db_max_connections: u32,
    pub shutdown_grace: Duration,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        Ok(Config {
            database_url: env.required(
                "DATABASE_URL",
                "set it to postgres://USER:PASSWORD@HOST:5432/DB",
            )?,
            jwt_secret: env.jwt_secret()?,
            port: env.port()?,
            log_format: env.log_format()?,
            allowed_hosts: env
                .optional("MCP_ALLOWED_HOSTS")
                .map(|v| access::parse_hosts(&v))
                .transpose()
                .map_err(|message| ConfigError {
                    variable: "MCP_ALLOWED_HOSTS".into(),
                    message,
                })?,
            allowed_origins: match env.optional("MCP_ALLOWED_ORIGINS") {
                Some(v) => access::parse_list(&v).map_err(|message| ConfigError {
                    variable: "MCP_ALLOWED_ORIGINS".into(),
                    message,
                })?,
                None => Vec::new(),
            },
            db_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 10, "a whole number")?,
            shutdown_grace: Duration::from_secs(env.parse_or(
                "SHUTDOWN_GRACE_SECONDS",
                20,
                "a number of seconds",
            )?),
        })
    }
}

/// The verified caller of an `/mcp` request, put into the request by the auth middleware.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Uuid);

/// Who may reach `/mcp` beyond holding a token: the Host and Origin allow-lists.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `None`: any Host.
    pub allowed_hosts: Option<Vec<String>>,
    /// Origins (see [`access::parse_list`]); empty: no browser origin.
    pub allowed_origins: Vec<String>,
}

/// The HTTP application: `/mcp` (authenticated by `resource`), the Protected Resource
/// Metadata and the health routes.
pub fn app(
    store: Store,
    resource: resource::ResourceServer,
    health: &Health,
    allow: Access,
    cancel: tokio_util::sync::CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(cancel)
        .with_max_request_body_bytes(64 * 1024)
        // rmcp's own Host and Origin checks, behind ours (which answer in the JSON error shape
        // and are at least as strict): a backstop should the middleware ever be removed.
        .with_allowed_origins(
            allow
                .allowed_origins
                .iter()
                .filter_map(|o| access::normalise(o)),
        )
        .enforce_origin_validation();
    let gate = access::Gate::new(allow.allowed_hosts.as_deref(), &allow.allowed_origins);
    config = match allow.allowed_hosts {
        Some(hosts) => config.with_allowed_hosts(hosts),
        None => config.disable_allowed_hosts(),
    };
    let service = StreamableHttpService::new(
        move || Ok(TaskTools::new(store.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mcp = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(
            resource.clone(),
            resource::require_token,
        ))
        .layer(middleware::from_fn(resource::cors))
        .layer(middleware::from_fn_with_state(
            gate,
            access::require_allowed,
        ));
    mcp.merge(resource::metadata_routes(resource))
        .merge(health.routes())
        .fallback(|| async {
            ApiError::not_found("NO_ROUTE", "no such endpoint; MCP is served at /mcp")
        })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(middleware::from_fn(service_kit::request_log::middleware))
}

/// Runs the MCP server until `shutdown` resolves, with the resource-server settings
/// (`MCP_PUBLIC_URL`, ...) read from the process environment.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Read here rather than in `Config`, like the `HTTP_*` settings below, so the struct
    // literals in other crates' tests need no new field; a bad value stops start-up all the
    // same.
    let settings = resource::ResourceSettings::from_env(&service_kit::Env::from_process())?;
    run_with(config, settings, listener, shutdown).await
}

/// [`run`] with explicit resource-server settings (tests).
pub async fn run_with(
    config: Config,
    settings: resource::ResourceSettings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = Store::connect_lazy(
        &config.database_url,
        &PoolSettings {
            max_connections: config.db_max_connections,
            ..PoolSettings::default()
        },
    )?;
    let pool = store.clone();
    service_kit::metrics::watch_db_pool(move || {
        let s = pool.pool_state();
        service_kit::metrics::PoolStats::new(s.size, s.idle, s.max, s.up)
    });
    let ping_store = store.clone();
    let schema_store = store.clone();
    // todo-api owns the schema (it migrates); todo-mcp is ready once the schema is there.
    let health = Health::new(SERVICE, VERSION)
        .with_check("database", move || {
            let s = ping_store.clone();
            async move { s.ping().await.map_err(|e| e.to_string()) }
        })
        .with_ready_check("schema", move || {
            let s = schema_store.clone();
            async move { s.check_schema().await.map_err(|e| e.to_string()) }
        });
    let cancel = tokio_util::sync::CancellationToken::new();
    let resource = resource::ResourceServer::new(
        settings,
        &config.jwt_secret,
        Tokens::new(&config.jwt_secret, Duration::from_secs(3600)),
        store.clone(),
    );
    tracing::info!(
        resource = resource.metadata()["resource"].as_str().unwrap_or(""),
        "serving MCP as an OAuth protected resource"
    );
    let app = app(
        store.clone(),
        resource,
        &health,
        Access {
            allowed_hosts: config.allowed_hosts.clone(),
            allowed_origins: config.allowed_origins.clone(),
        },
        cancel.clone(),
    );
    tracing::info!(addr = %listener.local_addr()?, version = VERSION, "todo-mcp listening");
    // Connection timeouts and cap (`HTTP_*`), read here rather than in `Config` so the
    // struct literals in tests need no new field; a bad value stops start-up all the same.
    let serve_settings = service_kit::ServeSettings::from_env(
        &service_kit::Env::from_process(),
        config.shutdown_grace,
    )?;
    service_kit::serve(listener, app, health, shutdown, serve_settings).await?;
    cancel.cancel();
    store.close().await;
    tracing::info!("todo-mcp stopped");
    Ok(())
}
