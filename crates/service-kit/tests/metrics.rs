//! `/metrics` of `service_kit::serve` with real components: two real servers on loopback get
//! a scripted workload, their /metrics output must pass `promtool check metrics`, and a real
//! Prometheus server (Debian's `prometheus`, `bash .ci/install/45-prometheus.sh`) scrapes
//! both; queries through its HTTP API must return exactly the requests that were sent.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use service_kit::{Health, ServeSettings};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: Prometheus starts in about a second and scrapes every second.
const PROMETHEUS_BOUND: Duration = Duration::from_secs(90);

async fn start(service: &'static str) -> SocketAddr {
    let health = Health::new(service, "1.2.3");
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .route(
            "/limited",
            post(|| async { (StatusCode::TOO_MANY_REQUESTS, "slow down") }),
        )
        .route(
            "/fail",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        )
        .merge(health.routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(service_kit::serve(
        listener,
        app,
        health,
        std::future::pending(),
        ServeSettings::with_grace(Duration::from_secs(5)),
    ));
    addr
}

fn program(name: &str) -> String {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{name} is not installed: run `bash .ci/install/45-prometheus.sh` (Debian: apt-get install prometheus)"
    );
    name.to_owned()
}

fn promtool_check_metrics(text: &str) {
    let mut child = Command::new(program("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills the Prometheus server however the test ends.
struct Prometheus {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(targets: &[(&str, SocketAddr)]) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("global:\n  scrape_interval: 1s\nscrape_configs:\n");
    for (job, addr) in targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{addr}']\n"
        ));
    }
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program("prometheus"))
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Prometheus {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// Runs an instant query until it returns a non-empty result, and gives its first value.
async fn query(prometheus: &Prometheus, promql: &str) -> f64 {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        let mut url = reqwest::Url::parse(&format!("{}/api/v1/query", prometheus.base)).unwrap();
        url.query_pairs_mut().append_pair("query", promql);
        let answer = client.get(url).send().await;
        if let Ok(answer) = answer
            && let Ok(body) = answer.json::<serde_json::Value>().await
            && let Some(value) = body["data"]["result"][0]["value"][1].as_str()
        {
            return value.parse().unwrap();
        }
        assert!(
            started.elapsed() < PROMETHEUS_BOUND,
            "Prometheus at {} returned nothing for {promql} within {PROMETHEUS_BOUND:?}",
            prometheus.base
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_exactly_the_requests_sent() {
    let alpha = start("alpha").await;
    let beta = start("beta").await;
    let client = reqwest::Client::new();
    for id in 0..7 {
        let r = client
            .get(format!("http://{alpha}/items/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for _ in 0..3 {
        let r = client
            .get(format!("http://{alpha}/no/such/page"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    for _ in 0..2 {
        let r = client
            .post(format!("http://{alpha}/fail"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
    }
    let r = client
        .post(format!("http://{alpha}/limited"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    for id in 0..4 {
        client
            .get(format!("http://{beta}/items/{id}"))
            .send()
            .await
            .unwrap();
    }

    let scrape = client
        .get(format!("http://{alpha}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = scrape.text().await.unwrap();
    promtool_check_metrics(&text);
    // What came through a reverse proxy (the Ingress) is not a scrape.
    for header in ["x-forwarded-for", "forwarded"] {
        let proxied = client
            .get(format!("http://{alpha}/metrics"))
            .header(header, "for=203.0.113.7")
            .send()
            .await
            .unwrap();
        assert_eq!(proxied.status(), 404, "{header}");
    }
    let items = r#"http_server_requests_total{service="alpha",method="GET",route="/items/{id}",status_class="2xx"}"#;
    assert_eq!(sample(&text, items), Some(7.0), "{text}");
    let unmatched = r#"http_server_requests_total{service="alpha",method="GET",route="unmatched",status_class="4xx"}"#;
    assert_eq!(sample(&text, unmatched), Some(3.0), "{text}");
    let failed = r#"http_server_requests_total{service="alpha",method="POST",route="/fail",status_class="5xx"}"#;
    assert_eq!(sample(&text, failed), Some(2.0), "{text}");
    let limited = r#"todo_rate_limit_rejections_total{service="alpha",route="/limited"}"#;
    assert_eq!(sample(&text, limited), Some(1.0), "{text}");
    // Route templates only: no raw path becomes a label.
    assert!(
        !text.contains("/items/3") && !text.contains("/no/such"),
        "{text}"
    );
    assert!(
        text.contains(r#"todo_build_info{service="alpha",version="1.2.3",commit="#),
        "{text}"
    );
    assert!(
        text.contains("http_server_request_duration_seconds_bucket{"),
        "{text}"
    );
    // This scrape itself is in flight while the page is rendered.
    assert!(
        sample(&text, r#"http_server_requests_in_flight{service="alpha"}"#) >= Some(1.0),
        "{text}"
    );

    let prometheus = start_prometheus(&[("alpha", alpha), ("beta", beta)]);
    assert_eq!(query(&prometheus, r#"up{job="alpha"}"#).await, 1.0);
    assert_eq!(query(&prometheus, r#"up{job="beta"}"#).await, 1.0);
    let sent = |service: &str, route: &str| {
        format!(
            r#"sum(http_server_requests_total{{job="{service}",service="{service}",route="{route}"}})"#
        )
    };
    assert_eq!(query(&prometheus, &sent("alpha", "/items/{id}")).await, 7.0);
    assert_eq!(query(&prometheus, &sent("alpha", "unmatched")).await, 3.0);
    assert_eq!(query(&prometheus, &sent("alpha", "/fail")).await, 2.0);
    assert_eq!(query(&prometheus, &sent("beta", "/items/{id}")).await, 4.0);
    // One process, one registry: each target also exposes the other service's series.
    let histogram_count = r#"sum(http_server_request_duration_seconds_count{job="beta",service="beta",route="/items/{id}"})"#;
    assert_eq!(query(&prometheus, histogram_count).await, 4.0);
}

#[tokio::test]
async fn metrics_enabled_false_serves_no_metrics_route() {
    let health = Health::new("quiet", "0");
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .merge(health.routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = ServeSettings::with_grace(Duration::from_secs(5));
    settings.metrics = false;
    tokio::spawn(service_kit::serve(
        listener,
        app,
        health,
        std::future::pending(),
        settings,
    ));
    let client = reqwest::Client::new();
    let item = client
        .get(format!("http://{addr}/items/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(item.status(), 200);
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 404);
    // Nothing was counted for this service.
    assert!(!service_kit::metrics::render().contains(r#"service="quiet""#));
}
