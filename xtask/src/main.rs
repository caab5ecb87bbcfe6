//! `cargo xtask <command>`: everything the project automates, behind one entry point.
//!
//! This crate is a thin command-line front. Anything with logic of its own lives in a
//! library crate under `crates/` and is tested there; each module here parses its
//! arguments and calls into that crate (or runs external tools through xshell).

mod ask;
mod bench;
mod ci;
mod db;
mod deploy;
mod dev;
mod doctor;
mod e2e;
mod images;
mod interop;
mod manifests;
mod one_build;
mod smoke;
mod status;
mod teardown;
mod util;

use clap::{Parser, Subcommand};
use xshell::Shell;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    // The usage line shows how it is typed: `cargo xtask ...`, not the binary's own name.
    bin_name = "cargo xtask",
    about = "Build, test, package and deploy todo-chatbot"
)]
struct Cli {
    /// On an error, also print where in xtask it came from (a backtrace when
    /// RUST_BACKTRACE=1). Panics always print theirs.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Everything CI runs: fmt, clippy, tests, image, chart and end-to-end checks.
    Ci(ci::Cmd),
    /// Run the whole stack locally without Kubernetes (PostgreSQL, api, mcp, web, router).
    Dev(dev::Cmd),
    /// Build the service OCI images natively (no Docker, no Nix needed).
    Images(images::Cmd),
    /// Render the Helm chart into plain manifests under k8s/.
    Manifests(manifests::Cmd),
    /// Deploy the stack to minikube or the current cluster, then smoke-test it.
    Deploy(deploy::Cmd),
    /// Run the smoke suite against a deployment or any base URL.
    Smoke(smoke::Cmd),
    /// Uninstall the release and keep its data (PVC, Secret); --purge also deletes those, the
    /// namespace and the minikube profile.
    ///
    /// Plain teardown is `helm uninstall` only: the database's volume (PVC), its Secret and the
    /// namespace stay, so the next deploy finds the same data and password. Only --purge
    /// deletes them. Targets the minikube profile's kube context (todo-chatbot), as deploy
    /// does, whatever the current context is; `--cluster current` for another cluster.
    Teardown(teardown::Cmd),
    /// Diagnose a deployment: failing pods, unready workloads, missing endpoints.
    Doctor(doctor::Cmd),
    /// Operate the release in plain words; every change shown as kubectl and confirmed first.
    Ask(ask::Cmd),
    /// Release, pods, images and URLs at a glance.
    Status(status::Cmd),
    /// Benchmarks: print numbers, never assert timings.
    Bench(bench::Cmd),
    /// Back up or restore the database (pg_dump custom format), e.g. the local stack's.
    Db(db::Cmd),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let verbose = cli.verbose;
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", util::render_error(&error, verbose));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(util::project_root());
    match cli.cmd {
        Cmd::Ci(cmd) => cmd.run(&sh),
        Cmd::Dev(cmd) => cmd.run(&sh),
        Cmd::Images(cmd) => cmd.run(&sh),
        Cmd::Manifests(cmd) => cmd.run(&sh),
        Cmd::Deploy(cmd) => cmd.run(&sh),
        Cmd::Smoke(cmd) => cmd.run(&sh),
        Cmd::Teardown(cmd) => cmd.run(&sh),
        Cmd::Doctor(cmd) => cmd.run(&sh),
        Cmd::Ask(cmd) => cmd.run(&sh),
        Cmd::Status(cmd) => cmd.run(&sh),
        Cmd::Bench(cmd) => cmd.run(&sh),
        Cmd::Db(cmd) => cmd.run(&sh),
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over every subcommand (e.g. no subcommand's flag clashes
    /// with the global `--verbose`).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
