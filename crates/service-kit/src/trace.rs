//! OpenTelemetry traces: every request a service serves becomes a server span, exported over
//! OTLP/HTTP (protobuf) to a collector, with the W3C `traceparent` of the caller as its parent
//! and passed on to the services it calls, so one trace follows a click from the browser
//! through todo-web, todo-api and todo-mcp down to the database queries.
//!
//! Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//! Off, no OpenTelemetry layer is installed, nothing is exported, and what the request path
//! adds is one relaxed atomic load ([`enabled`]); [`headers`] returns an empty map.
//!
//! Settings: the standard `OTEL_*` variables, read by [`Settings::from_env`] (the README's
//! settings table describes them; a bad value stops start-up with an error naming the
//! variable). Only `http/protobuf` is built in, not gRPC, to keep the build small.
//!
//! Database statements become client spans of their own (`db.system.name = postgresql`,
//! `db.query.text`), from the event sqlx logs after each one (see `DbSpans`).
//!
//! Outgoing calls carry the trace with one line: `request.headers(service_kit::trace::headers())`.

use crate::config::{ConfigError, Env};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Where and how to export, read from the standard `OTEL_*` variables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The full URL spans are POSTed to (`.../v1/traces`).
    pub endpoint: String,
    pub service_name: String,
    pub sampler: Sampler,
}

impl Settings {
    /// `None` when no endpoint is set (or `OTEL_SDK_DISABLED=true`): tracing stays off.
    /// `service` is the `service.name` unless `OTEL_SERVICE_NAME` says otherwise.
    pub fn from_env(env: &Env, service: &str) -> Result<Option<Settings>, ConfigError> {
        match env.optional("OTEL_SDK_DISABLED").as_deref() {
            None | Some("false") => {}
            Some("true") => return Ok(None),
            Some(other) => {
                return Err(ConfigError {
                    variable: "OTEL_SDK_DISABLED".into(),
                    message: format!("got {other:?}, expected true or false"),
                });
            }
        }
        let endpoint = match (
            env.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(full), _) => check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", full)?,
            (None, Some(base)) => {
                let base = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
            (None, None) => return Ok(None),
        };
        for variable in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = env.optional(variable)
                && protocol != "http/protobuf"
            {
                return Err(ConfigError {
                    variable: variable.into(),
                    message: format!(
                        "got {protocol:?}, but only http/protobuf is built in; point it at the \
                         collector's OTLP/HTTP port (usually 4318) and unset the variable"
                    ),
                });
            }
        }
        Ok(Some(Settings {
            endpoint,
            service_name: env
                .optional("OTEL_SERVICE_NAME")
                .unwrap_or_else(|| service.to_owned()),
            sampler: sampler(env)?,
        }))
    }
}

fn check_url(variable: &str, url: String) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(url),
        _ => Err(ConfigError {
            variable: variable.into(),
            message: format!(
                "got {url:?}, expected an http:// or https:// URL such as http://otel-collector:4318"
            ),
        }),
    }
}

fn sampler(env: &Env) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        let ratio: f64 = env.parse_or(
            "OTEL_TRACES_SAMPLER_ARG",
            1.0,
            "a sampling ratio from 0 to 1, e.g. 0.1",
        )?;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(ConfigError {
                variable: "OTEL_TRACES_SAMPLER_ARG".into(),
                message: format!("got {ratio}, expected a sampling ratio from 0 to 1, e.g. 0.1"),
            });
        }
        Ok(ratio)
    };
    let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
    Ok(
        match env
            .optional("OTEL_TRACES_SAMPLER")
            .as_deref()
            .unwrap_or("parentbased_always_on")
        {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" => parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => parent_based(Sampler::TraceIdRatioBased(ratio()?)),
            other => {
                return Err(ConfigError {
                    variable: "OTEL_TRACES_SAMPLER".into(),
                    message: format!(
                        "got {other:?}, expected one of always_on, always_off, traceidratio, \
                         parentbased_always_on (the default), parentbased_always_off, \
                         parentbased_traceidratio"
                    ),
                });
            }
        },
    )
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// True once [`crate::telemetry`] installed the OpenTelemetry layer in this process.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Flushes the spans still queued when dropped: keep it alive until `main` returns.
#[must_use = "dropping it at once shuts the exporter down"]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

impl Tracing {
    /// Nothing to flush (tracing off).
    pub fn off() -> Tracing {
        Tracing { provider: None }
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("could not flush the last spans to the OTLP endpoint: {e}");
        }
    }
}

/// The OpenTelemetry layer for `settings`, and the guard that flushes it. Only spans at info
/// and above become OpenTelemetry spans, and only warnings and errors become span events:
/// traces stay the same whatever `RUST_LOG` says, and small.
pub(crate) fn layer<S>(
    settings: &Settings,
) -> anyhow::Result<(Box<dyn Layer<S> + Send + Sync>, Tracing)>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .build()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot set up the OTLP exporter for {}: {e}",
                settings.endpoint
            )
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(settings.sampler.clone())
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("service-kit");
    let filter = tracing_subscriber::filter::filter_fn(|meta| {
        if meta.is_span() {
            *meta.level() <= tracing::Level::INFO
        } else {
            *meta.level() <= tracing::Level::WARN
        }
    });
    let db = DbSpans {
        tracer: tracer.clone(),
    }
    .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
        meta.is_event() && meta.target() == SQLX_QUERY
    }));
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_filter(filter)
        .and_then(db)
        .boxed();
    ENABLED.store(true, Ordering::Relaxed);
    Ok((
        layer,
        Tracing {
            provider: Some(provider),
        },
    ))
}

/// The target of the event sqlx logs after each statement (with its text and duration).
const SQLX_QUERY: &str = "sqlx::query";

/// Database spans from sqlx's own per-statement event: sqlx has no spans, but after every
/// statement it logs one event (at debug, so only this layer asks for it and the logs do not
/// show it) with the SQL and the time it took, inside the span of whoever ran the query. Each
/// becomes a client span, child of that span, covering the statement's time: every query of
/// every store is traced with no code at the call sites.
struct DbSpans {
    tracer: opentelemetry_sdk::trace::SdkTracer,
}

impl<S: tracing::Subscriber> Layer<S> for DbSpans {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        use opentelemetry::KeyValue;
        use opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
        let mut statement = Statement::default();
        event.record(&mut statement);
        let now = std::time::SystemTime::now();
        let took =
            std::time::Duration::try_from_secs_f64(statement.elapsed_secs).unwrap_or_default();
        // sqlx gives the whole text only when it is longer than its summary (four words).
        let text = if statement.text.trim().is_empty() {
            statement.summary.trim_end_matches(" …").to_owned()
        } else {
            statement.text.trim().to_owned()
        };
        let name = statement
            .summary
            .split_whitespace()
            .next()
            .unwrap_or("query")
            .to_owned();
        let mut span = self
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(now.checked_sub(took).unwrap_or(now))
            .with_attributes([
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.query.text", text),
                KeyValue::new("db.response.returned_rows", statement.rows_returned),
            ])
            .start_with_context(&self.tracer, &opentelemetry::Context::current());
        span.end_with_timestamp(now);
    }
}

/// The fields of sqlx's statement event.
#[derive(Default)]
struct Statement {
    summary: String,
    text: String,
    rows_returned: i64,
    elapsed_secs: f64,
}

impl tracing::field::Visit for Statement {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => value.clone_into(&mut self.summary),
            "db.statement" => value.clone_into(&mut self.text),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "rows_returned" {
            self.rows_returned = i64::try_from(value).unwrap_or(i64::MAX);
        }
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = value;
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        // `summary` and `db.statement` arrive as `String`s, recorded through Debug by some
        // tracing versions: take them without the quotes.
        if matches!(field.name(), "summary" | "db.statement") {
            let text = format!("{value:?}");
            let text = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .map(|t| t.replace("\\n", "\n").replace("\\\"", "\""))
                .unwrap_or(text);
            self.record_str(field, &text);
        }
    }
}

struct Extract<'a>(&'a HeaderMap);

impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

struct Inject<'a>(&'a mut HeaderMap);

impl Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes the caller's trace (`traceparent`, `tracestate` in `headers`) the parent of `span`,
/// a server span not yet entered. Without those headers the span starts a new trace.
pub fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !enabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Extract(headers));
    // Fails only for a span the OpenTelemetry layer does not see (filtered out).
    let _ = span.set_parent(parent);
}

/// Adds the current span's `traceparent` (and `tracestate`) to `headers` of an outgoing call.
pub fn inject(headers: &mut HeaderMap) {
    if !enabled() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut Inject(headers));
}

/// The headers that carry the current trace to a service this one calls, for
/// `reqwest::RequestBuilder::headers`; empty while tracing is off.
pub fn headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    inject(&mut headers);
    headers
}

/// The current span's trace and span ids (hex), for log lines; `None` outside a traced span.
pub(crate) fn current_ids() -> Option<(String, String)> {
    use opentelemetry::trace::TraceContextExt;
    if !enabled() {
        return None;
    }
    let context = opentelemetry::Context::current();
    let span = context.span();
    let ids = span.span_context();
    ids.is_valid()
        .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<Settings>, ConfigError> {
        Settings::from_env(&Env::from_pairs(pairs.iter().copied()), "todo-api")
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert!(matches!(settings(&[]), Ok(None)));
        assert!(matches!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ]),
            Ok(None)
        ));
    }

    #[test]
    fn the_endpoint_gets_the_traces_path_and_the_signal_variable_wins() {
        let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .ok()
            .flatten();
        let s = s.as_ref();
        assert_eq!(
            s.map(|s| s.endpoint.as_str()),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(s.map(|s| s.service_name.as_str()), Some("todo-api"));
        assert!(matches!(
            s.map(|s| &s.sampler),
            Some(Sampler::ParentBased(root)) if format!("{root:?}") == "AlwaysOn"
        ));
        let s = settings(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://other/x"),
            ("OTEL_SERVICE_NAME", "api-eu"),
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ])
        .ok()
        .flatten();
        let s = s.as_ref();
        assert_eq!(s.map(|s| s.endpoint.as_str()), Some("https://other/x"));
        assert_eq!(s.map(|s| s.service_name.as_str()), Some("api-eu"));
        assert!(matches!(
            s.map(|s| &s.sampler),
            Some(Sampler::TraceIdRatioBased(r)) if (*r - 0.25).abs() < 1e-9
        ));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let variable = |pairs: &[(&str, &str)]| settings(pairs).err().map(|e| e.variable);
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(
            variable(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]).as_deref(),
            Some("OTEL_EXPORTER_OTLP_ENDPOINT")
        );
        assert_eq!(
            variable(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).as_deref(),
            Some("OTEL_EXPORTER_OTLP_PROTOCOL")
        );
        assert_eq!(
            variable(&[endpoint, ("OTEL_TRACES_SAMPLER", "sometimes")]).as_deref(),
            Some("OTEL_TRACES_SAMPLER")
        );
        assert_eq!(
            variable(&[
                endpoint,
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ])
            .as_deref(),
            Some("OTEL_TRACES_SAMPLER_ARG")
        );
        assert_eq!(
            variable(&[endpoint, ("OTEL_SDK_DISABLED", "yes")]).as_deref(),
            Some("OTEL_SDK_DISABLED")
        );
        assert!(settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).is_ok());
    }

    #[test]
    fn nothing_is_injected_while_tracing_is_off() {
        // No layer is installed in unit tests: the map stays empty (and allocation-free).
        assert!(headers().is_empty());
    }
}
