//! A real Prometheus server (Debian's `prometheus`, `.ci/install/45-prometheus.sh`) scraping
//! the local services' `/metrics`: `cargo xtask dev --observe`, and checks that query what it
//! scraped through its HTTP API. Its configuration and data live in a temporary directory
//! removed with it; it listens on 127.0.0.1 only.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// Where the binary comes from when it is missing.
pub const INSTALLER: &str =
    "bash .ci/install/45-prometheus.sh (Debian: apt-get install prometheus)";

/// A running Prometheus; killed when stopped or dropped.
pub struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

/// One scrape job: its name (the `job` label) and the base URL of a service.
#[derive(Debug, Clone)]
pub struct Target {
    pub job: String,
    pub base_url: String,
}

impl Prometheus {
    /// Starts Prometheus on `port` (0: a free one) scraping each target's `/metrics` every
    /// `interval`, and waits until it answers (at most 30 s).
    pub async fn start(targets: &[Target], port: u16, interval: Duration) -> Result<Prometheus> {
        let port = if port == 0 { crate::free_port()? } else { port };
        let dir = std::env::temp_dir().join(format!(
            "local-stack-prometheus-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, config_text(targets, interval)?)
            .with_context(|| format!("writing {}", config.display()))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                bail!("cannot start prometheus ({e}): install it with {INSTALLER}");
            }
        };
        let mut prometheus = Prometheus { child, port, dir };
        let ready = format!("{}/-/ready", prometheus.url());
        let started = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(&ready).await
                && r.status().is_success()
            {
                return Ok(prometheus);
            }
            if let Ok(Some(status)) = prometheus.child.try_wait() {
                bail!(
                    "prometheus exited at start-up ({status}): is port {port} taken? (config: {})",
                    config.display()
                );
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("prometheus did not answer {ready} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its web UI and API, e.g. `http://127.0.0.1:9090`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An instant query's first value, waiting (at most `bound`) until the query returns
    /// something: a scrape happens only every interval.
    pub async fn query_value(&self, promql: &str, bound: Duration) -> Result<f64> {
        let client = reqwest::Client::new();
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", self.url()))?;
        url.query_pairs_mut().append_pair("query", promql);
        let started = Instant::now();
        loop {
            if let Ok(answer) = client.get(url.clone()).send().await
                && let Ok(body) = answer.json::<serde_json::Value>().await
                && let Some(value) = body["data"]["result"][0]["value"][1].as_str()
            {
                return value
                    .parse()
                    .with_context(|| format!("{promql} returned {value:?}, not a number"));
            }
            if started.elapsed() > bound {
                bail!(
                    "Prometheus at {} returned nothing for {promql} within {bound:?}",
                    self.url()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Stops the server and removes its data.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The configuration: one job per target, `host:port` from its base URL.
fn config_text(targets: &[Target], interval: Duration) -> Result<String> {
    let mut text = format!(
        "global:\n  scrape_interval: {}ms\n  evaluation_interval: {}ms\nscrape_configs:\n",
        interval.as_millis(),
        interval.as_millis()
    );
    for target in targets {
        let url = reqwest::Url::parse(&target.base_url)
            .with_context(|| format!("{} is not a URL", target.base_url))?;
        let host = url.host_str().context("a target URL without a host")?;
        let port = url
            .port_or_known_default()
            .context("a target URL without a port")?;
        text.push_str(&format!(
            "  - job_name: {:?}\n    metrics_path: /metrics\n    static_configs:\n      - targets: [\"{host}:{port}\"]\n",
            target.job
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_job_per_target() -> Result<()> {
        let text = config_text(
            &[Target {
                job: "todo-api".into(),
                base_url: "http://127.0.0.1:4001".into(),
            }],
            Duration::from_secs(1),
        )?;
        assert!(text.contains("job_name: \"todo-api\""), "{text}");
        assert!(text.contains("targets: [\"127.0.0.1:4001\"]"), "{text}");
        assert!(text.contains("scrape_interval: 1000ms"), "{text}");
        Ok(())
    }
}
