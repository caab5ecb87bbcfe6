//! The suite against a small scripted deployment (one in-memory server answering like the
//! Ingress would), to check the suite's own logic: a healthy deployment passes with exit code
//! 0, and each kind of breakage fails the right check, skips what depends on it and gives
//! exit code 1. (The suite against the real services runs in `cargo xtask smoke --dev`.)
#![allow(clippy::unwrap_used)]

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use smoke_suite::{Outcome, Report, Restart, SuiteConfig, names};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONVERSATION: &str = "6f1e0d1c-1a2b-4c3d-8e9f-000000000001";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    RegisterBroken,
    ChatBroken,
    McpHangs,
}

#[derive(Default)]
struct Data {
    users: HashMap<String, String>,
    tasks: Vec<(String, Value)>,
    next: u64,
}

#[derive(Clone)]
struct App {
    data: Arc<Mutex<Data>>,
    fault: Fault,
}

fn user(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer tok-")
        .map(str::to_owned)
}

/// The answers are built from the wire types, so this fake speaks exactly what the suite
/// reads (a field renamed in todo-wire changes both).
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn wire_user(email: &str) -> todo_wire::User {
    todo_wire::User {
        id: uuid::Uuid::new_v4(),
        email: email.to_owned(),
        name: "Smoke".to_owned(),
        time_zone: "UTC".to_owned(),
        created_at: now(),
    }
}

fn session(email: &str) -> Value {
    serde_json::to_value(todo_wire::Session {
        user: wire_user(email),
        token: format!("tok-{email}"),
        token_type: "Bearer".to_owned(),
        expires_in: 3600,
        refresh_token: format!("refresh-{email}"),
        refresh_expires_in: 86_400,
    })
    .unwrap()
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"code": "UNAUTHORIZED", "message": "no token"}})),
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "TASK_NOT_FOUND", "message": "no such task"}})),
    )
        .into_response()
}

impl App {
    fn add(&self, owner: &str, title: &str, due: Option<String>) -> Value {
        let mut data = self.data.lock().unwrap();
        data.next += 1;
        let number = data.tasks.iter().filter(|(o, _)| o == owner).count() + 1;
        let task = json!({
            "id": format!("00000000-0000-4000-8000-{:012}", data.next), "number": number,
            "title": title, "description": null, "completed": false, "completed_at": null,
            "priority": "low", "tags": ["smoke"], "due_at": due,
            "created_at": "2026-11-20T09:00:00Z", "updated_at": "2026-11-20T09:00:00Z"
        });
        serde_json::from_value::<todo_wire::Task>(task.clone()).unwrap();
        data.tasks.push((owner.to_owned(), task.clone()));
        task
    }

    fn with_task(&self, owner: &str, id: &str, f: impl FnOnce(&mut Value) -> Response) -> Response {
        let mut data = self.data.lock().unwrap();
        match data
            .tasks
            .iter_mut()
            .find(|(o, t)| o == owner && t["id"] == id)
        {
            Some((_, task)) => f(task),
            None => not_found(),
        }
    }
}

async fn register(State(app): State<App>, Json(body): Json<Value>) -> Response {
    if app.fault == Fault::RegisterBroken {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database on fire").into_response();
    }
    let email = body["email"].as_str().unwrap().to_owned();
    let password = body["password"].as_str().unwrap().to_owned();
    app.data
        .lock()
        .unwrap()
        .users
        .insert(email.clone(), password);
    (StatusCode::CREATED, Json(session(&email))).into_response()
}

async fn login(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let email = body["email"].as_str().unwrap();
    let ok = app
        .data
        .lock()
        .unwrap()
        .users
        .get(email)
        .map(String::as_str)
        == body["password"].as_str();
    if !ok {
        return unauthorized();
    }
    Json(session(email)).into_response()
}

async fn me(headers: HeaderMap) -> Response {
    match user(&headers) {
        Some(email) => Json(todo_wire::Me {
            user: wire_user(&email),
        })
        .into_response(),
        None => unauthorized(),
    }
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    let data = app.data.lock().unwrap();
    let items: Vec<Value> = data
        .tasks
        .iter()
        .filter(|(o, _)| *o == owner)
        .map(|(_, t)| t.clone())
        .filter(|t| {
            q.get("status")
                .is_none_or(|s| s != "completed" || t["completed"] == true)
        })
        .filter(|t| {
            q.get("q").is_none_or(|s| {
                t["title"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&s.to_lowercase())
            })
        })
        .collect();
    Json(json!({
        "total": items.len(), "items": items, "limit": 50, "offset": 0,
        "next_cursor": null, "has_more": false
    }))
    .into_response()
}

async fn create(State(app): State<App>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    let task = app.add(&owner, body["title"].as_str().unwrap(), None);
    (StatusCode::CREATED, Json(task)).into_response()
}

async fn get_task(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    app.with_task(&owner, &id, |t| Json(t.clone()).into_response())
}

async fn patch_task(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    app.with_task(&owner, &id, |t| {
        for (k, v) in body.as_object().unwrap() {
            t[k] = v.clone();
        }
        Json(t.clone()).into_response()
    })
}

async fn delete_task(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    let mut data = app.data.lock().unwrap();
    let before = data.tasks.len();
    data.tasks.retain(|(o, t)| !(*o == owner && t["id"] == id));
    if data.tasks.len() < before {
        StatusCode::NO_CONTENT.into_response()
    } else {
        not_found()
    }
}

async fn complete(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    app.with_task(&owner, &id, |t| {
        t["completed"] = json!(true);
        t["completed_at"] = json!("2026-11-20T10:00:00Z");
        Json(t.clone()).into_response()
    })
}

async fn chat(State(app): State<App>, headers: HeaderMap) -> Response {
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    if app.fault == Fault::ChatBroken {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {"code": "INTERNAL", "message": "engine crashed"}})),
        )
            .into_response();
    }
    let tomorrow = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let task = app.add(&owner, "buy milk", Some(tomorrow));
    Json(json!({
        "conversation_id": CONVERSATION, "response": "Added task: buy milk", "engine": "builtin",
        "tool_calls": [{"tool": "add_task", "arguments": {"title": "buy milk"}, "result": {"task": task}}]
    }))
    .into_response()
}

async fn mcp(State(app): State<App>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if app.fault == Fault::McpHangs {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let Some(owner) = user(&headers) else {
        return unauthorized();
    };
    let result = match body["method"].as_str().unwrap() {
        "tools/list" => {
            let tools: Vec<Value> = [
                "add_task",
                "list_tasks",
                "get_task",
                "update_task",
                "complete_task",
                "delete_task",
            ]
            .iter()
            .map(|n| json!({"name": n}))
            .collect();
            json!({ "tools": tools })
        }
        _ => {
            let task = app.add(
                &owner,
                body["params"]["arguments"]["title"].as_str().unwrap(),
                None,
            );
            json!({"isError": false, "structuredContent": {"task": task}})
        }
    };
    // As an SSE stream, as a Streamable HTTP server may answer.
    let message = json!({"jsonrpc": "2.0", "id": body["id"], "result": result});
    (
        [("content-type", "text/event-stream")],
        format!("event: message\ndata: {message}\n\n"),
    )
        .into_response()
}

async fn scripted(fault: Fault) -> (String, App) {
    let app = App {
        data: Arc::default(),
        fault,
    };
    let router = axum::Router::new()
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route(
            "/health",
            get(|| async {
                Json(json!({"status": "healthy", "service": "todo-web", "checks": {"api": "ok"}}))
            }),
        )
        .route(
            "/",
            get(|| async { Html("<html><head><title>Todo</title></head></html>") }),
        )
        .route(
            "/api/openapi.json",
            get(|| async { Json(json!({"openapi": "3.1.0", "paths": {"/api/tasks": {}}})) }),
        )
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/me", get(me))
        .route("/api/tasks", get(list).post(create))
        .route(
            "/api/tasks/{id}",
            get(get_task).patch(patch_task).delete(delete_task),
        )
        .route("/api/tasks/{id}/complete", post(complete))
        .route("/api/chat", post(chat))
        .route(
            "/api/conversations/{id}",
            get(|| async {
                Json(todo_wire::ConversationDetail {
                    conversation: todo_wire::Conversation {
                        id: uuid::Uuid::parse_str(CONVERSATION).unwrap(),
                        title: "add buy milk tomorrow".to_owned(),
                        created_at: now(),
                        updated_at: now(),
                    },
                    messages: Vec::new(),
                })
            }),
        )
        .route("/mcp", post(mcp))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, app)
}

async fn run(url: &str, restart: Option<Restart<'_>>) -> Report {
    let mut config = SuiteConfig::new(url);
    config.check_timeout = Duration::from_secs(2);
    config.restart_wait = Duration::from_secs(2);
    let mut streamed = 0;
    let report = smoke_suite::run(&config, restart, |_| streamed += 1).await;
    assert_eq!(streamed, report.results.len(), "every result is streamed");
    report
}

fn outcome(report: &Report, name: &str) -> Outcome {
    report
        .outcome_of(name)
        .unwrap_or_else(|| panic!("no check {name}"))
}

fn detail<'r>(report: &'r Report, name: &str) -> &'r str {
    &report
        .results
        .iter()
        .find(|r| r.name == name)
        .unwrap()
        .detail
}

#[tokio::test]
async fn a_healthy_deployment_passes_every_check_it_can_reach() {
    let (url, app) = scripted(Fault::None).await;
    let report = run(
        &url,
        Some(Box::new(|| {
            Box::pin(async { Ok("restarted nothing".into()) })
        })),
    )
    .await;
    // The run's tasks are gone afterwards; only its users stay.
    {
        let data = app.data.lock().unwrap();
        assert!(data.tasks.is_empty(), "left behind: {:?}", data.tasks);
        assert!(!data.users.is_empty());
        assert!(
            data.users.keys().all(|email| email.starts_with("smoke-")),
            "{:?}",
            data.users.keys()
        );
    }
    assert_eq!(outcome(&report, names::CLEAN_UP), Outcome::Pass);
    let table = report.table(false);
    assert!(report.passed(), "{table}");
    assert_eq!(report.exit_code(), 0);
    // Only the probes of api and mcp are skipped: no direct URLs were given.
    let skipped: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.outcome == Outcome::Skip)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(skipped, [names::HEALTH_API, names::HEALTH_MCP], "{table}");
    assert_eq!(report.results.len(), 19);
    assert!(detail(&report, names::HEALTH_API).contains("--api-url"));
    assert!(
        detail(&report, names::RESTART).contains("restarted nothing"),
        "{table}"
    );
    assert!(
        table.contains("smoke passed: 17 passed, 0 failed, 2 skipped"),
        "{table}"
    );
}

#[tokio::test]
async fn a_broken_chat_fails_that_check_only() {
    let (url, _) = scripted(Fault::ChatBroken).await;
    let report = run(&url, None).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(outcome(&report, names::CHAT_ADD), Outcome::Fail);
    assert_eq!(
        detail(&report, names::CHAT_ADD),
        r#"POST /api/chat: expected 200, got 500: {"error":{"code":"INTERNAL","message":"engine crashed"}}"#
    );
    let failed: Vec<&str> = report.failures().map(|r| r.name.as_str()).collect();
    assert_eq!(failed, [names::CHAT_ADD]);
    assert_eq!(outcome(&report, names::RESTART), Outcome::Skip);
}

#[tokio::test]
async fn without_registration_everything_that_needs_a_user_is_skipped() {
    let (url, _) = scripted(Fault::RegisterBroken).await;
    let report = run(&url, None).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(outcome(&report, names::REGISTER), Outcome::Fail);
    assert!(detail(&report, names::REGISTER).contains("expected 201, got 500: database on fire"));
    for name in [
        names::LOGIN,
        names::TASK_CREATE,
        names::TASK_DELETE,
        names::CHAT_ADD,
        names::MCP_CALL,
        names::ISOLATION,
    ] {
        assert_eq!(outcome(&report, name), Outcome::Skip, "{name}");
    }
    assert!(detail(&report, names::TASK_DELETE).contains("needs task create"));
    assert_eq!(outcome(&report, names::ROUTE_API), Outcome::Pass);
}

#[tokio::test]
async fn a_hanging_service_is_a_failure_not_a_hang() {
    let (url, _) = scripted(Fault::McpHangs).await;
    let report = run(&url, None).await;
    for name in [names::ROUTE_MCP, names::MCP_LIST, names::MCP_CALL] {
        assert_eq!(outcome(&report, name), Outcome::Fail, "{name}");
        assert!(
            detail(&report, name).starts_with("no result within 2.0 s"),
            "{}",
            detail(&report, name)
        );
    }
    assert_eq!(outcome(&report, names::CHAT_ADD), Outcome::Pass);
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_restart_that_loses_data_fails() {
    let (url, app) = scripted(Fault::None).await;
    let data = app.data.clone();
    let report = run(
        &url,
        Some(Box::new(move || {
            Box::pin(async move {
                data.lock().unwrap().tasks.clear();
                Ok("wiped the tasks".into())
            })
        })),
    )
    .await;
    assert_eq!(outcome(&report, names::RESTART), Outcome::Fail);
    assert!(
        detail(&report, names::RESTART).starts_with(
            "after the restart (wiped the tasks): expected all 4 tasks still there, missing"
        ),
        "{}",
        detail(&report, names::RESTART)
    );
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test]
async fn a_wrong_service_behind_a_url_is_named() {
    let (url, _) = scripted(Fault::None).await;
    let mut config = SuiteConfig::new(&url);
    // The scripted server says it is todo-web: as todo-api's URL that is a mistake to report.
    config.api_url = Some(url.clone());
    let report = smoke_suite::run(&config, None, |_| {}).await;
    assert_eq!(outcome(&report, names::HEALTH_API), Outcome::Fail);
    assert!(
        detail(&report, names::HEALTH_API).contains("expected service todo-api, got \"todo-web\""),
        "{}",
        detail(&report, names::HEALTH_API)
    );
}

#[tokio::test]
async fn nothing_listening_fails_every_check_with_the_address() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let report = run(&dead, None).await;
    assert_eq!(report.exit_code(), 1);
    assert_eq!(report.counts().0, 0, "nothing passes");
    assert!(
        detail(&report, names::ROUTE_API)
            .contains(&format!("no answer from {dead}/api/openapi.json"))
    );
}
