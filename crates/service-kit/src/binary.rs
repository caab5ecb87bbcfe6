//! What each service's `main` does around its own `run`: exit codes (2 for bad configuration,
//! 1 for a failure), the async runtime, and binding the port with an error that names it.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

/// Reports a configuration error (`{service}: {error}`) and gives exit code 2, so a
/// CrashLoopBackOff's last log line says which variable to fix.
pub fn config_error(service: &str, error: impl Display) -> ExitCode {
    eprintln!("{service}: {error}");
    ExitCode::from(2)
}

/// Runs `job` on a multi-threaded runtime: exit 0 when it returns `Ok`, otherwise the error is
/// logged (and printed, for when logging is not set up yet) and the exit code is 1.
pub fn run_async(service: &str, job: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{service}: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "{service} failed");
            eprintln!("{service}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Listens on every interface at `port` (a pod's IP is not known in advance).
pub async fn bind(port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on port {port}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_job_exits_1_and_a_finished_one_0() {
        assert_eq!(run_async("demo", async { Ok(()) }), ExitCode::SUCCESS);
        assert_eq!(
            run_async("demo", async { anyhow::bail!("no database") }),
            ExitCode::FAILURE
        );
        assert_eq!(
            config_error("demo", "JWT_SECRET is missing"),
            ExitCode::from(2)
        );
    }

    #[test]
    fn a_port_in_use_is_named_in_the_error() -> anyhow::Result<()> {
        let outcome = run_async("demo", async {
            let first = bind(0).await?;
            let port = first.local_addr()?.port();
            let Err(e) = bind(port).await else {
                anyhow::bail!("binding port {port} twice succeeded");
            };
            anyhow::ensure!(
                e.to_string()
                    .contains(&format!("cannot listen on port {port}")),
                "unexpected error: {e}"
            );
            Ok(())
        });
        assert_eq!(outcome, ExitCode::SUCCESS);
        Ok(())
    }
}
