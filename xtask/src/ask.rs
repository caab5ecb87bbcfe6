//! `cargo xtask ask "<request>"`: a thin front over the `cluster-ask` crate.

use std::io::IsTerminal as _;

use cluster_ask::{AskOptions, Cluster, Release, TerminalUi};
use xshell::Shell;

/// Operate the release in plain words: "scale api to 5", "restart web", "logs api",
/// "why is the api pod crashing?". Through the chat's LLM settings (LLM_BASE_URL, LLM_MODEL,
/// LLM_API_KEY) when set; without them only the fixed forms ("scale api to 5", "restart web",
/// "logs api", "status", "events", "doctor") are understood. Reads run at once; every change
/// is printed as its exact kubectl command and runs only once you confirm (or with --yes).
/// There are no deletes; PVCs and Secrets are never deleted. What the tools read (objects,
/// events, log lines; never Secrets) is sent to the LLM endpoint.
#[derive(clap::Args)]
pub struct Cmd {
    /// The request, in words (quoting it is optional).
    #[arg(required = true, num_args = 1.., value_name = "REQUEST")]
    request: Vec<String>,
    /// Run changes without asking (for scripts; without a terminal and without --yes nothing
    /// is changed).
    #[arg(long, short = 'y')]
    yes: bool,
    /// The release's namespace (every tool acts only there).
    #[arg(long, value_name = "NS", default_value = "todo")]
    namespace: String,
    /// The Helm release, for its object names (todo -> todo-api, todo-web, ...).
    #[arg(long, value_name = "NAME", default_value = "todo")]
    release: String,
    /// The kubeconfig context (default: the current one; `todo-chatbot` is deploy's minikube).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Model round trips before giving up.
    #[arg(long, value_name = "N", default_value_t = 8)]
    max_rounds: usize,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        anyhow::ensure!(self.max_rounds >= 1, "--max-rounds must be at least 1");
        let request = self.request.join(" ");
        let options = AskOptions {
            release: Release {
                name: self.release,
                namespace: self.namespace,
            },
            context: self.context,
            llm: cluster_ask::llm::config_from(|name| std::env::var(name).ok()),
            max_rounds: self.max_rounds,
            ..AskOptions::default()
        };
        // Refusals and "configure a model" come before any cluster is needed.
        cluster_ask::check(&request, &options)?;
        let interactive = std::io::stdin().is_terminal();
        let mut ui = TerminalUi {
            yes: self.yes,
            interactive,
            input: std::io::stdin().lock(),
            output: std::io::stdout(),
        };
        let outcome = crate::deploy::runtime()?.block_on(async {
            let client = cluster_client::kube_client(options.context.as_deref()).await?;
            let cluster = Cluster {
                client,
                release: options.release.clone(),
                context: options.context.clone(),
            };
            cluster_ask::ask(&request, &cluster, &options, &mut ui).await
        })?;
        // A script must not mistake "shown but not run" for done.
        anyhow::ensure!(
            outcome.not_run.is_empty() || interactive,
            "{} change(s) not run (no terminal to confirm on): pass --yes to run them",
            outcome.not_run.len()
        );
        Ok(())
    }
}
