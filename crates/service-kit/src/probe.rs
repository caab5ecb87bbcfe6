//! The `healthcheck` subcommand: the images have no shell and no curl, so each binary can
//! probe its own (or another service's) endpoint. Plain HTTP/1.1 over a TCP socket, bounded by
//! a timeout; exit code 0 on a 2xx answer, 1 otherwise.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The default probe target: this process's own `/livez` on `PORT`.
pub fn default_url() -> String {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8080);
    format!("http://127.0.0.1:{port}/livez")
}

/// GETs `url` and returns the status code, or an error saying what went wrong.
pub fn get_status(url: &str, timeout: Duration) -> Result<u16, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(authority);
    let target = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addr = target
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve {target}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: {target} resolved to no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: healthcheck\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| format!("{url}: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("{url}: not an HTTP answer"))
}

/// Runs the probe and returns the process exit code.
pub fn run(url: Option<String>) -> std::process::ExitCode {
    let url = url.unwrap_or_else(default_url);
    match get_status(&url, Duration::from_secs(3)) {
        Ok(code) if (200..300).contains(&code) => {
            println!("{url}: {code}");
            std::process::ExitCode::SUCCESS
        }
        Ok(code) => {
            eprintln!("{url}: unhealthy ({code})");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::health::Health;

    #[tokio::test]
    async fn probes_a_real_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app: axum::Router = Health::new("demo", "0").routes();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://{addr}/livez");
        let status = tokio::task::spawn_blocking(move || get_status(&url, Duration::from_secs(2)));
        assert_eq!(status.await.unwrap(), Ok(200));
        let url = format!("http://{addr}/nope");
        let status = tokio::task::spawn_blocking(move || get_status(&url, Duration::from_secs(2)));
        assert_eq!(status.await.unwrap(), Ok(404));
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        assert!(
            get_status("https://x/livez", Duration::from_secs(1))
                .unwrap_err()
                .contains("only http://")
        );
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(
            get_status(
                &format!("http://127.0.0.1:{port}/livez"),
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
