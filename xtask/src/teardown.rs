//! `cargo xtask teardown`: a thin front over the `deploy-plan` crate.

use deploy_plan::{Environment, TeardownOptions};
use xshell::Shell;

use crate::util::project_root;

/// Uninstall the release and delete its namespace (targets the current kubeconfig context,
/// or the profile's with --profile).
#[derive(clap::Args)]
pub struct Cmd {
    /// Also delete the PVCs (the database's data) and the minikube profile.
    #[arg(long)]
    purge: bool,
    /// The minikube profile: its context is used, and --purge deletes it.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Print the exact commands, in order, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        let defaults = TeardownOptions::default();
        let options = TeardownOptions {
            purge: self.purge,
            profile_explicit: self.profile.is_some(),
            profile: self.profile.unwrap_or(defaults.profile.clone()),
            ..defaults
        };
        let env = Environment::from_process(&project_root());
        crate::deploy::runtime()?.block_on(deploy_plan::commands::teardown(
            &options,
            &env,
            self.dry_run,
        ))
    }
}
