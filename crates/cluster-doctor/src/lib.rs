//! Cluster diagnostics in the spirit of k8sgpt, for `cargo xtask doctor` and for `deploy` when
//! a rollout fails.
//!
//! - [`Snapshot`]: the objects of one namespace, read from the cluster ([`fetch_snapshot`]) or
//!   from `kubectl get -o yaml` output ([`Snapshot::from_yaml`], used by the tests).
//! - [`analyze`]: pure analyzers over a snapshot, each reporting [`Finding`]s (object, problem,
//!   evidence, suggested fix).
//! - [`rollout`]: `kubectl rollout status` as pure functions, with the pods a rollout waits for.
//! - [`explain()`]: a plain-language explanation from an OpenAI-compatible LLM.

pub mod analyzers;
pub mod explain;
pub mod fetch;
pub mod finding;
pub mod pod_state;
pub mod rollout;
pub mod snapshot;

pub use analyzers::analyze;
pub use explain::{LlmConfig, explain};
pub use fetch::{
    FetchOptions, fetch_snapshot, install_crypto_provider, kube_client, kube_client_from,
};
pub use finding::{Finding, ObjectRef, render_findings};
pub use rollout::{
    RolloutState, RolloutStatus, all_rollouts, deployment_rollout, stateful_set_rollout,
};
pub use snapshot::{ContainerKey, Snapshot};
