//! HTTP/1.1 load over `connections` keep-alive connections for a fixed duration, in one of two
//! shapes:
//! - closed loop (like wrk): each connection sends its next request as soon as the previous
//!   answer arrived, so the load finds the saturation throughput, and latency at saturation
//!   is connections / throughput (Little's law);
//! - a fixed rate (like wrk2, [`Plan::rate`]): requests are due on a schedule whatever the
//!   server does, and each latency is measured from when the request was due, so a stall
//!   counts against every request it delayed (no coordinated omission).
//!
//! Every latency is kept, so percentiles are exact (no histogram buckets). Benchmarks print
//! the [`Report`]; nothing here asserts a speed.
//!
//! Benchmarks drive load through [`LoadGenerator`], which runs this crate's optimized
//! `http-bench` binary as a process of its own (as one would run wrk): the load then costs
//! the same whatever profile the caller (xtask, a debug build) was compiled in.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send over and over; `body` for POSTs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    #[serde(with = "method_name")]
    pub method: Method,
    /// `http://host:port/path?query`
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Bytes>,
}

impl Target {
    pub fn get(url: impl Into<String>) -> Target {
        Target {
            method: Method::GET,
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn post_json(url: impl Into<String>, body: impl Into<Bytes>) -> Target {
        Target {
            method: Method::POST,
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body.into()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Target {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub requests: u64,
    pub errors: u64,
    /// Answers that were not 2xx/3xx (counted in `requests` too).
    pub non_success: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub first_byte_p95: Duration,
    /// The rate the plan asked for (`None`: closed loop).
    #[serde(default)]
    pub offered_rate: Option<f64>,
}

impl Report {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if let Some(rate) = self.offered_rate {
            write!(f, "offered {rate:>6.0}/s: ")?;
        }
        write!(
            f,
            "{:>9.0} req/s  p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  ({} requests, {} errors, {} non-2xx)",
            self.rps(),
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max),
            self.requests,
            self.errors,
            self.non_success
        )
    }
}

/// What the `http-bench` binary reads on stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub targets: Vec<Target>,
    pub connections: usize,
    pub duration: Duration,
    /// Requests per second over all connections, on a schedule (`None`: closed loop).
    #[serde(default)]
    pub rate: Option<f64>,
}

impl Plan {
    /// Closed-loop load.
    pub fn closed(targets: Vec<Target>, connections: usize, duration: Duration) -> Plan {
        Plan {
            targets,
            connections,
            duration,
            rate: None,
        }
    }

    /// The same load at a fixed `rate` (requests per second over all connections).
    pub fn at_rate(mut self, rate: f64) -> Plan {
        self.rate = Some(rate);
        self
    }
}

/// Runs load from the `http-bench` binary, a separate (release-built) process.
#[derive(Debug, Clone)]
pub struct LoadGenerator {
    binary: PathBuf,
}

impl LoadGenerator {
    /// `binary`: the built `http-bench` (for example `target/release/http-bench`).
    pub fn new(binary: impl Into<PathBuf>) -> LoadGenerator {
        LoadGenerator {
            binary: binary.into(),
        }
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Like [`run`], in the generator's process; returns its report.
    pub async fn run(
        &self,
        targets: Vec<Target>,
        connections: usize,
        duration: Duration,
    ) -> Result<Report> {
        self.run_plan(&Plan::closed(targets, connections, duration))
            .await
    }

    /// Like [`run_plan`], in the generator's process; returns its report.
    pub async fn run_plan(&self, plan: &Plan) -> Result<Report> {
        use tokio::io::AsyncWriteExt;
        let plan = serde_json::to_vec(plan)?;
        let mut child = tokio::process::Command::new(&self.binary)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting the load generator {} (build it with `cargo build --release -p http-bench`)",
                    self.binary.display()
                )
            })?;
        let mut stdin = child.stdin.take().context("load generator stdin")?;
        stdin.write_all(&plan).await?;
        drop(stdin);
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            bail!(
                "the load generator {} failed ({}): {}",
                self.binary.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "reading the load generator's report: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            )
        })
    }
}

/// Runs the load and returns the report. The targets are dealt out to the connections:
/// connection `c` sends targets `c`, `c + connections`, `c + 2 * connections`, ... in turn
/// (wrapping around), so a POST benchmark can vary its bodies and a benchmark with one
/// target per user keeps each user on one connection, as a real client would.
pub async fn run(targets: Vec<Target>, connections: usize, duration: Duration) -> Result<Report> {
    run_plan(Plan::closed(targets, connections, duration)).await
}

/// Runs `plan` and returns the report (see [`run`] for how targets are dealt out).
pub async fn run_plan(plan: Plan) -> Result<Report> {
    let Plan {
        targets,
        connections,
        duration,
        rate,
    } = plan;
    if targets.is_empty() || connections == 0 {
        bail!("need at least one target and one connection");
    }
    // At a fixed rate each connection sends every `interval`, the connections staggered
    // evenly across one interval.
    let interval = match rate {
        None => None,
        Some(rate) if rate.is_finite() && rate > 0.0 => {
            Some(Duration::from_secs_f64(connections as f64 / rate))
        }
        Some(rate) => bail!("rate must be a positive number of requests per second, got {rate}"),
    };
    let targets = Arc::new(targets);
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let targets = targets.clone();
        let pace = interval.map(|interval| Pace {
            first: started + interval.mul_f64(worker as f64 / connections as f64),
            interval,
        });
        workers.push(tokio::spawn(async move {
            connection_loop(&targets, worker, connections, deadline, pace).await
        }));
    }
    let mut total = Samples::default();
    for w in workers {
        let s = w.await.context("load worker panicked")??;
        total.latencies.extend(s.latencies);
        total.first_bytes.extend(s.first_bytes);
        total.errors += s.errors;
        total.non_success += s.non_success;
    }
    let elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total.first_bytes.sort_unstable();
    let pct = |v: &[Duration], p: f64| -> Duration {
        if v.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[idx]
    };
    Ok(Report {
        requests: total.latencies.len() as u64,
        errors: total.errors,
        non_success: total.non_success,
        elapsed,
        p50: pct(&total.latencies, 0.50),
        p95: pct(&total.latencies, 0.95),
        p99: pct(&total.latencies, 0.99),
        max: total.latencies.last().copied().unwrap_or_default(),
        first_byte_p95: pct(&total.first_bytes, 0.95),
        offered_rate: rate,
    })
}

/// When one connection's requests are due at a fixed rate.
#[derive(Clone, Copy)]
struct Pace {
    first: Instant,
    interval: Duration,
}

#[derive(Default)]
struct Samples {
    latencies: Vec<Duration>,
    first_bytes: Vec<Duration>,
    errors: u64,
    non_success: u64,
}

/// The index after `i` for a connection among `connections` (see [`run`]).
fn next_target(i: usize, connections: usize, targets: usize) -> usize {
    let next = i + connections;
    if next < targets {
        next
    } else {
        // Back to this connection's first target.
        i % connections % targets
    }
}

async fn connection_loop(
    targets: &[Target],
    worker: usize,
    connections: usize,
    deadline: Instant,
    pace: Option<Pace>,
) -> Result<Samples> {
    let mut samples = Samples::default();
    let first = &targets[0];
    let uri: hyper::Uri = first
        .url
        .parse()
        .with_context(|| format!("bad URL {}", first.url))?;
    let authority = uri.authority().context("URL needs host:port")?.clone();
    let mut sender = None;
    let mut i = worker % targets.len();
    let mut sent_count: u32 = 0;
    while Instant::now() < deadline {
        if sender.is_none() {
            let stream = match tokio::net::TcpStream::connect(authority.as_str()).await {
                Ok(s) => s,
                Err(_) => {
                    samples.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            stream.set_nodelay(true).ok();
            let (s, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            sender = Some(s);
        }
        let Some(s) = sender.as_mut() else { continue };
        let target = &targets[i % targets.len()];
        i = next_target(i, connections, targets.len());
        let target_uri: hyper::Uri = target.url.parse()?;
        let path = target_uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut req = Request::builder()
            .method(target.method.clone())
            .uri(path)
            .header("host", authority.as_str());
        for (k, v) in &target.headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(target.body.clone().unwrap_or_default()))?;
        // Latency counts from when the request was due: at a fixed rate that is its slot in
        // the schedule, even when the previous answer made it late.
        let sent = match pace {
            None => Instant::now(),
            Some(pace) => {
                let due = pace.first + pace.interval * sent_count;
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
        };
        sent_count = sent_count.saturating_add(1);
        match s.send_request(req).await {
            Ok(response) => {
                let first_byte = sent.elapsed();
                let ok = response.status().is_success() || response.status().is_redirection();
                match response.into_body().collect().await {
                    Ok(_) => {
                        samples.latencies.push(sent.elapsed());
                        samples.first_bytes.push(first_byte);
                        if !ok {
                            samples.non_success += 1;
                        }
                    }
                    Err(_) => {
                        samples.errors += 1;
                        sender = None;
                    }
                }
            }
            Err(_) => {
                samples.errors += 1;
                sender = None;
            }
        }
    }
    Ok(samples)
}

/// `hyper::Method` as its name in JSON.
mod method_name {
    use hyper::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Method, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        let name = String::deserialize(d)?;
        Method::from_bytes(name.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// Resident memory of a process in KiB, from /proc (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_dealt_out_to_connections() {
        let walk = |first: usize, connections: usize, targets: usize| {
            let mut i = first % targets;
            let mut seen = Vec::new();
            for _ in 0..6 {
                seen.push(i);
                i = next_target(i, connections, targets);
            }
            seen
        };
        // More targets than connections: each connection cycles through its own share.
        assert_eq!(walk(1, 3, 7), [1, 4, 1, 4, 1, 4]);
        assert_eq!(walk(0, 3, 7), [0, 3, 6, 0, 3, 6]);
        // One target per connection: each stays on its own.
        assert_eq!(walk(2, 4, 4), [2; 6]);
        // Fewer targets than connections: they share.
        assert_eq!(walk(3, 4, 2), [1; 6]);
        assert_eq!(walk(0, 1, 3), [0, 1, 2, 0, 1, 2]);
    }

    /// Serves `app` plus `GET /ok` on a free loopback port.
    async fn serve(app: axum::Router) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = app.route("/ok", axum::routing::get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn measures_a_real_server() {
        let addr = serve(axum::Router::new().route(
            "/echo",
            axum::routing::post(|body: String| async move { body }),
        ))
        .await;
        let report = run(
            vec![Target::get(format!("http://{addr}/ok"))],
            4,
            Duration::from_millis(300),
        )
        .await
        .unwrap();
        assert!(report.requests > 10, "{report}");
        assert_eq!((report.errors, report.non_success), (0, 0));
        assert!(report.p50 <= report.p95 && report.p95 <= report.p99 && report.p99 <= report.max);
        let missing = run(
            vec![Target::get(format!("http://{addr}/missing"))],
            1,
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert_eq!(missing.non_success, missing.requests, "404s are counted");
        let post = run(
            vec![Target::post_json(format!("http://{addr}/echo"), "{}")],
            2,
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert!(post.requests > 0 && post.non_success == 0);
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fixed_rate_sends_on_schedule_and_counts_stalls_against_every_late_request() {
        let addr = serve(axum::Router::new().route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                "slow"
            }),
        ))
        .await;

        // 100 requests/s for 1 s over 4 connections: the schedule, not the server, sets the
        // count (a closed loop would send thousands).
        let plan = Plan::closed(
            vec![Target::get(format!("http://{addr}/ok"))],
            4,
            Duration::from_secs(1),
        )
        .at_rate(100.0);
        let report = run_plan(plan).await.unwrap();
        assert!(
            (80..=100).contains(&report.requests),
            "{} requests at 100/s for 1 s: {report}",
            report.requests
        );
        assert_eq!(report.offered_rate, Some(100.0));
        assert!(
            report.to_string().starts_with("offered    100/s"),
            "{report}"
        );

        // One connection, a request due every 20 ms, a server taking 100 ms: each request
        // is later than the one before. Measured from when it was due, the last ones have
        // waited most of the second; a closed loop would report ~100 ms for all.
        let plan = Plan::closed(
            vec![Target::get(format!("http://{addr}/slow"))],
            1,
            Duration::from_secs(1),
        )
        .at_rate(50.0);
        let report = run_plan(plan).await.unwrap();
        assert!(report.requests >= 5, "{report}");
        assert!(report.max >= Duration::from_millis(400), "{report}");
        assert!(report.p50 >= Duration::from_millis(150), "{report}");

        let bad =
            Plan::closed(vec![Target::get("http://127.0.0.1:1/")], 1, Duration::ZERO).at_rate(0.0);
        let error = run_plan(bad).await.unwrap_err();
        assert!(
            error.to_string().contains("rate must be a positive number"),
            "{error}"
        );
    }
}
