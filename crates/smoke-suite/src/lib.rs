//! The smoke suite of todo-chatbot: a running deployment checked end to end, the way a user
//! and an MCP client reach it, so it runs anywhere: against `cargo xtask dev`, a cluster's
//! Ingress, or a cluster namespace through port-forwards.
//!
//! - [`suite::run`]: every service's health, the Ingress routes, register and login, a task's
//!   create/list/update/complete/delete, chat "add ..." through the built-in engine, MCP
//!   `tools/list` and `tools/call`, user isolation, and (when given a way to restart) data that
//!   survives a restart of the api and the database.
//! - [`checks`]: one function per check; each error says what was expected and what came back.
//! - [`report`]: the pass/fail table and the exit code.
//!
//! The cluster side of `--restart` (delete the pods, wait for replacements) is cluster-client's
//! `restart`.

pub mod checks;
pub mod http;
pub mod report;
pub mod suite;

pub use report::{CheckResult, Outcome, Report};
pub use suite::{Restart, SuiteConfig, names, run};
/// The wire types the suite speaks, for the other API clients of the workspace (the benches).
pub use todo_wire;
