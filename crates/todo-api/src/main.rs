//! The todo-api binary: `serve` (default), `migrate`, `healthcheck`.

use clap::{Parser, Subcommand};
use service_kit::{Env, binary};
use std::process::ExitCode;
use todo_api::config::{Config, database_url};
use todo_store::{PoolSettings, Store};

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
    /// Apply database migrations and exit (for a Job or an init container).
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
            binary::run_async(SERVICE, async move {
                let store = Store::connect_lazy(&url, &PoolSettings::default())?;
                store.migrate().await?;
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
            service_kit::telemetry::init(config.log_format);
            binary::run_async(SERVICE, async move {
                let listener = binary::bind(config.port).await?;
                todo_api::run(config, listener, service_kit::shutdown_signal()).await
            })
        }
    }
}
