//! The checks. Each is one async function returning what later checks need and a line
//! saying what was seen, or an error saying what was expected and what came back.
//!
//! `base` is always a URL routed like the Ingress (`/api` api, `/mcp` mcp, `/` web); only the
//! probes take a service's own URL, because the Ingress routes `/livez` and friends to the web.

use crate::http::{Http, Reply};
use crate::report::Checked;
use anyhow::{Context, Result, anyhow, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

/// The tools todo-mcp must list.
pub const MCP_TOOLS: [&str; 6] = [
    "add_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "delete_task",
];

/// A registered user of this run.
#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub password: String,
    pub token: String,
}

/// A task this run made.
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub number: i64,
    pub title: String,
}

fn str_field<'v>(value: &'v Value, pointer: &str, what: &str) -> Result<&'v str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{what}: expected a string at {pointer}, got {value}"))
}

fn task_from(value: &Value, what: &str) -> Result<Task> {
    Ok(Task {
        id: str_field(value, "/id", what)?.to_owned(),
        number: value
            .get("number")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("{what}: expected a task with a number, got {value}"))?,
        title: str_field(value, "/title", what)?.to_owned(),
    })
}

/// The `items` of a task page.
fn items<'v>(page: &'v Value, what: &str) -> Result<&'v Vec<Value>> {
    page.get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("{what}: expected a task page with `items`, got {page}"))
}

fn ids(page: &Value, what: &str) -> Result<BTreeSet<String>> {
    Ok(items(page, what)?
        .iter()
        .filter_map(|t| t.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect())
}

async fn get_json(http: &Http, url: &str, token: Option<&str>) -> Result<Value> {
    http.call(Method::GET, url, token, None)
        .await?
        .expect(200)?
        .json()
}

/// `/livez` and `/readyz` answer 200 and `/health` says healthy, from the named service.
pub async fn probes(http: &Http, service: &str, url: &str) -> Checked<()> {
    let url = url.trim_end_matches('/');
    for path in ["/livez", "/readyz"] {
        http.call(Method::GET, &format!("{url}{path}"), None, None)
            .await?
            .expect(200)?;
    }
    let reply = http
        .call(Method::GET, &format!("{url}/health"), None, None)
        .await?;
    let status = reply.status;
    let health = reply.json()?;
    let checks = health
        .get("checks")
        .and_then(Value::as_object)
        .map(|c| {
            c.iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    ensure!(
        status == 200 && health["status"] == "healthy",
        "GET /health: expected 200 and status healthy, got {status} {health}"
    );
    ensure!(
        health["service"] == service,
        "GET {url}/health: expected service {service}, got {} (is the URL right?)",
        health["service"]
    );
    Ok((
        (),
        format!("/livez 200, /readyz 200, /health healthy ({checks})"),
    ))
}

/// `/api/...` reaches todo-api: its OpenAPI document.
pub async fn route_api(http: &Http, base: &str) -> Checked<()> {
    let doc = get_json(http, &format!("{base}/api/openapi.json"), None).await?;
    let has_tasks = doc.pointer("/paths/~1api~1tasks").is_some();
    ensure!(
        doc.get("openapi").is_some() && has_tasks,
        "GET /api/openapi.json: expected todo-api's OpenAPI document (with /api/tasks), got {}",
        doc.to_string().chars().take(200).collect::<String>()
    );
    Ok((
        (),
        format!(
            "GET /api/openapi.json answered by todo-api (OpenAPI {})",
            doc["openapi"].as_str().unwrap_or("?")
        ),
    ))
}

/// `/mcp` reaches todo-mcp: without a token it answers 401 UNAUTHORIZED (todo-api would say
/// 404, todo-web would answer HTML).
pub async fn route_mcp(http: &Http, base: &str) -> Checked<()> {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} });
    let reply = http
        .send(
            Method::POST,
            &format!("{base}/mcp"),
            None,
            Some(&body),
            &[
                ("accept", "application/json, text/event-stream"),
                ("mcp-protocol-version", crate::http::MCP_PROTOCOL_VERSION),
            ],
        )
        .await?
        .expect(401)?;
    let code = reply.json()?;
    ensure!(
        code.pointer("/error/code") == Some(&json!("UNAUTHORIZED")),
        "POST /mcp without a token: expected todo-mcp's UNAUTHORIZED error, got {code}"
    );
    Ok((
        (),
        "POST /mcp without a token: 401 UNAUTHORIZED from todo-mcp".into(),
    ))
}

/// `/` reaches todo-web: an HTML page (after any redirect to a sign-in page).
pub async fn route_web(http: &Http, base: &str) -> Checked<()> {
    let reply = http
        .send(
            Method::GET,
            &format!("{base}/"),
            None,
            None,
            &[("accept", "text/html")],
        )
        .await?
        .expect(200)?;
    ensure!(
        reply.content_type.starts_with("text/html"),
        "GET /: expected an HTML page from todo-web, got {}{}",
        reply.content_type,
        reply.excerpt()
    );
    let title = reply
        .text
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.trim().to_owned())
        .unwrap_or_default();
    Ok((
        (),
        format!(
            "GET /: 200 text/html, {} bytes, title {title:?}",
            reply.text.len()
        ),
    ))
}

/// A fresh user: `smoke-<who>-<random>@example.com`.
pub async fn register(http: &Http, base: &str, who: &str) -> Checked<Session> {
    let nonce: u64 = rand::random();
    let email = format!("smoke-{who}-{nonce:016x}@example.com");
    let password = format!("smoke-password-{:016x}", rand::random::<u64>());
    let body = json!({ "email": email, "password": password, "name": format!("Smoke {who}") });
    let session = http
        .call(
            Method::POST,
            &format!("{base}/api/auth/register"),
            None,
            Some(&body),
        )
        .await?
        .expect(201)?
        .json()?;
    let token = str_field(&session, "/token", "POST /api/auth/register")?.to_owned();
    let returned = str_field(&session, "/user/email", "POST /api/auth/register")?;
    ensure!(
        returned == email,
        "POST /api/auth/register: expected user {email}, got {returned}"
    );
    Ok((
        Session {
            email: email.clone(),
            password,
            token,
        },
        format!("registered {email}"),
    ))
}

/// Logs in with the password and reads `/api/auth/me` with the new token.
pub async fn login(http: &Http, base: &str, session: &Session) -> Checked<String> {
    let body = json!({ "email": session.email, "password": session.password });
    let reply = http
        .call(
            Method::POST,
            &format!("{base}/api/auth/login"),
            None,
            Some(&body),
        )
        .await?
        .expect(200)?
        .json()?;
    let token = str_field(&reply, "/token", "POST /api/auth/login")?.to_owned();
    let me = get_json(http, &format!("{base}/api/auth/me"), Some(&token)).await?;
    let email = str_field(&me, "/user/email", "GET /api/auth/me")?;
    ensure!(
        email == session.email,
        "GET /api/auth/me: expected {}, got {email}",
        session.email
    );
    Ok((token, format!("logged in; /api/auth/me says {email}")))
}

/// Creates a task through the REST API.
pub async fn add_task(http: &Http, base: &str, session: &Session, title: &str) -> Result<Task> {
    let body = json!({ "title": title, "priority": "low", "tags": ["smoke"] });
    let created = http
        .call(
            Method::POST,
            &format!("{base}/api/tasks"),
            Some(&session.token),
            Some(&body),
        )
        .await?
        .expect(201)?
        .json()?;
    let task = task_from(&created, "POST /api/tasks")?;
    ensure!(
        task.title == title && created["completed"] == false,
        "POST /api/tasks: expected an open task titled {title:?}, got {created}"
    );
    Ok(task)
}

pub async fn create_task(http: &Http, base: &str, session: &Session) -> Checked<Task> {
    let task = add_task(http, base, session, "smoke: water the plants").await?;
    let detail = format!("created task {} {:?}", task.number, task.title);
    Ok((task, detail))
}

pub async fn list_tasks(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let page = get_json(http, &format!("{base}/api/tasks"), Some(&session.token)).await?;
    let listed = ids(&page, "GET /api/tasks")?;
    ensure!(
        listed.contains(&task.id),
        "GET /api/tasks: expected task {} among the items, got {page}",
        task.id
    );
    Ok((
        (),
        format!(
            "GET /api/tasks: {} task(s), including task {}",
            listed.len(),
            task.number
        ),
    ))
}

pub async fn update_task(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let url = format!("{base}/api/tasks/{}", task.id);
    let title = "smoke: water the plants twice";
    let body = json!({ "title": title, "priority": "high" });
    let updated = http
        .call(Method::PATCH, &url, Some(&session.token), Some(&body))
        .await?
        .expect(200)?
        .json()?;
    ensure!(
        updated["title"] == title && updated["priority"] == "high",
        "PATCH /api/tasks/{}: expected title {title:?} and priority high, got {updated}",
        task.id
    );
    let stored = get_json(http, &url, Some(&session.token)).await?;
    ensure!(
        stored["title"] == title && stored["priority"] == "high",
        "GET /api/tasks/{} after PATCH: expected the new title and priority, got {stored}",
        task.id
    );
    Ok((
        (),
        format!("task {} renamed and set to high priority", task.number),
    ))
}

pub async fn complete_task(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let done = http
        .call(
            Method::POST,
            &format!("{base}/api/tasks/{}/complete", task.id),
            Some(&session.token),
            None,
        )
        .await?
        .expect(200)?
        .json()?;
    ensure!(
        done["completed"] == true && done["completed_at"].is_string(),
        "POST /api/tasks/{}/complete: expected completed true with completed_at, got {done}",
        task.id
    );
    let page = get_json(
        http,
        &format!("{base}/api/tasks?status=completed"),
        Some(&session.token),
    )
    .await?;
    ensure!(
        ids(&page, "GET /api/tasks?status=completed")?.contains(&task.id),
        "GET /api/tasks?status=completed: expected task {} listed, got {page}",
        task.id
    );
    Ok((
        (),
        format!("task {} completed and listed as completed", task.number),
    ))
}

pub async fn delete_task(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let url = format!("{base}/api/tasks/{}", task.id);
    http.call(Method::DELETE, &url, Some(&session.token), None)
        .await?
        .expect(204)?;
    http.call(Method::GET, &url, Some(&session.token), None)
        .await?
        .expect(404)
        .context("after DELETE the task must be gone")?;
    Ok(((), format!("task {} deleted; GET now 404", task.number)))
}

/// "add buy milk tomorrow" through `POST /api/chat`; the task must then be in the list, due
/// tomorrow (give or take a day for time zones). Returns the new task.
pub async fn chat_add(http: &Http, base: &str, session: &Session) -> Checked<Task> {
    let message = "add buy milk tomorrow";
    let turn = http
        .call(
            Method::POST,
            &format!("{base}/api/chat"),
            Some(&session.token),
            Some(&json!({ "message": message })),
        )
        .await?
        .expect(200)?
        .json()?;
    let what = "POST /api/chat";
    let conversation = str_field(&turn, "/conversation_id", what)?;
    let response = str_field(&turn, "/response", what)?;
    let engine = turn["engine"].as_str().unwrap_or("?");
    let tools: Vec<&str> = turn["tool_calls"]
        .as_array()
        .map(|calls| calls.iter().filter_map(|c| c["tool"].as_str()).collect())
        .unwrap_or_default();
    ensure!(
        tools.contains(&"add_task"),
        "{what} {message:?}: expected an add_task tool call, got {turn}"
    );
    let page = get_json(
        http,
        &format!("{base}/api/tasks?q=milk"),
        Some(&session.token),
    )
    .await?;
    let item = items(&page, "GET /api/tasks?q=milk")?
        .iter()
        .find(|t| {
            t["title"]
                .as_str()
                .is_some_and(|title| title.trim().eq_ignore_ascii_case("buy milk"))
        })
        .ok_or_else(|| {
            anyhow!("after {message:?}: expected a task \"buy milk\" in GET /api/tasks?q=milk, got {page}")
        })?;
    let due = item["due_at"].as_str().unwrap_or_default();
    ensure!(
        due_tomorrow(due),
        "after {message:?}: expected \"buy milk\" due tomorrow, got due_at {}",
        item["due_at"]
    );
    http.call(
        Method::GET,
        &format!("{base}/api/conversations/{conversation}"),
        Some(&session.token),
        None,
    )
    .await?
    .expect(200)?;
    let task = task_from(item, "GET /api/tasks?q=milk")?;
    let short: String = response.chars().take(60).collect();
    Ok((
        task,
        format!(
            "{engine} engine: {short:?}; \"buy milk\" due {} is listed; conversation saved",
            due.get(..10).unwrap_or(due)
        ),
    ))
}

/// True when the RFC 3339 `due` falls on a date from today to two days ahead (UTC): "tomorrow"
/// in any time zone of the server or the user.
pub fn due_tomorrow(due: &str) -> bool {
    let Ok(due) = time::OffsetDateTime::parse(due, &time::format_description::well_known::Rfc3339)
    else {
        return false;
    };
    let today = time::OffsetDateTime::now_utc().date();
    let days = (due.to_offset(time::UtcOffset::UTC).date() - today).whole_days();
    (0..=2).contains(&days)
}

/// `tools/list` through `/mcp` with the user's token lists every task tool.
pub async fn mcp_tools_list(http: &Http, base: &str, session: &Session) -> Checked<()> {
    let result = http
        .mcp(
            &format!("{base}/mcp"),
            &session.token,
            "tools/list",
            json!({}),
        )
        .await?;
    let names: Vec<&str> = result["tools"]
        .as_array()
        .map(|tools| tools.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = MCP_TOOLS
        .iter()
        .copied()
        .filter(|t| !names.contains(t))
        .collect();
    ensure!(
        missing.is_empty(),
        "MCP tools/list: expected {}, missing {}; got {result}",
        MCP_TOOLS.join(", "),
        missing.join(", ")
    );
    Ok(((), format!("{} tools: {}", names.len(), names.join(", "))))
}

/// `tools/call add_task` through `/mcp`; todo-api must then list the task (same database,
/// same user).
pub async fn mcp_tools_call(http: &Http, base: &str, session: &Session) -> Checked<()> {
    let title = "smoke: added over MCP";
    let result = http
        .mcp(
            &format!("{base}/mcp"),
            &session.token,
            "tools/call",
            json!({ "name": "add_task", "arguments": { "title": title } }),
        )
        .await?;
    ensure!(
        result["isError"] != true,
        "MCP tools/call add_task: expected a result, got the tool error {result}"
    );
    let number = result
        .pointer("/structuredContent/task/number")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            anyhow!("MCP tools/call add_task: expected structuredContent.task.number, got {result}")
        })?;
    let page = get_json(
        http,
        &format!("{base}/api/tasks?q=added%20over%20MCP"),
        Some(&session.token),
    )
    .await?;
    let listed = items(&page, "GET /api/tasks?q=added over MCP")?
        .iter()
        .any(|t| t["number"] == number && t["title"] == title);
    ensure!(
        listed,
        "after MCP add_task: expected task {number} {title:?} in GET /api/tasks, got {page}"
    );
    Ok((
        (),
        format!("tools/call add_task made task {number}; todo-api lists it"),
    ))
}

/// A second user sees none of the first user's tasks and cannot read, change or delete them.
pub async fn isolation(http: &Http, base: &str, first: &Session) -> Checked<()> {
    let task = add_task(http, base, first, "smoke: private to the first user").await?;
    let (second, _) = register(http, base, "b")
        .await
        .context("registering a second user")?;
    let url = format!("{base}/api/tasks/{}", task.id);
    let attempts: [(Method, Option<Value>); 3] = [
        (Method::GET, None),
        (Method::PATCH, Some(json!({ "title": "not yours" }))),
        (Method::DELETE, None),
    ];
    for (method, body) in attempts {
        let what = format!("second user: {method} of the first user's task");
        http.call(method, &url, Some(&second.token), body.as_ref())
            .await?
            .expect(404)
            .with_context(|| what.clone())?;
    }
    let page = get_json(http, &format!("{base}/api/tasks"), Some(&second.token)).await?;
    ensure!(
        items(&page, "GET /api/tasks")?.is_empty() && page["total"] == 0,
        "second user: GET /api/tasks: expected no tasks, got {page}"
    );
    let still = get_json(http, &url, Some(&first.token)).await?;
    ensure!(
        still["title"] == task.title.as_str(),
        "first user: GET /api/tasks/{}: expected the task unchanged, got {still}",
        task.id
    );
    Ok((
        (),
        "second user: 404 on GET/PATCH/DELETE of the first user's task, empty list".into(),
    ))
}

/// Makes a task, restarts what `restart` restarts, waits for the API to answer again and
/// checks that every task of the user and the login survived.
pub async fn restart<F>(
    http: &Http,
    base: &str,
    session: &Session,
    restart: F,
    wait: Duration,
) -> Checked<()>
where
    F: Future<Output = Result<String>>,
{
    add_task(http, base, session, "smoke: survives a restart").await?;
    let list_url = format!("{base}/api/tasks?limit=200");
    let before = ids(
        &get_json(http, &list_url, Some(&session.token)).await?,
        "GET /api/tasks",
    )?;
    let restarted = restart.await.context("restarting")?;
    let started = Instant::now();
    let after = loop {
        let last: Result<Reply> = http
            .call(Method::GET, &list_url, Some(&session.token), None)
            .await;
        let last = match last {
            Ok(reply) if reply.status == 200 => break ids(&reply.json()?, "GET /api/tasks")?,
            Ok(reply) => format!("{} {}", reply.status, reply.excerpt()),
            Err(e) => format!("{e:#}"),
        };
        if started.elapsed() > wait {
            bail!(
                "after the restart ({restarted}): GET /api/tasks did not answer 200 within {} s; last: {last}",
                wait.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let back_after = started.elapsed();
    let missing: Vec<&String> = before.difference(&after).collect();
    ensure!(
        missing.is_empty(),
        "after the restart ({restarted}): expected all {} tasks still there, missing {missing:?}",
        before.len()
    );
    login(http, base, session)
        .await
        .context("logging in again after the restart")?;
    Ok((
        (),
        format!(
            "{restarted}; API back after {:.1} s; all {} tasks still there; login works",
            back_after.as_secs_f64(),
            before.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tomorrow_means_from_today_to_two_days_ahead() {
        let day = |offset: i64| {
            (time::OffsetDateTime::now_utc() + time::Duration::days(offset))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        assert!(due_tomorrow(&day(1)));
        assert!(due_tomorrow(&day(0)));
        assert!(!due_tomorrow(&day(-2)));
        assert!(!due_tomorrow(&day(5)));
        assert!(!due_tomorrow(""));
        assert!(!due_tomorrow("tomorrow"));
    }
}
