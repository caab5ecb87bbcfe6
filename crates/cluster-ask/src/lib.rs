//! `cargo xtask ask "<request>"`: natural-language operations on a todo-chatbot release.
//!
//! - [`release`]: the release's objects by the names people use (`api`, `web`, `mcp`,
//!   `postgres`), as the chart names them.
//! - [`fixed`]: a small pure parser for the forms understood without a model ("scale api to
//!   5", "restart web", "logs api", "status"), and the refusal of deletes of PVCs and Secrets.
//! - [`tools`]: the typed tools the model may call (get, describe, logs, events, scale,
//!   HPA bounds, rollout restart, rollout status, the doctor's analyzers) over kube-rs, never a
//!   shell. Every change is a [`tools::Change`] that prints as the exact equivalent `kubectl`
//!   command and runs only after the user confirms.
//! - [`llm`]: an OpenAI-compatible Chat Completions client with tool calling, configured by the
//!   chat's `LLM_*` settings (read by [`cluster_doctor::LlmConfig`]).
//! - [`session`]: the loop (model -> tools -> model, bounded rounds) and the fixed-form path,
//!   talking to the user through a [`session::Ui`]; [`terminal`] is the command line's (a
//!   typed `y`, or `--yes`; no terminal and no `--yes` means nothing changes).

pub mod fixed;
pub mod llm;
pub mod release;
pub mod session;
pub mod terminal;
pub mod tools;

pub use release::{Release, Target, WorkloadKind};
pub use session::{AskOptions, Outcome, Ui, ask, check};
pub use terminal::TerminalUi;
pub use tools::Cluster;
