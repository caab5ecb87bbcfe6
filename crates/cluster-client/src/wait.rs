//! Watch the release's Deployments and StatefulSets with kube-rs until they are rolled
//! out, printing a progress line whenever what they wait for changes.
//!
//! `wait_status` (pure, tested on fixtures) decides; `watch_rollout` only keeps reflector
//! stores of the objects fresh and asks it once a second (needs a cluster: not run here).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::rollout::{RolloutState, deployment_rollout, stateful_set_rollout};
use crate::snapshot::Snapshot;
use anyhow::Context as _;
use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::runtime::{WatchStreamExt as _, reflector, watcher};
use kube::{Api, Client};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Wait with kube-rs until these workloads are rolled out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitSpec {
    /// kubeconfig context (`None`: the current one).
    pub context: Option<String>,
    pub namespace: String,
    /// The release's `app.kubernetes.io/instance` label, to watch only its objects.
    pub release: String,
    pub deployments: Vec<String>,
    /// Waited for when the release has them (an external database has none).
    pub stateful_sets: Vec<String>,
    pub timeout: Duration,
}

/// Where the whole wait stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitStatus {
    /// One line per workload, by name (`todo-api 1/2 ready, waiting for pod ...`).
    pub lines: BTreeMap<String, String>,
    pub done: bool,
    /// A rollout that will not finish by itself.
    pub failed: Option<String>,
}

/// Decides from a snapshot of the namespace whether the wait is over. Every listed Deployment
/// must exist and be rolled out; a listed StatefulSet is waited for when it exists (an external
/// database has none, and it is created in the same helm apply as the Deployments).
pub fn wait_status(spec: &WaitSpec, snapshot: &Snapshot) -> WaitStatus {
    let mut lines = BTreeMap::new();
    let mut done = true;
    let mut failed = None;
    for name in &spec.deployments {
        match snapshot
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
        {
            None => {
                done = false;
                lines.insert(name.clone(), format!("{name}: not created yet"));
            }
            Some(deployment) => {
                let rollout = deployment_rollout(deployment, snapshot);
                done &= rollout.is_done();
                if let RolloutState::Failed(why) = &rollout.state {
                    failed.get_or_insert_with(|| format!("{name}: {why}"));
                }
                lines.insert(name.clone(), rollout.line());
            }
        }
    }
    for name in &spec.stateful_sets {
        if let Some(stateful_set) = snapshot
            .stateful_sets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
        {
            let rollout = stateful_set_rollout(stateful_set, snapshot);
            done &= rollout.is_done();
            lines.insert(name.clone(), rollout.line());
        }
    }
    WaitStatus {
        lines,
        done,
        failed,
    }
}

/// The lines that changed since `before` (what the watch prints).
pub fn changed_lines(before: &WaitStatus, now: &WaitStatus) -> Vec<String> {
    now.lines
        .iter()
        .filter(|(name, line)| before.lines.get(*name) != Some(line))
        .map(|(_, line)| line.clone())
        .collect()
}

/// Aborts the reflector tasks when the watch ends, however it ends.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

fn reflect<K>(api: Api<K>, config: watcher::Config) -> (reflector::Store<K>, JoinHandle<()>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api, config))
        .default_backoff()
        .touched_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        // Errors are retried by the backoff; the store keeps the last good state meanwhile.
        while stream.next().await.is_some() {}
    });
    (reader, task)
}

fn cloned<K>(store: &reflector::Store<K>) -> Vec<K>
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    store
        .state()
        .iter()
        .map(|object| object.as_ref().clone())
        .collect()
}

/// Watches until every workload of `spec` is rolled out, calling `progress` with each changed
/// line; fails on a failed rollout or after `spec.timeout`, listing what was still waiting.
pub async fn watch_rollout(
    client: Client,
    spec: &WaitSpec,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<()> {
    let namespace = spec.namespace.as_str();
    let release =
        watcher::Config::default().labels(&format!("app.kubernetes.io/instance={}", spec.release));
    let (deployments, a) = reflect(
        Api::<Deployment>::namespaced(client.clone(), namespace),
        release.clone(),
    );
    let (stateful_sets, b) = reflect(
        Api::<StatefulSet>::namespaced(client.clone(), namespace),
        release.clone(),
    );
    let (pods, c) = reflect(Api::<Pod>::namespaced(client.clone(), namespace), release);
    let (events, d) = reflect(
        Api::<Event>::namespaced(client, namespace),
        watcher::Config::default(),
    );
    let _tasks = Tasks(vec![a, b, c, d]);
    let deadline = Instant::now() + spec.timeout;
    tokio::time::timeout_at(deadline, async {
        for store in [
            deployments.wait_until_ready().await,
            stateful_sets.wait_until_ready().await,
        ] {
            store.context("the watch stopped before its first list")?;
        }
        pods.wait_until_ready()
            .await
            .context("the pod watch stopped before its first list")?;
        events
            .wait_until_ready()
            .await
            .context("the event watch stopped before its first list")?;
        anyhow::Ok(())
    })
    .await
    .map_err(|_| {
        anyhow::anyhow!("timed out before the first list of the namespace {namespace}")
    })??;

    let mut last = WaitStatus {
        lines: BTreeMap::new(),
        done: false,
        failed: None,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let snapshot = Snapshot {
            namespace: namespace.to_string(),
            deployments: cloned(&deployments),
            stateful_sets: cloned(&stateful_sets),
            pods: cloned(&pods),
            events: cloned(&events),
            ..Snapshot::default()
        };
        let status = wait_status(spec, &snapshot);
        for line in changed_lines(&last, &status) {
            progress(&line);
        }
        if let Some(failed) = &status.failed {
            anyhow::bail!("rollout failed: {failed}");
        }
        if status.done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = status.lines.values().map(String::as_str).collect();
            anyhow::bail!(
                "timed out after {} waiting for:\n  {}",
                crate::format_duration(spec.timeout),
                waiting.join("\n  ")
            );
        }
        last = status;
    }
}
