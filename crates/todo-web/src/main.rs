//! The todo-web binary: `serve` (default) and `healthcheck`.

use clap::{Parser, Subcommand};
use service_kit::Env;
use std::process::ExitCode;
use todo_web::config::Config;

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
                Err(e) => {
                    eprintln!("todo-web: {e}");
                    return ExitCode::from(2);
                }
            };
            service_kit::telemetry::init(config.log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("todo-web: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let result = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on port {}: {e}", config.port))?;
                todo_web::run(config, listener, service_kit::shutdown_signal()).await
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "todo-web failed");
                    eprintln!("todo-web: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
