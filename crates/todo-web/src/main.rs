//! The todo-web binary: `serve` (default) and `healthcheck`.

use clap::{Parser, Subcommand};
use service_kit::{Env, binary};
use std::process::ExitCode;
use todo_web::config::Config;

const SERVICE: &str = "todo-web";

#[derive(Parser)]
#[command(name = "todo-web", version, about = "Web UI of todo-chatbot")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the web UI on $PORT (the default).
    Serve,
    /// Probe a health endpoint and exit 0 when it answers 2xx (the images have no curl).
    Healthcheck {
        /// Defaults to http://127.0.0.1:$PORT/livez.
        #[arg(long)]
        url: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd.unwrap_or(Cmd::Serve) {
        Cmd::Healthcheck { url } => service_kit::probe::run(url),
        Cmd::Serve => {
            let config = match Config::from_env(&Env::from_process()) {
                Ok(c) => c,
                Err(e) => return binary::config_error(SERVICE, e),
            };
            // Logs, and OpenTelemetry traces when OTEL_EXPORTER_OTLP_ENDPOINT is set; the
            // guard flushes the last spans when `main` returns.
            let _tracing = match service_kit::telemetry::init_service(
                SERVICE,
                config.log_format,
                &Env::from_process(),
            ) {
                Ok(guard) => guard,
                Err(e) => return binary::config_error(SERVICE, e),
            };
            binary::run_async(SERVICE, async move {
                let listener = binary::bind(config.port).await?;
                todo_web::run(config, listener, service_kit::shutdown_signal()).await
            })
        }
    }
}
