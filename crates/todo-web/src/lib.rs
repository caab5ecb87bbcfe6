//! todo-web: the web UI of todo-chatbot. Server-rendered pages (askama templates checked at
//! compile time), CSS and JS embedded in the binary, and every action a plain form that
//! works without JavaScript; the script only makes it smoother. All data comes from todo-api
//! over HTTP (`API_URL`); the browser only ever talks to this service.
//!
//! `main.rs` is a thin CLI; everything here is reachable from tests, which start the real
//! API against a real PostgreSQL.

pub mod api;
pub mod assets;
pub mod config;
pub mod forms;
pub mod pages;
pub mod routes;
pub mod session;
pub mod views;

use api::Api;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Router, middleware};
use config::Config;
use routes::{AppState, auth, chat, settings, tasks};
use service_kit::Health;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;

pub const SERVICE: &str = "todo-web";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Scripts and styles only from this origin (no inline code), forms only to it, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Builds the HTTP application.
pub fn app(state: AppState, health: &Health, cookie_secure: bool) -> Router {
    app_with(
        state,
        health,
        session::SessionSettings {
            cookie_secure,
            proxies: service_kit::TrustedProxies::none(),
        },
    )
}

/// [`app`] with the session layer's settings, `TRUSTED_PROXIES` included.
pub fn app_with(state: AppState, health: &Health, settings: session::SessionSettings) -> Router {
    let pages = Router::new()
        .route("/", get(routes::root))
        .route("/signin", get(auth::signin_page).post(auth::signin))
        .route("/signup", get(auth::signup_page).post(auth::signup))
        .route("/signout", post(auth::signout))
        .route("/tasks", get(tasks::page).post(tasks::create))
        .route("/tasks/undo", post(tasks::undo))
        .route("/tasks/{id}", post(tasks::update))
        .route("/tasks/{id}/edit", get(tasks::edit_page))
        .route(
            "/tasks/{id}/delete",
            get(tasks::delete_page).post(tasks::delete),
        )
        .route("/tasks/{id}/complete", post(tasks::complete))
        .route("/tasks/{id}/reopen", post(tasks::reopen))
        .route("/chat", post(chat::send))
        .route("/chat/stream", post(chat::stream))
        .route("/settings", get(settings::page).post(settings::save))
        .route("/apps", get(routes::apps::page))
        .route("/apps/disconnect", post(routes::apps::disconnect))
        .route(
            todo_oauth::CONSENT_PATH,
            get(routes::oauth::page).post(routes::oauth::decide),
        )
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::not_found)
        .layer(middleware::from_fn_with_state(
            settings,
            session::middleware_with,
        ))
        .layer(middleware::map_response(pages::render_rejection))
        .with_state(state);
    let header = |name: &'static str, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    Router::new()
        .route("/static/{file}", get(assets::serve))
        .merge(health.routes())
        .merge(pages)
        .layer(header("content-security-policy", CSP))
        .layer(header("x-content-type-options", "nosniff"))
        .layer(header("x-frame-options", "DENY"))
        .layer(header("referrer-policy", "same-origin"))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            axum::response::IntoResponse::into_response((
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the request id identifies it in the logs",
            ))
        }))
        .layer(middleware::from_fn(service_kit::request_log::middleware))
}

/// `/health` reports whether the API answers its `/livez`; `/readyz` does not depend on it.
/// Without the API this service still serves: the sign-in page, the assets, and for every
/// other page a 503 "can't reach the service" page that keeps what the user typed. Following
/// the API's readiness instead would turn an API outage into the ingress's bare 503 for
/// every page, and a blip of the API into every web pod leaving the load balancer.
pub fn health(api: &Api) -> Health {
    let api = api.clone();
    Health::new(SERVICE, VERSION).with_report_check("api", move || {
        let api = api.clone();
        async move { api.livez(Duration::from_secs(1)).await }
    })
}

/// Runs the web UI on `listener` until `shutdown` resolves, then drains.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // reqwest's rustls uses aws-lc-rs; make it the process default before any TLS happens.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let api =
        Api::new(&config.api_url, config.api_timeout)?.with_chat_timeout(config.api_chat_timeout);
    let health = health(&api);
    // Whose X-Forwarded-For/-Host to believe (the ingress controller's pod network), read
    // here like the HTTP_* settings so test struct literals need no new field.
    let proxies = service_kit::TrustedProxies::from_env(&service_kit::Env::from_process())?;
    let settings = session::SessionSettings {
        cookie_secure: config.cookie_secure,
        proxies,
    };
    let app = app_with(AppState { api }, &health, settings);
    tracing::info!(addr = %listener.local_addr()?, api_url = %config.api_url, version = VERSION, "todo-web listening");
    // Connection timeouts and cap (`HTTP_*`), read here rather than in `Config` so the
    // struct literals in tests need no new field; a bad value stops start-up all the same.
    let serve_settings = service_kit::ServeSettings::from_env(
        &service_kit::Env::from_process(),
        config.shutdown_grace,
    )?;
    service_kit::serve(listener, app, health, shutdown, serve_settings).await?;
    tracing::info!("todo-web stopped");
    Ok(())
}
