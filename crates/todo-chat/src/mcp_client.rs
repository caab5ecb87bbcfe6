//! The agent's MCP client: one per process, shared by every chat turn.
//!
//! todo-mcp is stateless, so each JSON-RPC request is one Streamable HTTP POST, and the
//! caller's bearer token travels on each request: one process-wide client (one connection
//! pool, one cached tool list) serves every user without ever acting as another one.
//! Messages are typed with the official SDK's model (`rmcp::model`).

use rmcp::model::{CallToolResult, ListToolsResult, Tool};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::RwLock;

/// The protocol revision this client speaks (the newest with the classic request shape).
pub const PROTOCOL_VERSION: &str = "2025-11-25";

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("todo-mcp is unreachable: {0}")]
    Unreachable(String),
    #[error("todo-mcp refused the request ({status}): {message}")]
    Http { status: u16, message: String },
    #[error("todo-mcp answered with an error: {0}")]
    Protocol(String),
}

/// A tool's outcome: its structured result, and whether the tool reported an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    pub is_error: bool,
    pub value: Value,
}

pub struct McpClient {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
    tools: RwLock<Option<Vec<Tool>>>,
}

impl McpClient {
    pub fn new(url: impl Into<String>, timeout: Duration) -> Result<McpClient, McpError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| McpError::Unreachable(e.to_string()))?;
        Ok(McpClient {
            http,
            url: url.into(),
            next_id: AtomicU64::new(1),
            tools: RwLock::new(None),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn request(&self, token: &str, method: &str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .headers(service_kit::trace::headers())
            .json(&body)
            .send()
            .await
            .map_err(|e| McpError::Unreachable(e.to_string()))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| McpError::Unreachable(e.to_string()))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect());
            return Err(McpError::Http {
                status: status.as_u16(),
                message,
            });
        }
        let message = parse_message(&text).ok_or_else(|| {
            McpError::Protocol("the answer was neither JSON nor an event stream".into())
        })?;
        if let Some(error) = message.get("error") {
            return Err(McpError::Protocol(
                error["message"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
            ));
        }
        message
            .get("result")
            .cloned()
            .ok_or_else(|| McpError::Protocol("the answer had no result".into()))
    }

    /// The server's tools, fetched once per process (with the first caller's token: the list
    /// is the same for everyone) and kept.
    pub async fn tools(&self, token: &str) -> Result<Vec<Tool>, McpError> {
        if let Some(tools) = self.tools.read().await.as_ref() {
            return Ok(tools.clone());
        }
        let result = self.request(token, "tools/list", json!({})).await?;
        let list: ListToolsResult = serde_json::from_value(result)
            .map_err(|e| McpError::Protocol(format!("bad tools/list result: {e}")))?;
        *self.tools.write().await = Some(list.tools.clone());
        Ok(list.tools)
    }

    /// Calls a tool as the owner of `token`.
    pub async fn call(
        &self,
        token: &str,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutcome, McpError> {
        let result = self
            .request(
                token,
                "tools/call",
                json!({ "name": tool, "arguments": arguments }),
            )
            .await?;
        let result: CallToolResult = serde_json::from_value(result)
            .map_err(|e| McpError::Protocol(format!("bad tools/call result: {e}")))?;
        let is_error = result.is_error.unwrap_or(false);
        let text = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(ToolOutcome {
            is_error,
            value: outcome_value(is_error, result.structured_content, &text),
        })
    }
}

/// A tool result's value. Errors come as one text block holding `{"error": {...}}` (older
/// servers put that in `structuredContent`); anything else is wrapped into that shape.
/// Successes come in `structuredContent` (older servers sent only text: taken as JSON when it
/// is, as a string otherwise).
fn outcome_value(is_error: bool, structured: Option<Value>, text: &str) -> Value {
    let parsed = serde_json::from_str::<Value>(text).ok();
    if is_error {
        let has_error = |v: &Value| v.get("error").is_some_and(Value::is_object);
        if let Some(v) = parsed.filter(has_error) {
            return v;
        }
        if let Some(v) = structured.filter(has_error) {
            return v;
        }
        let message = if text.trim().is_empty() {
            "the tool failed without saying why".to_owned()
        } else {
            text.to_owned()
        };
        return json!({ "error": { "code": "TOOL_ERROR", "message": message } });
    }
    structured
        .or(parsed)
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// A JSON-RPC message from a JSON body or the first `data:` event of an SSE body.
fn parse_message(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some(v);
    }
    let mut data = String::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
        } else if line.is_empty() && !data.is_empty() {
            if let Ok(v) = serde_json::from_str::<Value>(&data)
                && (v.get("result").is_some() || v.get("error").is_some())
            {
                return Some(v);
            }
            data.clear();
        }
    }
    serde_json::from_str(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_and_event_stream_answers() {
        assert_eq!(parse_message(r#"{"result":1}"#), Some(json!({"result": 1})));
        let sse = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}\n\n";
        assert_eq!(
            parse_message(sse).map(|v| v["result"]["ok"].clone()),
            Some(json!(true))
        );
        assert_eq!(parse_message("garbage"), None);
    }

    #[test]
    fn error_results_are_read_from_the_text_block_or_the_old_structured_form() {
        let error =
            json!({"error": {"code": "VALIDATION_ERROR", "message": "bad", "field": "due"}});
        assert_eq!(outcome_value(true, None, &error.to_string()), error);
        assert_eq!(
            outcome_value(true, Some(error.clone()), "title: bad"),
            error,
            "older servers"
        );
        let wrapped = outcome_value(true, None, "something broke");
        assert_eq!(wrapped["error"]["code"], "TOOL_ERROR");
        assert_eq!(wrapped["error"]["message"], "something broke");
        let task = json!({"task": {"number": 1}});
        assert_eq!(outcome_value(false, Some(task.clone()), "ignored"), task);
        assert_eq!(outcome_value(false, None, &task.to_string()), task);
        assert_eq!(outcome_value(false, None, "plain"), json!("plain"));
    }
}
