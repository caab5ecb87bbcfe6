//! `local_stack::prometheus` starts a real Prometheus (`.ci/install/45-prometheus.sh`) that
//! scrapes a real HTTP server on loopback, and its HTTP API returns what was scraped.

use local_stack::prometheus::{Prometheus, Target};
use std::time::Duration;

#[tokio::test]
async fn a_real_prometheus_scrapes_a_local_server() -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            "# HELP demo_requests_total Requests.\n# TYPE demo_requests_total counter\ndemo_requests_total{route=\"/x\"} 3\n"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let prometheus = Prometheus::start(
        &[Target {
            job: "demo".into(),
            base_url: format!("http://{addr}"),
        }],
        0,
        Duration::from_secs(1),
    )
    .await?;
    let bound = Duration::from_secs(60);
    assert_eq!(
        prometheus.query_value(r#"up{job="demo"}"#, bound).await?,
        1.0
    );
    assert_eq!(
        prometheus
            .query_value(r#"demo_requests_total{job="demo",route="/x"}"#, bound)
            .await?,
        3.0
    );
    // A series nobody exports stays empty (bounded wait, then an error naming the query).
    let missing = prometheus
        .query_value("no_such_metric", Duration::from_secs(2))
        .await;
    assert!(missing.is_err_and(|e| e.to_string().contains("no_such_metric")));
    prometheus.stop().await;
    Ok(())
}
