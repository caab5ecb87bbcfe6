//! The `http-bench` binary, run the way benchmarks run it.
#![allow(clippy::unwrap_used)]

use http_bench::{LoadGenerator, Plan, Target};
use std::time::Duration;

/// Plan in, report out, in a process of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_runs_a_plan() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::post(|headers: axum::http::HeaderMap, body: String| async move {
            if headers.get("x-key").is_some_and(|v| v == "k") && body == r#"{"a":1}"# {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::BAD_REQUEST
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let load = LoadGenerator::new(env!("CARGO_BIN_EXE_http-bench"));
    let target =
        Target::post_json(format!("http://{addr}/echo"), r#"{"a":1}"#).header("x-key", "k");
    let report = load
        .run(vec![target.clone()], 2, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(report.requests > 0, "{report}");
    assert_eq!(
        (report.errors, report.non_success),
        (0, 0),
        "method, headers and body arrive intact"
    );
    // A fixed rate crosses the process boundary: 50/s for 0.4 s is at most 20 requests.
    let paced = load
        .run_plan(&Plan::closed(vec![target], 2, Duration::from_millis(400)).at_rate(50.0))
        .await
        .unwrap();
    assert_eq!(paced.offered_rate, Some(50.0));
    assert!((1..=20).contains(&paced.requests), "{paced}");
    let failed = LoadGenerator::new("/nonexistent/http-bench")
        .run(
            vec![Target::get("http://127.0.0.1:1/")],
            1,
            Duration::from_millis(10),
        )
        .await
        .unwrap_err();
    assert!(
        format!("{failed:#}").contains("cargo build --release -p http-bench"),
        "{failed:#}"
    );
    let bad = load
        .run(Vec::new(), 1, Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(
        format!("{bad:#}").contains("need at least one target"),
        "{bad:#}"
    );
}
