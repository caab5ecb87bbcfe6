//! Input that cannot poison data (issue 15), through the public MCP protocol over HTTP:
//! poisoned tool arguments get an `isError` result naming the field, and afterwards (and with
//! a bad row stored behind the server's back) `list_tasks` and `get_task` still answer.
//! Only the protocol is relied on: `isError: true` and a text content block mentioning the
//! field, whatever the exact error layout.
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::time::Duration;
use todo_store::Store;
use uuid::Uuid;

mod common;

/// Every call must answer within this; a hang is a failure, not a stuck test run.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

struct Server {
    url: String,
    client: reqwest::Client,
    store: Store,
    user: Uuid,
    token: String,
    _running: common::Running,
}

async fn start() -> Server {
    let running = common::start(None, Vec::new()).await;
    let (user, token) = running.user("poison@x.io").await;
    Server {
        url: running.mcp_url(),
        client: reqwest::Client::builder()
            .timeout(ANSWER_WITHIN)
            .build()
            .unwrap(),
        store: running.store.clone(),
        user,
        token,
        _running: running,
    }
}

impl Server {
    /// `tools/call` as any Streamable HTTP client sends it; the JSON-RPC `result`.
    async fn call(&self, tool: &str, args: Value) -> Value {
        let request = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": tool, "arguments": args}}))
            .send();
        let resp = tokio::time::timeout(ANSWER_WITHIN, request)
            .await
            .unwrap_or_else(|_| panic!("{tool} did not answer in time"))
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .find_map(|d| serde_json::from_str(d.trim()).ok())
                .unwrap_or(Value::String(text.clone()))
        });
        assert_eq!(status, 200, "{tool}: {body}");
        assert!(body.get("result").is_some(), "{tool}: {body}");
        body["result"].clone()
    }

    /// The result's text content, joined.
    fn text(result: &Value) -> String {
        result["content"]
            .as_array()
            .map(|blocks| {
                blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    async fn refused(&self, tool: &str, args: Value, field: &str) {
        let result = self.call(tool, args.clone()).await;
        assert_eq!(result["isError"], true, "{tool} {args}: {result}");
        let text = Self::text(&result);
        assert!(
            text.contains(field),
            "{tool} {args}: the error names {field:?}: {result}"
        );
    }

    /// list_tasks and get_task answer (no error, no hang), and list_tasks sees `count` tasks.
    async fn still_answers(&self, count: usize) {
        let list = self
            .call("list_tasks", json!({"status": "all", "limit": 200}))
            .await;
        assert_ne!(list["isError"], true, "{list}");
        let tasks = tasks_of(&list);
        assert_eq!(tasks.len(), count, "{list}");
        for task in &tasks {
            let got = self
                .call("get_task", json!({"task_id": task["number"]}))
                .await;
            assert_ne!(got["isError"], true, "{got}");
        }
    }
}

/// The tasks of a list_tasks result: `structuredContent`, or the JSON in its text.
fn tasks_of(result: &Value) -> Vec<Value> {
    let value = match result.get("structuredContent") {
        Some(v) if !v.is_null() => v.clone(),
        _ => serde_json::from_str(&Server::text(result)).unwrap_or_default(),
    };
    value["tasks"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn poisoned_arguments_are_refused_and_the_tools_keep_answering() {
    let s = start().await;
    let ok = s.call("add_task", json!({"title": "fine"})).await;
    assert_ne!(ok["isError"], true, "{ok}");
    s.still_answers(1).await;

    s.refused(
        "add_task",
        json!({"title": "ancient", "due": "-0001-06-01"}),
        "due",
    )
    .await;
    s.still_answers(1).await;
    s.refused(
        "add_task",
        json!({"title": "year zero", "due": "0000-12-31"}),
        "due",
    )
    .await;
    s.still_answers(1).await;
    s.refused("add_task", json!({"title": "milk\u{0}"}), "title")
        .await;
    s.still_answers(1).await;
    let eleven: Vec<&str> = vec!["a"; 11];
    s.refused("add_task", json!({"title": "tags", "tags": eleven}), "tags")
        .await;
    s.still_answers(1).await;
    s.refused(
        "add_task",
        json!({"title": "\u{200B}\u{200D}\u{FEFF}"}),
        "title",
    )
    .await;
    s.still_answers(1).await;
    s.refused("add_task", json!({"title": "\u{202E}\u{2066}"}), "title")
        .await;
    s.still_answers(1).await;
    s.refused(
        "update_task",
        json!({"task_id": 1, "due": "-0001-06-01"}),
        "due",
    )
    .await;
    s.refused(
        "update_task",
        json!({"task_id": 1, "title": "x\u{7f}"}),
        "title",
    )
    .await;
    s.still_answers(1).await;

    // Filters holding control characters are refused too, not a database error.
    let result = s.call("list_tasks", json!({"query": "milk\u{0}"})).await;
    assert_eq!(result["isError"], true, "{result}");
    let result = s.call("list_tasks", json!({"tag": "a\u{0}"})).await;
    assert_eq!(result["isError"], true, "{result}");
    s.still_answers(1).await;
}

#[tokio::test]
async fn a_poisoned_row_stored_behind_the_servers_back_still_lists_and_gets() {
    let s = start().await;
    let ok = s.call("add_task", json!({"title": "fine"})).await;
    assert_ne!(ok["isError"], true, "{ok}");
    todo_store::testing::drop_due_check(&s.store).await.unwrap();
    for (number, title, due) in [
        (2, "year -1", "0002-06-01 00:00:00+00 BC"),
        (3, "year 0", "0001-06-01 00:00:00+00 BC"),
        (4, "year 20000", "20000-01-01 00:00:00+00"),
        (5, "infinity", "infinity"),
    ] {
        todo_store::testing::insert_task_unchecked(
            &s.store,
            s.user,
            number,
            title,
            Some(due),
            &["x\u{1}y"],
        )
        .await
        .unwrap();
    }
    s.still_answers(5).await;
    let got = s.call("get_task", json!({"task_id": 2})).await;
    assert!(
        Server::text(&got).contains("year -1")
            || got["structuredContent"]["task"]["title"] == "year -1",
        "{got}"
    );
    // Filtered and limited lists over the bad rows answer too.
    for args in [
        json!({"due_before": "2026-01-01"}),
        json!({"status": "pending", "limit": 1}),
        json!({"tag": "x"}),
    ] {
        let list = s.call("list_tasks", args.clone()).await;
        assert_ne!(list["isError"], true, "{args}: {list}");
    }
    // Fixing one through the tools works.
    let fixed = s
        .call("update_task", json!({"task_id": 2, "due": "2026-12-01"}))
        .await;
    assert_ne!(fixed["isError"], true, "{fixed}");
    s.still_answers(5).await;
}
