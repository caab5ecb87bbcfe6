//! Turning templates into responses, and the pages for things that went wrong: the API is
//! down (503), a form without a valid CSRF token (403), not found (404).

use crate::session::{Rejected, Rejection, Session};
use crate::views::{API_DOWN, ErrorPage, Layout};
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A rendered page. Pages carry CSRF tokens and private data: never stored by caches.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
                "internal error; the request id identifies it in the logs",
            )
                .into_response()
        }
    }
}

pub fn error(
    session: &Session,
    status: StatusCode,
    heading: &str,
    message: &str,
    retry_url: Option<String>,
) -> Response {
    let page = ErrorPage {
        layout: Layout::new(heading, session),
        heading: heading.to_owned(),
        message: message.to_owned(),
        retry_url,
    };
    html(status, &page)
}

/// The API is down: say so, offer to retry, never crash.
pub fn unavailable(session: &Session, retry_url: Option<String>) -> Response {
    let page = ErrorPage {
        layout: Layout::new("Service unavailable", session).with_banner(API_DOWN),
        heading: "We can't reach your tasks right now".to_owned(),
        message: "The task service did not answer. Nothing was lost: try again in a moment."
            .to_owned(),
        retry_url,
    };
    let mut r = html(StatusCode::SERVICE_UNAVAILABLE, &page);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

pub fn csrf_rejected(session: &Session) -> Response {
    error(
        session,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "For your security the form could not be accepted (its security token was missing or did not match). Go back, reload the page and try again.",
        None,
    )
}

pub fn too_large(session: &Session) -> Response {
    error(
        session,
        StatusCode::PAYLOAD_TOO_LARGE,
        "That was too much text",
        "The form was larger than this site accepts. Shorten it and try again.",
        None,
    )
}

pub fn not_found(session: &Session) -> Response {
    error(
        session,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
        None,
    )
}

/// The page for a request the session layer refused (it answers with [`Rejected`], which
/// knows nothing of pages). Other responses pass through.
pub async fn render_rejection(mut response: Response) -> Response {
    let Some(rejected) = response.extensions_mut().remove::<Rejected>() else {
        return response;
    };
    match rejected.rejection {
        Rejection::TooLarge => too_large(&rejected.session),
        Rejection::CrossOrigin | Rejection::BadToken => csrf_rejected(&rejected.session),
    }
}
