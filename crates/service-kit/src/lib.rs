//! What every todo-chatbot service shares, so the three behave the same way in a cluster:
//! configuration from the environment, structured logs with request ids, `/health`, `/livez`
//! and `/readyz`, Prometheus metrics on `/metrics`, graceful shutdown on SIGTERM/SIGINT, and
//! the `healthcheck` probe the images use instead of curl.

pub mod api_error;
pub mod binary;
pub mod client_addr;
pub mod config;
pub mod connections;
pub mod health;
pub mod metrics;
pub mod probe;
pub mod request_log;
pub mod server;
pub mod telemetry;
pub mod trace;

pub use api_error::ApiError;
pub use client_addr::TrustedProxies;
pub use config::{ConfigError, Env};
pub use connections::ServeSettings;
pub use health::{Health, HealthCheck};
pub use server::{serve, shutdown_signal};
