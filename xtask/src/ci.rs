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

/// Clippy with warnings as errors, then cargo-machete: no crate declares a dependency it does
/// not use (each one costs every build its compile time).
fn clippy(sh: &Shell, _: &mut Tally) -> Result<()> {
    cmd!(
        sh,
        "cargo clippy --workspace --all-targets --locked -- -D warnings"
    )
    .run()?;
    let root = project_root();
    let machete = find_program(&root, "cargo-machete")
        .context("cargo-machete is not installed: run bash .ci/install/15-cargo-machete.sh")?;
    let crates = machete_paths(&root)?;
    cmd!(sh, "{machete} {crates...}").run().context(
        "cargo-machete found unused dependencies (listed above): remove them from those \
         Cargo.toml files, or, if one is used in a way it cannot see (a macro, a build \
         script), list it under [package.metadata.cargo-machete] ignored = [...]",
    )?;
    Ok(())
}

/// The workspace's tests, then the one-build check: what people build on their own after
/// it (xtask, the dev stack's services) compiles nothing (see `one_build`).
fn test(sh: &Shell, tally: &mut Tally) -> Result<()> {
    run_counting(
        Command::new("cargo").args(["test", "--workspace", "--locked"]),
        tally,
    )?;
    crate::one_build::check(sh)
}

/// The crates cargo-machete reads: every package directory but crates/workspace-hack, whose
/// dependencies exist only to unify features (no code uses them, by design).
fn machete_paths(root: &std::path::Path) -> Result<Vec<String>> {
    let mut paths = vec!["xtask".to_owned()];
    let entries = std::fs::read_dir(root.join("crates")).context("reading crates/")?;
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.join("Cargo.toml").is_file() && name != "workspace-hack" {
            paths.push(format!("crates/{name}"));
        }
    }
    paths.sort();
    Ok(paths)
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

/// The steps, in the order they run.
const STEPS: [(&str, StepFn); 9] = [
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

/// Something a step needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A cargo subcommand from a rustup component (`fmt`, `clippy`).
    Cargo(&'static str),
    /// PostgreSQL's server binaries (throwaway-postgres' search).
    Postgres,
    /// Node.js >= 20.
    Node,
    /// A program in $TOOLS_BIN, .tools/bin or PATH: any one of these names.
    Program(&'static [&'static str]),
    /// A file under the repository that an installer creates.
    File(&'static str),
}

/// What each step needs, and the installer (or command) that provides it. Kept next to the
/// steps: a step that starts needing a tool adds it here, so a fresh machine is told up front.
pub fn needs(step: &str) -> Vec<(Need, &'static str)> {
    const PG: (Need, &str) = (Need::Postgres, "bash .ci/install/00-postgres.sh");
    const HELM: (Need, &str) = (Need::Program(&["helm"]), "bash .ci/install/10-helm.sh");
    const OCI: &str = "bash .ci/install/20-oci-tools.sh";
    let qemu: &'static [&'static str] = if std::env::consts::ARCH == "aarch64" {
        &["qemu-x86_64-static"]
    } else {
        &["qemu-aarch64-static"]
    };
    match step {
        "fmt" => vec![(Need::Cargo("fmt"), "rustup component add rustfmt")],
        "clippy" => vec![
            (Need::Cargo("clippy"), "rustup component add clippy"),
            (
                Need::Program(&["cargo-machete"]),
                "bash .ci/install/15-cargo-machete.sh",
            ),
        ],
        // PostgreSQL for the database tests, Helm for chart-policy's renders, the OCI tools
        // for oci-image's real-tool test.
        "test" => vec![
            PG,
            HELM,
            (Need::Program(&["skopeo"]), OCI),
            (Need::Program(&["umoci"]), OCI),
            (Need::Program(&["runc"]), OCI),
            // service-kit's and local-stack's metrics tests scrape with a real Prometheus.
            (
                Need::Program(&["prometheus"]),
                "bash .ci/install/45-prometheus.sh",
            ),
            (
                Need::Program(&["promtool"]),
                "bash .ci/install/45-prometheus.sh",
            ),
        ],
        "interop" => vec![
            PG,
            (
                Need::Node,
                "Node.js >= 20 with npm (Debian: apt-get install nodejs npm)",
            ),
            (
                Need::File(".tools/py/bin/python"),
                "bash .ci/install/30-python.sh",
            ),
            (
                Need::File(".tools/schemathesis/bin/st"),
                "bash .ci/install/30-python.sh",
            ),
            (
                Need::File("crates/todo-mcp/tests/clients/node_modules/.package-lock.json"),
                "bash .ci/install/35-node-clients.sh",
            ),
        ],
        "chart" => vec![
            HELM,
            (
                Need::Program(&["kubernetes-validate"]),
                "bash .ci/install/11-kubernetes-validate.sh",
            ),
            (
                Need::Program(&["checkov"]),
                "bash .ci/install/12-checkov.sh",
            ),
            (
                Need::Program(&["promtool"]),
                "bash .ci/install/45-prometheus.sh",
            ),
        ],
        "nix" => vec![(Need::Program(&["nix-instantiate"]), OCI)],
        "images" => vec![
            PG,
            (Need::Program(&["skopeo"]), OCI),
            (Need::Program(&["umoci"]), OCI),
            (Need::Program(&["runc"]), OCI),
            (
                Need::Program(&["cargo-zigbuild"]),
                "bash .ci/install/25-cross.sh",
            ),
            (Need::Program(&["zig"]), "bash .ci/install/25-cross.sh"),
            (Need::Program(qemu), "bash .ci/install/25-cross.sh"),
            (Need::Program(&["dockerd"]), "bash .ci/install/50-docker.sh"),
            (Need::Program(&["docker"]), "bash .ci/install/50-docker.sh"),
        ],
        "smoke" => vec![PG],
        "e2e" => vec![
            PG,
            (
                Need::Program(&["chromium", "chromium-browser"]),
                "bash .ci/install/40-browser.sh",
            ),
            (
                Need::Program(&["chromedriver"]),
                "bash .ci/install/40-browser.sh",
            ),
            (
                Need::File(".tools/axe/node_modules/axe-core/axe.min.js"),
                "bash .ci/install/40-browser.sh",
            ),
            (
                Need::File(".tools/lighthouse/node_modules/lighthouse/cli/index.js"),
                "bash .ci/install/40-browser.sh",
            ),
        ],
        _ => Vec::new(),
    }
}

impl Need {
    fn describe(self) -> String {
        match self {
            Need::Cargo(sub) => format!("`cargo {sub}`"),
            Need::Postgres => "PostgreSQL server binaries (initdb, postgres)".to_owned(),
            Need::Node => "Node.js >= 20".to_owned(),
            Need::Program(names) => names.join(" or "),
            Need::File(path) => path.to_owned(),
        }
    }
}

/// Answers whether a [`Need`] is met (the real machine, or a fixture in tests).
pub trait Machine {
    fn has(&self, need: Need) -> bool;
}

/// This machine: the same places the steps themselves look.
struct Real {
    root: std::path::PathBuf,
}

impl Machine for Real {
    fn has(&self, need: Need) -> bool {
        match need {
            Need::Cargo(sub) => Command::new("cargo")
                .args([sub, "--version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            Need::Postgres => throwaway_postgres::bin_dir().is_ok(),
            Need::Node => Command::new("node")
                .arg("--version")
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| {
                    String::from_utf8_lossy(&out.stdout)
                        .trim()
                        .trim_start_matches('v')
                        .split('.')
                        .next()
                        .and_then(|m| m.parse::<u32>().ok())
                })
                .is_some_and(|major| major >= 20),
            Need::Program(names) => names
                .iter()
                .any(|name| find_program(&self.root, name).is_some()),
            Need::File(path) => self.root.join(path).exists(),
        }
    }
}

/// Where an executable is: `$TOOLS_BIN`, then `<repo>/.tools/bin` (where the installers put
/// tools), then `PATH`.
pub fn find_program(root: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    dirs.extend(std::env::var_os("TOOLS_BIN").map(Into::into));
    dirs.push(root.join(".tools/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter().map(|dir| dir.join(name)).find(|file| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The up-front check: every need of the steps that will run, the missing ones grouped by what
/// provides them. `None` when everything is there.
pub fn missing_tools(steps: &[&str], machine: &dyn Machine) -> Option<String> {
    // (need, installer) -> the steps that need it, in step order.
    let mut missing: Vec<((Need, &'static str), Vec<&str>)> = Vec::new();
    for step in steps {
        for need in needs(step) {
            if machine.has(need.0) {
                continue;
            }
            match missing.iter_mut().find(|(n, _)| *n == need) {
                Some((_, users)) => users.push(step),
                None => missing.push((need, vec![step])),
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let mut out = String::from("cargo xtask ci: the steps to run need tools this machine lacks:\n");
    for ((need, install), users) in &missing {
        out.push_str(&format!(
            "  {} (for {}): {install}\n",
            need.describe(),
            users.join(", ")
        ));
    }
    if missing.iter().any(|((need, _), _)| *need == Need::Postgres) {
        out.push_str(&format!("\n{}\n", throwaway_postgres::MISSING_BINARIES));
    }
    out.push_str(
        "\n`bash .ci/run` runs every installer (Debian/Ubuntu, as root or with sudo) and then `cargo xtask ci`; \
         inside `nix develop` most tools are there already. Or leave steps out: `cargo xtask ci --skip STEP,...`.",
    );
    Some(out)
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        let names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        if let Some(unknown) = self.skip.iter().find(|s| !names.contains(&s.as_str())) {
            bail!(
                "--skip {unknown}: no such step; the steps are {}",
                names.join(", ")
            );
        }
        let selected: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !self.skip.iter().any(|s| s == name))
            .collect();
        let root = project_root();
        if let Some(report) = missing_tools(&selected, &Real { root: root.clone() }) {
            bail!("{report}");
        }
        let tools = root.join(".tools/bin");
        let path = std::env::var("PATH").unwrap_or_default();
        sh.set_var("PATH", format!("{}:{path}", tools.display()));
        let mut tally = Tally::default();
        let mut timings: Vec<(&str, f64)> = Vec::new();
        for (name, step) in STEPS {
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

    /// A machine with only these needs met.
    struct Fixture(Vec<Need>);

    impl Machine for Fixture {
        fn has(&self, need: Need) -> bool {
            self.0.contains(&need)
        }
    }

    /// A fresh machine with Rust only: each missing tool named once, with the steps that need
    /// it and what installs it, and the way to install everything.
    #[test]
    fn a_fresh_machine_is_told_what_to_install() {
        let fresh = Fixture(vec![Need::Cargo("fmt"), Need::Cargo("clippy")]);
        let all: Vec<&str> = STEPS.iter().map(|(n, _)| *n).collect();
        let report = missing_tools(&all, &fresh).unwrap();
        assert!(
            report.contains(
                "  PostgreSQL server binaries (initdb, postgres) (for test, interop, images, smoke, e2e): bash .ci/install/00-postgres.sh\n"
            ),
            "{report}"
        );
        assert!(report.contains("  helm (for test, chart): bash .ci/install/10-helm.sh\n"));
        assert!(report.contains(
            "  chromium or chromium-browser (for e2e): bash .ci/install/40-browser.sh\n"
        ));
        assert!(report.contains("  skopeo (for test, images): bash .ci/install/20-oci-tools.sh\n"));
        assert!(report.contains("brew install postgresql"), "{report}");
        assert!(report.contains("`bash .ci/run` runs every installer"));
        assert!(!report.contains("cargo fmt"), "{report}");
    }

    #[test]
    fn only_the_selected_steps_count() {
        let fresh = Fixture(vec![
            Need::Cargo("fmt"),
            Need::Cargo("clippy"),
            Need::Program(&["cargo-machete"]),
        ]);
        assert_eq!(missing_tools(&["fmt", "clippy"], &fresh), None);
        let smoke = missing_tools(&["smoke"], &fresh).unwrap();
        assert!(smoke.contains("(for smoke)"), "{smoke}");
        assert!(!smoke.contains("helm"), "{smoke}");
        let no_rustfmt = Fixture(vec![]);
        assert!(
            missing_tools(&["fmt"], &no_rustfmt)
                .unwrap()
                .contains("`cargo fmt` (for fmt): rustup component add rustfmt")
        );
        // Alternatives: either browser name will do.
        let browser = Fixture(vec![
            Need::Postgres,
            Need::Program(&["chromium", "chromium-browser"]),
            Need::Program(&["chromedriver"]),
            Need::File(".tools/axe/node_modules/axe-core/axe.min.js"),
            Need::File(".tools/lighthouse/node_modules/lighthouse/cli/index.js"),
        ]);
        assert_eq!(missing_tools(&["e2e"], &browser), None);
    }

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
