//! Cluster diagnostics in the spirit of k8sgpt, for `cargo xtask doctor` and for `deploy` when
//! a rollout fails.
//!
//! The namespace [`Snapshot`](cluster_client::Snapshot), its fetch and the rollout rules are
//! cluster-client's (everything that talks to a cluster); this crate only judges.
//!
//! - [`analyze`]: pure analyzers over a snapshot, each reporting [`Finding`]s (object, problem,
//!   evidence, suggested fix).
//! - [`explain()`]: a plain-language explanation from an OpenAI-compatible LLM.

pub mod analyzers;
pub mod explain;
pub mod finding;

pub use analyzers::analyze;
pub use explain::{LlmConfig, explain};
pub use finding::{Finding, ObjectRef, render_findings};
