//! `/health`, `/livez` and `/readyz`.
//!
//! - `/livez`: the process is up and serving. Touches nothing else, so a slow database never
//!   gets a healthy pod restarted by its liveness probe.
//! - `/readyz`: ready for traffic: every dependency check passes and shutdown has not begun.
//!   It turns 503 the moment shutdown starts, so the load balancer drains the pod.
//! - `/health`: the detailed report the spec asks for, `{"status","service","version",
//!   "timestamp","checks":{name: "ok"|"failed"}}`, 200 or 503. Every check is bounded by a
//!   timeout, so the answer comes in time even when a dependency hangs.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A named dependency check: `Ok` when the dependency answers and is usable.
pub type HealthCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The health state shared by a service's routes and its shutdown logic.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    version: &'static str,
    /// (name, check, readiness only): readiness-only checks are left out of `/health`.
    checks: Vec<(&'static str, HealthCheck, bool)>,
    shutting_down: AtomicBool,
    health_timeout: Duration,
    ready_timeout: Duration,
}

impl Health {
    pub fn new(service: &'static str, version: &'static str) -> Health {
        Health {
            inner: Arc::new(Inner {
                service,
                version,
                checks: Vec::new(),
                shutting_down: AtomicBool::new(false),
                // /health must answer within 100 ms even when a dependency hangs.
                health_timeout: Duration::from_millis(80),
                // Readiness may wait a little longer: a false "not ready" drains a busy pod.
                ready_timeout: Duration::from_millis(800),
            }),
        }
    }

    /// Adds a dependency check, reported by `/health` and required by `/readyz`.
    /// Call before the routes are built.
    pub fn with_check<F, Fut>(self, name: &'static str, check: F) -> Health
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, Arc::new(move || Box::pin(check())), false)
    }

    /// Adds a check required by `/readyz` only (e.g. "migrations applied").
    pub fn with_ready_check<F, Fut>(self, name: &'static str, check: F) -> Health
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, Arc::new(move || Box::pin(check())), true)
    }

    fn add(mut self, name: &'static str, check: HealthCheck, ready_only: bool) -> Health {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.checks.push((name, check, ready_only)),
            None => {
                // Already shared: rebuild (only happens if a caller cloned before configuring).
                let mut checks = self.inner.checks.clone();
                checks.push((name, check, ready_only));
                self.inner = Arc::new(Inner {
                    service: self.inner.service,
                    version: self.inner.version,
                    checks,
                    shutting_down: AtomicBool::new(self.inner.shutting_down.load(Ordering::SeqCst)),
                    health_timeout: self.inner.health_timeout,
                    ready_timeout: self.inner.ready_timeout,
                });
            }
        }
        self
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// Runs the checks concurrently, each bounded by `timeout`.
    async fn run_checks(
        &self,
        timeout: Duration,
        readiness: bool,
    ) -> Vec<(&'static str, Result<(), String>)> {
        let runs = self
            .inner
            .checks
            .iter()
            .filter(|(_, _, ready_only)| readiness || !ready_only)
            .map(|(name, check, _)| {
                let fut = check();
                async move {
                    let result = match tokio::time::timeout(timeout, fut).await {
                        Ok(r) => r,
                        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                    };
                    (*name, result)
                }
            });
        futures::future::join_all(runs).await
    }

    /// The routes: `/health`, `/livez`, `/readyz`.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/health", get(health))
            .route("/livez", get(livez))
            .route("/readyz", get(readyz))
            .with_state(self.clone())
    }
}

async fn livez(State(health): State<Health>) -> Response {
    Json(json!({ "status": "ok", "service": health.service() })).into_response()
}

async fn readyz(State(health): State<Health>) -> Response {
    if health.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting_down", "service": health.service() })),
        )
            .into_response();
    }
    let results = health.run_checks(health.inner.ready_timeout, true).await;
    let failed: Map<String, Value> = results
        .into_iter()
        .filter_map(|(name, r)| r.err().map(|e| (name.to_owned(), Value::String(e))))
        .collect();
    if failed.is_empty() {
        Json(json!({ "status": "ready", "service": health.service() })).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "service": health.service(), "failed": failed })),
        )
            .into_response()
    }
}

async fn health(State(health): State<Health>) -> Response {
    let results = health.run_checks(health.inner.health_timeout, false).await;
    let mut checks = Map::new();
    let mut healthy = true;
    for (name, result) in results {
        if let Err(reason) = &result {
            healthy = false;
            tracing::warn!(check = name, %reason, "health check failed");
        }
        checks.insert(
            name.to_owned(),
            Value::from(if result.is_ok() { "ok" } else { "failed" }),
        );
    }
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = json!({
        "status": if healthy { "healthy" } else { "unhealthy" },
        "service": health.service(),
        "version": health.inner.version,
        "timestamp": timestamp,
        "checks": checks,
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    async fn serve(health: Health) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app: Router = health.routes();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn health_reports_each_check_and_stays_fast_when_one_hangs() {
        let db_up = Arc::new(AtomicBool::new(true));
        let flag = db_up.clone();
        let health = Health::new("demo", "1.2.3")
            .with_check("database", move || {
                let up = flag.load(Ordering::SeqCst);
                async move { if up { Ok(()) } else { Err("down".into()) } }
            })
            .with_check("hangs_when_down", {
                let flag = db_up.clone();
                move || {
                    let up = flag.load(Ordering::SeqCst);
                    async move {
                        if !up {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                        }
                        Ok(())
                    }
                }
            });
        let base = serve(health.clone()).await;
        let client = reqwest::Client::new();

        let r = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["service"], "demo");
        assert_eq!(body["version"], "1.2.3");
        assert_eq!(body["checks"]["database"], "ok");
        assert!(body["timestamp"].as_str().unwrap().contains('T'));

        db_up.store(false, Ordering::SeqCst);
        let started = Instant::now();
        let r = client.get(format!("{base}/health")).send().await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["checks"]["database"], "failed");
        assert_eq!(body["checks"]["hangs_when_down"], "failed");
        // Bounded by the 80 ms check timeout, not the 30 s hang (timing targets live in benchmarks).
        assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");

        // Liveness never depends on the checks.
        assert_eq!(
            client
                .get(format!("{base}/livez"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            503
        );
    }

    #[tokio::test]
    async fn readiness_flips_when_shutdown_begins() {
        let health = Health::new("demo", "0");
        let base = serve(health.clone()).await;
        let client = reqwest::Client::new();
        assert_eq!(
            client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        health.begin_shutdown();
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(
            client
                .get(format!("{base}/livez"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
}
