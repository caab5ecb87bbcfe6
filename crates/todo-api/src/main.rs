//! The todo-api binary: `serve` (default), `migrate`, `healthcheck`.

use clap::{Parser, Subcommand};
use service_kit::{Env, binary};
use std::process::ExitCode;
use todo_api::config::{Config, database_url};
use todo_store::{PoolSettings, Store, WaitSettings};

const SERVICE: &str = "todo-api";

#[derive(Parser)]
#[command(name = "todo-api", version, about = "REST API of todo-chatbot")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the API on $PORT (the default).
    Serve,
    /// Apply database migrations and exit (for a Job or an init container). Waits for the
    /// database up to MIGRATE_WAIT_SECONDS (120), retrying with exponential backoff capped at
    /// MIGRATE_RETRY_MAX_SECONDS (10).
    Migrate,
    /// Probe a health endpoint and exit 0 when it answers 2xx (the images have no curl).
    Healthcheck {
        /// Defaults to http://127.0.0.1:$PORT/livez.
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = Env::from_process();
    match cli.cmd.unwrap_or(Cmd::Serve) {
        Cmd::Healthcheck { url } => service_kit::probe::run(url),
        Cmd::Migrate => {
            service_kit::telemetry::init(
                env.log_format()
                    .unwrap_or(service_kit::config::LogFormat::Json),
            );
            let url = match database_url(&env) {
                Ok(url) => url,
                Err(e) => return binary::config_error(SERVICE, e),
            };
            let wait = match wait_settings(&env) {
                Ok(wait) => wait,
                Err(e) => return binary::config_error(SERVICE, e),
            };
            binary::run_async(SERVICE, async move {
                let store = Store::connect_lazy(&url, &PoolSettings::default())?;
                // An init container starts with the database: wait for it here (each pause
                // logged) rather than exiting into the kubelet's crash-loop back-off.
                store.migrate_when_reachable(&wait).await.map_err(|e| {
                    anyhow::anyhow!(
                        "{e} (waited up to MIGRATE_WAIT_SECONDS={}; raise it if the database is just slow to start)",
                        wait.budget.as_secs()
                    )
                })?;
                store.close().await;
                tracing::info!("migrations applied");
                Ok(())
            })
        }
        Cmd::Serve => {
            let config = match Config::from_env(&env) {
                Ok(c) => c,
                Err(e) => return binary::config_error(SERVICE, e),
            };
            // A short database blip must not unready every replica (READINESS_DB_GRACE_SECONDS).
            match service_kit::health::ReadinessSettings::from_env(&env) {
                Ok(readiness) => readiness.install(),
                Err(e) => return binary::config_error(SERVICE, e),
            }
            // Logs, and OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set; the
            // guard flushes the last spans when `main` returns.
            let _tracing =
                match service_kit::telemetry::init_service(SERVICE, config.log_format, &env) {
                    Ok(guard) => guard,
                    Err(e) => return binary::config_error(SERVICE, e),
                };
            binary::run_async(SERVICE, async move {
                let listener = binary::bind(config.port).await?;
                todo_api::run(config, listener, service_kit::shutdown_signal()).await
            })
        }
    }
}

/// `MIGRATE_WAIT_SECONDS` (total wait, 0 = one attempt) and `MIGRATE_RETRY_MAX_SECONDS` (the
/// longest pause between attempts, at least 1).
fn wait_settings(env: &Env) -> Result<WaitSettings, service_kit::ConfigError> {
    let defaults = WaitSettings::default();
    let budget = env.parse_or(
        "MIGRATE_WAIT_SECONDS",
        defaults.budget.as_secs(),
        "a whole number of seconds, e.g. 120",
    )?;
    let max_delay = env.parse_or(
        "MIGRATE_RETRY_MAX_SECONDS",
        defaults.max_delay.as_secs(),
        "a whole number of seconds of at least 1, e.g. 10",
    )?;
    if max_delay == 0 {
        return Err(service_kit::ConfigError {
            variable: "MIGRATE_RETRY_MAX_SECONDS".into(),
            message: "got 0, expected at least 1 (0 would retry without pausing)".into(),
        });
    }
    Ok(WaitSettings {
        budget: std::time::Duration::from_secs(budget),
        max_delay: std::time::Duration::from_secs(max_delay),
        ..defaults
    })
}
