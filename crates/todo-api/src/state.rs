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
    pub passwords: Passwords,
    /// Every limit of register and login, and who the client is ([`RateLimiter`]).
    pub login_limiter: Arc<RateLimiter>,
    /// `None` when `MCP_URL` is not configured.
    pub chat: Option<Arc<todo_chat::ChatService>>,
}

impl AppState {
    /// The state `config` describes: its token lifetime, client limits, account throttle,
    /// hashing limits and password rules.
    pub fn new(
        config: &Config,
        store: Store,
        chat: Option<Arc<todo_chat::ChatService>>,
    ) -> AppState {
        AppState {
            store,
            tokens: Tokens::new(&config.jwt_secret, config.token_ttl),
            passwords: Passwords::with_limits(config.auth.hashing),
            login_limiter: Arc::new(RateLimiter::new(
                config.login_attempts_per_minute,
                &config.auth,
            )),
            chat,
        }
    }
}

impl FromRef<AppState> for Tokens {
    fn from_ref(state: &AppState) -> Tokens {
        state.tokens.clone()
    }
}
