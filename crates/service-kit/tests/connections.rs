//! Slow and idle clients against `service_kit::serve` over real loopback sockets, with short
//! configured timeouts so each test takes about a second. Bounds on "closed within" are
//! generous (several times the configured timeout): they prove a close happens, not a speed.

#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use service_kit::{Health, ServeSettings};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const SHORT: Duration = Duration::from_millis(300);
/// Far beyond every configured timeout: a connection still open then was never closed.
const BOUND: Duration = Duration::from_secs(5);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

fn short_settings() -> ServeSettings {
    ServeSettings {
        shutdown_grace: Duration::from_secs(30),
        header_read_timeout: SHORT,
        idle_timeout: SHORT,
        body_read_timeout: SHORT,
        max_connections: 64,
        metrics: true,
    }
}

async fn start(settings: ServeSettings) -> Server {
    let health = Health::new("demo", "0");
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "done"
            }),
        )
        .route("/echo", post(|body: String| async move { body }))
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .merge(health.routes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(service_kit::serve(
        listener,
        app,
        health,
        async move {
            let _ = stopped.await;
        },
        settings,
    ));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Reads one response (status line, headers and a `Content-Length` body): (status, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.unwrap();
        assert_eq!(n, 1, "connection closed in the response head: {buf:?}");
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

/// How long until the server closes `stream` (EOF or reset); panics after [`BOUND`].
async fn closed_within(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut sink = [0u8; 1024];
    let outcome = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the server kept the connection open");
    start.elapsed()
}

async fn request(stream: &mut TcpStream, path: &str) -> (u16, String) {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: demo\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(stream).await
}

#[tokio::test]
async fn headers_sent_one_line_at_a_time_are_cut_off() {
    let server = start(short_settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        writer.write_all(b"GET /livez HTTP/1.1\r\n").await.ok();
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let mut sink = [0u8; 64];
    let closed = tokio::time::timeout(BOUND, async {
        tokio::select! {
            () = trickle => {}
            _ = reader.read(&mut sink) => {}
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a trickle of header lines kept the connection"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let server = start(short_settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    closed_within(&mut stream).await;
}

#[tokio::test]
async fn idle_keep_alive_is_closed_and_busy_keep_alive_is_not() {
    let server = start(ServeSettings {
        idle_timeout: Duration::from_millis(400),
        ..short_settings()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // Requests in a row keep it open, including one that takes longer than the idle timeout.
    assert_eq!(request(&mut stream, "/livez").await.0, 200);
    assert_eq!(request(&mut stream, "/slow").await, (200, "done".into()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(request(&mut stream, "/livez").await.0, 200);
    closed_within(&mut stream).await;
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_gets_408_and_a_close() {
    let server = start(short_settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: demo\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        loop {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let response = tokio::time::timeout(BOUND, async {
        tokio::select! {
            () = trickle => unreachable!("the server closed before answering"),
            response = async {
                let mut all = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    match reader.read(&mut chunk).await {
                        Ok(0) | Err(_) => return all,
                        Ok(n) => all.extend_from_slice(&chunk[..n]),
                    }
                }
            } => response,
        }
    })
    .await
    .expect("a slow body kept the connection open");
    let text = String::from_utf8(response).unwrap();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT");
    // A body that arrives in time is served as usual.
    let client = reqwest::Client::new();
    let echoed = client
        .post(format!("http://{}/echo", server.addr))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn beyond_the_cap_idle_connections_make_room_so_livez_answers() {
    let server = start(ServeSettings {
        // Long timeouts: only the cap can get /livez in.
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        max_connections: 4,
        ..short_settings()
    })
    .await;
    let mut hogs = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /livez HTTP/1.1\r\n").await.unwrap();
        hogs.push(s);
    }
    for _ in 0..3 {
        let livez = reqwest::get(format!("http://{}/livez", server.addr))
            .await
            .unwrap();
        assert_eq!(livez.status(), 200);
    }
    // The hogs were closed to make room (the oldest first).
    closed_within(&mut hogs[0]).await;
}

#[tokio::test]
async fn at_the_cap_with_every_connection_busy_a_new_one_is_closed_at_once() {
    let server = start(ServeSettings {
        max_connections: 2,
        ..short_settings()
    })
    .await;
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let addr = server.addr;
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                request(&mut s, "/slow").await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    extra
        .write_all(b"GET /livez HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .ok();
    closed_within(&mut extra).await;
    for b in busy {
        assert_eq!(b.await.unwrap(), (200, "done".into()));
    }
}

#[tokio::test]
async fn handlers_still_see_the_peer_address() {
    let server = start(short_settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    assert_eq!(
        request(&mut stream, "/peer").await,
        (200, local.to_string())
    );
}

#[tokio::test]
async fn shutdown_closes_idle_and_half_open_at_once_and_waits_for_in_flight() {
    let mut server = start(ServeSettings {
        // Long timeouts and grace: only shutdown itself can close these connections quickly.
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        body_read_timeout: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(30),
        max_connections: 64,
        metrics: true,
    })
    .await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(request(&mut idle, "/livez").await.0, 200);
    let mut half_open = TcpStream::connect(server.addr).await.unwrap();
    half_open
        .write_all(b"GET /livez HTTP/1.1\r\nHost: de")
        .await
        .unwrap();
    let mut never_spoke = TcpStream::connect(server.addr).await.unwrap();
    // A keep-alive client whose next request crosses the signal: it is served, then closed.
    let mut crossing = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(request(&mut crossing, "/livez").await.0, 200);
    crossing.write_all(b"GET /livez HT").await.unwrap();
    let addr = server.addr;
    let in_flight = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        request(&mut s, "/slow").await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;

    let began = Instant::now();
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    crossing
        .write_all(b"TP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut crossing).await.0, 200);
    closed_within(&mut crossing).await;
    closed_within(&mut idle).await;
    closed_within(&mut half_open).await;
    closed_within(&mut never_spoke).await;
    assert_eq!(in_flight.await.unwrap(), (200, "done".into()));
    tokio::time::timeout(BOUND, &mut server.task)
        .await
        .expect("serve kept waiting after the last request finished")
        .unwrap()
        .unwrap();
    assert!(
        began.elapsed() < BOUND,
        "shutdown waited {:?}",
        began.elapsed()
    );
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn a_client_that_stops_reading_the_response_is_closed() {
    let server = start(short_settings()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: demo\r\n\r\n")
        .await
        .unwrap();
    // Read nothing for a while: 64 MiB cannot fit the socket buffers, so the server's writes
    // stall, and it closes the connection after the idle timeout.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut got = 0usize;
    let mut chunk = vec![0u8; 1 << 16];
    let outcome = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(outcome.is_ok(), "the server kept a stalled response open");
    assert!(got < 64 << 20, "the whole response arrived ({got} bytes)");
}
