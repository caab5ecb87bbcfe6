//! `cargo xtask status`: a thin front over `deploy_plan::status`.

use deploy_plan::Environment;
use xshell::Shell;

use crate::util::project_root;

/// Release (`helm status`), workloads, pods, images and URLs at a glance.
#[derive(clap::Args)]
pub struct Cmd {
    /// The release's namespace (current kubeconfig context).
    #[arg(long, value_name = "NS", default_value = "todo")]
    namespace: String,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        let env = Environment::from_process(&project_root());
        let text = crate::deploy::runtime()?.block_on(deploy_plan::status::status(
            "todo",
            &self.namespace,
            &env.path,
        ))?;
        print!("{text}");
        Ok(())
    }
}
