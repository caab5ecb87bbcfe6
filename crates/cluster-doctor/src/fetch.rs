//! Reads a namespace from the cluster with kube-rs into a `Snapshot` (needs a cluster, so it
//! stays thin: list calls and log tails, no logic).

use anyhow::Context as _;
use futures::try_join;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{ListParams, LogParams};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use serde::de::DeserializeOwned;

use crate::pod_state::{container_statuses, pod_name};
use crate::snapshot::{ContainerKey, Snapshot};

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

/// What to read besides the objects.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Lines of the previous run's log to read for each restarted container (0: none).
    pub log_tail_lines: i64,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions { log_tail_lines: 30 }
    }
}

async fn list_namespaced<K>(client: &Client, namespace: &str) -> anyhow::Result<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let list = api
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing {} in namespace {namespace}", K::kind(&())))?;
    Ok(list.items)
}

async fn list_cluster<K>(client: &Client) -> Option<Vec<K>>
where
    K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    // Cluster-scoped reads may be forbidden to a namespaced user; the analyzers then skip the
    // checks that need them instead of guessing.
    Api::<K>::all(client.clone())
        .list(&ListParams::default())
        .await
        .ok()
        .map(|list| list.items)
}

/// Reads every object the analyzers use from `namespace`, plus log tails of restarted containers.
pub async fn fetch_snapshot(
    client: &Client,
    namespace: &str,
    options: &FetchOptions,
) -> anyhow::Result<Snapshot> {
    let (
        pods,
        events,
        deployments,
        stateful_sets,
        services,
        endpoint_slices,
        ingresses,
        hpas,
        pvcs,
    ) = try_join!(
        list_namespaced::<Pod>(client, namespace),
        list_namespaced::<Event>(client, namespace),
        list_namespaced::<Deployment>(client, namespace),
        list_namespaced::<StatefulSet>(client, namespace),
        list_namespaced::<Service>(client, namespace),
        list_namespaced::<EndpointSlice>(client, namespace),
        list_namespaced::<Ingress>(client, namespace),
        list_namespaced::<HorizontalPodAutoscaler>(client, namespace),
        list_namespaced::<PersistentVolumeClaim>(client, namespace),
    )?;
    let ingress_classes = list_cluster::<IngressClass>(client).await;
    let storage_classes = list_cluster::<StorageClass>(client).await;
    let mut snapshot = Snapshot {
        namespace: namespace.to_string(),
        pods,
        events,
        deployments,
        stateful_sets,
        services,
        endpoint_slices,
        ingresses,
        hpas,
        pvcs,
        ingress_classes,
        storage_classes,
        ..Snapshot::default()
    };
    if options.log_tail_lines > 0 {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let restarted: Vec<ContainerKey> = snapshot
            .pods
            .iter()
            .flat_map(|pod| {
                container_statuses(pod)
                    .into_iter()
                    .filter(|(c, _)| {
                        c.last_state
                            .as_ref()
                            .and_then(|s| s.terminated.as_ref())
                            .is_some()
                    })
                    .map(|(c, _)| ContainerKey::new(pod_name(pod), &c.name))
                    .collect::<Vec<_>>()
            })
            .collect();
        for key in restarted {
            let params = LogParams {
                container: Some(key.container.clone()),
                previous: true,
                tail_lines: Some(options.log_tail_lines),
                ..LogParams::default()
            };
            // A log that cannot be read (rotated, node gone) only costs the finding its tail.
            if let Ok(log) = api.logs(&key.pod, &params).await {
                snapshot.logs.insert(key, log);
            }
        }
    }
    Ok(snapshot)
}
