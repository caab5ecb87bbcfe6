//! `cargo xtask deploy`: a thin front over the `deploy-plan` crate (plan, preflight, runner).

use std::path::PathBuf;

use deploy_plan::{ClusterTarget, DeployOptions, Environment, ImagesMode, ValuesChoice};
use xshell::Shell;

use crate::util::project_root;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Cluster {
    /// A minikube profile, started or reused.
    Minikube,
    /// The current kubeconfig context (any cluster); needs --registry.
    Current,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Images {
    /// Nix when installed, else native.
    Auto,
    Nix,
    Native,
}

/// Deploy to minikube (or any cluster) from nothing to a smoke-tested stack. Re-running is
/// idempotent: a running profile, enabled addons and images already loaded are reused.
#[derive(clap::Args)]
pub struct Cmd {
    /// Where to deploy.
    #[arg(long, value_enum, default_value = "minikube")]
    cluster: Cluster,
    /// The minikube profile (also the kubeconfig context used).
    #[arg(long, value_name = "NAME", default_value = "todo-chatbot")]
    profile: String,
    /// Chart values: `dev`, `prod` or a values file.
    #[arg(long, value_name = "dev|prod|FILE", default_value = "dev")]
    values: String,
    /// How to build the images.
    #[arg(long, value_enum, default_value = "auto")]
    images: Images,
    /// Push the images to this registry (HOST[:PORT][/PATH]) instead of loading them into
    /// minikube; required with `--cluster current`.
    #[arg(long, value_name = "HOST")]
    registry: Option<String>,
    /// Extra chart values, applied after the deploy's own (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Do not run `cargo xtask smoke` at the end.
    #[arg(long)]
    no_smoke: bool,
    /// Print the exact commands and API calls, in order, and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// CPUs of a new minikube profile.
    #[arg(long, value_name = "N", default_value_t = 2)]
    cpus: u32,
    /// Memory of a new minikube profile, in MB.
    #[arg(long, value_name = "MB", default_value_t = 4096)]
    memory: u32,
    /// Load this platform's images (linux/amd64 or linux/arm64) instead of the nodes' own,
    /// as asked from the cluster
    #[arg(long, value_name = "linux/ARCH")]
    platform: Option<String>,
    /// Also install kagent (its published Helm charts, namespace kagent) with the LLM key from
    /// LLM_API_KEY, as the release's Secret, and the chat's LLM_MODEL / LLM_BASE_URL.
    #[arg(long)]
    with_kagent: bool,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        let root = project_root();
        let values = match ValuesChoice::parse(&self.values) {
            // A file is named relative to where the user typed the command.
            ValuesChoice::File(path) => ValuesChoice::File(absolute(path)?),
            choice => choice,
        };
        let options = DeployOptions {
            cluster: match self.cluster {
                Cluster::Minikube => ClusterTarget::Minikube,
                Cluster::Current => ClusterTarget::Current,
            },
            profile: self.profile,
            values,
            images: match self.images {
                Images::Auto => ImagesMode::Auto,
                Images::Nix => ImagesMode::Nix,
                Images::Native => ImagesMode::Native,
            },
            registry: self.registry,
            sets: self.sets,
            smoke: !self.no_smoke,
            cpus: self.cpus,
            memory_mb: self.memory,
            platform: self.platform,
            kagent: self
                .with_kagent
                .then(|| deploy_plan::KagentOptions::from_vars(|name| std::env::var(name).ok())),
            ..DeployOptions::default()
        };
        let env = Environment::from_process(&root);
        runtime()?.block_on(deploy_plan::commands::deploy(&options, &env, self.dry_run))
    }
}

fn absolute(path: PathBuf) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// The async runtime for kube-rs and the runner's processes.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
