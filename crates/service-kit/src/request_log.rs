//! One log line per request (method, path, status, latency, request id) and the
//! `x-request-id` header: taken from the caller when it sends a sane one, generated otherwise,
//! and always returned so a user's report can be matched to the logs.
//!
//! The handler runs inside a `request` span holding the request id (and method and path), so
//! every line logged while serving it, a store error deep inside included, carries the id.
//! A request whose client goes away before the response is logged too ("request cancelled").
//!
//! [`crate::serve`] puts [`RequestLayer`] around every service: id, span, log line and the
//! HTTP metrics in one pass per request ([`middleware`] is the same for other routers).
//!
//! With OpenTelemetry on ([`crate::trace`]) the same span is the request's server span: the
//! caller's `traceparent` is its parent, and it is named by the route template.
//!
//! Only the path is logged, never the query string or headers: tokens and passwords must not
//! reach the logs.

use crate::metrics::{HttpMetrics, RouteSeries};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::Instrument;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The request log as a middleware, for a router served without [`crate::serve`] (which adds
/// [`RequestLayer`] itself). Under `RequestLayer` it does nothing: the request has its id,
/// span and log line already.
pub async fn middleware(req: Request, next: Next) -> Response {
    if req.extensions().get::<RequestId>().is_some() {
        return next.run(req).await;
    }
    handle(req, None, |req| next.run(req)).await
}

/// The one layer every request of [`crate::serve`] goes through: request id, span (the
/// OpenTelemetry server span when tracing is on), log line and, with metrics on, the HTTP
/// series of [`crate::metrics`], in one pass. (Separate `from_fn` layers for the log, the
/// route and the metrics each cloned the inner service and boxed a future per request, and
/// the metrics looked their series up in shared maps each time.)
#[derive(Clone)]
pub struct RequestLayer {
    metrics: Option<Arc<HttpMetrics>>,
}

impl RequestLayer {
    pub(crate) fn new(metrics: Option<Arc<HttpMetrics>>) -> RequestLayer {
        RequestLayer { metrics }
    }

    /// Logs and ids only, no metrics (`METRICS_ENABLED=false`).
    pub fn without_metrics() -> RequestLayer {
        RequestLayer { metrics: None }
    }
}

impl<S> tower::Layer<S> for RequestLayer {
    type Service = RequestService<S>;

    fn layer(&self, inner: S) -> RequestService<S> {
        // axum calls this once per route and method: each gets its own series cache.
        RequestService {
            inner,
            series: self.metrics.as_ref().map(|m| Arc::new(m.route_series())),
        }
    }
}

#[derive(Clone)]
pub struct RequestService<S> {
    inner: S,
    series: Option<Arc<RouteSeries>>,
}

impl<S> tower::Service<Request> for RequestService<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // The clone takes the place of the instance that was polled ready (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let series = self.series.clone();
        Box::pin(async move {
            let response = handle(req, series.as_deref(), |req| async move {
                match inner.call(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            })
            .await;
            Ok(response)
        })
    }
}

async fn handle<F, Fut>(mut req: Request, series: Option<&RouteSeries>, run: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let in_flight = series.map(RouteSeries::start);
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // Only routed requests have a template; the metrics and the span name need it.
    let route = req.extensions().get::<MatchedPath>().cloned();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        %method,
        %path,
        otel.name = tracing::field::Empty,
        otel.kind = tracing::field::Empty,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    let traced = crate::trace::enabled();
    if traced {
        // The OpenTelemetry server span: named by the route template, the caller's trace as
        // its parent. Recorded only with tracing on, so log lines stay as they were without.
        span.record("otel.kind", "server");
        match &route {
            Some(route) => {
                span.record("otel.name", format!("{method} {}", route.as_str()));
                span.record("http.route", route.as_str());
            }
            None => {
                span.record("otel.name", method.as_str());
            }
        }
        crate::trace::set_remote_parent(&span, req.headers());
    }
    // Dropped with this future when the client disconnects before the response.
    let cancelled = CancelGuard {
        span: span.clone(),
        started,
        done: false,
    };
    let mut response = run(req).instrument(span.clone()).await;
    cancelled.finished();
    let status = response.status();
    if let Some(series) = series {
        series.record(
            route.as_ref().map(MatchedPath::as_str),
            &method,
            status,
            started.elapsed(),
        );
    }
    drop(in_flight);
    let _entered = span.enter();
    let status = status.as_u16();
    if traced {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
    }
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

/// Logs a request that ended without a response: hyper drops the handler's future when the
/// connection closes, and without this the request would leave no line at all.
struct CancelGuard {
    span: tracing::Span,
    started: Instant,
    done: bool,
}

impl CancelGuard {
    fn finished(mut self) {
        self.done = true;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.done {
            let latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
            self.span.in_scope(|| {
                tracing::warn!(
                    latency_ms,
                    "request cancelled: the client went away before the response"
                );
            });
        }
    }
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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// Collects every log line (JSON, as in production) of the current thread.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    // A current-thread runtime: the server's tasks run on this thread, under its subscriber.
    #[tokio::test]
    async fn every_line_of_a_request_carries_its_id_and_cancelled_requests_are_logged() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = axum::Router::new()
            .route(
                "/fails",
                axum::routing::get(|| async {
                    tracing::error!("store error");
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                }),
            )
            .route(
                "/slow",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            )
            .layer(axum::middleware::from_fn(middleware));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = reqwest::Client::new();
        let r = client
            .get(format!("{base}/fails"))
            .header("x-request-id", "rid-fails-1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let gone = client
            .get(format!("{base}/slow"))
            .header("x-request-id", "rid-gone-2")
            .timeout(Duration::from_millis(200))
            .send()
            .await;
        assert!(gone.is_err());
        let mut text = String::new();
        for _ in 0..100 {
            text = lines.text();
            if text.contains("request cancelled") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let line = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
                .to_owned()
        };
        assert!(line("store error").contains("rid-fails-1"), "{text}");
        let cancelled = line("request cancelled");
        assert!(
            cancelled.contains("rid-gone-2") && cancelled.contains("/slow"),
            "{cancelled}"
        );
    }

    #[test]
    fn only_plain_ids_are_taken_from_callers() {
        assert!(is_sane_id("abc-123_x.y:z"));
        assert!(!is_sane_id(""));
        assert!(!is_sane_id("has space"));
        assert!(!is_sane_id("newline\ninjected"));
        assert!(!is_sane_id(&"x".repeat(129)));
    }
}
