//! The service-specific metrics API (`service_kit::metrics::chat_turn` and the others): each
//! event shows in the scrape with its labels, and the scrape passes `promtool check metrics`.
//! A test binary of its own: the process-wide service name must be this test's.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn promtool_check_metrics(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("promtool: {e}: run `bash .ci/install/45-prometheus.sh` (Debian: apt-get install prometheus)")
        });
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

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn service_events_and_pool_stats_appear_in_the_scrape() {
    // The process's service name labels the database series (set by `serve`, here directly).
    let _router: axum::Router = service_kit::metrics::instrument(
        axum::Router::new().route("/", axum::routing::get(|| async { "" })),
        "events",
        "0",
    );
    service_kit::metrics::chat_turn("builtin", "ok");
    service_kit::metrics::chat_turn("builtin", "ok");
    service_kit::metrics::mcp_tool_call("add_task", "ok", Duration::from_millis(12));
    let answer = serde_json::json!({"usage": {"prompt_tokens": 120, "completion_tokens": 30}});
    let reply = service_kit::metrics::llm_call("openai", async { Ok::<_, ()>(answer) }).await;
    assert!(reply.is_ok());
    let failed =
        service_kit::metrics::llm_call("openai", async { Err::<serde_json::Value, _>(()) });
    assert!(failed.await.is_err());
    service_kit::metrics::login_failure("bad_credentials");
    service_kit::metrics::db_query_error("unavailable");
    // The later source replaces the earlier one: one pool per process.
    service_kit::metrics::watch_db_pool(|| service_kit::metrics::PoolStats::new(1, 1, 1, false));
    service_kit::metrics::watch_db_pool(|| service_kit::metrics::PoolStats::new(5, 2, 10, true));
    let text = service_kit::metrics::render();
    promtool_check_metrics(&text);
    for (series, value) in [
        (
            r#"todo_chat_turns_total{engine="builtin",outcome="ok"}"#,
            2.0,
        ),
        (
            r#"todo_mcp_tool_calls_total{tool="add_task",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"todo_mcp_tool_call_duration_seconds_count{tool="add_task",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"todo_llm_tokens_total{engine="openai",kind="prompt"}"#,
            120.0,
        ),
        (
            r#"todo_llm_tokens_total{engine="openai",kind="completion"}"#,
            30.0,
        ),
        (
            r#"todo_login_failures_total{reason="bad_credentials"}"#,
            1.0,
        ),
        (
            r#"todo_db_query_errors_total{service="events",kind="unavailable"}"#,
            1.0,
        ),
        (
            r#"todo_db_pool_connections{service="events",state="idle"}"#,
            2.0,
        ),
        (
            r#"todo_db_pool_connections{service="events",state="in_use"}"#,
            3.0,
        ),
        (r#"todo_db_pool_max_connections{service="events"}"#, 10.0),
        (r#"todo_db_up{service="events"}"#, 1.0),
        (
            r#"todo_llm_call_duration_seconds_count{engine="openai",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"todo_llm_call_duration_seconds_count{engine="openai",outcome="error"}"#,
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
}
