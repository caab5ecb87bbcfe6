//! `cargo xtask doctor`: a thin front over the `cluster-doctor` crate.

use cluster_client::{FetchOptions, fetch_snapshot, kube_client};
use cluster_doctor::{LlmConfig, analyze, explain, render_findings};
use xshell::Shell;

use crate::util::project_root;

/// Diagnose a namespace in the spirit of k8sgpt: failing pods (with log tails), unready
/// workloads, Services without endpoints, Ingress/HPA/PVC problems, each with a fix. Exits 1
/// when it finds a problem.
#[derive(clap::Args)]
pub struct Cmd {
    /// The namespace to examine (current kubeconfig context).
    #[arg(long, value_name = "NS", default_value = "todo")]
    namespace: String,
    /// Also ask the LLM (LLM_BASE_URL, LLM_MODEL, LLM_API_KEY) to explain the findings in plain
    /// language. Sends the findings, log tails included, to that endpoint.
    #[arg(long)]
    explain: bool,
}

impl Cmd {
    pub fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        // Fail on a missing LLM configuration before reading the cluster.
        let llm = if self.explain {
            Some(LlmConfig::from_vars(|name| std::env::var(name).ok())?)
        } else {
            None
        };
        crate::deploy::runtime()?.block_on(async {
            let client = kube_client(None).await?;
            let mut snapshot =
                fetch_snapshot(&client, &self.namespace, &FetchOptions::default()).await?;
            // The last local build's tags, to spot a tag mismatch.
            let manifest = project_root().join("target/images/manifest.json");
            if let Ok(Some(manifest)) = deploy_plan::ImageManifest::load(&manifest, "") {
                snapshot.built_images = manifest.images.into_iter().map(|i| i.reference).collect();
            }
            let findings = analyze(&snapshot);
            println!("{}", render_findings(&findings));
            if let (Some(llm), false) = (&llm, findings.is_empty()) {
                println!(
                    "\nExplanation ({}):\n{}",
                    llm.model,
                    explain(&findings, llm).await?
                );
            }
            anyhow::ensure!(
                findings.is_empty(),
                "{} problem(s) in namespace {}",
                findings.len(),
                self.namespace
            );
            Ok(())
        })
    }
}
