//! `--explain` against a small scripted HTTP server on 127.0.0.1 (real HTTP over TCP).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;

use cluster_client::Snapshot;
use cluster_doctor::{LlmConfig, analyze, explain};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the server received.
struct Received {
    request_line: String,
    headers: HashMap<String, String>,
    body: serde_json::Value,
}

/// Serves exactly one request with `status` and `body`, and hands back what it received.
async fn one_shot_server(
    status: &'static str,
    body: String,
) -> (String, oneshot::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        let header_end = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed before sending headers");
            buffer.extend_from_slice(&chunk[..n]);
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8(buffer[..header_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap().to_string();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let length: usize = headers["content-length"].parse().unwrap();
        while buffer.len() < header_end + length {
            let n = socket.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            buffer.extend_from_slice(&chunk[..n]);
        }
        let received: serde_json::Value =
            serde_json::from_slice(&buffer[header_end..header_end + length]).unwrap();
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        socket.shutdown().await.unwrap();
        sender
            .send(Received {
                request_line,
                headers,
                body: received,
            })
            .ok();
    });
    (format!("http://{address}/v1"), receiver)
}

fn oom_findings() -> Vec<cluster_doctor::Finding> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oom.yaml"),
    )
    .unwrap();
    analyze(&Snapshot::from_yaml("todo", &text).unwrap())
}

#[tokio::test]
async fn explain_sends_the_findings_and_returns_the_completion() {
    let completion = serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "test-model",
        "choices": [{
            "index": 0,
            "finish_reason": "stop",
            "message": { "role": "assistant", "content": "todo-mcp needs more memory: raise its limit to 256Mi." }
        }]
    });
    let (base_url, received) = one_shot_server("200 OK", completion.to_string()).await;
    let config = LlmConfig {
        base_url: format!("{base_url}/"),
        model: "test-model".into(),
        api_key: Some("test-key".into()),
    };
    let findings = oom_findings();
    let answer = explain(&findings, &config).await.unwrap();
    assert_eq!(
        answer,
        "todo-mcp needs more memory: raise its limit to 256Mi."
    );

    let request = received.await.unwrap();
    assert_eq!(request.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(request.headers["authorization"], "Bearer test-key");
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(request.body["messages"][1]["role"], "user");
    let sent = request.body["messages"][1]["content"].as_str().unwrap();
    assert!(
        sent.contains(
            "Pod todo/todo-mcp-5b8f9d7c6-q8w2n: container mcp was killed for running out of memory"
        ),
        "{sent}"
    );
    assert!(sent.contains("memory limit: 64Mi"));
}

#[tokio::test]
async fn explain_reports_an_http_error_with_what_to_check() {
    let (base_url, received) = one_shot_server(
        "401 Unauthorized",
        r#"{"error":{"message":"bad key"}}"#.into(),
    )
    .await;
    let config = LlmConfig {
        base_url,
        model: "m".into(),
        api_key: None,
    };
    let error = explain(&oom_findings(), &config).await.unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("answered 401 Unauthorized"), "{text}");
    assert!(
        text.contains("check LLM_BASE_URL, LLM_MODEL and LLM_API_KEY"),
        "{text}"
    );
    let request = received.await.unwrap();
    assert!(
        !request.headers.contains_key("authorization"),
        "no key, no header"
    );
}

#[test]
fn config_comes_from_the_environment_and_never_shows_the_key() {
    let vars = HashMap::from([
        ("LLM_BASE_URL", "https://llm.example/v1"),
        ("LLM_MODEL", "small"),
        ("LLM_API_KEY", "sk-very-secret"),
    ]);
    let config = LlmConfig::from_vars(|name| vars.get(name).map(|v| v.to_string())).unwrap();
    assert_eq!(config.api_key.as_deref(), Some("sk-very-secret"));
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("sk-very-secret") && shown.contains("<redacted>"),
        "{shown}"
    );
    let missing = LlmConfig::from_vars(|_| None).unwrap_err().to_string();
    assert!(missing.contains("set LLM_BASE_URL"), "{missing}");
}
