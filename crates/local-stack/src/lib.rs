//! Running the services as plain processes, the way `cargo xtask dev`, the benchmarks and
//! CI's smoke run need them: spawn a binary with its environment, prefix and colour its log
//! lines, wait for `/readyz`, stop it with SIGTERM like Kubernetes does; and put one local
//! address in front of them that routes like the chart's Ingress ([`router`]); and a real
//! Prometheus scraping them ([`prometheus`], `cargo xtask dev --observe`).

pub mod process;
pub mod prometheus;
pub mod router;
pub mod stack;

pub use process::{LogMode, ServiceProcess, colour_enabled, stderr_colour, stdout_colour};
pub use router::{Backend, RouterHandle, Upstreams};
pub use stack::{Stack, StackConfig};

/// A free TCP port on 127.0.0.1 (the OS picks it; there is a small window before we bind).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
