//! A kube-rs port-forward to a Service, for the smoke suite (no ingress needed).
//!
//! `port_forward` serves a local TcpListener on 127.0.0.1 (random port); each accepted
//! connection is forwarded to a ready pod the Service selects, chosen afresh per connection so
//! a restarted pod (smoke `--restart`) is picked up. The choice of pod and the port mapping are
//! pure functions tested on fixtures; the forwarding itself needs a cluster and is not run here.

use std::collections::BTreeMap;

use crate::pod_state::is_pod_ready;
use anyhow::Context as _;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::ListParams;
use kube::{Api, Client};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The running forward; dropping it stops listening and forwarding.
pub struct PortForward {
    local_port: u16,
    task: JoinHandle<()>,
}

impl PortForward {
    pub fn local_port(&self) -> u16 {
        self.local_port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.local_port)
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A ready, not terminating pod, by name order so the choice is stable.
pub fn pick_ready_pod(pods: &[Pod]) -> Option<&Pod> {
    let mut ready: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && is_pod_ready(p))
        .collect();
    ready.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    ready.into_iter().next()
}

/// The container port behind `service_port` of `service` on `pod` (numeric or named targetPort;
/// no targetPort means the same number).
pub fn target_port(service: &Service, pod: &Pod, service_port: u16) -> anyhow::Result<u16> {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let ports = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default();
    let port = ports
        .iter()
        .find(|p| p.port == i32::from(service_port))
        .with_context(|| {
            let known: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
            format!(
                "Service {name} has no port {service_port} (it has {})",
                known.join(", ")
            )
        })?;
    let number = match &port.target_port {
        None => port.port,
        Some(IntOrString::Int(number)) => *number,
        Some(IntOrString::String(port_name)) => pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(port_name.as_str()))
            .map(|p| p.container_port)
            .with_context(|| {
                format!(
                    "Service {name} targets port `{port_name}`, which no container of pod {} declares",
                    pod.metadata.name.as_deref().unwrap_or_default()
                )
            })?,
    };
    u16::try_from(number)
        .with_context(|| format!("port {number} of Service {name} is out of range"))
}

fn label_selector(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn ready_pod(
    pods: &Api<Pod>,
    service: &Service,
    service_port: u16,
) -> anyhow::Result<(String, u16)> {
    let name = service.metadata.name.as_deref().unwrap_or_default();
    let selector = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
        .with_context(|| format!("Service {name} has no selector, so no pod to forward to"))?;
    let list = pods
        .list(&ListParams::default().labels(&label_selector(selector)))
        .await?;
    let pod = pick_ready_pod(&list.items).with_context(|| {
        format!("no ready pod behind Service {name} (`cargo xtask doctor` says why)")
    })?;
    let port = target_port(service, pod, service_port)?;
    Ok((pod.metadata.name.clone().unwrap_or_default(), port))
}

/// Forwards `127.0.0.1:<returned port>` to `service_port` of Service `namespace/service_name`.
/// The returned handle keeps it running; drop it to stop.
pub async fn port_forward(
    client: Client,
    namespace: &str,
    service_name: &str,
    remote_port: u16,
) -> anyhow::Result<(u16, PortForward)> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let service = services
        .get(service_name)
        .await
        .with_context(|| format!("reading Service {namespace}/{service_name}"))?;
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    // Fail now, not on the first connection, when nothing can answer.
    ready_pod(&pods, &service, remote_port).await?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a local port")?;
    let local_port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let pods = pods.clone();
            let service = service.clone();
            tokio::spawn(async move {
                let forwarded = async {
                    let (pod, port) = ready_pod(&pods, &service, remote_port).await?;
                    let mut forwarder = pods.portforward(&pod, &[port]).await?;
                    let mut upstream = forwarder
                        .take_stream(port)
                        .context("no stream for the port")?;
                    tokio::io::copy_bidirectional(&mut socket, &mut upstream).await?;
                    drop(upstream);
                    forwarder.join().await?;
                    anyhow::Ok(())
                };
                if let Err(error) = forwarded.await {
                    eprintln!(
                        "port-forward to {}: {error:#}",
                        service.metadata.name.as_deref().unwrap_or_default()
                    );
                }
            });
        }
    });
    Ok((local_port, PortForward { local_port, task }))
}
