//! Health, readiness, shutdown and the binary itself, against a PostgreSQL this test owns (so
//! it can stop and freeze it without disturbing other tests).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;

async fn health(api: &TestApi) -> (u16, Value, Duration) {
    let started = Instant::now();
    let (status, body) = read(api.client.get(api.url("/health")).send().await.unwrap()).await;
    (status, body, started.elapsed())
}

#[tokio::test]
async fn health_follows_the_database_down_and_back_up() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("ops").unwrap();
    let api = TestApi::start_with(config(&url)).await;
    let (status, body, _) = health(&api).await;
    assert_eq!(
        (
            status,
            body["status"].as_str(),
            body["checks"]["database"].as_str()
        ),
        (200, Some("healthy"), Some("ok"))
    );
    assert_eq!(body["service"], "todo-api");
    assert!(body["version"].is_string() && body["timestamp"].is_string());

    pg.stop().unwrap();
    let (status, body, elapsed) = health(&api).await;
    assert_eq!(
        (
            status,
            body["status"].as_str(),
            body["checks"]["database"].as_str()
        ),
        (503, Some("unhealthy"), Some("failed"))
    );
    // Bounded, far below the 5 s pool timeout; the 100 ms target is measured by `cargo xtask bench api`.
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    assert_eq!(
        read(api.client.get(api.url("/readyz")).send().await.unwrap())
            .await
            .0,
        503
    );
    assert_eq!(
        read(api.client.get(api.url("/livez")).send().await.unwrap())
            .await
            .0,
        200,
        "liveness ignores the database"
    );

    pg.start_again().unwrap();
    let mut recovered = false;
    for _ in 0..100 {
        if health(&api).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        recovered,
        "health did not return to 200 after the database came back"
    );
    api.wait_ready().await;
}

#[tokio::test]
async fn health_answers_in_time_when_the_database_hangs() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("ops").unwrap();
    let api = TestApi::start_with(config(&url)).await;
    assert_eq!(health(&api).await.0, 200);
    pg.set_frozen(true).unwrap();
    let (status, body, elapsed) = health(&api).await;
    pg.set_frozen(false).unwrap();
    assert_eq!(
        (status, body["checks"]["database"].as_str()),
        (503, Some("failed"))
    );
    // Bounded, far below the 5 s pool timeout; the 100 ms target is measured by `cargo xtask bench api`.
    assert!(
        elapsed < Duration::from_millis(1000),
        "/health took {elapsed:?} with a hung database"
    );
}

#[tokio::test]
async fn shutdown_finishes_an_in_flight_request() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("ops").unwrap();
    let mut api = TestApi::start_with(config(&url)).await;
    let (token, _) = api.register("a@x.io").await;
    api.add_task(&token, json!({"title": "survives shutdown"}))
        .await;

    // Hold a request in flight by freezing the database under it.
    pg.set_frozen(true).unwrap();
    let request = {
        let client = api.client.clone();
        let url = api.url("/api/tasks");
        let token = token.clone();
        tokio::spawn(
            async move { read(client.get(url).bearer_auth(token).send().await.unwrap()).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = api.base.clone();
    let shutdown = tokio::spawn(async move { api.shutdown().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are refused while the old request is still being served.
    assert!(
        reqwest::get(format!("{base}/livez")).await.is_err(),
        "listener should be closed"
    );
    pg.set_frozen(false).unwrap();
    let (status, body) = request.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["title"], "survives shutdown");
    shutdown.await.unwrap().unwrap();
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_todo-api"))
}

#[test]
fn refuses_to_start_with_a_clear_message() {
    let out = binary()
        .arg("serve")
        .env_clear()
        .env("DATABASE_URL", "postgres://x@127.0.0.1:1/db")
        .env("JWT_SECRET", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("JWT_SECRET") && stderr.contains("at least 32 bytes"),
        "{stderr}"
    );
    let out = binary()
        .env_clear()
        .env("JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[test]
fn migrate_subcommand_is_safe_to_run_from_several_processes_at_once() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            binary()
                .arg("migrate")
                .env("DATABASE_URL", &url)
                .env("LOG_FORMAT", "text")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let again = binary()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(again.status.success());
}

#[tokio::test]
async fn the_binary_serves_probes_and_never_logs_secrets() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = tempfile_path("todo-api-log");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "debug")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "binary never became ready");
    let password = "very-distinctive-password-42";
    let (status, body) = read(
        client
            .post(format!("{base}/api/auth/register"))
            .json(&json!({"email": "l@x.io", "password": password, "name": "L"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let token = body["token"].as_str().unwrap().to_owned();
    client
        .get(format!("{base}/api/tasks?q=findme"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();

    let probe = |path: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
            .args(["healthcheck", "--url", &format!("{base}{path}")])
            .output()
            .unwrap()
    };
    assert!(probe("/livez").status.success());
    assert!(!probe("/missing").status.success());
    let default_probe = std::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    assert!(
        default_probe.status.success(),
        "healthcheck defaults to $PORT/livez"
    );

    // SIGTERM: exit 0.
    let pid = child.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status}");

    let logs = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!lines.is_empty(), "JSON logs by default");
    let request_line = lines
        .iter()
        .find(|l| l["path"] == "/api/auth/register")
        .expect("a request log line");
    assert_eq!(request_line["status"], 201);
    assert!(
        request_line["latency_ms"].is_number()
            && request_line["request_id"].is_string()
            && request_line["method"] == "POST"
    );
    for secret in [password, token.as_str(), SECRET, "findme"] {
        assert!(!logs.contains(secret), "logs contain a secret ({secret})");
    }
    let _ = std::fs::remove_file(log);
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "{name}-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    ))
}
