//! `cargo xtask bench api`: the API on a throwaway database, 1,000 tasks for one user, then
//! load at 64 connections on `/livez`, the task list and task creation. Also idle and loaded
//! RSS and the time from process start to `/readyz` 200 (fresh database, and a restart).
//! `--no-metrics` runs it with `METRICS_ENABLED=false`, to compare the metrics' cost.
//! `--tasks 1000,10000,100000` measures the task list at those sizes instead, and against
//! pgbench running its SQL (see [`super::list`]).

use super::{at_fixed_rates, load_generator, ms, register, release_binaries};
use anyhow::{Context, Result};
use http_bench::{Target, rss_kib};
use local_stack::{LogMode, ServiceProcess, free_port};
use smoke_suite::todo_wire as wire;
use std::time::Duration;
use throwaway_postgres::PgServer;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds per measured endpoint.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// The API's database pool size (DATABASE_MAX_CONNECTIONS; the service's default is 10).
    #[arg(long)]
    db_connections: Option<u32>,
    /// Run the API with METRICS_ENABLED=false (no /metrics, no request counting), to measure
    /// what the metrics cost against a run without this flag.
    #[arg(long)]
    no_metrics: bool,
    /// List sizes to measure the task list at (first page and a deep cursor page, at 1 and
    /// 64 connections, and against pgbench running the same SQL), e.g. 1000,10000,100000.
    /// Replaces the default cases.
    #[arg(long, value_delimiter = ',')]
    tasks: Vec<u64>,
    /// With --tasks: how many alternating API/pgbench pairs to run per concurrency.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

const SECRET: &str = "bench-secret-bench-secret-bench-secret";

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    let bin_dir = release_binaries(sh, &["todo-api"])?;
    let bin = bin_dir.join("todo-api");
    let load = load_generator(&bin_dir);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let pg = PgServer::start()?;
        let url = pg.create_database("bench_api")?;
        let port = free_port()?;
        let mut env = vec![
            ("DATABASE_URL", url.clone()),
            ("JWT_SECRET", SECRET.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ];
        if let Some(n) = args.db_connections {
            env.push(("DATABASE_MAX_CONNECTIONS", n.to_string()));
        }
        if args.no_metrics {
            env.push(("METRICS_ENABLED", "false".to_owned()));
        }
        let mut api = ServiceProcess::spawn("todo-api", &bin, port, &env, LogMode::Quiet)?;
        let cold_ready = api.wait_ready(Duration::from_secs(30)).await?;
        api.terminate(Duration::from_secs(10)).await?;
        let mut api = ServiceProcess::spawn("todo-api", &bin, port, &env, LogMode::Quiet)?;
        let warm_ready = api.wait_ready(Duration::from_secs(30)).await?;
        let pid = api.pid().context("api exited")?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let idle_rss = rss_kib(pid).unwrap_or(0);

        let base = api.base_url();
        let client = reqwest::Client::new();
        if !args.tasks.is_empty() {
            let stack = super::list::Stack {
                db_url: &url,
                api: &base,
                client: &client,
                load: &load,
                db_pool: args.db_connections.unwrap_or(10),
            };
            super::list::run(&stack, &args.tasks, args.seconds, args.repeats.max(1)).await?;
            api.terminate(Duration::from_secs(10)).await?;
            drop(pg);
            return Ok(());
        }
        let token = register(&client, &base, "bench@example.com").await?;
        eprintln!("seeding 1,000 tasks...");
        let mut seeded = 0;
        for chunk in (0..1000).collect::<Vec<_>>().chunks(50) {
            let mut batch = Vec::new();
            for i in chunk {
                let body = wire::CreateTask {
                    title: format!("task {i}"),
                    priority: Some(wire::Priority::ALL[i % 3]),
                    tags: Some(vec![format!("t{}", i % 7)]),
                    ..wire::CreateTask::default()
                };
                let request = client.post(format!("{base}/api/tasks")).bearer_auth(&token).json(&body).send();
                batch.push(tokio::spawn(request));
            }
            for r in batch {
                r.await??.error_for_status()?;
                seeded += 1;
            }
        }
        eprintln!("seeded {seeded} tasks; load at {} connections, {} s per endpoint", args.connections, args.seconds);

        let auth = format!("Bearer {token}");
        let duration = Duration::from_secs(args.seconds);
        let mut rows = Vec::new();
        let cases: Vec<(&str, Vec<Target>)> = vec![
            ("GET /livez", vec![Target::get(format!("{base}/livez"))]),
            ("GET /api/tasks?limit=50", vec![Target::get(format!("{base}/api/tasks?limit=50")).header("authorization", &auth)]),
            (
                "POST /api/tasks",
                (0..64)
                    .map(|i| Target::post_json(format!("{base}/api/tasks"), format!(r#"{{"title":"load {i}","priority":"high"}}"#)).header("authorization", &auth))
                    .collect(),
            ),
        ];
        let mut peak_rss = idle_rss;
        let mut list_rates = Vec::new();
        for (name, targets) in cases {
            let sampler = tokio::spawn(async move {
                let mut peak = 0;
                for _ in 0..(duration.as_millis() / 100) {
                    peak = peak.max(rss_kib(pid).unwrap_or(0));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                peak
            });
            let report = load.run(targets.clone(), args.connections, duration).await?;
            peak_rss = peak_rss.max(sampler.await.unwrap_or(0));
            if name == "GET /api/tasks?limit=50" {
                // Before the POST case adds thousands of tasks, so the list is the same.
                eprintln!("the task list again at fixed rates below its closed-loop throughput...");
                list_rates = at_fixed_rates(&load, &targets, args.connections, duration, report.rps()).await?;
            }
            rows.push((name, report));
        }
        // /health with a hung database: freeze PostgreSQL and time the answer.
        pg.set_frozen(true)?;
        let mut hung = Vec::new();
        for _ in 0..20 {
            let started = std::time::Instant::now();
            let status = client.get(format!("{base}/health")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            hung.push((started.elapsed(), status));
        }
        pg.set_frozen(false)?;
        hung.sort();
        let hung_statuses: Vec<u16> = hung.iter().map(|(_, s)| *s).collect();
        api.terminate(Duration::from_secs(10)).await?;

        println!("\nbench api: {} connections, {} s each, release build, this machine ({} cores), metrics {}", args.connections, args.seconds, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), if args.no_metrics { "off" } else { "on" });
        for (name, report) in &rows {
            println!("  {name:<26} {report}");
            if *name == "GET /api/tasks?limit=50" {
                for (share, report) in &list_rates {
                    println!("    at {:>3.0}% of that rate   {report}", share * 100.0);
                }
            }
        }
        println!("  idle RSS                   {:.1} MiB", idle_rss as f64 / 1024.0);
        println!("  peak RSS under load        {:.1} MiB", peak_rss as f64 / 1024.0);
        println!("  start -> /readyz 200       {:.0} ms (fresh database, runs migrations), {:.0} ms (restart)", ms(cold_ready), ms(warm_ready));
        println!(
            "  GET /health, hung database  median {:.1} ms, max {:.1} ms over {} requests (statuses {:?})",
            ms(hung[hung.len() / 2].0),
            ms(hung[hung.len() - 1].0),
            hung.len(),
            hung_statuses.iter().collect::<std::collections::BTreeSet<_>>()
        );
        println!("  closed loop: each connection sends as soon as its answer arrives (saturation; latency = connections / throughput)");
        println!("  fixed rate: same connections, requests on a schedule, latency from when each was due");
        println!("  targets: list p99 < 10 ms, idle RSS < 20 MiB, ready < 250 ms, /health < 100 ms with a hung database");
        drop(pg);
        Ok(())
    })
}
