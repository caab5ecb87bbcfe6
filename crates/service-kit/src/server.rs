//! Serving with graceful shutdown: on SIGTERM/SIGINT stop accepting, flip readiness, let
//! in-flight requests finish (bounded by a grace period), then return so `main` can close the
//! database pool and exit 0. Connections are served by hyper with our own accept loop, which
//! axum::serve has no knobs for: timeouts for slow and idle clients, a connection cap, and a
//! shutdown that closes idle connections within a moment instead of waiting for them.

use crate::api_error::ApiError;
use crate::connections::{
    CLOSE, DeadlineBody, GuardedBody, Registered, Registry, ServeSettings, WatchedIo,
};
use crate::health::Health;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::Service;

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most the grace.
/// Returns an error only when serving itself failed.
///
/// Handlers see the peer address as `ConnectInfo<SocketAddr>`, as with axum's
/// `into_make_service_with_connect_info`. HTTP/1.1 is served, with upgrades; not HTTP/2,
/// which axum::serve did not serve here either (axum's `http2` feature is off).
/// Slow and idle clients are closed after the timeouts in `settings` (see
/// [`crate::connections`]); at most `settings.max_connections` are open at once.
///
/// `GET /metrics` and the HTTP request metrics are added to `app` ([`crate::metrics`]) unless
/// `settings.metrics` is off (`METRICS_ENABLED=false`).
///
/// On shutdown: readiness turns 503, the listener closes, connections with no request in
/// flight close within a moment (idle keep-alive: 100 ms, in case a request is on its way;
/// half-sent headers: 500 ms to finish them), and the others finish their requests, for at
/// most `shutdown_grace`; every response from then on says `Connection: close`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
    settings: impl Into<ServeSettings>,
) -> std::io::Result<()> {
    let settings = settings.into();
    // Every service gets /metrics and the HTTP metrics here, once (see `crate::metrics`).
    let app = if settings.metrics {
        crate::metrics::instrument(app, health.service(), health.version())
    } else {
        app.layer(crate::request_log::RequestLayer::without_metrics())
    };
    // HTTP/1.1 only, as axum::serve (without its http2 feature) served before. Header and idle
    // timeouts are our connection deadlines, not hyper's (see `crate::connections`).
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(None);
    let registry = Arc::new(Registry::default());
    let tasks = TaskTracker::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_resource_exhaustion(&e) => {
                // Out of file descriptors (EMFILE/ENFILE) or memory: the pending connection
                // stays in the backlog and accept would fail again at once. Free a descriptor
                // by closing the longest-idle connection, and back off instead of spinning.
                let evicted = registry.evict_oldest_idle();
                tracing::warn!(error = %e, open = registry.len(), evicted, "accept failed; backing off");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
            // The peer gave up before we accepted (ECONNABORTED and the like): nothing to do.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        if registry.len() >= settings.max_connections && !registry.evict_oldest_idle() {
            // Every connection has a request in flight: refuse this one now rather than let it
            // wait unseen. Idle ones are evicted instead, so a probe's fresh connection (e.g.
            // /livez) gets in while idle or slow-header clients hold the cap.
            tracing::warn!(
                %peer,
                max_connections = settings.max_connections,
                "connection limit reached with every connection busy; closing the new one"
            );
            drop(stream);
            continue;
        }
        let registered = registry.register();
        let builder = builder.clone();
        let app = app.clone();
        let stop = stop_rx.clone();
        tasks.spawn(async move {
            serve_connection(builder, stream, peer, app, registered, settings, stop).await;
        });
    }
    drop(listener);
    health.begin_shutdown();
    let _ = stop_tx.send(true);
    tasks.close();
    let open = registry.len();
    tracing::info!(
        open_connections = open,
        "shutting down: closing idle connections, draining requests in flight"
    );
    tokio::select! {
        () = tasks.wait() => Ok(()),
        () = tokio::time::sleep(settings.shutdown_grace) => {
            tracing::warn!(
                grace_ms = settings.shutdown_grace.as_millis() as u64,
                still_open = registry.len(),
                "in-flight requests still running after the grace period; exiting anyway"
            );
            Ok(())
        }
    }
}

/// How long the accept loop pauses after running out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

fn is_resource_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
        || e.kind() == std::io::ErrorKind::OutOfMemory
}

async fn serve_connection(
    builder: http1::Builder,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    registered: Registered,
    settings: ServeSettings,
    mut stop: watch::Receiver<bool>,
) {
    let conn = registered.conn.clone();
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WatchedIo {
        inner: stream,
        conn: conn.clone(),
    });
    let service_conn = conn.clone();
    let service_stop = stop.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = service_conn.begin_request();
        let timed_out = Arc::new(AtomicBool::new(false));
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        // No timer for the many requests without a body (GET, HEAD).
        let body = if http_body::Body::is_end_stream(&body) {
            Body::new(body)
        } else {
            Body::new(DeadlineBody::new(
                Body::new(body),
                settings.body_read_timeout,
                timed_out.clone(),
            ))
        };
        let mut app = app.clone();
        let stop = service_stop.clone();
        async move {
            let response = match app.call(Request::from_parts(parts, body)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = if timed_out.load(Ordering::Relaxed) {
                body_timeout_response(&response, settings.body_read_timeout)
            } else {
                response
            };
            let mut response = response.map(|b| Body::new(GuardedBody::new(b, guard)));
            if *stop.borrow() {
                // Shutting down: the client must not send another request on this connection,
                // and hyper closes it once this response is written. (hyper's own
                // graceful_shutdown adds this header only if the response head is not yet
                // written, and closes at once after, failing a request already on its way.)
                response.headers_mut().insert(header::CONNECTION, CLOSE);
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = builder.serve_connection(io, service).with_upgrades();
    let mut connection = std::pin::pin!(connection);
    let mut stopping = stop.borrow().then(tokio::time::Instant::now);
    loop {
        let deadline = conn.deadline(&settings, stopping);
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = expired => {
                // Re-check: a request may have begun just as the timer fired.
                if conn
                    .deadline(&settings, stopping)
                    .is_some_and(|at| at <= tokio::time::Instant::now())
                {
                    tracing::debug!(%peer, "closing a slow or idle connection");
                    return;
                }
            }
            () = conn.changed() => {}
            () = conn.evicted() => {
                if conn.is_idle() {
                    tracing::debug!(%peer, "closing an idle connection to make room");
                    return;
                }
                conn.spared();
            }
            _ = stop.changed(), if stopping.is_none() => {
                stopping = Some(tokio::time::Instant::now());
            }
        }
    }
}

/// The 408 that replaces whatever the handler answered when the body's deadline passed.
fn body_timeout_response(handler_response: &Response, timeout: Duration) -> Response {
    let request_id = handler_response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        format!(
            "the request body did not arrive within {} s; send it in one go and retry",
            timeout.as_secs_f64()
        ),
    )
    .into_response_with_request_id(request_id.as_deref());
    if let Some(id) = handler_response.headers().get("x-request-id") {
        response.headers_mut().insert("x-request-id", id.clone());
    }
    // The rest of the body is still on the wire: the connection cannot carry another request.
    response.headers_mut().insert(header::CONNECTION, CLOSE);
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::routing::get;

    #[tokio::test]
    async fn shutdown_lets_an_in_flight_request_finish() {
        let health = Health::new("demo", "0");
        let app = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    "done"
                }),
            )
            .merge(health.routes());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(
            listener,
            app,
            health.clone(),
            async move {
                let _ = stop_rx.await;
            },
            Duration::from_secs(5),
        ));
        let request = tokio::spawn(async move {
            reqwest::get(format!("http://{addr}/slow"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(()).unwrap();
        assert_eq!(request.await.unwrap(), "done");
        server.await.unwrap().unwrap();
        assert!(health.is_shutting_down());
        // The listener is closed: new connections are refused.
        assert!(reqwest::get(format!("http://{addr}/livez")).await.is_err());
    }
}
