//! One log line per request (method, path, status, latency, request id) and the
//! `x-request-id` header: taken from the caller when it sends a sane one, generated otherwise,
//! and always returned so a user's report can be matched to the logs.
//!
//! Only the path is logged, never the query string or headers: tokens and passwords must not
//! reach the logs.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn middleware(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    // Probes are frequent and uninteresting: keep them at debug so info logs stay readable.
    if matches!(path.as_str(), "/livez" | "/readyz") && status < 400 {
        tracing::debug!(%method, %path, status, latency_ms, request_id = %id, "request");
    } else if status >= 500 {
        tracing::error!(%method, %path, status, latency_ms, request_id = %id, "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms, request_id = %id, "request");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

/// Caller-supplied ids are echoed into logs and headers, so keep them short and plain.
fn is_sane_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_taken_from_callers() {
        assert!(is_sane_id("abc-123_x.y:z"));
        assert!(!is_sane_id(""));
        assert!(!is_sane_id("has space"));
        assert!(!is_sane_id("newline\ninjected"));
        assert!(!is_sane_id(&"x".repeat(129)));
    }
}
