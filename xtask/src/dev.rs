//! `cargo xtask dev`: the whole stack on this machine without Kubernetes (the docker-compose
//! replacement): a throwaway PostgreSQL (or `DATABASE_URL`), todo-api, todo-mcp and todo-web
//! as processes with prefixed, coloured logs, behind one local address routed like the chart's
//! Ingress. Ctrl-C stops the services with SIGTERM and removes the throwaway database. It
//! prints each service's /metrics URL; `--observe` also starts a real Prometheus scraping them.
//!
//! Also the pieces `bench dev` and CI reuse: [`build_services`], [`start`], and
//! [`smoke_against_dev`] (the smoke suite against this stack, then again with todo-mcp
//! stopped, where it must fail).

use anyhow::{Context, Result, bail};
use local_stack::prometheus::{Prometheus, Target};
use local_stack::router::{self, RouterHandle, Upstreams};
use local_stack::{Stack, StackConfig};
use smoke_suite::{Outcome, Report, Restart, SuiteConfig, names};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

use crate::util::Step;

/// The dev stack's default port on 127.0.0.1. Not 8080: that is kubectl's server address when
/// no kubeconfig exists (and every service's in-cluster port), nor 3000/5000/8000/8888 that
/// other dev servers take.
pub const DEV_PORT: u16 = 7420;

/// Run the stack locally: PostgreSQL, todo-api, todo-mcp, todo-web and an ingress-like router.
#[derive(clap::Args)]
pub struct Cmd {
    /// Port of the local address on 127.0.0.1 (`/` web, `/api` api, `/mcp` mcp).
    #[arg(long, default_value_t = DEV_PORT)]
    port: u16,
    /// Use this PostgreSQL (kept on exit) instead of a throwaway one.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    database_url: Option<String>,
    /// Run without todo-web (`/` then answers 502 saying so).
    #[arg(long)]
    no_web: bool,
    /// Also start a real Prometheus (Debian's `prometheus`) scraping each service's /metrics.
    #[arg(long)]
    observe: bool,
    /// Port of that Prometheus on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 9090, requires = "observe")]
    observe_port: u16,
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
            let engine = chat_engine(|name| std::env::var(name).ok());
            let reach = match &engine {
                ChatEngine::Llm { base_url, .. } => {
                    let key = std::env::var("LLM_API_KEY")
                        .ok()
                        .filter(|k| !k.trim().is_empty());
                    Some(probe_llm(base_url, key.as_deref()).await)
                }
                ChatEngine::Builtin { .. } => None,
            };
            let prometheus = if self.observe {
                Some(observe(&dev, self.observe_port).await?)
            } else {
                None
            };
            print_banner(&dev, &banner_chat_line(&engine, reach.as_ref()));
            print_metrics(&dev, prometheus.as_ref());
            wait_for_stop(&mut dev).await;
            if let Some(prometheus) = prometheus {
                prometheus.stop().await;
            }
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
            // MCP hosts reach todo-mcp and the OAuth endpoints through the router, so the
            // token audience and the issuer are the router's URLs, not the services' ports.
            .chain([
                ("MCP_PUBLIC_URL".to_owned(), format!("http://{addr}/mcp")),
                (
                    "MCP_AUTHORIZATION_SERVERS".to_owned(),
                    format!("http://{addr}"),
                ),
                ("OAUTH_ISSUER".to_owned(), format!("http://{addr}")),
            ])
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

/// Which chat engine todo-api uses, by todo-api's rule (`crates/todo-api/src/lib.rs`,
/// `chat_service`): the LLM engine when `LLM_BASE_URL` and `LLM_MODEL` are both set and not
/// blank, with or without `LLM_API_KEY` (Ollama and other local servers take none); else the
/// built-in engine. `cargo xtask dev` passes the shell's `LLM_*` to todo-api unchanged, so
/// this reads the same variables.
#[derive(Debug, PartialEq, Eq)]
pub enum ChatEngine {
    Llm {
        base_url: String,
        model: String,
        key: bool,
    },
    /// `missing`: the one LLM variable that is not set when the other is (a half-done set-up).
    Builtin { missing: Option<&'static str> },
}

pub fn chat_engine(var: impl Fn(&str) -> Option<String>) -> ChatEngine {
    let set = |name: &str| {
        var(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    match (set("LLM_BASE_URL"), set("LLM_MODEL")) {
        (Some(base_url), Some(model)) => ChatEngine::Llm {
            base_url,
            model,
            key: set("LLM_API_KEY").is_some(),
        },
        (Some(_), None) => ChatEngine::Builtin {
            missing: Some("LLM_MODEL"),
        },
        (None, Some(_)) => ChatEngine::Builtin {
            missing: Some("LLM_BASE_URL"),
        },
        (None, None) => ChatEngine::Builtin { missing: None },
    }
}

/// What asking the LLM endpoint for its models at start-up found.
#[derive(Debug, PartialEq, Eq)]
pub enum LlmReach {
    /// It answered 2xx.
    Ok,
    /// It answered, but not with 2xx (401/403: the key; 404: maybe no `/models`, chat may
    /// still work).
    Status(u16),
    /// No answer: connection refused, DNS, TLS or timeout.
    Unreachable(String),
}

/// `GET {base_url}/models` (the OpenAI-compatible listing Ollama, vLLM and hosted APIs serve),
/// bounded to 5 s, so an endpoint that is down is reported when the stack starts rather than as
/// `LLM_UNAVAILABLE` in the first chat reply.
pub async fn probe_llm(base_url: &str, api_key: Option<&str>) -> LlmReach {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => return LlmReach::Unreachable(format!("no HTTP client: {e}")),
    };
    let mut request = client.get(format!("{}/models", base_url.trim_end_matches('/')));
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => LlmReach::Ok,
        Ok(response) => LlmReach::Status(response.status().as_u16()),
        Err(e) => {
            let mut cause: &dyn std::error::Error = &e;
            while let Some(next) = cause.source() {
                cause = next;
            }
            LlmReach::Unreachable(cause.to_string())
        }
    }
}

/// The banner's `chat:` line: what todo-api really uses, and whether it answered.
pub fn banner_chat_line(engine: &ChatEngine, reach: Option<&LlmReach>) -> String {
    match engine {
        ChatEngine::Builtin { missing: None } => {
            "built-in engine (set LLM_BASE_URL and LLM_MODEL, plus LLM_API_KEY if the endpoint needs one, for an LLM)".to_owned()
        }
        ChatEngine::Builtin {
            missing: Some(missing),
        } => format!("built-in engine: {missing} is not set, so todo-api ignores the other LLM_* setting"),
        ChatEngine::Llm {
            base_url,
            model,
            key,
        } => {
            let key = if *key { "with LLM_API_KEY" } else { "no API key" };
            let reach = match reach {
                None | Some(LlmReach::Ok) => String::new(),
                Some(LlmReach::Status(401 | 403)) => {
                    " - warning: the endpoint refused the key (401/403): check LLM_API_KEY".to_owned()
                }
                Some(LlmReach::Status(status)) => {
                    format!(" - note: GET /models answered {status}; chat may still work")
                }
                Some(LlmReach::Unreachable(why)) => format!(
                    " - warning: the endpoint is unreachable ({why}): chat replies will be LLM_UNAVAILABLE until it answers"
                ),
            };
            format!("LLM {model} at {base_url} ({key}){reach}")
        }
    }
}

/// ANSI `code` around `text` when stdout takes colour, else `text` alone.
fn paint(colour: bool, code: &str, text: &str) -> String {
    if colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn print_banner(dev: &DevStack, chat: &str) {
    let colour = local_stack::stdout_colour();
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
    println!();
    println!(
        "{}  (ready in {:.2} s)",
        paint(colour, "1", &format!("todo-chatbot is running at {url}")),
        dev.ready_after.as_secs_f64()
    );
    println!("  /      todo-web  {web}");
    println!("  /api   todo-api  {}", dev.stack.api.base_url());
    println!("  /mcp   todo-mcp  {}", dev.stack.mcp.base_url());
    println!("  database: {database}");
    println!("  chat: {chat}");
    if let Some(problem) = &dev.web_problem {
        println!(
            "  {} todo-web is not running: {problem}",
            paint(colour, "33", "warning:")
        );
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

/// Each service's own address (the router, like the Ingress, does not route /metrics to
/// api or mcp): what a Prometheus scrapes.
fn metrics_targets(dev: &DevStack) -> Vec<Target> {
    let mut targets = vec![
        Target {
            job: "todo-api".into(),
            base_url: dev.stack.api.base_url(),
        },
        Target {
            job: "todo-mcp".into(),
            base_url: dev.stack.mcp.base_url(),
        },
    ];
    if let Some(web) = &dev.stack.web {
        targets.push(Target {
            job: "todo-web".into(),
            base_url: web.base_url(),
        });
    }
    targets
}

/// `--observe`: a real Prometheus scraping every service each 5 s.
async fn observe(dev: &DevStack, port: u16) -> Result<Prometheus> {
    Prometheus::start(&metrics_targets(dev), port, Duration::from_secs(5))
        .await
        .with_context(|| {
            format!(
                "starting Prometheus for --observe (port {port}; another one with --observe-port)"
            )
        })
}

fn print_metrics(dev: &DevStack, prometheus: Option<&Prometheus>) {
    println!("metrics (Prometheus text format):");
    for target in metrics_targets(dev) {
        println!("  {:<9} {}/metrics", target.job, target.base_url);
    }
    match prometheus {
        Some(p) => println!(
            "  Prometheus: {} (e.g. {}/graph?g0.expr=sum%20by%20(service%2Croute)%20(http_server_requests_total))",
            p.url(),
            p.url()
        ),
        None => println!("  (--observe also starts a Prometheus scraping them)"),
    }
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
                            "{} (see its log lines above); the others keep running; Ctrl-C stops everything",
                            paint(local_stack::stderr_colour(), "31", &format!("{} exited", process.name))
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

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The Ollama-style set-up of the issue: base URL and model, no key. todo-api uses the LLM
    /// then, and the banner must say so.
    #[test]
    fn banner_says_llm_without_a_key() {
        let engine = chat_engine(vars(&[
            ("LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("LLM_MODEL", "llama3.2"),
        ]));
        assert_eq!(
            engine,
            ChatEngine::Llm {
                base_url: "http://127.0.0.1:11434/v1".into(),
                model: "llama3.2".into(),
                key: false
            }
        );
        assert_eq!(
            banner_chat_line(&engine, Some(&LlmReach::Ok)),
            "LLM llama3.2 at http://127.0.0.1:11434/v1 (no API key)"
        );
        let with_key = chat_engine(vars(&[
            ("LLM_BASE_URL", "https://api.example.com/v1"),
            ("LLM_MODEL", "m"),
            ("LLM_API_KEY", "sk-x"),
        ]));
        let line = banner_chat_line(&with_key, Some(&LlmReach::Status(401)));
        assert_eq!(
            line,
            "LLM m at https://api.example.com/v1 (with LLM_API_KEY) - warning: the endpoint refused the key (401/403): check LLM_API_KEY"
        );
        assert!(!line.contains("sk-x"));
    }

    #[test]
    fn banner_says_builtin_and_why() {
        assert_eq!(
            banner_chat_line(&chat_engine(vars(&[])), None),
            "built-in engine (set LLM_BASE_URL and LLM_MODEL, plus LLM_API_KEY if the endpoint needs one, for an LLM)"
        );
        // A key alone does not switch todo-api to the LLM (the old banner said it did).
        assert_eq!(
            chat_engine(vars(&[("LLM_API_KEY", "sk-x")])),
            ChatEngine::Builtin { missing: None }
        );
        // Blank counts as unset, as todo-api's configuration reads it.
        let half = chat_engine(vars(&[
            ("LLM_BASE_URL", "http://127.0.0.1:11434/v1"),
            ("LLM_MODEL", "  "),
        ]));
        assert_eq!(
            banner_chat_line(&half, None),
            "built-in engine: LLM_MODEL is not set, so todo-api ignores the other LLM_* setting"
        );
    }

    /// A real loopback endpoint that answers, and a port nothing listens on.
    #[tokio::test]
    async fn an_unreachable_llm_is_reported_at_start_up() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            let request = String::from_utf8_lossy(&buf[..n]).into_owned();
            socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"data\":[]}")
                .await
                .unwrap();
            request
        });
        assert_eq!(probe_llm(&base, Some("sk-test")).await, LlmReach::Ok);
        let request = server.await.unwrap();
        assert!(request.starts_with("GET /v1/models "), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains("authorization: bearer sk-test")
        );

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let reach = probe_llm(&format!("http://{closed}/v1"), None).await;
        assert!(matches!(reach, LlmReach::Unreachable(_)), "{reach:?}");
        let engine = ChatEngine::Llm {
            base_url: format!("http://{closed}/v1"),
            model: "m".into(),
            key: false,
        };
        let line = banner_chat_line(&engine, Some(&reach));
        assert!(
            line.contains("warning: the endpoint is unreachable (")
                && line.ends_with("chat replies will be LLM_UNAVAILABLE until it answers"),
            "{line}"
        );
    }
}
