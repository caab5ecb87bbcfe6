//! The router against real upstream servers on loopback: routing, what passes through
//! (method, path, query, headers, status, bodies), the X-Forwarded headers, streaming, and the
//! 502 answers for an absent or stopped service.
#![allow(clippy::unwrap_used)]

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use local_stack::router::{self, RouterHandle, Upstreams};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// An upstream that answers every request with what it received, as JSON, with status 201
/// and a response header naming itself.
async fn echo_server(name: &'static str) -> String {
    let app = axum::Router::new().fallback(move |req: Request| async move {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let headers: serde_json::Map<String, Value> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        let mut response = axum::Json(json!({
            "service": name,
            "method": parts.method.as_str(),
            "uri": parts.uri.to_string(),
            "headers": headers,
            "body_len": body.len(),
            "body_sum": body.iter().map(|b| u64::from(*b)).sum::<u64>(),
        }))
        .into_response();
        *response.status_mut() = StatusCode::CREATED;
        response
            .headers_mut()
            .insert("x-upstream", name.parse().unwrap());
        response
    });
    spawn(app).await
}

async fn spawn(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn router_for(upstreams: Upstreams) -> RouterHandle {
    router::start(SocketAddr::from(([127, 0, 0, 1], 0)), upstreams)
        .await
        .unwrap()
}

async fn echo_stack(with_web: bool) -> RouterHandle {
    let api = echo_server("api").await;
    let mcp = echo_server("mcp").await;
    let web = if with_web {
        Some(echo_server("web").await)
    } else {
        None
    };
    router_for(Upstreams { api, mcp, web }).await
}

#[tokio::test]
async fn routes_each_prefix_to_its_service_and_passes_the_request_through() {
    let router = echo_stack(true).await;
    let client = reqwest::Client::new();
    for (path, service) in [
        ("/api", "api"),
        ("/api/tasks?status=pending&q=milk%20tea", "api"),
        ("/mcp", "mcp"),
        ("/", "web"),
        ("/health", "web"),
        ("/apix", "web"),
        ("/tasks/3/edit", "web"),
    ] {
        let response = client
            .post(format!("{}{path}", router.url()))
            .header("x-custom", "kept")
            .header("authorization", "Bearer abc")
            .header("x-forwarded-for", "198.51.100.9")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}: status passes through");
        assert_eq!(
            response.headers()["x-upstream"],
            service,
            "{path}: response headers pass through"
        );
        let seen: Value = response.json().await.unwrap();
        assert_eq!(seen["service"], service, "{path}");
        assert_eq!(seen["method"], "POST", "{path}");
        assert_eq!(seen["uri"], path, "{path}: path and query unchanged");
        assert_eq!(seen["body_len"], 5, "{path}");
        let headers = &seen["headers"];
        assert_eq!(headers["x-custom"], "kept");
        assert_eq!(headers["authorization"], "Bearer abc");
        assert_eq!(headers["host"], router.addr().to_string(), "Host is kept");
        assert_eq!(headers["x-forwarded-host"], router.addr().to_string());
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-for"], "198.51.100.9, 127.0.0.1");
    }
    router.stop().await;
}

#[tokio::test]
async fn large_bodies_arrive_whole() {
    let router = echo_stack(true).await;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let sum: u64 = body.iter().map(|b| u64::from(*b)).sum();
    let seen: Value = reqwest::Client::new()
        .put(format!("{}/api/upload", router.url()))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            seen["method"].as_str(),
            seen["body_len"].as_u64(),
            seen["body_sum"].as_u64()
        ),
        (Some("PUT"), Some(3_000_000), Some(sum))
    );
}

/// The upstream sends one chunk, then waits until the test has received it before sending
/// the next: a proxy that buffered whole responses would deadlock here (and time out).
#[tokio::test]
async fn responses_stream_chunk_by_chunk() {
    let (received_tx, received_rx) = mpsc::channel::<()>(1);
    let received_rx = std::sync::Arc::new(tokio::sync::Mutex::new(received_rx));
    let app = axum::Router::new().fallback(move || {
        let received_rx = received_rx.clone();
        async move {
            let stream = async_stream(received_rx);
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    });
    let mcp = spawn(app).await;
    let router = router_for(Upstreams {
        api: echo_server("api").await,
        mcp,
        web: None,
    })
    .await;
    let mut response = reqwest::Client::new()
        .post(format!("{}/mcp", router.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = tokio::time::timeout(Duration::from_secs(5), response.chunk())
        .await
        .expect("the first chunk arrives before the upstream finishes")
        .unwrap()
        .unwrap();
    assert_eq!(first, Bytes::from_static(b"data: one\n\n"));
    received_tx.send(()).await.unwrap();
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), response.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(rest, b"data: two\n\n");
}

fn async_stream(
    received: std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<()>>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::unfold(0u8, move |step| {
        let received = received.clone();
        async move {
            match step {
                0 => Some((Ok(Bytes::from_static(b"data: one\n\n")), 1)),
                1 => {
                    received.lock().await.recv().await;
                    Some((Ok(Bytes::from_static(b"data: two\n\n")), 2))
                }
                _ => None,
            }
        }
    })
}

#[tokio::test]
async fn an_absent_web_is_a_clear_502_for_browsers_and_programs() {
    let router = echo_stack(false).await;
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/", router.url()))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 502);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = page.text().await.unwrap();
    assert!(text.contains("todo-web is not running"), "{text}");
    let json: Value = client
        .get(format!("{}/health", router.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["error"]["code"], "BAD_GATEWAY");
    assert_eq!(json["error"]["service"], "todo-web");
    // The others still answer.
    let api = client
        .get(format!("{}/api/tasks", router.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 201);
}

#[tokio::test]
async fn a_stopped_service_is_a_502_naming_it() {
    // A port nobody listens on: bound, then released.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let router = router_for(Upstreams {
        api: echo_server("api").await,
        mcp: dead.clone(),
        web: Some(echo_server("web").await),
    })
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/mcp", router.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let json: Value = response.json().await.unwrap();
    let message = json["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("todo-mcp is not answering at {dead}")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test]
async fn a_port_in_use_says_so() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = router::start(
        taken.local_addr().unwrap(),
        Upstreams {
            api: "http://127.0.0.1:1".into(),
            mcp: "http://127.0.0.1:1".into(),
            web: None,
        },
    )
    .await
    .err()
    .unwrap();
    assert!(format!("{err:#}").contains("--port"), "{err:#}");
}
