//! `cargo xtask dev`: the whole stack on this machine without Kubernetes (the docker-compose
//! replacement): a throwaway PostgreSQL (or `DATABASE_URL`), todo-api, todo-mcp and todo-web
//! as processes with prefixed, coloured logs, behind one local address routed like the chart's
//! Ingress. Ctrl-C stops the services with SIGTERM and removes the throwaway database.
//!
//! Also the pieces `bench dev` and CI reuse: [`build_services`], [`start`], and
//! [`smoke_against_dev`] (the smoke suite against this stack, then again with todo-mcp
//! stopped, where it must fail).

use anyhow::{Context, Result, bail};
use local_stack::router::{self, RouterHandle, Upstreams};
use local_stack::{Stack, StackConfig};
use smoke_suite::{Outcome, Report, Restart, SuiteConfig, names};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

use crate::util::Step;

/// Run the stack locally: PostgreSQL, todo-api, todo-mcp, todo-web and an ingress-like router.
#[derive(clap::Args)]
pub struct Cmd {
    /// Port of the local address on 127.0.0.1 (`/` web, `/api` api, `/mcp` mcp).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Use this PostgreSQL (kept on exit) instead of a throwaway one.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
    /// Run without todo-web (`/` then answers 502 saying so).
    #[arg(long)]
    no_web: bool,
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let binaries = build_services(sh, !self.no_web)?;
        let options = DevOptions {
            port: self.port,
            database_url: self.database_url,
            web: !self.no_web,
            logs: true,
        };
        crate::deploy::runtime()?.block_on(async {
            let mut dev = start(&binaries, &options).await?;
            print_banner(&dev);
            wait_for_stop(&mut dev).await;
            eprintln!("stopping: SIGTERM to each service");
            let throwaway = dev.stack.has_throwaway_database();
            let clean = dev.stop().await?;
            eprintln!(
                "stopped{}{}",
                if clean {
                    ""
                } else {
                    " (a service did not exit cleanly; see its last log lines)"
                },
                if throwaway {
                    "; the throwaway database is removed"
                } else {
                    ""
                }
            );
            Ok(())
        })
    }
}

/// Where the debug binaries are, and whether todo-web is among them.
pub struct Binaries {
    pub dir: PathBuf,
    pub web: bool,
}

/// Builds the services (debug) and finds the binaries through cargo's own report, so any
/// target directory works. A todo-web that does not compile is left out with a warning (the
/// rest of the stack still runs); todo-api and todo-mcp must build.
pub fn build_services(sh: &Shell, web: bool) -> Result<Binaries> {
    let all = ["todo-api", "todo-mcp", "todo-web"];
    let core = ["todo-api", "todo-mcp"];
    if web {
        let _step = Step::new("build (debug): todo-api, todo-mcp, todo-web");
        match cargo_build(sh, &all) {
            Ok(dir) => return Ok(Binaries { dir, web: true }),
            Err(e) => eprintln!(
                "warning: {e:#}\n         continuing without todo-web (see the compiler output above)"
            ),
        }
    }
    let _step = Step::new("build (debug): todo-api, todo-mcp");
    Ok(Binaries {
        dir: cargo_build(sh, &core)?,
        web: false,
    })
}

fn cargo_build(sh: &Shell, packages: &[&str]) -> Result<PathBuf> {
    let args: Vec<String> = packages
        .iter()
        .flat_map(|p| ["-p".to_owned(), (*p).to_owned()])
        .collect();
    let output = cmd!(
        sh,
        "cargo build {args...} --message-format=json-render-diagnostics"
    )
    .quiet()
    .read()
    .with_context(|| format!("building {}", packages.join(", ")))?;
    let mut dir = None;
    for package in packages {
        let executable = executable_of(&output, package)
            .with_context(|| format!("cargo built {package} but reported no executable for it"))?;
        dir = executable.parent().map(PathBuf::from);
    }
    dir.context("no packages to build")
}

/// The path of binary `name` in cargo's JSON messages (`compiler-artifact` with an
/// `executable`).
fn executable_of(messages: &str, name: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
}

pub struct DevOptions {
    /// Router port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    pub database_url: Option<String>,
    pub web: bool,
    /// Prefixed, coloured service logs on stderr (false: discarded).
    pub logs: bool,
}

/// The running dev stack.
pub struct DevStack {
    pub stack: Stack,
    pub router: RouterHandle,
    /// From the call to [`start`] until every service was ready and the router serving.
    pub ready_after: Duration,
    /// Why todo-web is not running although it was wanted.
    pub web_problem: Option<String>,
}

impl DevStack {
    /// The smoke suite's view of this stack: the router as the Ingress, each service's own
    /// address for its probes.
    pub fn suite_config(&self) -> SuiteConfig {
        let mut config = SuiteConfig::new(self.router.url());
        config.api_url = Some(self.stack.api.base_url());
        config.mcp_url = Some(self.stack.mcp.base_url());
        config.web_url = self.stack.web.as_ref().map(|w| w.base_url());
        config.expect_web = self.stack.web.is_some();
        config
    }

    /// Stops the router, then every service (SIGTERM); the throwaway database goes with the
    /// stack. True when every service exited cleanly.
    pub async fn stop(self) -> Result<bool> {
        self.router.stop().await;
        self.stack.stop().await
    }
}

/// Starts the stack and the router in front of it. The router's port is bound first, so a
/// port in use fails before anything starts.
pub async fn start(binaries: &Binaries, options: &DevOptions) -> Result<DevStack> {
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], options.port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "binding {addr}: is another `cargo xtask dev` running? pick another port with --port"
        )
    })?;
    let config = StackConfig {
        bin_dir: binaries.dir.clone(),
        database_url: options.database_url.clone(),
        jwt_secret: jwt_secret(),
        with_web: options.web && binaries.web,
        logs: options.logs,
        extra_env: std::env::vars()
            .filter(|(k, _)| k.starts_with("LLM_"))
            .collect(),
    };
    let (stack, web_error) = Stack::start_with_optional_web(config).await?;
    let web_problem = if !options.web {
        None
    } else if !binaries.web {
        Some("todo-web did not build".to_owned())
    } else {
        web_error.map(|e| format!("{e:#}"))
    };
    let router = router::serve(
        listener,
        Upstreams {
            api: stack.api.base_url(),
            mcp: stack.mcp.base_url(),
            web: stack.web.as_ref().map(|w| w.base_url()),
        },
    )?;
    Ok(DevStack {
        stack,
        router,
        ready_after: started.elapsed(),
        web_problem,
    })
}

/// `JWT_SECRET` when set, else 32 random bytes in hex (tokens do not outlive the run).
fn jwt_secret() -> String {
    match std::env::var("JWT_SECRET") {
        Ok(secret) if !secret.is_empty() => secret,
        _ => rand::random::<[u8; 32]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    }
}

fn print_banner(dev: &DevStack) {
    let url = dev.router.url();
    let web = match &dev.stack.web {
        Some(web) => web.base_url(),
        None => "not running".to_owned(),
    };
    let database = if dev.stack.has_throwaway_database() {
        "throwaway PostgreSQL (removed on exit)"
    } else {
        "DATABASE_URL (kept)"
    };
    let llm = if std::env::var_os("LLM_API_KEY").is_some() {
        "LLM settings from LLM_* passed to todo-api"
    } else {
        "built-in engine (set LLM_API_KEY, LLM_BASE_URL, LLM_MODEL for an LLM)"
    };
    println!();
    println!(
        "\x1b[1mtodo-chatbot is running at {url}\x1b[0m  (ready in {:.2} s)",
        dev.ready_after.as_secs_f64()
    );
    println!("  /      todo-web  {web}");
    println!("  /api   todo-api  {}", dev.stack.api.base_url());
    println!("  /mcp   todo-mcp  {}", dev.stack.mcp.base_url());
    println!("  database: {database}");
    println!("  chat: {llm}");
    if let Some(problem) = &dev.web_problem {
        println!("  \x1b[33mwarning:\x1b[0m todo-web is not running: {problem}");
    }
    println!("try:");
    println!("  open {url}/ in a browser");
    println!(
        "  curl -s -X POST {url}/api/auth/register -H 'content-type: application/json' \\\n       -d '{{\"email\":\"me@example.com\",\"password\":\"change-me-please\",\"name\":\"Me\"}}'"
    );
    println!(
        "  cargo xtask smoke --url {url} --api-url {} --mcp-url {}{}",
        dev.stack.api.base_url(),
        dev.stack.mcp.base_url(),
        if dev.stack.web.is_some() {
            ""
        } else {
            " --no-web"
        }
    );
    println!("Ctrl-C stops everything.");
    println!();
}

/// Waits for Ctrl-C or SIGTERM, saying so once when a service exits by itself (the others
/// keep running, as docker-compose does).
async fn wait_for_stop(dev: &mut DevStack) {
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let mut reported: Vec<String> = Vec::new();
    loop {
        let terminate = async {
            match sigterm.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = terminate => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                let stack = &mut dev.stack;
                let mut processes = vec![&mut stack.api, &mut stack.mcp];
                processes.extend(stack.web.as_mut());
                for process in processes {
                    if !process.is_running() && !reported.contains(&process.name) {
                        eprintln!(
                            "\x1b[31m{} exited\x1b[0m (see its log lines above); the others keep running; Ctrl-C stops everything",
                            process.name
                        );
                        reported.push(process.name.clone());
                    }
                }
            }
        }
    }
}

/// Restarts the throwaway PostgreSQL and todo-api in place, for the suite's restart check.
async fn restart_locally(stack: &mut Stack) -> Result<String> {
    let started = Instant::now();
    stack.restart_database()?;
    stack.restart_api().await?;
    Ok(format!(
        "restarted PostgreSQL and todo-api in {:.1} s",
        started.elapsed().as_secs_f64()
    ))
}

/// The checks that must fail when todo-mcp is stopped.
const FAIL_WITHOUT_MCP: [&str; 4] = [
    names::HEALTH_MCP,
    names::ROUTE_MCP,
    names::MCP_LIST,
    names::MCP_CALL,
];

/// CI's end-to-end check (also `cargo xtask smoke --dev`): builds the services, starts the dev
/// stack (throwaway database, logs off), runs the smoke suite through the router including a
/// restart of PostgreSQL and todo-api, and requires every check to pass; then stops todo-mcp
/// and runs the suite again, which must fail, on the MCP checks at least.
pub fn smoke_against_dev(sh: &Shell) -> Result<()> {
    let binaries = build_services(sh, true)?;
    if !binaries.web {
        bail!(
            "todo-web did not build (compiler output above): the smoke run needs all three services"
        );
    }
    let options = DevOptions {
        port: 0,
        database_url: None,
        web: true,
        logs: false,
    };
    crate::deploy::runtime()?.block_on(async {
        let mut dev = {
            let _step = Step::new("start the dev stack");
            start(&binaries, &options).await?
        };
        let outcome = smoke_twice(&mut dev).await;
        dev.stop().await?;
        outcome
    })
}

async fn smoke_twice(dev: &mut DevStack) -> Result<()> {
    if let Some(problem) = &dev.web_problem {
        bail!("todo-web did not start: {problem}");
    }
    eprintln!(
        "dev stack ready in {:.2} s at {}",
        dev.ready_after.as_secs_f64(),
        dev.router.url()
    );
    let config = dev.suite_config();
    let up = {
        let _step =
            Step::new("smoke: every service up (with a restart of PostgreSQL and todo-api)");
        let stack = &mut dev.stack;
        let restart: Restart = Box::new(move || Box::pin(restart_locally(stack)));
        crate::smoke::run_printed(&config, Some(restart)).await
    };
    if !up.passed() {
        bail!(
            "the smoke suite failed against the dev stack: {}",
            failed_names(&up)
        );
    }
    dev.stack
        .mcp
        .terminate(Duration::from_secs(10))
        .await
        .context("stopping todo-mcp")?;
    let down = {
        let _step = Step::new("smoke: todo-mcp stopped (the suite must fail)");
        crate::smoke::run_printed(&config, None).await
    };
    let missed: Vec<&str> = FAIL_WITHOUT_MCP
        .iter()
        .copied()
        .filter(|name| down.outcome_of(name) != Some(Outcome::Fail))
        .collect();
    if down.passed() || down.exit_code() == 0 || !missed.is_empty() {
        bail!(
            "with todo-mcp stopped the smoke suite must fail {}; these did not: {}",
            FAIL_WITHOUT_MCP.join(", "),
            missed.join(", ")
        );
    }
    eprintln!(
        "smoke vs dev: {} checks passed with every service up; with todo-mcp stopped the suite failed as it must ({})",
        up.counts().0,
        failed_names(&down)
    );
    Ok(())
}

fn failed_names(report: &Report) -> String {
    report
        .failures()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_in_cargo_messages() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"todo-store","kind":["lib"]},"executable":null}
{"reason":"compiler-artifact","target":{"name":"todo-api","kind":["bin"]},"executable":"/t/debug/todo-api"}
not json
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            executable_of(messages, "todo-api"),
            Some(PathBuf::from("/t/debug/todo-api"))
        );
        assert_eq!(executable_of(messages, "todo-store"), None);
        assert_eq!(executable_of(messages, "todo-web"), None);
    }

    #[test]
    fn a_set_jwt_secret_is_used_else_a_fresh_random_one() {
        // Reading only: the variable is not set in the test environment unless CI sets it.
        let secret = jwt_secret();
        match std::env::var("JWT_SECRET") {
            Ok(s) if !s.is_empty() => assert_eq!(secret, s),
            _ => {
                assert_eq!(secret.len(), 64);
                assert_ne!(secret, jwt_secret());
            }
        }
    }
}
