//! todo-mcp: the task tools over MCP Streamable HTTP at `/mcp`.
//!
//! - Stateless: every POST stands alone (no session to pin to a replica), so the service
//!   scales horizontally behind a plain Kubernetes Service.
//! - Authenticated: every request to `/mcp` carries `Authorization: Bearer <JWT>` from
//!   todo-api; the middleware verifies it and the tools read the caller from the request,
//!   never from an argument.

pub mod tools;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, InitializeResult, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};
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
    /// `MCP_ALLOWED_HOSTS`: when set, requests whose Host is not listed are refused (DNS
    /// rebinding protection). Off by default: every request needs a valid bearer token, which
    /// a rebinding page cannot have, and in a cluster the Host varies (Service name, ingress).
    pub allowed_hosts: Option<Vec<String>>,
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
            allowed_hosts: env.optional("MCP_ALLOWED_HOSTS").map(|v| {
                v.split(',')
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
                    .collect()
            }),
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

/// The MCP server: one instance per request (stateless), sharing the pool.
#[derive(Clone)]
pub struct TaskTools {
    store: Store,
}

impl TaskTools {
    pub fn new(store: Store) -> TaskTools {
        TaskTools { store }
    }
}

impl ServerHandler for TaskTools {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVICE, VERSION))
            .with_instructions(
                "Task tools for the signed-in user. Tasks have numbers (1, 2, 3...) shown by list_tasks; \
                 use them as task_id. Dates are ISO 8601.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::definitions()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>().copied())
            .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))?;
        let args = request.arguments.unwrap_or_default();
        let started = std::time::Instant::now();
        let Some(result) = tools::call(&self.store, caller.0, &request.name, &args).await else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown tool {:?}; call tools/list for the available tools",
                    request.name
                ),
                None,
            ));
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let result = match result {
            Ok(value) => {
                tracing::info!(tool = %request.name, latency_ms, "tool call");
                tools::ok(value)
            }
            Err(error) => {
                tracing::info!(tool = %request.name, latency_ms, code = error.code, "tool call failed");
                error.into_result()
            }
        };
        Ok(result.into())
    }
}

/// Refuses `/mcp` requests without a valid bearer token (401 in the API's error shape).
async fn require_bearer(State(tokens): State<Tokens>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match tokens.verify_header(header) {
        Ok((claims, _)) => {
            req.extensions_mut().insert(Caller(claims.sub));
            next.run(req).await
        }
        Err(e) => ApiError::unauthorized(e.message()).into_response(),
    }
}

/// The HTTP application: `/mcp` (authenticated) plus the health routes.
pub fn app(
    store: Store,
    tokens: Tokens,
    health: &Health,
    allowed_hosts: Option<Vec<String>>,
    cancel: tokio_util::sync::CancellationToken,
) -> Router {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(cancel)
        .with_max_request_body_bytes(64 * 1024);
    config = match allowed_hosts {
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
        .layer(middleware::from_fn_with_state(tokens, require_bearer));
    mcp.merge(health.routes())
        .fallback(|| async {
            ApiError::not_found("NO_ROUTE", "no such endpoint; MCP is served at /mcp")
        })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(middleware::from_fn(service_kit::request_log::middleware))
}

/// Runs the MCP server until `shutdown` resolves.
pub async fn run(
    config: Config,
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
    let app = app(
        store.clone(),
        Tokens::new(&config.jwt_secret, Duration::from_secs(3600)),
        &health,
        config.allowed_hosts.clone(),
        cancel.clone(),
    );
    tracing::info!(addr = %listener.local_addr()?, version = VERSION, "todo-mcp listening");
    service_kit::serve(listener, app, health, shutdown, config.shutdown_grace).await?;
    cancel.cancel();
    store.close().await;
    tracing::info!("todo-mcp stopped");
    Ok(())
}
