//! Talking to a cluster with kube-rs, in one place: every platform command that reads or
//! changes a cluster (deploy, doctor, status, smoke, ask) goes through here.
//!
//! - [`client`]: the kube-rs client for a kubeconfig and context ([`kube_client`],
//!   [`kube_client_from`]), the process-wide TLS provider, and the one-sentence "no cluster"
//!   error.
//! - [`snapshot`]: the objects of one namespace ([`Snapshot`]), read from the cluster by
//!   [`fetch`] ([`fetch_snapshot`]) or from `kubectl get -o yaml` output (the tests).
//! - [`pod_state`]: readiness, container states and what blocks a pod, as pure functions.
//! - [`rollout`]: `kubectl rollout status` as pure functions, with the pods a rollout waits for.
//! - [`wait`]: the rollout watch ([`watch_rollout`]) and its decision ([`wait::wait_status`]).
//! - [`portforward`]: a local port forwarded to a ready pod behind a Service.
//! - [`restart`]: delete a release's api and database pods and wait for ready replacements.
//!
//! The decisions are pure functions tested on fixtures; the kube-rs paths run in the tests
//! against crates/fake-apiserver (no cluster can run where this was written).

pub mod client;
pub mod fetch;
pub mod pod_state;
pub mod portforward;
pub mod restart;
pub mod rollout;
pub mod snapshot;
pub mod wait;

use std::time::Duration;

pub use client::{
    NO_CLUSTER, install_crypto_provider, kube_client, kube_client_from, kubeconfig_location,
};
pub use fetch::{FetchOptions, fetch_snapshot};
/// The kube-rs client type, so callers need no kube dependency of their own.
pub use kube::Client;
pub use portforward::{PortForward, port_forward};
pub use restart::restart_pods;
pub use rollout::{
    RolloutState, RolloutStatus, all_rollouts, deployment_rollout, stateful_set_rollout,
};
pub use snapshot::{ContainerKey, Snapshot};
pub use wait::{WaitSpec, watch_rollout};

/// `90s`, `10m`, `1m30s`: how timeouts are written in plans, progress and errors.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}
