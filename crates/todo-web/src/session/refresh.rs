//! The refresh state of one browser request. The session layer opens a [`RefreshScope`]
//! around each request with the refresh cookie; the API client (`crate::api`) reads it to
//! trade an expired access token once, and the session layer then sets the new cookies.
//! Kept here, below both, so the session layer depends on nothing else in the crate.

use std::sync::Arc;

/// What happened to a request's refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// Not used (the access token was good, or there is no refresh token).
    No,
    /// Traded for this new session: the response must carry its cookies.
    To(Box<todo_wire::Session>),
    /// The API refused it (expired, signed out, reused): the browser must sign in again.
    Refused,
}

/// The refresh state of one browser request (see the module docs).
#[derive(Clone)]
pub struct RefreshScope {
    pub(crate) inner: Arc<tokio::sync::Mutex<ScopeState>>,
}

pub(crate) struct ScopeState {
    pub(crate) refresh_token: Option<String>,
    /// The access token is known to be expired (or missing): refresh before the first call.
    pub(crate) stale: bool,
    pub(crate) outcome: Refreshed,
}

tokio::task_local! {
    pub(crate) static SCOPE: RefreshScope;
}

impl RefreshScope {
    pub fn new(refresh_token: Option<String>, stale: bool) -> RefreshScope {
        RefreshScope {
            inner: Arc::new(tokio::sync::Mutex::new(ScopeState {
                refresh_token,
                stale,
                outcome: Refreshed::No,
            })),
        }
    }

    /// Runs `f` (a request's handler) with this scope visible to every [`Api`] call in it.
    pub async fn run<F: std::future::Future>(self, f: F) -> F::Output {
        SCOPE.scope(self, f).await
    }

    pub async fn outcome(&self) -> Refreshed {
        self.inner.lock().await.outcome.clone()
    }
}
