//! The MCP endpoint under input no SDK sends but a reviewer does: transport refusals come back
//! as JSON-RPC error objects (not rmcp's text/plain, nor a 415 for broken JSON), and tool
//! arguments are judged as the published input schemas judge them.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

mod common;

struct Server {
    url: String,
    client: reqwest::Client,
    token: String,
    _running: common::Running,
}

async fn start() -> Server {
    let running = common::start(None, Vec::new()).await;
    let (_, token) = running.user("h@x.io").await;
    Server {
        url: running.mcp_url(),
        client: reqwest::Client::new(),
        token,
        _running: running,
    }
}

impl Server {
    /// Sends `body` as is; returns (status, content type, body as JSON or a string).
    async fn send(
        &self,
        method: reqwest::Method,
        body: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, Value) {
        let mut req = self
            .client
            .request(method, &self.url)
            .bearer_auth(&self.token)
            .body(body.to_owned());
        // The given headers replace these defaults (reqwest adds, not replaces).
        let defaults = [
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
        ];
        for (name, value) in defaults {
            if !headers.iter().any(|(n, _)| *n == name) {
                req = req.header(name, value);
            }
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, ct, body)
    }

    async fn call(&self, tool: &str, args: &str) -> Value {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{args}}}}}"#
        );
        let (status, _, body) = self.send(reqwest::Method::POST, &body, &[]).await;
        assert_eq!(status, 200, "{body}");
        body["result"].clone()
    }
}

/// A JSON-RPC error object with `id: null`; returns its code.
fn jsonrpc_error(ct: &str, body: &Value) -> i64 {
    assert!(ct.starts_with("application/json"), "{ct}: {body}");
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert!(body["id"].is_null(), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "{body}"
    );
    body["error"]["code"].as_i64().unwrap()
}

#[tokio::test]
async fn transport_refusals_are_jsonrpc_errors() {
    let s = start().await;
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    use reqwest::Method;
    for (body, want) in [
        (r#"{"jsonrpc":"2.0","#, (400, -32700)),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping"} x"#,
            (400, -32700),
        ),
        (
            "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
            (400, -32700),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_task","arguments":{"title":"\ud800"}}}"#,
            (400, -32700),
        ),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            (400, -32600),
        ),
        ("[]", (400, -32600)),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, (400, -32600)),
        (
            r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            (400, -32600),
        ),
        (r#"{"jsonrpc":"2.0","id":1,"method":5}"#, (400, -32600)),
    ] {
        let (status, ct, b) = s.send(Method::POST, body, &[]).await;
        assert_eq!((status, jsonrpc_error(&ct, &b)), want, "{body}: {b}");
    }
    for (method, headers, status) in [
        (Method::GET, vec![], 405),
        (Method::DELETE, vec![], 405),
        (Method::POST, vec![("accept", "text/html")], 406),
        (Method::POST, vec![("content-type", "text/plain")], 415),
        (
            Method::POST,
            vec![("mcp-protocol-version", "1999-01-01")],
            400,
        ),
    ] {
        let (got, ct, b) = s.send(method.clone(), ping, &headers).await;
        assert_eq!(got, status, "{method} {headers:?}: {b}");
        assert_eq!(jsonrpc_error(&ct, &b), -32000, "{b}");
    }
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    let (status, ct, b) = s.send(Method::POST, &big, &[]).await;
    assert_eq!((status, jsonrpc_error(&ct, &b)), (413, -32000), "{b}");
    // Answers that were right stay as they were.
    let (status, _, b) = s.send(Method::POST, ping, &[]).await;
    assert_eq!((status, &b["result"]), (200, &json!({})), "{b}");
    let (status, _, b) = s
        .send(
            Method::POST,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            &[],
        )
        .await;
    assert_eq!(status, 202, "{b}");
}

#[tokio::test]
async fn task_ids_and_limits_are_read_as_json_schema_reads_them() {
    let s = start().await;
    let added = s.call("add_task", r#"{"title":"one"}"#).await;
    assert_ne!(added["isError"], true, "{added}");
    // JSON Schema's integer: 1.0 and 1e0 are 1 (Python's json.dumps writes floats so).
    for id in ["1", "1.0", "1e0", r#""1""#, r##""#1""##] {
        let r = s.call("get_task", &format!(r#"{{"task_id":{id}}}"#)).await;
        assert_eq!(r["structuredContent"]["task"]["number"], 1, "{id}: {r}");
    }
    // Spellings the schema's patterns refuse were guessed at (trimmed, signed, zero-padded,
    // braced UUIDs); now refused naming the argument.
    for id in [
        r#"" 1""#,
        r#""01""#,
        r#""+1""#,
        r#""1234567890""#,
        "1.5",
        "true",
        r#""{00000000-0000-0000-0000-000000000000}""#,
        r#""urn:uuid:00000000-0000-0000-0000-000000000000""#,
    ] {
        let r = s.call("get_task", &format!(r#"{{"task_id":{id}}}"#)).await;
        assert_eq!(r["isError"], true, "{id}: {r}");
        let text = r["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("\"field\":\"task_id\""), "{id}: {text}");
    }
    let r = s.call("list_tasks", r#"{"limit":5.0}"#).await;
    assert_eq!(r["structuredContent"]["total"], 1, "{r}");
    for limit in ["5.5", r#""5""#, "-1", "0", "201"] {
        let r = s
            .call("list_tasks", &format!(r#"{{"limit":{limit}}}"#))
            .await;
        assert_eq!(r["isError"], true, "{limit}: {r}");
        assert!(r["content"][0]["text"].as_str().unwrap().contains("limit"));
    }
    // The search arguments' schemas state the server's limits.
    let (_, _, tools) = s
        .send(
            reqwest::Method::POST,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            &[],
        )
        .await;
    let list = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "list_tasks")
        .unwrap();
    for arg in ["tag", "query"] {
        let schema = list["inputSchema"]["properties"][arg].to_string();
        assert!(schema.contains("\"maxLength\":200"), "{arg}: {schema}");
    }
}
