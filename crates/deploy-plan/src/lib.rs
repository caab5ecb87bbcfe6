//! How todo-chatbot gets onto a cluster and off it again, as plans.
//!
//! A [`Plan`] is the ordered list of [`Step`]s a command will take: external commands (program
//! and arguments; secrets only by the name of the environment variable they come from), kube-rs
//! actions and notes. Plans are built by pure functions ([`deploy_plan`], [`teardown_plan`]) from
//! options and discovered facts (tools and versions, minikube profile, image manifest, images the
//! cluster already has), so every branch is tested without a cluster; `--dry-run` prints them, and
//! the [`runner`] executes them with per-step durations, stopping at the first failure with what
//! to run next.
//!
//! [`kagent`]: the optional kagent install and removal steps (`--with-kagent`).
//!
//! Also: [`status`]. The rollout watch, port-forward and kube client are cluster-client's.

pub mod commands;
pub mod deploy;
pub mod facts;
pub mod kagent;
pub mod plan;
pub mod preflight;
pub mod runner;
pub mod status;
pub mod teardown;
pub mod version;

pub use deploy::{
    ClusterTarget, DeployFacts, DeployOptions, Environment, ImagesMode, PresentImages,
    ValuesChoice, deploy_plan,
};
pub use facts::{ImageEntry, ImageManifest, ProfileState};
pub use kagent::KagentOptions;
pub use plan::{Action, Command, Phase, Plan, Step};
pub use preflight::{Preflight, Tool};
pub use teardown::{TeardownFacts, TeardownOptions, teardown_plan};
