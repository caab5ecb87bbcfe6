//! `http-bench`: reads a [`http_bench::Plan`] as JSON on stdin, drives the load, and prints
//! the [`http_bench::Report`] as JSON on stdout. Benchmarks start it through
//! [`http_bench::LoadGenerator`] so the load comes from an optimized process of its own.

use anyhow::{Context, Result};
use std::io::Read;

#[tokio::main]
async fn main() -> Result<()> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading the plan from stdin")?;
    let plan: http_bench::Plan =
        serde_json::from_slice(&input).context("stdin is not a JSON load plan")?;
    let report = http_bench::run_plan(plan).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
