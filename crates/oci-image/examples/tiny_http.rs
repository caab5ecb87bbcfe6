//! A tiny HTTP server used by the real-tools test (tests/real_tools.rs): built as a static
//! binary, packed into an image by this crate and run under runc with the same recipe CI uses
//! for the services. It follows the services' contract (`serve`, `PORT`, `/livez`, `/readyz`
//! answering 503 once shutting down, clean exit 0 on SIGTERM) and adds `/probe`, which reports
//! what the process sees from inside the container so the test can assert on it.

use std::net::ToSocketAddrs as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// `Uid:`/`Gid:` lines of /proc/self/status: the real id is the first number.
fn proc_status_id(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

fn probe() -> String {
    let root_writable = std::fs::write("/probe-write", b"x").is_ok();
    let tmp_writable = std::fs::write("/tmp/probe-write", b"x").is_ok();
    let ca_bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt")
        .map(|s| s.matches("BEGIN CERTIFICATE").count())
        .unwrap_or(0);
    let resolves_localhost = ("localhost", 80)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some());
    let shell = std::path::Path::new("/bin/sh").exists();
    format!(
        "uid={}\ngid={}\nroot_writable={root_writable}\ntmp_writable={tmp_writable}\n\
         ca_certificates={ca_bundle}\nresolves_localhost={resolves_localhost}\nshell={shell}\n",
        proc_status_id("Uid:"),
        proc_status_id("Gid:"),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a != "serve") {
        eprintln!("usage: tiny_http [serve]");
        std::process::exit(2);
    }
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080);
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    println!("tiny_http listening on 0.0.0.0:{port}");
    let shutting_down = Arc::new(AtomicBool::new(false));
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => {
                shutting_down.store(true, Ordering::SeqCst);
                println!("tiny_http: SIGTERM, shutting down");
                return Ok(());
            }
            accepted = listener.accept() => {
                let (mut stream, _) = accepted?;
                let shutting_down = shutting_down.clone();
                tokio::spawn(async move {
                    // Read the whole request head before answering.
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buf);
                    let path = request.split_whitespace().nth(1).unwrap_or("/");
                    let (status, body) = match path {
                        "/livez" => ("200 OK", "alive\n".to_owned()),
                        "/readyz" if shutting_down.load(Ordering::SeqCst) => {
                            ("503 Service Unavailable", "shutting down\n".to_owned())
                        }
                        "/readyz" => ("200 OK", "ready\n".to_owned()),
                        "/probe" => ("200 OK", probe()),
                        _ => ("404 Not Found", "not found\n".to_owned()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                });
            }
        }
    }
}
