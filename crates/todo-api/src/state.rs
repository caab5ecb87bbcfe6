//! What every handler can reach.

use crate::auth::Passwords;
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
    pub login_limiter: Arc<RateLimiter>,
    /// `None` when `MCP_URL` is not configured.
    pub chat: Option<Arc<todo_chat::ChatService>>,
}

impl FromRef<AppState> for Tokens {
    fn from_ref(state: &AppState) -> Tokens {
        state.tokens.clone()
    }
}
