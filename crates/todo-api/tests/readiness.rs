//! The binary as the chart runs it, against a PostgreSQL this test owns: `todo-api migrate`
//! waits for a database that starts late (and gives up clearly when it never comes), and
//! `/readyz` rides out a short database outage (`READINESS_DB_GRACE_SECONDS`) while `/livez`
//! never looks at the database.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;

const SECRET: &str = "readiness-test-secret-readiness-test!";

fn binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_todo-api"));
    cmd.env_remove("DATABASE_URL")
        .env("LOG_FORMAT", "text")
        .env("RUST_BACKTRACE", "0");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn migrate_waits_for_a_database_that_starts_late() {
    let pg = std::sync::Arc::new(PgServer::start().unwrap());
    let url = pg.create_database("late_start").unwrap();
    pg.stop().unwrap();
    let starter = {
        let pg = pg.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(3));
            pg.start_again().unwrap();
        })
    };
    let out = binary()
        .arg("migrate")
        .env("DATABASE_URL", &url)
        .env("MIGRATE_RETRY_MAX_SECONDS", "1")
        .output()
        .unwrap();
    starter.join().unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{logs}");
    let waiting = format!(
        "waiting for PostgreSQL at 127.0.0.1:{}/late_start",
        pg.port()
    );
    assert!(logs.contains(&waiting), "each wait is logged: {logs}");
    assert!(logs.contains("next in"), "{logs}");
    assert!(logs.contains("migrations applied"), "{logs}");
}

#[test]
fn migrate_gives_up_with_a_clear_message_when_the_budget_is_spent() {
    let port = free_port();
    let started = Instant::now();
    let out = binary()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://todo:hunter2-secret@127.0.0.1:{port}/todo"),
        )
        .env("MIGRATE_WAIT_SECONDS", "2")
        .env("MIGRATE_RETRY_MAX_SECONDS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let logs = format!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(1), "{logs}");
    assert!(
        stderr.contains(&format!(
            "gave up waiting for PostgreSQL at 127.0.0.1:{port}/todo after 2 s"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("MIGRATE_WAIT_SECONDS=2"), "{stderr}");
    assert!(!logs.contains("hunter2-secret"), "no password: {logs}");
    assert!(started.elapsed() < Duration::from_secs(60));

    let out = binary()
        .arg("migrate")
        .env(
            "DATABASE_URL",
            format!("postgres://todo@127.0.0.1:{port}/todo"),
        )
        .env("MIGRATE_RETRY_MAX_SECONDS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MIGRATE_RETRY_MAX_SECONDS"));
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Value) {
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or_default())
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

#[tokio::test]
async fn readiness_rides_out_a_short_outage_and_flips_after_the_grace() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("grace").unwrap();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_todo-api"))
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("READINESS_DB_GRACE_SECONDS", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let ready = format!("{base}/readyz");
    let mut up = false;
    for _ in 0..400 {
        if get(&client, &ready).await.0 == 200 {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "never became ready");

    // A short blip (the server frozen, then stopped): still ready, the check marked degraded.
    pg.set_frozen(true).unwrap();
    let (status, body) = get(&client, &ready).await;
    pg.set_frozen(false).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body["degraded"].is_object(), "{body}");
    pg.stop().unwrap();
    let down_since = Instant::now();
    let (status, body) = get(&client, &ready).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["degraded"]["database"].is_string(), "{body}");
    // Requests themselves fail fast with their 503; /health tells the truth; /livez is fine.
    let (status, _) = get(&client, &format!("{base}/health")).await;
    assert_eq!(status, 503);
    assert_eq!(get(&client, &format!("{base}/livez")).await.0, 200);

    // Longer than the grace: not ready (and never before the grace has passed).
    let mut flipped = None;
    for _ in 0..600 {
        let (status, body) = get(&client, &ready).await;
        if status == 503 {
            flipped = Some((down_since.elapsed(), body));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (after, body) = flipped.expect("readiness never turned 503 during a long outage");
    assert!(after >= Duration::from_secs(4), "flipped after {after:?}");
    assert!(body["failed"]["database"].is_string(), "{body}");
    assert_eq!(get(&client, &format!("{base}/livez")).await.0, 200);

    // Back: ready again.
    pg.start_again().unwrap();
    let mut back = false;
    for _ in 0..400 {
        if get(&client, &ready).await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "not ready again after the database returned");
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[test]
fn a_bad_grace_setting_stops_start_up_naming_it() {
    let out = binary()
        .env("DATABASE_URL", "postgres://todo@127.0.0.1:1/todo")
        .env("JWT_SECRET", SECRET)
        .env("PORT", free_port().to_string())
        .env("READINESS_DB_GRACE_SECONDS", "half a minute")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("READINESS_DB_GRACE_SECONDS"));
}
