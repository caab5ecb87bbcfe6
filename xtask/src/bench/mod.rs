//! `cargo xtask bench <what>`: benchmarks print numbers; they never pass or fail on speed.
//! Each one builds what it measures in release mode and drives load from the release-built
//! `http-bench` binary, a process separate from the servers under test.

mod api;
mod conns;
mod dev;
mod list;
mod mcp;
mod web;

use anyhow::Result;
use smoke_suite::todo_wire as wire;
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

#[derive(clap::Args)]
pub struct Cmd {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// todo-api: probes, task list and create under 64 connections; RSS; time to ready.
    Api(api::Args),
    /// todo-api against slow and idle clients: hold times, /livez under a flood, SIGTERM.
    Conns(conns::Args),
    /// todo-mcp tool calls and chat turns at 1 and 32 clients.
    Mcp(mcp::Args),
    /// Image sizes, file counts and build times.
    Images,
    /// Time from `cargo xtask dev` start to all services ready.
    Dev(dev::Args),
    /// todo-web: time to first byte of the tasks page at 32 connections, and page weight.
    Web(web::Args),
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        match self.what {
            What::Api(args) => api::run(sh, args),
            What::Conns(args) => conns::run(sh, args),
            What::Mcp(args) => mcp::run(sh, args),
            What::Images => crate::images::bench(sh),
            What::Dev(args) => dev::run(sh, args),
            What::Web(args) => web::run(sh, args),
        }
    }
}

/// Builds the given packages and the load generator in release mode and returns the directory
/// holding the binaries (cargo's, so `CARGO_TARGET_DIR` is honoured).
pub fn release_binaries(sh: &Shell, packages: &[&str]) -> Result<PathBuf> {
    let _step = crate::util::Step::new(format!("build (release): {}", packages.join(", ")));
    let args: Vec<String> = packages
        .iter()
        .chain(&["http-bench"])
        .flat_map(|p| ["-p".to_owned(), (*p).to_owned()])
        .collect();
    cmd!(sh, "cargo build --release {args...}").run()?;
    Ok(crate::util::target_dir().join("release"))
}

/// The load generator [`release_binaries`] built next to the services.
pub fn load_generator(bin_dir: &Path) -> http_bench::LoadGenerator {
    http_bench::LoadGenerator::new(bin_dir.join("http-bench"))
}

/// Registers `email` with todo-api at `api` (password `bench-password`); returns its token.
pub async fn register(client: &reqwest::Client, api: &str, email: &str) -> Result<String> {
    let request = wire::RegisterRequest {
        email: email.to_owned(),
        password: "bench-password".to_owned(),
        name: "Bench".to_owned(),
        time_zone: None,
    };
    let session: wire::Session = client
        .post(format!("{api}/api/auth/register"))
        .json(&request)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(session.token)
}

/// Shares of the closed-loop throughput at which [`at_fixed_rates`] offers load.
pub const RATE_SHARES: [f64; 3] = [0.25, 0.5, 0.75];

/// The same targets and connections at fixed rates, [`RATE_SHARES`] of `capacity` (the
/// closed-loop requests/s): latency below saturation, each request timed from when it was
/// due. A closed loop only shows latency at saturation, where it is connections / throughput.
pub async fn at_fixed_rates(
    load: &http_bench::LoadGenerator,
    targets: &[http_bench::Target],
    connections: usize,
    duration: std::time::Duration,
    capacity: f64,
) -> Result<Vec<(f64, http_bench::Report)>> {
    let mut rows = Vec::new();
    for share in RATE_SHARES {
        let plan = http_bench::Plan::closed(targets.to_vec(), connections, duration)
            .at_rate((capacity * share).max(1.0));
        rows.push((share, load.run_plan(&plan).await?));
    }
    Ok(rows)
}

pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
