//! `cargo xtask teardown`: a thin front over the `deploy-plan` crate.

use deploy_plan::{ClusterTarget, Environment, TeardownOptions};
use xshell::Shell;

use crate::util::project_root;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Cluster {
    /// The minikube profile's kube context (what deploy targets).
    Minikube,
    /// The current kubeconfig context (any cluster).
    Current,
}

// The command's help text is the `Teardown` variant's doc comment in main.rs.
#[derive(clap::Args)]
pub struct Cmd {
    /// Also delete the data: the database's PVC and Secret, the namespace and (with
    /// --cluster minikube) the minikube profile. Cannot be undone.
    #[arg(long)]
    purge: bool,
    /// Which cluster to tear down from.
    #[arg(long, value_enum, default_value = "minikube")]
    cluster: Cluster,
    /// The minikube profile: its context is used, and --purge deletes it.
    #[arg(long, value_name = "NAME", default_value = "todo-chatbot")]
    profile: String,
    /// Print the exact commands, in order, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also uninstall kagent (what `deploy --with-kagent` installed); with --purge also its
    /// namespace.
    #[arg(long)]
    with_kagent: bool,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        let options = TeardownOptions {
            purge: self.purge,
            cluster: match self.cluster {
                Cluster::Minikube => ClusterTarget::Minikube,
                Cluster::Current => ClusterTarget::Current,
            },
            profile: self.profile,
            kagent: self.with_kagent,
            ..TeardownOptions::default()
        };
        let env = Environment::from_process(&project_root());
        crate::deploy::runtime()?.block_on(deploy_plan::commands::teardown(
            &options,
            &env,
            self.dry_run,
        ))
    }
}
