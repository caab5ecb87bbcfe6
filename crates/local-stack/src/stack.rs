//! The whole stack as local processes: PostgreSQL (throwaway, or `DATABASE_URL`), todo-api,
//! todo-mcp and (when built) todo-web, each on its own loopback port.
//!
//! Besides start and stop: restarting todo-api or the throwaway database in place (same ports,
//! same data), so the smoke suite's `--restart` check runs locally too.

use crate::free_port;
use crate::process::{LogMode, ServiceProcess};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;

pub struct StackConfig {
    /// Where the service binaries are (e.g. target/debug).
    pub bin_dir: PathBuf,
    /// Use this database instead of starting a throwaway server.
    pub database_url: Option<String>,
    pub jwt_secret: String,
    pub with_web: bool,
    /// Prefixed, coloured logs (dev) or none (benchmarks, CI).
    pub logs: bool,
    /// Extra environment for every service (e.g. LLM settings).
    pub extra_env: Vec<(String, String)>,
}

pub struct Stack {
    pub database_url: String,
    pub api: ServiceProcess,
    pub mcp: ServiceProcess,
    pub web: Option<ServiceProcess>,
    /// Time from start to every service ready.
    pub ready_after: Duration,
    /// Time the throwaway PostgreSQL took to initialise and start (`None`: `DATABASE_URL`).
    pub database_started_after: Option<Duration>,
    /// What the services were started with, to start one again.
    env: Vec<(String, String)>,
    bin_dir: PathBuf,
    logs: bool,
    // Dropped last: the services stop before their database.
    pg: Option<PgServer>,
}

/// How [`Stack::start_inner`] treats a todo-web that does not come up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Web {
    Required,
    Optional,
}

impl Stack {
    pub async fn start(config: StackConfig) -> Result<Stack> {
        let (stack, web_error) = Stack::start_inner(config, Web::Required).await?;
        match web_error {
            Some(e) => Err(e),
            None => Ok(stack),
        }
    }

    /// Like [`Stack::start`], but a todo-web that is missing or does not become ready leaves
    /// the stack running without it (`web: None`) and comes back as the second value, for
    /// `cargo xtask dev` while the web UI is broken or not built.
    pub async fn start_with_optional_web(
        config: StackConfig,
    ) -> Result<(Stack, Option<anyhow::Error>)> {
        Stack::start_inner(config, Web::Optional).await
    }

    async fn start_inner(
        config: StackConfig,
        web_mode: Web,
    ) -> Result<(Stack, Option<anyhow::Error>)> {
        let started = Instant::now();
        let (pg, database_url, database_started_after) = match &config.database_url {
            Some(url) => (None, url.clone(), None),
            None => {
                let pg = PgServer::start().context("starting a throwaway PostgreSQL")?;
                let url = pg.create_database("todo")?;
                (Some(pg), url, Some(started.elapsed()))
            }
        };
        let (api_port, mcp_port, web_port) = (free_port()?, free_port()?, free_port()?);
        let mcp_url = format!("http://127.0.0.1:{mcp_port}/mcp");
        let api_url = format!("http://127.0.0.1:{api_port}");
        let mut env: Vec<(String, String)> = vec![
            ("DATABASE_URL".into(), database_url.clone()),
            ("JWT_SECRET".into(), config.jwt_secret.clone()),
            // OAuth for MCP hosts: the resource (token audience) todo-mcp announces is the URL
            // clients of this stack reach it by, and todo-api, on its own port here, is the
            // authorization server; callers behind the router override these (`extra_env`).
            ("MCP_PUBLIC_URL".into(), mcp_url.clone()),
            ("MCP_AUTHORIZATION_SERVERS".into(), api_url.clone()),
            ("OAUTH_ISSUER".into(), api_url.clone()),
            ("MCP_URL".into(), mcp_url),
            ("API_URL".into(), api_url),
            // The router and todo-web are proxies on loopback: their X-Forwarded-For names the
            // client. (Local clients are on loopback too, so here a client could still forge
            // it; in a cluster only the ingress's and todo-web's pod network is listed.)
            ("TRUSTED_PROXIES".into(), "127.0.0.1/32,::1/128".into()),
            // The interop and smoke suites register many users from this one machine.
            ("REGISTER_ATTEMPTS_PER_MINUTE".into(), "6000".into()),
            (
                "LOG_FORMAT".into(),
                if config.logs {
                    "text".into()
                } else {
                    "json".into()
                },
            ),
        ];
        env.extend(config.extra_env.iter().cloned());
        let spawn =
            |name: &str, port: u16| spawn_service(&config.bin_dir, &env, config.logs, name, port);
        // All start at once: todo-api migrates, the others turn ready when the schema is there.
        let mut api = spawn("todo-api", api_port)?;
        let mut mcp = spawn("todo-mcp", mcp_port)?;
        let mut web_error = None;
        let mut web = if config.with_web {
            match spawn("todo-web", web_port) {
                Ok(web) => Some(web),
                Err(e) if web_mode == Web::Optional => {
                    web_error = Some(e);
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let timeout = Duration::from_secs(60);
        api.wait_ready(timeout).await?;
        mcp.wait_ready(timeout).await?;
        if let Some(process) = web.as_mut()
            && let Err(e) = process.wait_ready(timeout).await
        {
            if web_mode == Web::Required {
                return Err(e);
            }
            process.terminate(Duration::from_secs(2)).await.ok();
            web = None;
            web_error = Some(e);
        }
        let stack = Stack {
            database_url,
            api,
            mcp,
            web,
            ready_after: started.elapsed(),
            database_started_after,
            env,
            bin_dir: config.bin_dir,
            logs: config.logs,
            pg,
        };
        Ok((stack, web_error))
    }

    /// True when the database is the throwaway server this stack started (and removes).
    pub fn has_throwaway_database(&self) -> bool {
        self.pg.is_some()
    }

    /// Stops todo-api with SIGTERM and starts it again on the same port; returns the time
    /// until it was ready again.
    pub async fn restart_api(&mut self) -> Result<Duration> {
        self.api.terminate(Duration::from_secs(10)).await?;
        self.api = spawn_service(
            &self.bin_dir,
            &self.env,
            self.logs,
            "todo-api",
            self.api.port,
        )?;
        self.api.wait_ready(Duration::from_secs(60)).await
    }

    /// Stops the throwaway PostgreSQL (fast shutdown) and starts it again on the same port and
    /// data directory. Fails for a `DATABASE_URL` database, which is not ours to restart.
    pub fn restart_database(&self) -> Result<()> {
        let pg = self
            .pg
            .as_ref()
            .context("the stack uses DATABASE_URL, not a throwaway PostgreSQL it could restart")?;
        pg.stop()?;
        pg.start_again()
    }

    /// Stops every service with SIGTERM (as Kubernetes does); true when all exited cleanly.
    pub async fn stop(mut self) -> Result<bool> {
        let grace = Duration::from_secs(10);
        let mut clean = true;
        if let Some(web) = self.web.as_mut() {
            clean &= web.terminate(grace).await?;
        }
        clean &= self.mcp.terminate(grace).await?;
        clean &= self.api.terminate(grace).await?;
        Ok(clean)
    }
}

fn spawn_service(
    bin_dir: &std::path::Path,
    env: &[(String, String)],
    logs: bool,
    name: &str,
    port: u16,
) -> Result<ServiceProcess> {
    let colour = crate::process::stderr_colour().then_some(match name {
        "todo-api" => 36,
        "todo-mcp" => 35,
        _ => 33,
    });
    let log = if logs {
        LogMode::Prefixed { colour }
    } else {
        LogMode::Quiet
    };
    let mut env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    if colour.is_none() {
        // The services' own log lines (tracing) are coloured unless told not to.
        env.push(("NO_COLOR", "1".to_owned()));
    }
    ServiceProcess::spawn(name, &bin_dir.join(name), port, &env, log)
}
