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
use kube::{Api, Client};
use serde::de::DeserializeOwned;

use crate::pod_state::{container_statuses, pod_name};
use crate::snapshot::{ContainerKey, Snapshot};

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

/// The hosts of the Ingress rules in `namespace` (`""` for a rule without one), in order.
pub async fn ingress_hosts(client: Client, namespace: &str) -> anyhow::Result<Vec<String>> {
    let ingresses = Api::<Ingress>::namespaced(client, namespace)
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the Ingresses of {namespace}"))?;
    Ok(ingresses
        .items
        .iter()
        .flat_map(|i| i.spec.iter().flat_map(|s| s.rules.iter().flatten()))
        .map(|rule| rule.host.clone().unwrap_or_default())
        .collect())
}
