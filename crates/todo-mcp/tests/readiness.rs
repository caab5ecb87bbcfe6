//! The todo-mcp binary's readiness rides out a short database outage
//! (`READINESS_DB_GRACE_SECONDS`) and turns 503 after it; `/livez` never looks at the
//! database. A real PostgreSQL this test owns, stopped and started.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;
use todo_store::{PoolSettings, Store};

async fn status(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or_default())
        }
        Err(e) => (0, serde_json::Value::String(e.to_string())),
    }
}

async fn until(client: &reqwest::Client, url: &str, want: u16) -> Duration {
    let started = Instant::now();
    for _ in 0..600 {
        if status(client, url).await.0 == want {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} never answered {want}");
}

#[tokio::test]
async fn mcp_readiness_has_a_grace_for_database_blips() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("mcp_grace").unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-mcp"))
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", "mcp-readiness-secret-mcp-readiness!!")
        .env("PORT", port.to_string())
        .env("READINESS_DB_GRACE_SECONDS", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let live = format!("http://127.0.0.1:{port}/livez");
    until(&client, &ready, 200).await;

    pg.stop().unwrap();
    let (code, body) = status(&client, &ready).await;
    assert_eq!(code, 200, "a blip keeps the pod ready: {body}");
    assert!(body["degraded"]["database"].is_string(), "{body}");
    let after = until(&client, &ready, 503).await;
    assert!(after >= Duration::from_secs(2), "flipped after {after:?}");
    assert_eq!(status(&client, &live).await.0, 200);

    pg.start_again().unwrap();
    until(&client, &ready, 200).await;
    child.start_kill().unwrap();
    let _ = child.wait().await;
}
