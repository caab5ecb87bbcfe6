//! `cargo xtask ci`: everything CI runs, in order, stopping at the first failure.
//!
//! One debug build serves clippy-free test runs and the end-to-end checks; only the image
//! checks build in release (they must, to test what ships). Each step prints its duration,
//! and the last line counts every test that ran across the suites.

use crate::util::{Step, project_root};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use xshell::{Shell, cmd};

#[derive(clap::Args)]
pub struct Cmd {
    /// Skip steps by name (fmt, clippy, test, ...), e.g. to iterate locally.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,
}

type StepFn = fn(&Shell, &mut Tally) -> Result<()>;

fn fmt(sh: &Shell, _: &mut Tally) -> Result<()> {
    Ok(cmd!(sh, "cargo fmt --all -- --check").run()?)
}

fn clippy(sh: &Shell, _: &mut Tally) -> Result<()> {
    Ok(cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?)
}

fn test(_: &Shell, tally: &mut Tally) -> Result<()> {
    run_counting(
        Command::new("cargo").args(["test", "--workspace", "--locked"]),
        tally,
    )
}

/// Helm lint/template with every values file, schema refusals, strict Kubernetes schema
/// validation for 1.31-1.35, and `k8s/` in sync with the chart.
fn chart(sh: &Shell, _: &mut Tally) -> Result<()> {
    crate::manifests::ci_checks(sh)
}

/// Every `.nix` file parses and `flake.lock` pins every input (Nix itself cannot build here).
fn nix(sh: &Shell, _: &mut Tally) -> Result<()> {
    crate::images::nix_checks(sh)
}

/// Every service image built twice (identical digests), accepted by skopeo, free of shells,
/// package managers and secrets, and run under runc: read-only, uid 65532, TLS to PostgreSQL,
/// clean exit on SIGTERM. Alone: `cargo xtask images --ci`.
fn images(sh: &Shell, _: &mut Tally) -> Result<()> {
    crate::images::ci_checks(sh)
}

/// The smoke suite against `cargo xtask dev`'s stack: all green with every service up, and
/// failing (as it must) once todo-mcp is stopped.
fn smoke(sh: &Shell, _: &mut Tally) -> Result<()> {
    crate::dev::smoke_against_dev(sh)
}

/// Independent clients against the real todo-api and todo-mcp (the debug binaries the test step
/// built) on a throwaway PostgreSQL: the official MCP TypeScript SDKs (v1 and v2), the MCP
/// Inspector CLI, the MCP Python SDK (both protocol eras) and schemathesis over the OpenAPI
/// document. Every client runs; the error names each failing one and how to reproduce it.
fn interop(sh: &Shell, tally: &mut Tally) -> Result<()> {
    crate::interop::run(sh, tally)
}

/// The browser end to end: headless Chromium against todo-web, todo-api and todo-mcp on a
/// real PostgreSQL (sign up, tasks, filters, chat, reload); screenshots in target/e2e-artifacts.
fn e2e(sh: &Shell, _: &mut Tally) -> Result<()> {
    crate::e2e::browser_e2e(sh)
}

/// Tests counted across all suites, for the closing line.
#[derive(Default)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let tools = project_root().join(".tools/bin");
        let path = std::env::var("PATH").unwrap_or_default();
        sh.set_var("PATH", format!("{}:{path}", tools.display()));
        let mut tally = Tally::default();
        let mut timings: Vec<(&str, f64)> = Vec::new();
        let steps: [(&str, StepFn); 9] = [
            ("fmt", fmt),
            ("clippy", clippy),
            ("test", test),
            ("interop", interop),
            ("chart", chart),
            ("nix", nix),
            ("images", images),
            ("smoke", smoke),
            ("e2e", e2e),
        ];
        for (name, step) in steps {
            if self.skip.iter().any(|s| s == name) {
                eprintln!("--- skipping {name}");
                continue;
            }
            let started = std::time::Instant::now();
            let result = {
                let _step = Step::new(format!("ci: {name}"));
                step(sh, &mut tally)
            };
            timings.push((name, started.elapsed().as_secs_f64()));
            if let Err(e) = result {
                print_summary(&timings, &tally);
                bail!(
                    "ci step `{name}` failed: {e:#}\nRe-run just this part with the command above; `cargo xtask ci --skip ...` skips finished steps."
                );
            }
        }
        print_summary(&timings, &tally);
        Ok(())
    }
}

fn print_summary(timings: &[(&str, f64)], tally: &Tally) {
    eprintln!("\nci steps:");
    for (name, secs) in timings {
        eprintln!("  {name:<12} {secs:>7.1}s");
    }
    // The plain closing line CI readers look for.
    println!("ci: {} passed, {} failed", tally.passed, tally.failed);
}

/// Runs a test command, streaming its output, and adds its `test result:` counts to `tally`.
pub fn run_counting(command: &mut Command, tally: &mut Tally) -> Result<()> {
    let mut child = command
        .current_dir(project_root())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        count_line(&line, tally);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{command:?} exited with {status}");
    }
    Ok(())
}

/// Reads cargo's `test result: ok. 12 passed; 0 failed; ...`, pytest's summary line and
/// `tests: 4 passed, 1 failed` (the interop clients' node:test reporter and schemathesis).
pub(crate) fn count_line(line: &str, tally: &mut Tally) {
    let line = line.trim().trim_matches('=').trim();
    // pytest's summary: counts before " in <seconds>s", e.g. `1 failed, 3 passed in 0.52s`.
    let pytest = line
        .split_once(" in ")
        .map(|(head, _)| head)
        .filter(|head| {
            head.split(", ").all(|p| {
                p.split_whitespace()
                    .next()
                    .is_some_and(|n| n.parse::<u64>().is_ok())
            })
        });
    let Some(rest) = line
        .strip_prefix("test result: ")
        .or_else(|| line.strip_prefix("tests: "))
        .or(pytest)
    else {
        return;
    };
    for part in rest.split([';', ',', '.']) {
        let mut words = part.split_whitespace();
        if let (Some(n), Some(kind)) = (words.next(), words.next())
            && let Ok(n) = n.parse::<u64>()
        {
            match kind {
                "passed" => tally.passed += n,
                // pytest counts a test whose fixture failed as an error.
                "failed" | "error" | "errors" => tally.failed += n,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_test_lines() {
        let mut t = Tally::default();
        count_line(
            "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.2s",
            &mut t,
        );
        count_line("test result: FAILED. 3 passed; 2 failed; 0 ignored", &mut t);
        count_line("running 5 tests", &mut t);
        count_line("tests: 4 passed, 1 failed", &mut t);
        count_line("1 failed, 3 passed in 0.52s", &mut t);
        count_line("============ 2 passed in 1.01s ============", &mut t);
        count_line("log: in 3 places", &mut t);
        count_line("2 failed, 1 passed, 38 errors in 9.1s", &mut t);
        assert_eq!((t.passed, t.failed), (25, 44));
    }
}
