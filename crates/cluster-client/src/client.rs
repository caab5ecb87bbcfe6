//! A kube-rs client for the cluster a command talks to: the kubeconfig file and context to
//! use, the TLS provider, and one sentence with the way on when there is no cluster at all.

use anyhow::Context as _;
use kube::config::KubeConfigOptions;
use kube::{Client, Config};

/// Installs the process-wide rustls provider (aws-lc-rs) once; every TLS user in the project
/// (kube, reqwest) shares it. Safe to call many times.
pub fn install_crypto_provider() {
    // Err means one is installed already, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A kube-rs client for the given kubeconfig context, or for the current context when `None`.
pub async fn kube_client(context: Option<&str>) -> anyhow::Result<Client> {
    kube_client_from(None, context).await
}

/// Like [`kube_client`], reading the kubeconfig from `kubeconfig` instead of `$KUBECONFIG` /
/// `~/.kube/config` when given.
pub async fn kube_client_from(
    kubeconfig: Option<&std::path::Path>,
    context: Option<&str>,
) -> anyhow::Result<Client> {
    install_crypto_provider();
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .with_context(|| format!("no usable context {:?} in {}", context, path.display()))?
        }
        (None, Some(context)) => Config::from_kubeconfig(&options).await.with_context(|| {
            format!("no usable kubeconfig context `{context}` (is the minikube profile started? `cargo xtask deploy`)")
        })?,
        (None, None) => {
            let place = kubeconfig_location(
                std::env::var_os("KUBECONFIG").as_deref(),
                std::env::var_os("HOME").as_deref(),
                std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
            );
            match Config::infer().await {
                Ok(config) => config,
                // kube's own error nests the in-cluster and kubeconfig attempts, each
                // repeating the other; one sentence with the way on says more.
                Err(_) if place.is_none() => anyhow::bail!("{NO_CLUSTER}"),
                Err(e) => {
                    return Err(anyhow::anyhow!(
                        "the kubeconfig {} is not usable: {}; fix it, pick a context with `kubectl config use-context NAME`, or run `cargo xtask deploy`",
                        place.as_deref().unwrap_or_default(),
                        root_cause(&e)
                    ));
                }
            }
        }
    };
    Client::try_from(config).context("creating the Kubernetes client")
}

/// The message when there is no kubeconfig and no in-cluster service account.
pub const NO_CLUSTER: &str = "no cluster found: run `cargo xtask deploy` first (or set KUBECONFIG)";

/// Where a kubeconfig would be read from, when there is one to read (`$KUBECONFIG`, else
/// `~/.kube/config` if it exists); `None` when there is nothing at all, i.e. no cluster was
/// ever set up here. Inside a pod the in-cluster account counts.
pub fn kubeconfig_location(
    kubeconfig: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
    in_cluster: bool,
) -> Option<String> {
    if let Some(paths) = kubeconfig.filter(|k| !k.is_empty()) {
        return Some(format!("$KUBECONFIG ({})", paths.to_string_lossy()));
    }
    if in_cluster {
        return Some("(in-cluster service account)".to_string());
    }
    let default = std::path::Path::new(home?).join(".kube/config");
    default.exists().then(|| default.display().to_string())
}

/// The innermost message of an error chain: kube's outer layers only say which attempt failed.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
