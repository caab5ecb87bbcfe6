//! The MCP server over real HTTP against a real PostgreSQL: auth, every tool, errors, and
//! isolation between users. (The official Python SDK checks interoperability separately;
//! see tests/python/.)
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::time::Duration;
use todo_auth::Tokens;
use todo_store::{PoolSettings, Store};
use uuid::Uuid;

const SECRET: &str = "mcp-test-secret-mcp-test-secret-mcp";

struct Server {
    url: String,
    base: String,
    client: reqwest::Client,
    tokens: Tokens,
    store: Store,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Server {
    let db = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = todo_mcp::Config {
        database_url: db,
        jwt_secret: SECRET.into(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        allowed_hosts: None,
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(2),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(todo_mcp::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server {
        url: format!("{base}/mcp"),
        base,
        client,
        tokens: Tokens::new(SECRET, Duration::from_secs(600)),
        store,
        _stop: stop,
    }
}

impl Server {
    async fn user(&self, email: &str) -> (Uuid, String) {
        let user = self.store.users().create(email, "U", "x").await.unwrap();
        (user.id, self.tokens.issue(user.id, email, "U").unwrap())
    }

    /// One stateless JSON-RPC request, as any Streamable HTTP client sends it.
    async fn rpc(&self, token: Option<&str>, method: &str, params: Value) -> (u16, Value) {
        let mut req = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        // JSON, or an SSE stream whose data line holds the JSON.
        let body = serde_json::from_str(&text).unwrap_or_else(|_| {
            text.lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .find_map(|d| serde_json::from_str(d.trim()).ok())
                .unwrap_or(Value::String(text))
        });
        (status, body)
    }

    async fn call(&self, token: &str, tool: &str, args: Value) -> Value {
        let (status, body) = self
            .rpc(
                Some(token),
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"].clone()
    }
}

fn ok(result: &Value) -> &Value {
    assert_ne!(result["isError"], true, "{result}");
    let structured = &result["structuredContent"];
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        &text, structured,
        "text content mirrors the structured content"
    );
    structured
}

fn err(result: &Value) -> (String, Option<String>) {
    assert_eq!(result["isError"], true, "{result}");
    let e = &result["structuredContent"]["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| m.len() > 5),
        "{result}"
    );
    (
        e["code"].as_str().unwrap().to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let s = start().await;
    let (status, body) = s.rpc(None, "tools/list", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let forged = Tokens::new(
        "another-secret-another-secret-12345",
        Duration::from_secs(60),
    )
    .issue(Uuid::new_v4(), "x", "y")
    .unwrap();
    assert_eq!(s.rpc(Some(&forged), "tools/list", json!({})).await.0, 401);
    assert_eq!(
        s.client
            .get(format!("{}/livez", s.base))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "probes need no token"
    );
}

#[tokio::test]
async fn lists_tools_with_schemas() {
    let s = start().await;
    let (_, token) = s.user("a@x.io").await;
    let (status, body) = s.rpc(Some(&token), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let tools = body["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "add_task",
            "list_tasks",
            "get_task",
            "update_task",
            "complete_task",
            "delete_task"
        ]
    );
    assert!(
        tools
            .iter()
            .all(|t| t["inputSchema"]["type"] == "object" && t["outputSchema"]["type"] == "object")
    );
}

#[tokio::test]
async fn every_tool_works_and_fails_clearly() {
    let s = start().await;
    let (_, a) = s.user("a@x.io").await;
    let added = s.call(&a, "add_task", json!({"title": "Buy milk", "priority": "high", "due": "2026-11-25", "tags": ["#Shop"]})).await;
    let task = ok(&added)["task"].clone();
    assert_eq!(
        (
            task["number"].as_i64(),
            task["priority"].as_str(),
            task["due_at"].as_str()
        ),
        (Some(1), Some("high"), Some("2026-11-25T00:00:00Z"))
    );
    assert_eq!(task["tags"], json!(["shop"]));
    s.call(
        &a,
        "add_task",
        json!({"title": "Call mom", "due": "2026-11-27T18:00:00+01:00"}),
    )
    .await;

    let listed = s.call(&a, "list_tasks", json!({"status": "pending"})).await;
    let listed = ok(&listed);
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["tasks"][0]["title"], "Buy milk", "oldest first");
    let filtered = s.call(&a, "list_tasks", json!({"tag": "shop", "query": "MILK", "priority": "high", "due_before": "2026-11-26", "limit": 5})).await;
    assert_eq!(ok(&filtered)["total"], 1);

    let got = s.call(&a, "get_task", json!({"task_id": 2})).await;
    assert_eq!(ok(&got)["task"]["title"], "Call mom");
    let by_uuid = s.call(&a, "get_task", json!({"task_id": task["id"]})).await;
    assert_eq!(ok(&by_uuid)["task"]["number"], 1);

    let updated = s
        .call(
            &a,
            "update_task",
            json!({"task_id": 1, "title": "Buy oat milk", "due": null, "tags": null}),
        )
        .await;
    let updated = ok(&updated)["task"].clone();
    assert_eq!(
        (
            updated["title"].as_str(),
            updated["due_at"].clone(),
            updated["tags"].clone()
        ),
        (Some("Buy oat milk"), Value::Null, json!([]))
    );

    let done = s.call(&a, "complete_task", json!({"task_id": 1})).await;
    assert_eq!(ok(&done)["task"]["completed"], true);
    let undone = s
        .call(
            &a,
            "complete_task",
            json!({"task_id": "1", "completed": false}),
        )
        .await;
    assert_eq!(ok(&undone)["task"]["completed"], false);
    let deleted = s.call(&a, "delete_task", json!({"task_id": 2})).await;
    assert_eq!(ok(&deleted)["task"]["title"], "Call mom");

    let cases = [
        (
            "get_task",
            json!({"task_id": 2}),
            "TASK_NOT_FOUND",
            Some("task_id"),
        ),
        ("add_task", json!({}), "VALIDATION_ERROR", Some("title")),
        (
            "add_task",
            json!({"title": "  "}),
            "VALIDATION_ERROR",
            Some("title"),
        ),
        (
            "add_task",
            json!({"title": "x".repeat(201)}),
            "VALIDATION_ERROR",
            Some("title"),
        ),
        (
            "add_task",
            json!({"title": "x", "priority": "urgent"}),
            "VALIDATION_ERROR",
            Some("priority"),
        ),
        (
            "add_task",
            json!({"title": "x", "due": "next week"}),
            "VALIDATION_ERROR",
            Some("due"),
        ),
        (
            "add_task",
            json!({"title": "x", "tags": "shop"}),
            "VALIDATION_ERROR",
            Some("tags"),
        ),
        (
            "add_task",
            json!({"title": "x", "user_id": "someone"}),
            "VALIDATION_ERROR",
            Some("user_id"),
        ),
        (
            "list_tasks",
            json!({"status": "done"}),
            "VALIDATION_ERROR",
            Some("status"),
        ),
        (
            "list_tasks",
            json!({"limit": 500}),
            "VALIDATION_ERROR",
            Some("limit"),
        ),
        (
            "update_task",
            json!({"task_id": 1}),
            "VALIDATION_ERROR",
            Some("task_id"),
        ),
        (
            "update_task",
            json!({"task_id": 1, "title": null}),
            "VALIDATION_ERROR",
            Some("title"),
        ),
        (
            "complete_task",
            json!({"task_id": "milk"}),
            "VALIDATION_ERROR",
            Some("task_id"),
        ),
        (
            "complete_task",
            json!({"task_id": 1, "completed": "yes"}),
            "VALIDATION_ERROR",
            Some("completed"),
        ),
        (
            "delete_task",
            json!({}),
            "VALIDATION_ERROR",
            Some("task_id"),
        ),
    ];
    for (tool, args, code, field) in cases {
        let result = s.call(&a, tool, args.clone()).await;
        assert_eq!(
            err(&result),
            (code.to_owned(), field.map(str::to_owned)),
            "{tool} {args}"
        );
    }
    let (status, body) = s
        .rpc(
            Some(&a),
            "tools/call",
            json!({"name": "drop_database", "arguments": {}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown tool"),
        "{body}"
    );
}

#[tokio::test]
async fn a_token_for_one_user_cannot_touch_another_users_tasks() {
    let s = start().await;
    let (_, a) = s.user("a@x.io").await;
    let (_, b) = s.user("b@x.io").await;
    let added = s
        .call(&a, "add_task", json!({"title": "A's private task"}))
        .await;
    let id = ok(&added)["task"]["id"].clone();
    for task_id in [json!(1), id] {
        for (tool, extra) in [
            ("get_task", json!({})),
            ("update_task", json!({"title": "pwned"})),
            ("complete_task", json!({})),
            ("delete_task", json!({})),
        ] {
            let mut args = extra.as_object().unwrap().clone();
            args.insert("task_id".into(), task_id.clone());
            let result = s.call(&b, tool, Value::Object(args)).await;
            assert_eq!(err(&result).0, "TASK_NOT_FOUND", "{tool}");
            assert!(!result.to_string().contains("private"));
        }
    }
    assert_eq!(ok(&s.call(&b, "list_tasks", json!({})).await)["total"], 0);
    let mine = s.call(&a, "get_task", json!({"task_id": 1})).await;
    assert_eq!(
        (
            ok(&mine)["task"]["title"].as_str(),
            ok(&mine)["task"]["completed"].as_bool()
        ),
        (Some("A's private task"), Some(false))
    );
}
