//! `cargo xtask smoke`: the smoke suite (crates/smoke-suite) against a base URL routed like
//! the Ingress, a cluster namespace, or a dev stack started for the purpose; a pass/fail table
//! and exit code 1 on any failure.
//!
//! Namespace mode reaches the Services through kube-rs port-forwards and puts the dev router in
//! front of them, so the suite sees the same routing as through an Ingress without needing one.
//! That mode (and `--restart` in it) needs a cluster and has not been run where it was written;
//! the suite, the router and the restart decisions it uses are tested on their own.

use anyhow::{Result, bail};
use local_stack::router::{self, Upstreams};
use smoke_suite::{CheckResult, Report, Restart, SuiteConfig};
use std::net::SocketAddr;
use std::time::Duration;
use xshell::Shell;

/// The port of every todo-chatbot Service (the chart's `<component>.service.port`).
const SERVICE_PORT: u16 = 8080;

/// Check a running todo-chatbot end to end: health, auth, tasks, chat, MCP, isolation.
#[derive(clap::Args)]
pub struct Cmd {
    /// A base URL routed like the Ingress (`/` web, `/api` api, `/mcp` mcp): `cargo xtask dev`'s
    /// address or a cluster's ingress. Default: http://127.0.0.1:7420 (a running `dev`).
    #[arg(long, value_name = "URL", conflicts_with_all = ["namespace", "dev"])]
    url: Option<String>,
    /// Test the release in this namespace through kube-rs port-forwards (no ingress needed).
    #[arg(long, value_name = "NS", conflicts_with = "dev")]
    namespace: Option<String>,
    /// The Helm release (with --namespace).
    #[arg(long, value_name = "NAME", default_value = "todo")]
    release: String,
    /// kubeconfig context (with --namespace; default: the current one).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Also delete the api and database pods and check the data is still there (--namespace).
    // Not `requires = "namespace"`: `run` refuses it with the reason, clap would not say why.
    #[arg(long)]
    restart: bool,
    /// todo-api's own URL for its /livez, /readyz, /health (with --url: the Ingress routes those
    /// paths to todo-web only).
    #[arg(long, value_name = "URL", conflicts_with_all = ["namespace", "dev"])]
    api_url: Option<String>,
    /// todo-mcp's own URL for its probes (with --url).
    #[arg(long, value_name = "URL", conflicts_with_all = ["namespace", "dev"])]
    mcp_url: Option<String>,
    /// todo-web's own URL for its probes (with --url; default: the base URL).
    #[arg(long, value_name = "URL", conflicts_with_all = ["namespace", "dev"])]
    web_url: Option<String>,
    /// The deployment has no todo-web: skip its checks.
    #[arg(long)]
    no_web: bool,
    /// Build and start a dev stack, smoke it (with a restart of PostgreSQL and todo-api), then
    /// stop todo-mcp and check that the suite fails: what CI runs.
    #[arg(long)]
    dev: bool,
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.dev {
            return crate::dev::smoke_against_dev(sh);
        }
        if let Some(problem) = self.restart_problem() {
            bail!("{problem}");
        }
        let report = crate::deploy::runtime()?.block_on(async {
            match &self.namespace {
                Some(namespace) => self.against_namespace(namespace).await,
                None => {
                    let dev_url = format!("http://127.0.0.1:{}", crate::dev::DEV_PORT);
                    let mut config = SuiteConfig::new(self.url.as_deref().unwrap_or(&dev_url));
                    config.api_url = self.api_url.clone();
                    config.mcp_url = self.mcp_url.clone();
                    config.web_url = self.web_url.clone();
                    config.expect_web = !self.no_web;
                    eprintln!("smoke: {}", config.base_url);
                    Ok(run_printed(&config, None).await)
                }
            }
        })?;
        if !report.passed() {
            let (_, failed, _) = report.counts();
            bail!(
                "smoke: {failed} of {} checks failed (table above)",
                report.results.len()
            );
        }
        Ok(())
    }

    /// Why `--restart` cannot run as asked, if it cannot.
    fn restart_problem(&self) -> Option<&'static str> {
        (self.restart && self.namespace.is_none()).then_some(
            "--restart needs a cluster: it deletes the api and database pods of the release in --namespace NS and checks the data survived; \
             for a local stack use `cargo xtask smoke --dev`, which restarts PostgreSQL and todo-api itself",
        )
    }

    async fn against_namespace(&self, namespace: &str) -> Result<Report> {
        use cluster_client::restart::{component_name, restart_pods};
        let client = cluster_client::kube_client(self.context.as_deref()).await?;
        let forward = |component: &str| {
            let client = client.clone();
            let service = component_name(&self.release, component);
            async move {
                let (_, forward) =
                    cluster_client::port_forward(client, namespace, &service, SERVICE_PORT).await?;
                eprintln!(
                    "port-forward {}/{service} -> {}",
                    namespace,
                    forward.base_url()
                );
                anyhow::Ok(forward)
            }
        };
        let api = forward("api").await?;
        let mcp = forward("mcp").await?;
        let web = if self.no_web {
            None
        } else {
            Some(forward("web").await?)
        };
        let router = router::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Upstreams {
                api: api.base_url(),
                mcp: mcp.base_url(),
                web: web.as_ref().map(|w| w.base_url()),
            },
        )
        .await?;
        let mut config = SuiteConfig::new(router.url());
        config.api_url = Some(api.base_url());
        config.mcp_url = Some(mcp.base_url());
        config.web_url = web.as_ref().map(|w| w.base_url());
        config.expect_web = web.is_some();
        eprintln!("smoke: namespace {namespace} through {}", router.url());
        let restart: Option<Restart> = self.restart.then(|| {
            let release = self.release.clone();
            let namespace = namespace.to_owned();
            let restart: Restart = Box::new(move || {
                Box::pin(async move {
                    restart_pods(client, &namespace, &release, Duration::from_secs(300)).await
                })
            });
            restart
        });
        let report = run_printed(&config, restart).await;
        router.stop().await;
        Ok(report)
    }
}

/// Runs the suite, printing the table row by row as checks finish, then the summary.
pub async fn run_printed(config: &SuiteConfig, restart: Option<Restart<'_>>) -> Report {
    let colour = local_stack::stdout_colour();
    println!("{}", Report::header());
    let report = smoke_suite::run(config, restart, |result: &CheckResult| {
        println!("{}", Report::row(result, colour));
    })
    .await;
    println!("{}", report.summary());
    print!("{}", report.failure_details());
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        cmd: Cmd,
    }

    fn parse(args: &[&str]) -> Cmd {
        match Cli::try_parse_from(std::iter::once("smoke").chain(args.iter().copied())) {
            Ok(cli) => cli.cmd,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn restart_without_a_namespace_says_why() {
        let problem = parse(&["--restart"]).restart_problem();
        assert!(
            problem.is_some_and(|p| p.starts_with("--restart needs a cluster")
                && p.contains("cargo xtask smoke --dev")),
            "{problem:?}"
        );
        assert_eq!(
            parse(&["--restart", "--namespace", "todo"]).restart_problem(),
            None
        );
        assert_eq!(parse(&[]).restart_problem(), None);
    }
}
