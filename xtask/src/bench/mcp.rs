//! `cargo xtask bench mcp`: a `tools/call list_tasks` round trip over HTTP, and a full
//! `/api/chat` turn with the built-in engine (API -> MCP -> database and back), at 1 and 32
//! concurrent clients. Release builds, throwaway database, 20 seeded tasks.

use super::{at_fixed_rates, load_generator, ms, register, release_binaries};
use anyhow::Result;
use http_bench::Target;
use serde_json::json;
use smoke_suite::todo_wire as wire;
use std::time::Duration;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

/// The larger of the two client counts measured.
const MAX_CLIENTS: usize = 32;

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    let bin_dir = release_binaries(sh, &["todo-api", "todo-mcp"])?;
    let load = load_generator(&bin_dir);
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let stack = local_stack::Stack::start(local_stack::StackConfig {
            bin_dir,
            database_url: None,
            jwt_secret: "bench-secret-bench-secret-bench-secret".into(),
            with_web: false,
            logs: false,
            extra_env: vec![("RUST_LOG".into(), "warn".into())],
        })
        .await?;
        let api = stack.api.base_url();
        let client = reqwest::Client::new();
        // One user (20 tasks, one conversation) per client, as real clients are: 32 clients
        // hammering one conversation would measure its row lock, not the service.
        let mut tool_calls = Vec::new();
        let mut chat_turns = Vec::new();
        eprintln!("seeding {MAX_CLIENTS} users with 20 tasks each...");
        for user in 0..MAX_CLIENTS {
            let token = register(&client, &api, &format!("bench{user}@example.com")).await?;
            for i in 0..20 {
                let task = wire::CreateTask { title: format!("task {i}"), ..wire::CreateTask::default() };
                client.post(format!("{api}/api/tasks")).bearer_auth(&token).json(&task).send().await?.error_for_status()?;
            }
            let turn = |conversation_id| wire::ChatRequest { conversation_id, message: "what's left?".to_owned() };
            let first: wire::ChatTurn = client.post(format!("{api}/api/chat")).bearer_auth(&token).json(&turn(None)).send().await?.error_for_status()?.json().await?;
            let list = wire::mcp::ListTasksArgs { status: Some(wire::StatusFilter::Pending), limit: Some(20), ..Default::default() };
            let list_call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_tasks", "arguments": list}}).to_string();
            let auth = format!("Bearer {token}");
            tool_calls.push(
                Target::post_json(
                    format!("{}/mcp", stack.mcp.base_url()),
                    list_call,
                )
                .header("authorization", &auth)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25"),
            );
            let next = serde_json::to_string(&turn(Some(first.conversation_id)))?;
            chat_turns.push(Target::post_json(format!("{api}/api/chat"), next).header("authorization", &auth));
        }
        let duration = Duration::from_secs(args.seconds);
        println!("\nbench mcp: release build, {} s per row, this machine", args.seconds);
        for (name, targets) in [("tools/call list_tasks", &tool_calls), ("/api/chat turn (built-in)", &chat_turns)] {
            for clients in [1, MAX_CLIENTS] {
                let report = load.run(targets[..clients].to_vec(), clients, duration).await?;
                println!("  {name:<26} {clients:>2} clients: {}", row(&report));
                if clients > 1 {
                    for (share, fixed) in at_fixed_rates(&load, &targets[..clients], clients, duration, report.rps()).await? {
                        println!("    at {:>3.0}% of that rate ({:>5.0}/s):    {}", share * 100.0, fixed.offered_rate.unwrap_or(0.0), row(&fixed));
                    }
                }
            }
        }
        println!("  clients send as soon as their answer arrives; \"at N%\" rows offer that share of the closed-loop rate on a schedule, latency from when each request was due");
        println!("  targets: p95 < 5 ms for the tool call, < 15 ms for the chat turn");
        stack.stop().await?;
        Ok(())
    })
}

fn row(report: &http_bench::Report) -> String {
    format!(
        "p50 {:>6.2} ms  p95 {:>6.2} ms  ({:.0} req/s, {} errors, {} non-2xx)",
        ms(report.p50),
        ms(report.p95),
        report.rps(),
        report.errors,
        report.non_success
    )
}
