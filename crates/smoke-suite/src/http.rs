//! HTTP and MCP calls whose errors say what was asked, what was expected and what came back.

use anyhow::{Context, Result, anyhow, bail};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

/// The MCP protocol revision todo-mcp speaks.
pub const MCP_PROTOCOL_VERSION: &str = "2025-11-25";

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

/// One answer: status, body, and what was asked (`POST /api/tasks`) for messages.
#[derive(Debug)]
pub struct Reply {
    pub what: String,
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            // The suite talks to local routers, port-forwards and ingresses: a proxy from the
            // environment would only be in the way.
            .no_proxy()
            .build()?;
        Ok(Http { client })
    }

    /// Sends a request to `url` (absolute), with a bearer token and a JSON body when given.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Reply> {
        self.send(method, url, token, body, &[]).await
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let what = format!("{method} {}", path_of(url));
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow!("{what}: no answer from {url}: {}", error_chain(&e)))?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response
            .text()
            .await
            .map_err(|e| anyhow!("{what}: reading the body: {}", error_chain(&e)))?;
        Ok(Reply {
            what,
            status,
            content_type,
            text,
        })
    }

    /// One stateless MCP JSON-RPC request to `mcp_url` (`.../mcp`); the JSON-RPC `result`.
    pub async fn mcp(
        &self,
        mcp_url: &str,
        token: &str,
        method: &str,
        params: Value,
    ) -> Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let reply = self
            .send(
                Method::POST,
                mcp_url,
                Some(token),
                Some(&body),
                &[
                    ("accept", "application/json, text/event-stream"),
                    ("mcp-protocol-version", MCP_PROTOCOL_VERSION),
                ],
            )
            .await?
            .expect(200)?;
        let message = reply.mcp_message()?;
        if let Some(error) = message.get("error") {
            bail!("MCP {method}: expected a result, got the JSON-RPC error {error}");
        }
        message
            .get("result")
            .cloned()
            .with_context(|| format!("MCP {method}: expected a `result`, got {message}"))
    }
}

/// `todo_wire::task::Task` -> `Task`.
pub fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A JSON-RPC `result` or any JSON value as a wire type, with `what` in the error.
pub fn from_json<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T> {
    serde_json::from_value(value.clone()).map_err(|e| {
        anyhow!(
            "{what}: expected a {} ({e}), got {value}",
            short_type_name::<T>()
        )
    })
}

impl Reply {
    /// This reply when its status is `status`; otherwise an error with what came back.
    pub fn expect(self, status: u16) -> Result<Reply> {
        if self.status == status {
            Ok(self)
        } else {
            Err(anyhow!(
                "{}: expected {status}, got {}{}",
                self.what,
                self.status,
                self.excerpt()
            ))
        }
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.text).map_err(|_| {
            anyhow!(
                "{}: expected a JSON body, got {}{}",
                self.what,
                if self.content_type.is_empty() {
                    "no content type"
                } else {
                    &self.content_type
                },
                self.excerpt()
            )
        })
    }

    /// The body as one of the wire types (todo_wire): a renamed or missing field is an error
    /// saying so, not a silently absent value.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let value = self.json()?;
        serde_json::from_value(value).map_err(|e| {
            anyhow!(
                "{}: expected a {} body ({e}), got{}",
                self.what,
                short_type_name::<T>(),
                self.excerpt()
            )
        })
    }

    /// An MCP answer: JSON, or an SSE stream whose `data:` line holds the JSON message.
    pub fn mcp_message(&self) -> Result<Value> {
        if let Ok(value) = serde_json::from_str(&self.text) {
            return Ok(value);
        }
        self.text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str(d.trim()).ok())
            .ok_or_else(|| {
                anyhow!(
                    "{}: expected a JSON-RPC message (JSON or SSE), got{}",
                    self.what,
                    self.excerpt()
                )
            })
    }

    /// `: <first 300 characters of the body>` for messages, or nothing for an empty body.
    pub fn excerpt(&self) -> String {
        let text = self.text.trim();
        if text.is_empty() {
            return " (empty body)".into();
        }
        let cut: String = text.chars().take(300).collect();
        let more = if cut.len() < text.len() { "…" } else { "" };
        format!(": {cut}{more}")
    }
}

fn path_of(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/")
}

/// The causes of a reqwest error ("tcp connect error: Connection refused"); its own message
/// only repeats the URL.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, text: &str) -> Reply {
        Reply {
            what: "POST /api/tasks".into(),
            status,
            content_type: "application/json".into(),
            text: text.into(),
        }
    }

    #[test]
    fn errors_say_what_was_expected_and_what_came_back() {
        let err = reply(500, r#"{"error":{"code":"INTERNAL"}}"#)
            .expect(201)
            .err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(r#"POST /api/tasks: expected 201, got 500: {"error":{"code":"INTERNAL"}}"#)
        );
        let err = reply(502, "").expect(200).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("POST /api/tasks: expected 200, got 502 (empty body)")
        );
        assert!(reply(201, "x").expect(201).is_ok());
        let not_json = reply(200, "<html>").json().err().map(|e| e.to_string());
        assert_eq!(
            not_json.as_deref(),
            Some("POST /api/tasks: expected a JSON body, got application/json: <html>")
        );
        assert!(reply(200, &"y".repeat(400)).excerpt().ends_with("y…"));
    }

    #[test]
    fn mcp_answers_are_read_from_json_or_sse() {
        let sse = reply(
            200,
            "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n",
        );
        assert_eq!(
            sse.mcp_message().ok().map(|v| v["id"].clone()),
            Some(json!(1))
        );
        assert!(reply(200, "{\"id\":2}").mcp_message().is_ok());
        assert!(reply(200, "nonsense").mcp_message().is_err());
    }

    #[test]
    fn paths_name_requests() {
        assert_eq!(
            path_of("http://127.0.0.1:8080/api/tasks?q=1"),
            "/api/tasks?q=1"
        );
        assert_eq!(path_of("http://todo.local"), "/");
    }
}
