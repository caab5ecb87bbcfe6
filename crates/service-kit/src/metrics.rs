//! Prometheus metrics, once for every service: `GET /metrics` in the Prometheus text format,
//! an HTTP layer counting requests, and a small API for the events only one service sees.
//!
//! [`crate::serve`] adds both to every service's router (see [`instrument`]; the counting is
//! done by [`crate::request_log::RequestLayer`], the one layer per request, with each
//! endpoint's series registered on its first request), so the three services export the same
//! HTTP series with no code of their own:
//!
//! - `http_server_requests_total{service,method,route,status_class}`
//! - `http_server_request_duration_seconds{service,method,route,status_class}` (histogram,
//!   time to the response head)
//! - `http_server_requests_in_flight{service}`
//! - `todo_rate_limit_rejections_total{service,route}` (every 429 answered)
//! - `todo_build_info{service,version,commit}` (always 1)
//!
//! and, once a service calls [`watch_db_pool`] and [`db_query_error`],
//! `todo_db_pool_connections{service,state}`, `todo_db_pool_max_connections{service}`,
//! `todo_db_up{service}` and `todo_db_query_errors_total{service,kind}`.
//!
//! `route` is the route template (axum's `MatchedPath`, e.g. `/api/tasks/{id}`), never the
//! raw path, and `unmatched` for requests no route took; `method` is one of the standard
//! methods or `other`. Every label value of this module is a `&'static str`, so no user id,
//! raw path or other unbounded value can become a label: the series count stays bounded.
//!
//! Service-specific events are one line at the point of the event, e.g.
//! `service_kit::metrics::chat_turn("builtin", "ok")`; their names are defined here once so
//! the dashboard and the alerts in the chart name the same series. [`counter`],
//! [`histogram`] and [`on_scrape`] are there for a service's own additional metrics.
//!
//! /metrics is served on the service's port, to direct scrapes only: a request carrying
//! `X-Forwarded-For` or `Forwarded` came through a reverse proxy (the Ingress routes every
//! path under `/` to todo-web) and gets 404.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// The path Prometheus scrapes.
pub const PATH: &str = "/metrics";

/// Metric names, defined once: the chart's dashboard and alerts use the same strings (and a
/// test checks each query in the dashboard names one of them).
pub mod names {
    pub const HTTP_REQUESTS: &str = "http_server_requests_total";
    pub const HTTP_DURATION: &str = "http_server_request_duration_seconds";
    pub const HTTP_IN_FLIGHT: &str = "http_server_requests_in_flight";
    pub const BUILD_INFO: &str = "todo_build_info";
    pub const DB_POOL_CONNECTIONS: &str = "todo_db_pool_connections";
    pub const DB_POOL_MAX: &str = "todo_db_pool_max_connections";
    pub const DB_UP: &str = "todo_db_up";
    pub const DB_QUERY_ERRORS: &str = "todo_db_query_errors_total";
    pub const CHAT_TURNS: &str = "todo_chat_turns_total";
    pub const MCP_TOOL_CALLS: &str = "todo_mcp_tool_calls_total";
    pub const MCP_TOOL_DURATION: &str = "todo_mcp_tool_call_duration_seconds";
    pub const LLM_DURATION: &str = "todo_llm_call_duration_seconds";
    pub const LLM_TOKENS: &str = "todo_llm_tokens_total";
    pub const LOGIN_FAILURES: &str = "todo_login_failures_total";
    pub const RATE_LIMITED: &str = "todo_rate_limit_rejections_total";
}

/// Histogram buckets in seconds: from a fast API call (5 ms) to a slow LLM turn (60 s).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The commit the binaries were built from, when the build says (`TODO_GIT_COMMIT`); a build
/// script running git would break builds from a source tarball or the Nix store.
const COMMIT: &str = match option_env!("TODO_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

struct Metrics {
    handle: PrometheusHandle,
    hooks: Mutex<Vec<ScrapeHook>>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The service this process serves (the first [`instrument`]ed), for the `service` label of
/// the database series; `unknown` before.
static SERVICE: OnceLock<&'static str> = OnceLock::new();

fn service() -> &'static str {
    SERVICE.get().copied().unwrap_or("unknown")
}

/// The process's recorder, installed on first use. Every later call returns the same one, so
/// tests that start several servers in one process share it (as a process has one registry).
fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| {
        let builder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
            Ok(builder) => builder,
            // Only an empty bucket list is refused, and BUCKETS is not empty.
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            // An embedder installed its own recorder first: our series go there, and this
            // handle renders nothing. Say so instead of serving an empty page silently.
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        Metrics {
            handle,
            hooks: Mutex::new(Vec::new()),
        }
    })
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    use names::*;
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template and status class"
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from request to response head"
    );
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being served now");
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the labels say which build is running"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database pool connections by state (idle, in_use)"
    );
    describe_gauge!(DB_POOL_MAX, "The database pool's maximum size");
    describe_gauge!(
        DB_UP,
        "1 while the database answers, 0 while it is known to be down"
    );
    describe_counter!(DB_QUERY_ERRORS, "Database operations that failed, by kind");
    describe_counter!(CHAT_TURNS, "Chat turns, by engine and outcome");
    describe_counter!(MCP_TOOL_CALLS, "MCP tool calls, by tool and outcome");
    describe_histogram!(MCP_TOOL_DURATION, Unit::Seconds, "MCP tool call latency");
    describe_histogram!(
        LLM_DURATION,
        Unit::Seconds,
        "LLM call latency, by engine and outcome"
    );
    describe_counter!(
        LLM_TOKENS,
        "LLM tokens, by engine and kind (prompt, completion)"
    );
    describe_counter!(LOGIN_FAILURES, "Failed logins, by reason");
    describe_counter!(
        RATE_LIMITED,
        "Requests rejected by a rate limit (429), by route"
    );
}

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The exporter keeps each histogram sample until a render or an upkeep folds it into the
/// buckets: without upkeep, a service nobody scrapes would grow by every request it serves.
/// One task per process, started inside the server's runtime.
fn start_upkeep() {
    static STARTED: OnceLock<()> = OnceLock::new();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    STARTED.get_or_init(|| {
        drop(runtime.spawn(async {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                metrics().handle.run_upkeep();
            }
        }));
    });
}

/// The current metrics in the Prometheus text format, after running the [`on_scrape`] hooks.
pub fn render() -> String {
    let metrics = metrics();
    if let Ok(hooks) = metrics.hooks.lock() {
        for hook in hooks.iter() {
            hook();
        }
    }
    metrics.handle.render()
}

/// Runs `hook` before every scrape: for gauges read from somewhere else (a pool's size).
pub fn on_scrape(hook: impl Fn() + Send + Sync + 'static) {
    if let Ok(mut hooks) = metrics().hooks.lock() {
        hooks.push(Box::new(hook));
    }
}

/// Adds `n` to a counter. Label values are `&'static str`: bounded by construction.
pub fn counter(name: &'static str, labels: &[(&'static str, &'static str)], n: u64) {
    metrics();
    metrics::counter!(name, owned(labels)).increment(n);
}

/// Records one observation (in seconds) in a histogram.
pub fn histogram(name: &'static str, labels: &[(&'static str, &'static str)], took: Duration) {
    metrics();
    metrics::histogram!(name, owned(labels)).record(took.as_secs_f64());
}

/// Sets a gauge.
pub fn gauge(name: &'static str, labels: &[(&'static str, &'static str)], value: f64) {
    metrics();
    metrics::gauge!(name, owned(labels)).set(value);
}

fn owned(labels: &[(&'static str, &'static str)]) -> Vec<metrics::Label> {
    labels
        .iter()
        .map(|&(k, v)| metrics::Label::from_static_parts(k, v))
        .collect()
}

/// One chat turn ended: `engine` (e.g. `builtin`, `openai`), `outcome` (e.g. `ok`, `error`).
pub fn chat_turn(engine: &'static str, outcome: &'static str) {
    counter(
        names::CHAT_TURNS,
        &[("engine", engine), ("outcome", outcome)],
        1,
    );
}

/// One MCP tool call ended. Call it only for a tool the server has (a fixed set): the name
/// comes from the request, so past [`MAX_INTERNED`] distinct names it is counted as `other`.
pub fn mcp_tool_call(tool: &str, outcome: &'static str, took: Duration) {
    let labels = [("tool", intern(tool)), ("outcome", outcome)];
    counter(names::MCP_TOOL_CALLS, &labels, 1);
    histogram(names::MCP_TOOL_DURATION, &labels, took);
}

/// Times one call to an OpenAI-compatible chat completions endpoint and records it (see
/// [`record_llm_call`]), with the token counts of the answer's `usage`. Wraps the call, so
/// the call site stays one line: `let reply = llm_call("llm", self.complete(..)).await?;`.
pub async fn llm_call<E>(
    engine: &'static str,
    call: impl std::future::Future<Output = Result<serde_json::Value, E>>,
) -> Result<serde_json::Value, E> {
    let started = Instant::now();
    let result = call.await;
    let took = started.elapsed();
    match &result {
        Ok(body) => {
            let tokens = |kind: &str| body["usage"][kind].as_u64().unwrap_or(0);
            record_llm_call(
                engine,
                "ok",
                took,
                tokens("prompt_tokens"),
                tokens("completion_tokens"),
            );
        }
        Err(_) => record_llm_call(engine, "error", took, 0, 0),
    }
    result
}

/// One call to an LLM ended, with the tokens it reported (0 when it reported none).
pub fn record_llm_call(
    engine: &'static str,
    outcome: &'static str,
    took: Duration,
    prompt_tokens: u64,
    completion_tokens: u64,
) {
    histogram(
        names::LLM_DURATION,
        &[("engine", engine), ("outcome", outcome)],
        took,
    );
    counter(
        names::LLM_TOKENS,
        &[("engine", engine), ("kind", "prompt")],
        prompt_tokens,
    );
    counter(
        names::LLM_TOKENS,
        &[("engine", engine), ("kind", "completion")],
        completion_tokens,
    );
}

/// A login failed: `reason` e.g. `bad_credentials`, `invalid_input`.
pub fn login_failure(reason: &'static str) {
    counter(names::LOGIN_FAILURES, &[("reason", reason)], 1);
}

/// A database operation failed: `kind` e.g. `unavailable`, `internal`.
pub fn db_query_error(kind: &'static str) {
    counter(
        names::DB_QUERY_ERRORS,
        &[("service", service()), ("kind", kind)],
        1,
    );
}

/// A database pool's state, read at each scrape (see [`watch_db_pool`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle ones included.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
    /// False while the database is known to be unreachable.
    pub up: bool,
}

impl PoolStats {
    /// From what sqlx's `PgPool` reports: `size()`, `num_idle()`, `options().get_max_connections()`.
    pub fn new(size: u32, idle: usize, max: u32, up: bool) -> PoolStats {
        PoolStats {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX).min(size),
            max,
            up,
        }
    }
}

type PoolSource = Box<dyn Fn() -> PoolStats + Send + Sync>;

static DB_POOL: Mutex<Option<PoolSource>> = Mutex::new(None);

/// Exports a database pool's connections (idle, in use), maximum and reachability, read at
/// each scrape. A process has one pool: a later call replaces the earlier source (tests that
/// start many servers in one process do not pile up closed pools).
pub fn watch_db_pool(stats: impl Fn() -> PoolStats + Send + Sync + 'static) {
    static HOOKED: OnceLock<()> = OnceLock::new();
    if let Ok(mut source) = DB_POOL.lock() {
        *source = Some(Box::new(stats));
    }
    HOOKED.get_or_init(|| on_scrape(export_db_pool));
}

fn export_db_pool() {
    let Ok(source) = DB_POOL.lock() else { return };
    let Some(stats) = source.as_ref() else { return };
    let s = stats();
    let idle = s.idle.min(s.size);
    let service = ("service", service());
    gauge(
        names::DB_POOL_CONNECTIONS,
        &[service, ("state", "idle")],
        f64::from(idle),
    );
    gauge(
        names::DB_POOL_CONNECTIONS,
        &[service, ("state", "in_use")],
        f64::from(s.size - idle),
    );
    gauge(names::DB_POOL_MAX, &[service], f64::from(s.max));
    gauge(names::DB_UP, &[service], if s.up { 1.0 } else { 0.0 });
}

/// Adds `GET /metrics` and the HTTP metrics layer to `app`, and sets `todo_build_info`.
/// [`crate::serve`] calls it; call it yourself only for a router served some other way.
pub fn instrument(app: Router, service: &'static str, version: &'static str) -> Router {
    let _ = SERVICE.set(service);
    start_upkeep();
    gauge(
        names::BUILD_INFO,
        &[
            ("service", service),
            ("version", version),
            ("commit", COMMIT),
        ],
        1.0,
    );
    app.route(PATH, get(metrics_handler))
        // One layer for the request's id, span, log line and series (see `crate::request_log`).
        .layer(crate::request_log::RequestLayer::new(Some(
            HttpMetrics::new(service),
        )))
}

/// Headers a reverse proxy (the ingress controller, a Gateway, `cargo xtask dev`'s router)
/// adds to what it forwards. Prometheus scrapes pods directly and sends none of them.
const PROXY_HEADERS: [&str; 2] = ["x-forwarded-for", "forwarded"];

async fn metrics_handler(headers: HeaderMap) -> Response {
    // The Ingress sends every path under `/` to todo-web, /metrics included: a request that
    // came through a proxy gets the same 404 as any unknown path. Defence in depth: the
    // chart's routes should not send /metrics to a pod in the first place.
    if PROXY_HEADERS.iter().any(|h| headers.contains_key(*h)) {
        return crate::ApiError::not_found(
            "NOT_FOUND",
            "no such route; /metrics is only served to scrapers that reach the pod directly",
        )
        .into_response();
    }
    let mut response = render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// How many distinct route templates and tool names become label values; later ones are
/// `other`. Far above what the services register, so it only guards against a bug.
pub const MAX_INTERNED: usize = 256;

/// Route templates and tool names leaked into `&'static str` once each: both are small fixed
/// sets, and the cap bounds the leak and the series count even if they were not.
fn intern(route: &str) -> &'static str {
    static ROUTES: OnceLock<RwLock<std::collections::HashSet<&'static str>>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    // Every request looks its route up: readers do not wait for each other.
    if let Ok(known) = routes.read()
        && let Some(known) = known.get(route)
    {
        return known;
    }
    let Ok(mut routes) = routes.write() else {
        return "unmatched";
    };
    if let Some(known) = routes.get(route) {
        return known;
    }
    if routes.len() >= MAX_INTERNED {
        return "other";
    }
    let leaked: &'static str = Box::leak(route.to_owned().into_boxed_str());
    routes.insert(leaked);
    leaked
}

/// The handles of one HTTP series (service, method, route, status class), looked up in the
/// recorder once: a lookup builds and hashes the key, which costs more than the update.
type HttpSeries = (metrics::Counter, metrics::Histogram);

fn http_series(labels: [(&'static str, &'static str); 4]) -> HttpSeries {
    type Cache = RwLock<HashMap<[&'static str; 4], HttpSeries>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = labels.map(|(_, value)| value);
    if let Ok(known) = cache.read()
        && let Some(series) = known.get(&key)
    {
        return series.clone();
    }
    let series = (
        metrics::counter!(names::HTTP_REQUESTS, owned(&labels)),
        metrics::histogram!(names::HTTP_DURATION, owned(&labels)),
    );
    // Bounded: interned routes x standard methods x status classes, for one service.
    if let Ok(mut known) = cache.write() {
        known.insert(key, series.clone());
    }
    series
}

/// The HTTP series of one service: its in-flight gauge, registered once.
pub(crate) struct HttpMetrics {
    service: &'static str,
    in_flight: metrics::Gauge,
}

impl HttpMetrics {
    pub(crate) fn new(service: &'static str) -> Arc<HttpMetrics> {
        metrics();
        Arc::new(HttpMetrics {
            service,
            in_flight: metrics::gauge!(names::HTTP_IN_FLIGHT, "service" => service),
        })
    }

    /// The cache of one layered endpoint (see [`RouteSeries`]).
    pub(crate) fn route_series(self: &Arc<Self>) -> RouteSeries {
        RouteSeries {
            http: self.clone(),
            route: OnceLock::new(),
            series: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }
}

/// Decrements the in-flight gauge however the request ends (a client going away included).
pub(crate) struct InFlight<'a>(&'a metrics::Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Standard methods plus `other`, and the five status classes: the series of one route.
const METHODS: usize = 8;
const CLASSES: usize = 5;

/// The series of one layered endpoint, registered on its first request and then reused
/// without a lookup: axum applies a router's layer to each route (and each method of it)
/// separately, so an endpoint serves one route template, and its series differ only by
/// method and status class. Per request that leaves a string comparison and the atomic
/// updates; a request with another route (which axum does not send) takes the general path.
pub(crate) struct RouteSeries {
    http: Arc<HttpMetrics>,
    /// The route template this endpoint saw first (`None`: no route matched) and its label.
    route: OnceLock<(Option<Box<str>>, &'static str)>,
    series: [[OnceLock<HttpSeries>; CLASSES]; METHODS],
}

impl RouteSeries {
    /// Counts the request in flight until the guard drops.
    pub(crate) fn start(&self) -> InFlight<'_> {
        self.http.in_flight.increment(1.0);
        InFlight(&self.http.in_flight)
    }

    /// Records one answered request: `matched` is its route template (axum's `MatchedPath`).
    pub(crate) fn record(
        &self,
        matched: Option<&str>,
        method: &Method,
        status: StatusCode,
        took: Duration,
    ) {
        let (m, method) = method_label(method);
        let (c, class) = status_class(status.as_u16());
        let (seen, label) = self
            .route
            .get_or_init(|| (matched.map(Box::from), matched.map_or("unmatched", intern)));
        let route = if seen.as_deref() == matched {
            let (requests, duration) = self.series[m][c].get_or_init(|| {
                http_series([
                    ("service", self.http.service),
                    ("method", method),
                    ("route", label),
                    ("status_class", class),
                ])
            });
            requests.increment(1);
            duration.record(took.as_secs_f64());
            *label
        } else {
            let route = matched.map_or("unmatched", intern);
            let (requests, duration) = http_series([
                ("service", self.http.service),
                ("method", method),
                ("route", route),
                ("status_class", class),
            ]);
            requests.increment(1);
            duration.record(took.as_secs_f64());
            route
        };
        // Every rate limit answers 429 (ApiError::too_many_requests): counted here, once, by
        // the route whose limit it was, instead of at each limit.
        if status == StatusCode::TOO_MANY_REQUESTS {
            counter(
                names::RATE_LIMITED,
                &[("service", self.http.service), ("route", route)],
                1,
            );
        }
    }
}

/// The method's label and its index in [`RouteSeries`].
fn method_label(method: &Method) -> (usize, &'static str) {
    match *method {
        Method::GET => (0, "GET"),
        Method::POST => (1, "POST"),
        Method::PUT => (2, "PUT"),
        Method::PATCH => (3, "PATCH"),
        Method::DELETE => (4, "DELETE"),
        Method::HEAD => (5, "HEAD"),
        Method::OPTIONS => (6, "OPTIONS"),
        _ => (7, "other"),
    }
}

/// The status class's label and its index in [`RouteSeries`].
fn status_class(status: u16) -> (usize, &'static str) {
    match status {
        100..=199 => (0, "1xx"),
        200..=299 => (1, "2xx"),
        300..=399 => (2, "3xx"),
        400..=499 => (3, "4xx"),
        _ => (4, "5xx"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(method_label(&Method::GET).1, "GET");
        let custom = Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET);
        assert_eq!(method_label(&custom).1, "other");
        assert_eq!(status_class(204).1, "2xx");
        assert_eq!(status_class(404).1, "4xx");
        assert_eq!(status_class(503).1, "5xx");
        assert!(method_label(&custom).0 < METHODS && status_class(599).0 < CLASSES);
        assert_eq!(intern("/api/tasks/{id}"), intern("/api/tasks/{id}"));
    }

    #[test]
    fn an_endpoint_caches_its_route_and_other_routes_still_count() {
        let sample = |text: &str, series: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        };
        let endpoint = HttpMetrics::new("unit").route_series();
        let ok = StatusCode::OK;
        let took = Duration::from_millis(3);
        endpoint.record(Some("/a/{id}"), &Method::GET, ok, took);
        endpoint.record(Some("/a/{id}"), &Method::GET, StatusCode::NOT_FOUND, took);
        endpoint.record(Some("/a/{id}"), &Method::GET, ok, took);
        // Not what axum sends to one endpoint, but counted under its own route all the same.
        endpoint.record(
            Some("/b"),
            &Method::POST,
            StatusCode::TOO_MANY_REQUESTS,
            took,
        );
        endpoint.record(None, &Method::GET, ok, took);
        let text = render();
        let series = |route: &str, method: &str, class: &str| {
            format!(
                "http_server_requests_total{{service=\"unit\",method=\"{method}\",route=\"{route}\",status_class=\"{class}\"}}"
            )
        };
        assert_eq!(
            sample(&text, &series("/a/{id}", "GET", "2xx")),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &series("/a/{id}", "GET", "4xx")),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &series("/b", "POST", "4xx")),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &series("unmatched", "GET", "2xx")),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            sample(
                &text,
                r#"todo_rate_limit_rejections_total{service="unit",route="/b"}"#
            ),
            Some(1.0),
            "{text}"
        );
        let guard = endpoint.start();
        let in_flight = r#"http_server_requests_in_flight{service="unit"}"#;
        assert_eq!(sample(&render(), in_flight), Some(1.0));
        drop(guard);
        assert_eq!(sample(&render(), in_flight), Some(0.0));
    }
}
