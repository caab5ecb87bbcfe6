//! The one error shape every service answers with:
//! `{"error": {"code": "VALIDATION_ERROR", "message": "...", "field": "title"}}`.
//! Codes are stable (clients and models branch on them); messages are for people.
//!
//! With [`request_id_layer`] installed (inside `request_log::middleware`), every error body
//! also carries the request's id (`"request_id"`, the `x-request-id` header's value), and any
//! error response that is not already this shape (a plain-text rejection, a bare status) is
//! rewritten into it, so a client never sees a 500 it cannot report.

use crate::request_log::RequestId;
use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// 422: the request was well-formed but a value breaks a rule.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            message,
        )
        .with_field(field)
    }

    /// 400: the request itself is malformed (bad JSON, unknown parameter).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "CONFLICT", message).with_field(field)
    }

    pub fn too_many_requests(retry_after_secs: u64) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            format!("too many attempts; try again in {retry_after_secs} s"),
        );
        e.retry_after_secs = Some(retry_after_secs);
        e
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
    }

    /// 500 with a generic message: details go to the log, never to the client.
    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error; the request id identifies it in the logs",
        )
    }
}

impl ApiError {
    /// The response, with `request_id` in the body when given.
    pub fn into_response_with_request_id(self, request_id: Option<&str>) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
                request_id,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(v) = self
            .retry_after_secs
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Rendered(self));
        response
    }

    /// The generic error for a bare error status (what a response without a body becomes).
    fn for_status(status: StatusCode) -> ApiError {
        if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
            let mut e = ApiError::internal();
            e.status = status;
            return e;
        }
        let code = match status {
            StatusCode::BAD_REQUEST => "BAD_REQUEST",
            StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            StatusCode::UNPROCESSABLE_ENTITY => "VALIDATION_ERROR",
            StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            _ => "ERROR",
        };
        let message = status.canonical_reason().unwrap_or("request failed");
        ApiError::new(status, code, message.to_lowercase())
    }
}

/// Marks a response rendered from an [`ApiError`], so [`request_id_layer`] can re-render it.
#[derive(Debug, Clone)]
struct Rendered(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with_request_id(None)
    }
}

/// Middleware (`axum::middleware::from_fn`): puts the request id into every error body and
/// turns error responses of any other shape into this one. Install it inside
/// [`crate::request_log::middleware`], which assigns the id.
pub async fn request_id_layer(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().map(|id| id.0.clone());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let error = match response.extensions().get::<Rendered>() {
        Some(Rendered(e)) => e.clone(),
        None => {
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("application/json"));
            if is_json {
                // Already JSON (e.g. a health report's 503): leave it.
                return response;
            }
            if status.is_server_error() {
                tracing::error!(
                    status = status.as_u16(),
                    "an error response without the API's error shape"
                );
            }
            ApiError::for_status(status)
        }
    };
    let (parts, _) = response.into_parts();
    let mut fresh = error.into_response_with_request_id(request_id.as_deref());
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh
                .headers_mut()
                .entry(name)
                .or_insert_with(|| value.clone());
        }
    }
    fresh
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        base
    }

    #[tokio::test]
    async fn errors_carry_the_request_id_and_bare_ones_get_the_shape() {
        let app = Router::new()
            .route(
                "/validation",
                get(|| async { ApiError::validation("title", "must not be empty") }),
            )
            .route("/bare", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route(
                "/text",
                get(|| async { (StatusCode::BAD_REQUEST, "plain words") }),
            )
            .route("/limited", get(|| async { ApiError::too_many_requests(7) }))
            .route("/ok", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(request_id_layer))
            .layer(axum::middleware::from_fn(crate::request_log::middleware));
        let base = serve(app).await;
        let client = reqwest::Client::new();
        let get = |path: &str| {
            client
                .get(format!("{base}{path}"))
                .header("x-request-id", "rid-1")
                .send()
        };
        let r = get("/validation").await.unwrap();
        assert_eq!(r.status(), 422);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "VALIDATION_ERROR", "message": "must not be empty", "field": "title", "request_id": "rid-1"}})
        );
        let r = get("/bare").await.unwrap();
        assert_eq!(r.status(), 500);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "INTERNAL");
        assert_eq!(body["error"]["request_id"], "rid-1");
        let r = get("/text").await.unwrap();
        assert_eq!(r.status(), 400);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "BAD_REQUEST");
        let r = get("/limited").await.unwrap();
        assert_eq!(r.headers()["retry-after"], "7");
        assert_eq!(r.headers()["x-request-id"], "rid-1");
        let r = get("/ok").await.unwrap();
        assert_eq!(r.text().await.unwrap(), "fine");
    }
}
