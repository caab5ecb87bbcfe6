//! Serving with graceful shutdown: on SIGTERM/SIGINT stop accepting, flip readiness, let
//! in-flight requests finish (bounded by a grace period), then return so `main` can close the
//! database pool and exit 0.

use crate::health::Health;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

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

/// Serves `app` on `listener` until `shutdown` resolves, then drains for at most `grace`.
/// Returns an error only when serving itself failed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (drained_tx, drained_rx) = tokio::sync::oneshot::channel::<()>();
    let health_for_signal = health.clone();
    let signal = async move {
        shutdown.await;
        health_for_signal.begin_shutdown();
        let _ = drained_tx.send(());
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let server = std::pin::pin!(server.into_future());
    // Once shutdown begins, in-flight requests get `grace` to finish; then we stop waiting.
    let bounded = async {
        let _ = drained_rx.await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result,
        () = bounded => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests still running after the grace period; exiting anyway");
            Ok(())
        }
    }
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
