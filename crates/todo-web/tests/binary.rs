//! The `todo-web` binary itself: refuses to start without `API_URL` (naming it), serves with
//! `serve` by default, answers its own `healthcheck`, and exits cleanly on SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_todo-web");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn refuses_to_start_without_api_url() {
    let out = Command::new(BIN)
        .env_clear()
        .env("PORT", free_port().to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("API_URL") && err.contains("is required"),
        "{err}"
    );
    let out = Command::new(BIN)
        .env_clear()
        .env("API_URL", "http://127.0.0.1:1")
        .env("COOKIE_SECURE", "maybe")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COOKIE_SECURE"));
}

#[tokio::test]
async fn serves_probes_itself_and_stops_on_sigterm() {
    let stack = common::Stack::start_with(common::Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let port = free_port();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("API_URL", &stack.api)
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    common::wait_ready(&base).await;

    let probe = move |url: Option<String>| {
        let mut cmd = Command::new(BIN);
        cmd.arg("healthcheck").env("PORT", port.to_string());
        if let Some(u) = url {
            cmd.args(["--url", &u]);
        }
        cmd.output().unwrap().status.code()
    };
    let (ok, ready) = tokio::task::spawn_blocking({
        let base = base.clone();
        move || (probe(None), probe(Some(format!("{base}/readyz"))))
    })
    .await
    .unwrap();
    assert_eq!((ok, ready), (Some(0), Some(0)));
    let closed = free_port();
    let down = tokio::task::spawn_blocking(move || {
        probe(Some(format!("http://127.0.0.1:{closed}/livez")))
    })
    .await
    .unwrap();
    assert_eq!(down, Some(1));
    let page = reqwest::get(format!("{base}/signin")).await.unwrap();
    assert_eq!(page.status(), 200);

    let started = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
