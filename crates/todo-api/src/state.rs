//! What every handler can reach.

use crate::auth::Passwords;
use crate::config::Config;
use crate::rate_limit::RateLimiter;
use axum::extract::FromRef;
use std::sync::Arc;
use todo_auth::Tokens;
use todo_store::Store;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub tokens: Tokens,
    /// How long a refresh token stays valid unused (`REFRESH_TOKEN_TTL_SECONDS`).
    pub refresh_ttl: std::time::Duration,
    pub passwords: Passwords,
    /// Every limit of register and login, and who the client is ([`RateLimiter`]).
    pub login_limiter: Arc<RateLimiter>,
    /// `None` when `MCP_URL` is not configured.
    pub chat: Option<Arc<todo_chat::ChatService>>,
    /// The OAuth authorization server for todo-mcp ([`crate::oauth`]).
    pub oauth: Arc<crate::oauth::Server>,
}

impl AppState {
    /// The state `config` describes: its token lifetimes, client limits, account throttle,
    /// hashing limits and password rules.
    pub fn new(
        config: &Config,
        store: Store,
        chat: Option<Arc<todo_chat::ChatService>>,
    ) -> AppState {
        AppState {
            store,
            tokens: Tokens::new(&config.jwt_secret, config.token_ttl),
            // Checked by Config::from_env at start-up; see config::refresh_ttl.
            refresh_ttl: crate::config::refresh_ttl(&service_kit::Env::from_process())
                .unwrap_or(crate::config::DEFAULT_REFRESH_TTL),
            passwords: Passwords::with_limits(config.auth.hashing),
            login_limiter: Arc::new(RateLimiter::new(
                config.login_attempts_per_minute,
                &config.auth,
            )),
            chat,
            // Checked by Config::from_env at start-up, like refresh_ttl.
            oauth: Arc::new(crate::oauth::Server::new(
                crate::oauth::Settings::from_env(
                    &service_kit::Env::from_process(),
                    config.chat.mcp_url.as_deref(),
                )
                .unwrap_or_else(|_| crate::oauth::Settings {
                    issuer: "http://localhost:8080".into(),
                    resource: "http://localhost:8080/mcp".into(),
                }),
                &config.jwt_secret,
            )),
        }
    }
}

/// The authenticated extractor checks every token against the database.
impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

impl FromRef<AppState> for Tokens {
    fn from_ref(state: &AppState) -> Tokens {
        state.tokens.clone()
    }
}
