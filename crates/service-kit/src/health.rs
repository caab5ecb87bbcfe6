//! `/health`, `/livez` and `/readyz`.
//!
//! - `/livez`: the process is up and serving. Touches nothing else, so a slow database never
//!   gets a healthy pod restarted by its liveness probe.
//! - `/readyz`: ready for traffic: every dependency check passes and shutdown has not begun.
//!   It turns 503 the moment shutdown starts, so the load balancer drains the pod. A check
//!   that has passed once and then fails keeps the pod ready for a grace period
//!   ([`ReadinessSettings`], `READINESS_DB_GRACE_SECONDS`, 30 s in the binaries): a short
//!   database blip must not pull every replica out of the load balancer at once, which would
//!   turn a few failed requests into a site-wide 503. Requests during the blip still fail fast
//!   with their own 503. The body lists such checks under `degraded`.
//! - `/health`: the detailed report the spec asks for, `{"status","service","version",
//!   "timestamp","checks":{name: "ok"|"failed"}}`, 200 or 503. Every check is bounded by a
//!   timeout, so the answer comes in time even when a dependency hangs.

use crate::config::{ConfigError, Env};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A named dependency check: `Ok` when the dependency answers and is usable.
pub type HealthCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// How long a dependency may fail before `/readyz` turns 503, for every [`Health`] this
/// process creates afterwards. Each binary installs it at start-up; a `Health` built without
/// it (tests, embedders) has no grace and reports the dependency as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadinessSettings {
    pub dependency_grace: Duration,
}

static PROCESS_GRACE: OnceLock<Duration> = OnceLock::new();

impl ReadinessSettings {
    /// `READINESS_DB_GRACE_SECONDS`, default 30.
    pub fn from_env(env: &Env) -> Result<ReadinessSettings, ConfigError> {
        let seconds: u64 = env.parse_or(
            "READINESS_DB_GRACE_SECONDS",
            30,
            "a whole number of seconds, e.g. 30 (0: not ready at the first failed check)",
        )?;
        Ok(ReadinessSettings {
            dependency_grace: Duration::from_secs(seconds),
        })
    }

    /// Makes this the grace of every `Health` created from now on (first call wins).
    pub fn install(self) {
        let _ = PROCESS_GRACE.set(self.dependency_grace);
    }
}

/// Where a check counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// `/health` and `/readyz`.
    Both,
    /// `/readyz` only (e.g. "migrations applied").
    ReadyOnly,
    /// `/health` only: reported, but the pod can serve without it.
    HealthOnly,
}

/// Readiness memory of one check: whether it ever passed, and since when it has failed.
#[derive(Default)]
struct CheckState {
    passed_once: bool,
    failing_since: Option<Instant>,
}

#[derive(Clone)]
struct Check {
    name: &'static str,
    run: HealthCheck,
    scope: Scope,
    state: Arc<Mutex<CheckState>>,
}

/// The health state shared by a service's routes and its shutdown logic.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    version: &'static str,
    checks: Vec<Check>,
    shutting_down: AtomicBool,
    health_timeout: Duration,
    ready_timeout: Duration,
    grace: Duration,
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
                grace: PROCESS_GRACE.get().copied().unwrap_or(Duration::ZERO),
            }),
        }
    }

    /// Sets the readiness grace of this `Health` (see [`ReadinessSettings`]).
    pub fn with_readiness_grace(self, grace: Duration) -> Health {
        self.rebuild(|inner| inner.grace = grace)
    }

    /// Adds a dependency check, reported by `/health` and required by `/readyz`.
    /// Call before the routes are built.
    pub fn with_check<F, Fut>(self, name: &'static str, check: F) -> Health
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, Arc::new(move || Box::pin(check())), Scope::Both)
    }

    /// Adds a check reported by `/health` only: the service serves without it (todo-web
    /// renders an "unavailable" page when todo-api is down), so it must not make the pod
    /// unready.
    pub fn with_report_check<F, Fut>(self, name: &'static str, check: F) -> Health
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, Arc::new(move || Box::pin(check())), Scope::HealthOnly)
    }

    /// Adds a check required by `/readyz` only (e.g. "migrations applied").
    pub fn with_ready_check<F, Fut>(self, name: &'static str, check: F) -> Health
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, Arc::new(move || Box::pin(check())), Scope::ReadyOnly)
    }

    fn add(self, name: &'static str, run: HealthCheck, scope: Scope) -> Health {
        self.rebuild(|inner| {
            inner.checks.push(Check {
                name,
                run,
                scope,
                state: Arc::default(),
            })
        })
    }

    fn rebuild(mut self, change: impl FnOnce(&mut Inner)) -> Health {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => change(inner),
            None => {
                // Already shared: rebuild (only happens if a caller cloned before configuring).
                let mut inner = Inner {
                    service: self.inner.service,
                    version: self.inner.version,
                    checks: self.inner.checks.clone(),
                    shutting_down: AtomicBool::new(self.inner.shutting_down.load(Ordering::SeqCst)),
                    health_timeout: self.inner.health_timeout,
                    ready_timeout: self.inner.ready_timeout,
                    grace: self.inner.grace,
                };
                change(&mut inner);
                self.inner = Arc::new(inner);
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

    pub fn version(&self) -> &'static str {
        self.inner.version
    }

    /// Runs the checks concurrently, each bounded by `timeout`.
    async fn run_checks(
        &self,
        timeout: Duration,
        readiness: bool,
    ) -> Vec<(&Check, Result<(), String>)> {
        let runs = self
            .inner
            .checks
            .iter()
            .filter(|check| match check.scope {
                Scope::Both => true,
                Scope::ReadyOnly => readiness,
                Scope::HealthOnly => !readiness,
            })
            .map(|check| {
                let fut = (check.run)();
                async move {
                    let result = match tokio::time::timeout(timeout, fut).await {
                        Ok(r) => r,
                        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                    };
                    (check, result)
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
    let grace = health.inner.grace;
    let now = Instant::now();
    let mut failed = Map::new();
    let mut degraded = Map::new();
    for (check, result) in results {
        let mut state = match check.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Err(reason) = result else {
            state.passed_once = true;
            state.failing_since = None;
            continue;
        };
        let since = *state.failing_since.get_or_insert(now);
        let failing_for = now.saturating_duration_since(since);
        // Never passed (starting up): not ready yet. Passed before: ready within the grace.
        if state.passed_once && failing_for < grace {
            degraded.insert(
                check.name.to_owned(),
                Value::String(format!(
                    "{reason} (failing for {} s; not ready after {} s)",
                    failing_for.as_secs(),
                    grace.as_secs()
                )),
            );
        } else {
            failed.insert(check.name.to_owned(), Value::String(reason));
        }
    }
    if failed.is_empty() {
        let mut body = json!({ "status": "ready", "service": health.service() });
        if !degraded.is_empty() {
            body["degraded"] = Value::Object(degraded);
        }
        Json(body).into_response()
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
    for (check, result) in results {
        let name = check.name;
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
    async fn readiness_outlasts_a_short_failure_but_not_a_long_one() {
        let up = Arc::new(AtomicBool::new(false));
        let flag = up.clone();
        let health = Health::new("demo", "0")
            .with_check("database", move || {
                let up = flag.load(Ordering::SeqCst);
                async move { if up { Ok(()) } else { Err("refused".into()) } }
            })
            .with_readiness_grace(Duration::from_secs(2));
        let base = serve(health.clone()).await;
        let client = reqwest::Client::new();
        let ready = || async {
            let r = client.get(format!("{base}/readyz")).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        };
        // Never passed yet: no grace while starting up.
        assert_eq!(ready().await.0, 503);
        up.store(true, Ordering::SeqCst);
        assert_eq!(ready().await.0, 200);
        up.store(false, Ordering::SeqCst);
        let (status, body) = ready().await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["degraded"]["database"]
                .as_str()
                .unwrap()
                .contains("refused"),
            "{body}"
        );
        // /health reports the truth at once.
        let r = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        // Past the grace: not ready.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (status, body) = ready().await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["failed"]["database"], "refused");
        // Back: ready at once, and the next failure gets a fresh grace.
        up.store(true, Ordering::SeqCst);
        assert_eq!(ready().await.0, 200);
        up.store(false, Ordering::SeqCst);
        assert_eq!(ready().await.0, 200);
    }

    #[tokio::test]
    async fn a_report_check_shows_in_health_but_never_unreadies() {
        let health = Health::new("demo", "0")
            .with_report_check("api", || async { Err("connection refused".into()) });
        let base = serve(health).await;
        let client = reqwest::Client::new();
        let r = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["checks"]["api"], "failed");
    }

    #[test]
    fn the_grace_setting_is_read_and_checked() {
        let default = ReadinessSettings::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(default.dependency_grace, Duration::from_secs(30));
        let set =
            ReadinessSettings::from_env(&Env::from_pairs([("READINESS_DB_GRACE_SECONDS", "5")]))
                .unwrap();
        assert_eq!(set.dependency_grace, Duration::from_secs(5));
        let e =
            ReadinessSettings::from_env(&Env::from_pairs([("READINESS_DB_GRACE_SECONDS", "soon")]))
                .unwrap_err();
        assert_eq!(e.variable, "READINESS_DB_GRACE_SECONDS");
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
