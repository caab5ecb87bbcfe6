//! The MCP server over real HTTP against a real PostgreSQL: auth, every tool, errors, and
//! isolation between users. (The official Python SDK checks interoperability separately;
//! see tests/python/.)
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use std::time::Duration;
use todo_auth::Tokens;
use uuid::Uuid;

mod common;

struct Server {
    url: String,
    base: String,
    client: reqwest::Client,
    running: common::Running,
}

async fn start() -> Server {
    start_with(None, Vec::new()).await
}

async fn start_with(allowed_hosts: Option<Vec<String>>, allowed_origins: Vec<String>) -> Server {
    let running = common::start(allowed_hosts, allowed_origins).await;
    Server {
        url: running.mcp_url(),
        base: running.base.clone(),
        client: reqwest::Client::new(),
        running,
    }
}

impl Server {
    async fn user(&self, email: &str) -> (Uuid, String) {
        self.running.user(email).await
    }

    /// One stateless JSON-RPC request, as any Streamable HTTP client sends it.
    async fn rpc(&self, token: Option<&str>, method: &str, params: Value) -> (u16, Value) {
        self.rpc_from(None, token, method, params).await
    }

    /// The same, sent by a browser page at `origin`.
    async fn rpc_from(
        &self,
        origin: Option<&str>,
        token: Option<&str>,
        method: &str,
        params: Value,
    ) -> (u16, Value) {
        self.rpc_as(&[], origin, token, method, params).await
    }

    /// The same with extra headers.
    async fn rpc_as(
        &self,
        headers: &[(&str, &str)],
        origin: Option<&str>,
        token: Option<&str>,
        method: &str,
        params: Value,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
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

/// An error result: `isError`, no structured content, one text block holding the error body
/// (whose message names the field). Returns (code, field).
fn err(result: &Value) -> (String, Option<String>) {
    assert_eq!(result["isError"], true, "{result}");
    assert!(
        result.get("structuredContent").is_none_or(Value::is_null),
        "{result}"
    );
    let content = result["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{result}");
    assert_eq!(content[0]["type"], "text");
    let body: Value = serde_json::from_str(content[0]["text"].as_str().unwrap()).unwrap();
    let e = &body["error"];
    assert_eq!(
        e.as_object()
            .unwrap()
            .keys()
            .filter(|k| !["code", "message", "field"].contains(&k.as_str()))
            .count(),
        0,
        "{body}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(message.len() > 5, "{result}");
    if let (Some(field), "VALIDATION_ERROR") = (e["field"].as_str(), e["code"].as_str().unwrap()) {
        // "title: must not be empty", "tags[1]: invalid type: ..."
        assert!(message.starts_with(field), "{message}");
    }
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
async fn lists_tools_with_titles_annotations_and_portable_schemas() {
    let s = start().await;
    let (_, token) = s.user("a@x.io").await;
    let (status, body) = s.rpc(Some(&token), "tools/list", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let tools = body["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        todo_mcp::tools::TOOLS,
        "in the order a person explains them"
    );
    // (readOnly, destructive, idempotent) per tool.
    let hints = |name: &str| match name {
        "list_tasks" | "get_task" => (true, false, true),
        "add_task" => (false, false, false),
        "update_task" | "delete_task" => (false, true, true),
        "complete_task" => (false, false, true),
        other => panic!("unexpected tool {other}"),
    };
    for t in tools {
        let name = t["name"].as_str().unwrap();
        assert!(t["title"].as_str().is_some_and(|x| x.len() > 3), "{t}");
        let a = &t["annotations"];
        let (read_only, destructive, idempotent) = hints(name);
        assert_eq!(a["readOnlyHint"], read_only, "{name}");
        assert_eq!(a["destructiveHint"], destructive, "{name}");
        assert_eq!(a["idempotentHint"], idempotent, "{name}");
        assert_eq!(a["openWorldHint"], false, "{name}");
        assert_eq!(t["inputSchema"]["type"], "object", "{name}");
        assert_eq!(t["inputSchema"]["additionalProperties"], false, "{name}");
        assert_eq!(t["outputSchema"]["type"], "object", "{name}");
        assert!(
            !todo_wire::schema::has_type_array(&t["inputSchema"])
                && !todo_wire::schema::has_type_array(&t["outputSchema"]),
            "{name} has a type array: {t}"
        );
    }
    // The schemas are the wire types' (here: the task key accepts numbers and UUIDs).
    let get = tools.iter().find(|t| t["name"] == "get_task").unwrap();
    assert_eq!(get["inputSchema"]["required"], json!(["task_id"]));
    assert!(
        get["inputSchema"]
            .to_string()
            .contains(r#""format":"uuid""#)
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
            json!({"task_id": 1, "title": ""}),
            "VALIDATION_ERROR",
            Some("title"),
        ),
        (
            "update_task",
            json!({"task_id": 1, "due": "2026-02-30"}),
            "VALIDATION_ERROR",
            Some("due"),
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
    assert_eq!(
        body["error"]["code"], -32602,
        "invalid params, not -32601: {body}"
    );
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

#[tokio::test]
async fn arguments_that_do_not_fit_are_tool_errors_naming_the_field() {
    let s = start().await;
    let (_, a) = s.user("a@x.io").await;
    ok(&s.call(&a, "add_task", json!({"title": "One"})).await);
    let cases = [
        ("add_task", json!({"title": 5}), "title"),
        ("add_task", json!({"title": ""}), "title"),
        ("add_task", json!({"title": "x", "tags": ["ok", 3]}), "tags"),
        ("add_task", json!({"title": "x", "colour": "red"}), "colour"),
        (
            "add_task",
            json!({"title": "x", "due": "2026-02-30"}),
            "due",
        ),
        ("list_tasks", json!({"limit": "ten"}), "limit"),
        ("list_tasks", json!({"limit": 0}), "limit"),
        ("list_tasks", json!({"priority": "urgent"}), "priority"),
        ("get_task", json!({"task_id": 0}), "task_id"),
        ("get_task", json!({"task_id": -1}), "task_id"),
        ("get_task", json!({"task_id": "not-a-uuid"}), "task_id"),
        (
            "get_task",
            json!({"task_id": 1, "user_id": "someone"}),
            "user_id",
        ),
        ("update_task", json!({"title": "x"}), "task_id"),
        ("update_task", json!({"task_id": 1, "title": null}), "title"),
        ("update_task", json!({"task_id": 1, "tags": "a,b"}), "tags"),
        ("complete_task", json!({"task_id": true}), "task_id"),
        ("delete_task", json!({"task_id": 1.5}), "task_id"),
    ];
    for (tool, args, field) in cases {
        let result = s.call(&a, tool, args.clone()).await;
        assert_eq!(
            err(&result),
            ("VALIDATION_ERROR".to_owned(), Some(field.to_owned())),
            "{tool} {args}: {result}"
        );
    }
    // An unknown key is named, with the keys the tool takes.
    let result = s
        .call(&a, "add_task", json!({"title": "x", "colour": "red"}))
        .await;
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("colour: unknown argument; this tool takes title, description"),
        "{text}"
    );
    // Nothing was written by the refused calls.
    assert_eq!(ok(&s.call(&a, "list_tasks", json!({})).await)["total"], 1);
}

#[tokio::test]
async fn protocol_errors_are_invalid_params() {
    let s = start().await;
    let (_, a) = s.user("a@x.io").await;
    for params in [
        json!({"name": "drop_database", "arguments": {}}),
        json!({"name": "add_task", "arguments": ["title"]}),
        json!({"name": "add_task", "arguments": "title=x"}),
    ] {
        let (status, body) = s.rpc(Some(&a), "tools/call", params.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_i64()),
            (200, Some(-32602)),
            "{params}: {body}"
        );
    }
    // No arguments at all is an empty object: the tool names what is missing.
    let (_, body) = s
        .rpc(Some(&a), "tools/call", json!({"name": "add_task"}))
        .await;
    assert_eq!(
        err(&body["result"]),
        ("VALIDATION_ERROR".to_owned(), Some("title".to_owned()))
    );
}

#[tokio::test]
async fn browser_origins_must_be_allowed() {
    let s = start_with(None, vec!["https://todo.example.com".into()]).await;
    let (_, a) = s.user("a@x.io").await;
    for origin in ["https://evil.example", "http://todo.example.com", "null"] {
        for token in [Some(a.as_str()), None] {
            let (status, body) = s
                .rpc_from(Some(origin), token, "tools/list", json!({}))
                .await;
            assert_eq!(status, 403, "{origin}: {body}");
            assert_eq!(body["error"]["code"], "FORBIDDEN_ORIGIN", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("MCP_ALLOWED_ORIGINS"),
                "{body}"
            );
        }
    }
    for origin in [
        Some("https://todo.example.com"),
        Some("https://TODO.example.com:443"),
        None,
    ] {
        let (status, body) = s.rpc_from(origin, Some(&a), "tools/list", json!({})).await;
        assert_eq!(status, 200, "{origin:?}: {body}");
        assert!(body["result"]["tools"].is_array(), "{body}");
    }
    // By default no browser origin is allowed; programs (no Origin header) are unaffected.
    let d = start().await;
    let (_, b) = d.user("b@x.io").await;
    let (status, _) = d
        .rpc_from(
            Some("http://localhost:3000"),
            Some(&b),
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(d.rpc(Some(&b), "tools/list", json!({})).await.0, 200);
}

#[tokio::test]
async fn users_with_overlapping_task_numbers_see_only_their_own() {
    let s = start().await;
    let (_, a) = s.user("a@x.io").await;
    let (_, b) = s.user("b@x.io").await;
    let a1 = ok(&s.call(&a, "add_task", json!({"title": "A's first"})).await)["task"].clone();
    let b1 = ok(&s.call(&b, "add_task", json!({"title": "B's first"})).await)["task"].clone();
    assert_eq!(
        (a1["number"].as_i64(), b1["number"].as_i64()),
        (Some(1), Some(1))
    );

    // Number 1 means the caller's own task 1.
    let got = s.call(&b, "get_task", json!({"task_id": 1})).await;
    assert_eq!(ok(&got)["task"]["id"], b1["id"]);
    let got = s.call(&a, "get_task", json!({"task_id": "#1"})).await;
    assert_eq!(ok(&got)["task"]["id"], a1["id"]);

    // A's UUID is not found for B, whatever the tool.
    for (tool, extra) in [
        ("get_task", json!({})),
        ("update_task", json!({"title": "pwned"})),
        ("complete_task", json!({})),
        ("delete_task", json!({})),
    ] {
        let mut args = extra.as_object().unwrap().clone();
        args.insert("task_id".into(), a1["id"].clone());
        let result = s.call(&b, tool, Value::Object(args)).await;
        assert_eq!(
            err(&result),
            ("TASK_NOT_FOUND".to_owned(), Some("task_id".to_owned())),
            "{tool}"
        );
        assert!(
            !result.to_string().contains("A's first"),
            "{tool}: {result}"
        );
    }
    // B's changes by number touch B's task only.
    let updated = s
        .call(
            &b,
            "update_task",
            json!({"task_id": 1, "title": "B renamed"}),
        )
        .await;
    assert_eq!(ok(&updated)["task"]["id"], b1["id"]);
    let done = s.call(&b, "complete_task", json!({"task_id": 1})).await;
    assert_eq!(ok(&done)["task"]["completed"], true);
    let deleted = s.call(&b, "delete_task", json!({"task_id": 1})).await;
    assert_eq!(ok(&deleted)["task"]["id"], b1["id"]);

    let mine = s.call(&a, "get_task", json!({"task_id": a1["id"]})).await;
    let mine = ok(&mine)["task"].clone();
    assert_eq!(
        (mine["title"].as_str(), mine["completed"].as_bool()),
        (Some("A's first"), Some(false))
    );
    assert_eq!(ok(&s.call(&b, "list_tasks", json!({})).await)["total"], 0);
    assert_eq!(ok(&s.call(&a, "list_tasks", json!({})).await)["total"], 1);
}

#[tokio::test]
async fn with_a_host_list_other_hosts_are_refused() {
    let s = start_with(
        Some(vec!["127.0.0.1".into(), "todo-mcp:8080".into()]),
        Vec::new(),
    )
    .await;
    let (_, a) = s.user("a@x.io").await;
    assert_eq!(
        s.rpc(Some(&a), "tools/list", json!({})).await.0,
        200,
        "127.0.0.1, any port"
    );
    let (status, _) = s
        .rpc_as(
            &[("host", "todo-mcp:8080")],
            None,
            Some(&a),
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "the Service name todo-api uses");
    for host in ["evil.example", "todo-mcp:9090", "todo-mcp"] {
        let (status, body) = s
            .rpc_as(&[("host", host)], None, Some(&a), "tools/list", json!({}))
            .await;
        assert_eq!(status, 403, "{host}: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN_HOST", "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("MCP_ALLOWED_HOSTS")
        );
    }
}

#[test]
fn settings_are_read_and_checked() {
    use service_kit::Env;
    let base = [
        ("DATABASE_URL", "postgres://u:p@h/db"),
        ("JWT_SECRET", common::SECRET),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        todo_mcp::Config::from_env(&Env::from_pairs(base.iter().chain(extra).copied()))
    };
    let plain = with(&[]).unwrap();
    assert_eq!(
        (plain.allowed_hosts, plain.allowed_origins.len()),
        (None, 0)
    );
    let set = with(&[
        ("MCP_ALLOWED_HOSTS", "todo.example.com, todo-mcp:8080"),
        (
            "MCP_ALLOWED_ORIGINS",
            "https://todo.example.com,http://localhost:3000",
        ),
    ])
    .unwrap();
    assert_eq!(
        set.allowed_hosts,
        Some(vec!["todo.example.com".into(), "todo-mcp:8080".into()])
    );
    assert_eq!(
        set.allowed_origins,
        ["https://todo.example.com:443", "http://localhost:3000"]
    );
    let bad = with(&[("MCP_ALLOWED_ORIGINS", "todo.example.com")]).unwrap_err();
    assert_eq!(bad.variable, "MCP_ALLOWED_ORIGINS");
    assert!(bad.message.contains("scheme://host"), "{}", bad.message);
    let bad = with(&[("MCP_ALLOWED_HOSTS", "https://todo.example.com/")]).unwrap_err();
    assert_eq!(bad.variable, "MCP_ALLOWED_HOSTS");
}
