//! Logging: tracing to stdout, JSON by default (one object per line for log collectors), text
//! for people. `RUST_LOG` filters; the default is `info`. With OpenTelemetry traces on
//! ([`crate::trace`]), every JSON line logged inside a traced span starts with its
//! `trace_id` and `span_id`, so a log line leads to its trace and back.

use crate::config::{ConfigError, Env, LogFormat};
use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Installs the global subscriber (logs only). Safe to call more than once (later calls are
/// no-ops), so tests that start several servers in one process do not fail.
pub fn init(format: LogFormat) {
    let _ = install(format, None);
}

/// What a service's `main` calls: logs, plus OpenTelemetry traces when the `OTEL_*` settings
/// ask for them (see [`crate::trace::Settings`]). Keep the returned guard until `main` ends:
/// dropping it flushes the spans still queued.
pub fn init_service(
    service: &str,
    format: LogFormat,
    env: &Env,
) -> Result<crate::trace::Tracing, TelemetryError> {
    let settings =
        crate::trace::Settings::from_env(env, service).map_err(TelemetryError::Config)?;
    install(format, settings.as_ref()).map_err(TelemetryError::Exporter)
}

/// Why [`init_service`] failed: a bad setting (exit 2, like every configuration error) or an
/// exporter that could not be built.
#[derive(Debug)]
pub enum TelemetryError {
    Config(ConfigError),
    Exporter(anyhow::Error),
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TelemetryError::Config(e) => e.fmt(f),
            TelemetryError::Exporter(e) => write!(f, "{e:#}"),
        }
    }
}

fn install(
    format: LogFormat,
    traces: Option<&crate::trace::Settings>,
) -> anyhow::Result<crate::trace::Tracing> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(WithTraceIds(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            ))
            .with_writer(std::io::stdout)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .compact()
            .with_writer(std::io::stdout)
            .boxed(),
    };
    // The filter is the log layer's own: traces do not depend on how much is logged.
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> =
        vec![logs.with_filter(filter).boxed()];
    let guard = match traces {
        Some(settings) => {
            let (layer, guard) = crate::trace::layer(settings)?;
            layers.push(layer);
            guard
        }
        None => crate::trace::Tracing::off(),
    };
    // Another subscriber already installed (a test's, or an earlier call): keep it.
    let _ = tracing_subscriber::registry().with(layers).try_init();
    Ok(guard)
}

/// The JSON format with `"trace_id"` and `"span_id"` first while a traced span is current.
/// (The JSON formatter has no hook for extra fields: its line is written to a buffer and the
/// ids spliced in after the opening brace.)
struct WithTraceIds(Format<Json>);

impl<S, N> FormatEvent<S, N> for WithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some((trace_id, span_id)) = crate::trace::current_ids() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => write!(
                writer,
                "{{\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\",{rest}"
            ),
            None => writer.write_str(&line),
        }
    }
}
