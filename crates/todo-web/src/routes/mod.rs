//! The pages and form handlers. Every form works without JavaScript: a POST answers with a
//! 303 redirect back to the page it came from (Post/Redirect/Get), or re-renders the form
//! with the API's errors next to their fields. The script only swaps page regions in place.

pub mod apps;
pub mod auth;
pub mod chat;
pub mod oauth;
pub mod settings;
pub mod tasks;

use crate::api::{Api, ApiFailure};
use crate::pages;
use crate::session::{self, Flash, Session, see_other};
use axum::Extension;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub api: Api,
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .map(|s| s.trim_start_matches("v=").to_owned())
        .unwrap_or_default()
}

/// A handler argument for pages that need a signed-in user: the session and its token.
/// Without one the request is answered with the redirect to the sign-in page, which brings
/// the user back to the page asked for (a GET) or to the task list (a form post, which
/// cannot be replayed).
pub struct SignedIn {
    pub session: Session,
    pub token: String,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(session) = parts.extensions.get::<Session>().cloned() else {
            // Only if a route were mounted outside the session layer: a bug, said plainly.
            tracing::error!(path = %parts.uri.path(), "SignedIn used outside the session layer");
            return Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error; the request id identifies it in the logs",
            )
                .into_response());
        };
        match session.token.clone() {
            Some(token) => Ok(SignedIn { session, token }),
            None => {
                let next = if parts.method == Method::GET {
                    parts
                        .uri
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/tasks")
                } else {
                    "/tasks"
                };
                Err(to_signin(&session, &safe_next(next)))
            }
        }
    }
}

/// To the sign-in page, coming back to `next` afterwards. An expired session is cleared and
/// the user told why.
pub fn to_signin(session: &Session, next: &str) -> Response {
    let location = if next.is_empty() || next == "/tasks" {
        "/signin".to_owned()
    } else {
        format!("/signin?next={}", encode(next))
    };
    let mut r = see_other(&location);
    if session.expired || session.token.is_some() {
        r.headers_mut()
            .append(header::SET_COOKIE, session.clear(session::SESSION));
        r.headers_mut()
            .append(header::SET_COOKIE, session.flash_cookie(Flash::Expired));
    }
    r
}

/// The page for a failed API call that the handler has no better answer for.
pub fn failed(session: &Session, failure: ApiFailure, here: &str) -> Response {
    match failure {
        ApiFailure::Unavailable(why) => {
            tracing::warn!(error = %why, "todo-api unavailable");
            pages::unavailable(session, Some(here.to_owned()))
        }
        ApiFailure::Unauthorized(_) => {
            let mut expired = session.clone();
            expired.expired = true;
            to_signin(&expired, here)
        }
        ApiFailure::Rejected(r) => pages::error(
            session,
            axum::http::StatusCode::from_u16(r.status)
                .unwrap_or(axum::http::StatusCode::BAD_REQUEST),
            "That did not work",
            &r.message,
            Some(here.to_owned()),
        ),
    }
}

/// `next` after sign-in: only this site's task pages (never an open redirect).
pub fn safe_next(next: &str) -> String {
    // The task pages, and the OAuth consent page a signed-out user is sent from.
    let ok = (next.starts_with("/tasks") || next.starts_with("/connect?"))
        && !next.contains("//")
        && !next.contains('\\')
        && next.chars().all(|c| c.is_ascii_graphic());
    if ok {
        next.to_owned()
    } else {
        "/tasks".to_owned()
    }
}

/// `GET /`: the tasks when signed in, else the sign-in page.
pub async fn root(Extension(session): Extension<Session>) -> Response {
    if session.token.is_some() {
        see_other("/tasks")
    } else {
        see_other("/signin")
    }
}

pub async fn not_found(Extension(session): Extension<Session>) -> Response {
    pages::not_found(&session)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next("/tasks?status=pending"), "/tasks?status=pending");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/tasks//x",
            "/\\evil",
            "/signout",
            "",
        ] {
            assert_eq!(safe_next(bad), "/tasks", "{bad}");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("a b&c"), "a+b%26c");
    }
}
