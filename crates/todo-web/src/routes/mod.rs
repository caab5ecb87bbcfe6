//! The pages and form handlers. Every form works without JavaScript: a POST answers with a
//! 303 redirect back to the page it came from (Post/Redirect/Get), or re-renders the form
//! with the API's errors next to their fields. The script only swaps page regions in place.

pub mod auth;
pub mod chat;
pub mod tasks;

use crate::api::{Api, ApiFailure};
use crate::pages;
use crate::session::{self, Flash, Session, see_other};
use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::Response;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub api: Api,
}

/// An urlencoded form body.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &Bytes) -> Form {
        Form(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The field's value, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)])
        .map(|s| s.trim_start_matches("v=").to_owned())
        .unwrap_or_default()
}

/// The token of a signed-in session, or the redirect to the sign-in page.
#[allow(clippy::result_large_err)]
pub fn signed_in<'a>(session: &'a Session, here: &str) -> Result<&'a str, Response> {
    match session.token.as_deref() {
        Some(token) => Ok(token),
        None => Err(to_signin(session, here)),
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
    let ok = next.starts_with("/tasks")
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
    fn forms_and_encoding() {
        let f = Form::parse(&Bytes::from_static(b"title=Buy+milk&tags=a%2Cb&x="));
        assert_eq!(f.get("title"), "Buy milk");
        assert_eq!(f.get("tags"), "a,b");
        assert_eq!(f.get("missing"), "");
        assert_eq!(encode("a b&c"), "a+b%26c");
    }
}
