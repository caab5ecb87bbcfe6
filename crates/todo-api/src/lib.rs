//! todo-api: the REST API of todo-chatbot (auth, tasks, health; the chat agent joins it in
//! its own module). `main.rs` is a thin CLI; everything here is reachable from tests, which
//! start the real server on a loopback port against a real PostgreSQL.

pub mod auth;
pub mod chat;
pub mod config;
pub mod errors;
pub mod json;
pub mod oauth;
pub mod openapi;
pub mod rate_limit;
pub mod state;
pub mod tasks;

use axum::extract::DefaultBodyLimit;
use axum::{Router, middleware};
use config::Config;
use service_kit::{ApiError, Health};
use state::AppState;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use todo_store::{PoolSettings, Store};
use tokio::net::TcpListener;

pub const SERVICE: &str = "todo-api";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Request bodies above this get a 413: the largest valid body (a task) is well under it.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Builds the HTTP application: the operations of [`openapi::operations`] (the one
/// declaration of each route and of its documentation) plus service-kit's health routes.
pub fn app(state: AppState, health: &Health) -> Router {
    // OAuth for MCP hosts: RFC shapes, outside `/api` and its OpenAPI document.
    let api = openapi::router().merge(oauth::router()).with_state(state);
    api.merge(health.routes())
        .fallback(|| async {
            ApiError::not_found("NO_ROUTE", "no such endpoint; see /api/openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        // Inside the request log, which assigns the id: every error body carries it, and no
        // error leaves in another shape.
        .layer(middleware::from_fn(
            service_kit::api_error::request_id_layer,
        ))
        .layer(middleware::from_fn(service_kit::request_log::middleware))
}

/// Runs the API on `listener` until `shutdown` resolves, then drains and closes the pool.
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
    // Migrate in the background: the process answers /livez at once and turns ready when the
    // schema is in place, even if the database comes up after us (as it may in a cluster).
    let migrations = tokio::spawn(migrate_until_done(store.clone()));
    let health = health(&store);
    let pool = store.clone();
    service_kit::metrics::watch_db_pool(move || {
        let s = pool.pool_state();
        service_kit::metrics::PoolStats::new(s.size, s.idle, s.max, s.up)
    });
    // Every limit and rule of register and login as configured (TRUSTED_PROXIES, budgets,
    // account throttle, hashing queue, password strength).
    let state = AppState::new(&config, store.clone(), chat_service(&config.chat, &store)?);
    let app = app(state, &health);
    tracing::info!(addr = %listener.local_addr()?, version = VERSION, "todo-api listening");
    // Connection timeouts and cap (`HTTP_*`), read here rather than in `Config` so the
    // struct literals in tests need no new field; a bad value stops start-up all the same.
    let serve_settings = service_kit::ServeSettings::from_env(
        &service_kit::Env::from_process(),
        config.shutdown_grace,
    )?;
    service_kit::serve(listener, app, health, shutdown, serve_settings).await?;
    migrations.abort();
    store.close().await;
    tracing::info!("todo-api stopped");
    Ok(())
}

/// The chat agent: one MCP client for the process, and the LLM engine when configured.
pub fn chat_service(
    config: &config::ChatConfig,
    store: &Store,
) -> anyhow::Result<Option<Arc<todo_chat::ChatService>>> {
    let Some(mcp_url) = &config.mcp_url else {
        tracing::warn!("MCP_URL is not set: /api/chat will answer 503");
        return Ok(None);
    };
    let mcp = Arc::new(todo_chat::McpClient::new(
        mcp_url.clone(),
        config.mcp_timeout,
    )?);
    let engine: Arc<dyn todo_chat::ChatEngine> = match (&config.llm_base_url, &config.llm_model) {
        (Some(base_url), Some(model)) => {
            tracing::info!(%base_url, %model, "chat engine: LLM");
            Arc::new(todo_chat::llm::LlmEngine::new(todo_chat::llm::LlmConfig {
                base_url: base_url.clone(),
                model: model.clone(),
                api_key: config.llm_api_key.clone(),
                timeout: config.llm_timeout,
                max_rounds: 8,
            })?)
        }
        _ => {
            tracing::info!(
                "chat engine: built-in (set LLM_BASE_URL and LLM_MODEL to use a language model)"
            );
            Arc::new(todo_chat::builtin::BuiltinEngine)
        }
    };
    let limits = todo_chat::HistoryLimits {
        max_messages: config.history_messages,
        max_chars: config.history_chars,
    };
    Ok(Some(Arc::new(
        todo_chat::ChatService::new(store.clone(), mcp, engine, limits)
            .with_turn_budget(config.turn_timeout),
    )))
}

pub fn health(store: &Store) -> Health {
    let ping_store = store.clone();
    let schema_store = store.clone();
    Health::new(SERVICE, VERSION)
        .with_check("database", move || {
            let store = ping_store.clone();
            async move { store.ping().await.map_err(|e| e.to_string()) }
        })
        .with_ready_check("migrations", move || {
            let store = schema_store.clone();
            async move { store.check_schema().await.map_err(|e| e.to_string()) }
        })
}

async fn migrate_until_done(store: Store) {
    let mut delay = Duration::from_millis(200);
    loop {
        match store.migrate().await {
            Ok(()) => {
                tracing::info!("database migrations applied");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "migrations not applied yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
