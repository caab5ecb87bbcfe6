//! The whole stack as local processes: PostgreSQL (throwaway, or `DATABASE_URL`), todo-api,
//! todo-mcp and (when built) todo-web, each on its own loopback port.

use crate::process::{LogMode, ServiceProcess};
use crate::free_port;
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
    // Dropped last: the services stop before their database.
    _pg: Option<PgServer>,
}

impl Stack {
    pub async fn start(config: StackConfig) -> Result<Stack> {
        let started = Instant::now();
        let (pg, database_url) = match &config.database_url {
            Some(url) => (None, url.clone()),
            None => {
                let pg = PgServer::start().context("starting a throwaway PostgreSQL")?;
                let url = pg.create_database("todo")?;
                (Some(pg), url)
            }
        };
        let (api_port, mcp_port, web_port) = (free_port()?, free_port()?, free_port()?);
        let mcp_url = format!("http://127.0.0.1:{mcp_port}/mcp");
        let api_url = format!("http://127.0.0.1:{api_port}");
        let mut env: Vec<(&str, String)> = vec![
            ("DATABASE_URL", database_url.clone()),
            ("JWT_SECRET", config.jwt_secret.clone()),
            ("MCP_URL", mcp_url),
            ("API_URL", api_url),
            ("LOG_FORMAT", if config.logs { "text".into() } else { "json".into() }),
        ];
        env.extend(config.extra_env.iter().map(|(k, v)| (k.as_str(), v.clone())));
        let log = |colour| if config.logs { LogMode::Prefixed { colour } } else { LogMode::Quiet };
        // All start at once: todo-api migrates, the others turn ready when the schema is there.
        let mut api = ServiceProcess::spawn("todo-api", &config.bin_dir.join("todo-api"), api_port, &env, log(36))?;
        let mut mcp = ServiceProcess::spawn("todo-mcp", &config.bin_dir.join("todo-mcp"), mcp_port, &env, log(35))?;
        let mut web = if config.with_web {
            Some(ServiceProcess::spawn("todo-web", &config.bin_dir.join("todo-web"), web_port, &env, log(33))?)
        } else {
            None
        };
        let timeout = Duration::from_secs(60);
        api.wait_ready(timeout).await?;
        mcp.wait_ready(timeout).await?;
        if let Some(web) = web.as_mut() {
            web.wait_ready(timeout).await?;
        }
        Ok(Stack { database_url, api, mcp, web, ready_after: started.elapsed(), _pg: pg })
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
