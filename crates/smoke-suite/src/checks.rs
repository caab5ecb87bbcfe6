//! The checks. Each is one async function returning what later checks need and a line
//! saying what was seen, or an error saying what was expected and what came back.
//!
//! `base` is always a URL routed like the Ingress (`/api` api, `/mcp` mcp, `/` web); only the
//! probes take a service's own URL, because the Ingress routes `/livez` and friends to the web.

use crate::http::{Http, Reply, from_json};
use crate::report::Checked;
use anyhow::{Context, Result, anyhow, bail, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};
use todo_wire::mcp::{AddTaskArgs, TaskResult};
use todo_wire::{
    ChatRequest, ChatTurn, CreateTask, LoginRequest, Me, Patch, Priority, RegisterRequest,
    TaskPage, UpdateTask,
};

/// A JSON request body from a wire type.
fn body<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

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

impl From<&todo_wire::Task> for Task {
    fn from(t: &todo_wire::Task) -> Task {
        Task {
            id: t.id.to_string(),
            number: i64::from(t.number),
            title: t.title.clone(),
        }
    }
}

fn ids(page: &TaskPage) -> BTreeSet<String> {
    page.items.iter().map(|t| t.id.to_string()).collect()
}

async fn get_page(http: &Http, url: &str, token: &str) -> Result<TaskPage> {
    http.call(Method::GET, url, Some(token), None)
        .await?
        .expect(200)?
        .parse()
}

async fn get_task(http: &Http, url: &str, token: &str) -> Result<todo_wire::Task> {
    http.call(Method::GET, url, Some(token), None)
        .await?
        .expect(200)?
        .parse()
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
    let request = RegisterRequest {
        email: email.clone(),
        password: password.clone(),
        name: format!("Smoke {who}"),
        time_zone: None,
    };
    let session: todo_wire::Session = http
        .call(
            Method::POST,
            &format!("{base}/api/auth/register"),
            None,
            Some(&body(&request)),
        )
        .await?
        .expect(201)?
        .parse()?;
    let token = session.token;
    let returned = session.user.email;
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
    let request = LoginRequest {
        email: session.email.clone(),
        password: session.password.clone(),
    };
    let reply: todo_wire::Session = http
        .call(
            Method::POST,
            &format!("{base}/api/auth/login"),
            None,
            Some(&body(&request)),
        )
        .await?
        .expect(200)?
        .parse()?;
    let token = reply.token;
    let me: Me = http
        .call(
            Method::GET,
            &format!("{base}/api/auth/me"),
            Some(&token),
            None,
        )
        .await?
        .expect(200)?
        .parse()?;
    let email = me.user.email;
    ensure!(
        email == session.email,
        "GET /api/auth/me: expected {}, got {email}",
        session.email
    );
    Ok((token, format!("logged in; /api/auth/me says {email}")))
}

/// Creates a task through the REST API.
pub async fn add_task(http: &Http, base: &str, session: &Session, title: &str) -> Result<Task> {
    let request = CreateTask {
        title: title.to_owned(),
        priority: Some(Priority::Low),
        tags: Some(vec!["smoke".to_owned()]),
        ..CreateTask::default()
    };
    let created: todo_wire::Task = http
        .call(
            Method::POST,
            &format!("{base}/api/tasks"),
            Some(&session.token),
            Some(&body(&request)),
        )
        .await?
        .expect(201)?
        .parse()?;
    ensure!(
        created.title == title && !created.completed,
        "POST /api/tasks: expected an open task titled {title:?}, got {created:?}"
    );
    Ok(Task::from(&created))
}

pub async fn create_task(http: &Http, base: &str, session: &Session) -> Checked<Task> {
    let task = add_task(http, base, session, "smoke: water the plants").await?;
    let detail = format!("created task {} {:?}", task.number, task.title);
    Ok((task, detail))
}

pub async fn list_tasks(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let page = get_page(http, &format!("{base}/api/tasks"), &session.token).await?;
    let listed = ids(&page);
    ensure!(
        listed.contains(&task.id),
        "GET /api/tasks: expected task {} among the items, got {page:?}",
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
    let request = UpdateTask {
        title: Patch::Set(title.to_owned()),
        priority: Patch::Set(Priority::High),
        ..UpdateTask::default()
    };
    let updated: todo_wire::Task = http
        .call(
            Method::PATCH,
            &url,
            Some(&session.token),
            Some(&body(&request)),
        )
        .await?
        .expect(200)?
        .parse()?;
    ensure!(
        updated.title == title && updated.priority == Priority::High,
        "PATCH /api/tasks/{}: expected title {title:?} and priority high, got {updated:?}",
        task.id
    );
    let stored = get_task(http, &url, &session.token).await?;
    ensure!(
        stored.title == title && stored.priority == Priority::High,
        "GET /api/tasks/{} after PATCH: expected the new title and priority, got {stored:?}",
        task.id
    );
    Ok((
        (),
        format!("task {} renamed and set to high priority", task.number),
    ))
}

pub async fn complete_task(http: &Http, base: &str, session: &Session, task: &Task) -> Checked<()> {
    let done: todo_wire::Task = http
        .call(
            Method::POST,
            &format!("{base}/api/tasks/{}/complete", task.id),
            Some(&session.token),
            None,
        )
        .await?
        .expect(200)?
        .parse()?;
    ensure!(
        done.completed && done.completed_at.is_some(),
        "POST /api/tasks/{}/complete: expected completed true with completed_at, got {done:?}",
        task.id
    );
    let page = get_page(
        http,
        &format!("{base}/api/tasks?status=completed"),
        &session.token,
    )
    .await?;
    ensure!(
        ids(&page).contains(&task.id),
        "GET /api/tasks?status=completed: expected task {} listed, got {page:?}",
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
    let request = ChatRequest {
        conversation_id: None,
        message: message.to_owned(),
    };
    let turn: ChatTurn = http
        .call(
            Method::POST,
            &format!("{base}/api/chat"),
            Some(&session.token),
            Some(&body(&request)),
        )
        .await?
        .expect(200)?
        .parse()?;
    let what = "POST /api/chat";
    let conversation = turn.conversation_id;
    let engine = turn.engine.as_str();
    ensure!(
        turn.tool_calls.iter().any(|c| c.tool == "add_task"),
        "{what} {message:?}: expected an add_task tool call, got {turn:?}"
    );
    let page = get_page(http, &format!("{base}/api/tasks?q=milk"), &session.token).await?;
    let item = page
        .items
        .iter()
        .find(|t| t.title.trim().eq_ignore_ascii_case("buy milk"))
        .ok_or_else(|| {
            anyhow!("after {message:?}: expected a task \"buy milk\" in GET /api/tasks?q=milk, got {page:?}")
        })?;
    ensure!(
        item.due_at.is_some_and(due_tomorrow_at),
        "after {message:?}: expected \"buy milk\" due tomorrow, got due_at {:?}",
        item.due_at.map(|d| todo_wire::timestamp::format(&d))
    );
    http.call(
        Method::GET,
        &format!("{base}/api/conversations/{conversation}"),
        Some(&session.token),
        None,
    )
    .await?
    .expect(200)?
    .parse::<todo_wire::ConversationDetail>()?;
    let task = Task::from(item);
    let short: String = turn.response.chars().take(60).collect();
    let due = item
        .due_at
        .map(|d| todo_wire::timestamp::format(&d))
        .unwrap_or_default();
    Ok((
        task,
        format!(
            "{engine} engine: {short:?}; \"buy milk\" due {} is listed; conversation saved",
            due.get(..10).unwrap_or(&due)
        ),
    ))
}

/// True when the RFC 3339 `due` falls on a date from today to two days ahead (UTC): "tomorrow"
/// in any time zone of the server or the user.
pub fn due_tomorrow(due: &str) -> bool {
    todo_wire::timestamp::parse(due).is_ok_and(due_tomorrow_at)
}

/// [`due_tomorrow`] of a parsed time.
pub fn due_tomorrow_at(due: time::OffsetDateTime) -> bool {
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
            json!({ "name": "add_task", "arguments": AddTaskArgs {
                title: title.to_owned(),
                ..AddTaskArgs::default()
            } }),
        )
        .await?;
    ensure!(
        result["isError"] != true,
        "MCP tools/call add_task: expected a result, got the tool error {result}"
    );
    let added: TaskResult = from_json(
        result.get("structuredContent").unwrap_or(&Value::Null),
        "MCP tools/call add_task structuredContent",
    )?;
    let number = added.task.number;
    let page = get_page(
        http,
        &format!("{base}/api/tasks?q=added%20over%20MCP"),
        &session.token,
    )
    .await?;
    let listed = page
        .items
        .iter()
        .any(|t| t.number == number && t.title == title);
    ensure!(
        listed,
        "after MCP add_task: expected task {number} {title:?} in GET /api/tasks, got {page:?}"
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
        (
            Method::PATCH,
            Some(body(&UpdateTask {
                title: Patch::Set("not yours".to_owned()),
                ..UpdateTask::default()
            })),
        ),
        (Method::DELETE, None),
    ];
    for (method, body) in attempts {
        let what = format!("second user: {method} of the first user's task");
        http.call(method, &url, Some(&second.token), body.as_ref())
            .await?
            .expect(404)
            .with_context(|| what.clone())?;
    }
    let page = get_page(http, &format!("{base}/api/tasks"), &second.token).await?;
    ensure!(
        page.items.is_empty() && page.total == 0,
        "second user: GET /api/tasks: expected no tasks, got {page:?}"
    );
    let still = get_task(http, &url, &first.token).await?;
    ensure!(
        still.title == task.title,
        "first user: GET /api/tasks/{}: expected the task unchanged, got {still:?}",
        task.id
    );
    Ok((
        (),
        "second user: 404 on GET/PATCH/DELETE of the first user's task, empty list".into(),
    ))
}

/// Deletes every task of the run's user, so a smoke run against a dev database or a cluster
/// leaves only its `smoke-*@example.com` users behind (the API has no account deletion). The
/// second user of the isolation check never has tasks.
pub async fn clean_up(http: &Http, base: &str, session: &Session) -> Checked<()> {
    let list = format!("{base}/api/tasks");
    let mut deleted = 0;
    // Bounded: a run makes a handful of tasks; a page that does not shrink is a failure.
    for _ in 0..100 {
        let page = get_page(http, &list, &session.token).await?;
        if page.items.is_empty() {
            return Ok(((), format!("deleted the run's {deleted} remaining task(s)")));
        }
        for task in &page.items {
            http.call(
                Method::DELETE,
                &format!("{list}/{}", task.id),
                Some(&session.token),
                None,
            )
            .await?
            .expect(204)
            .with_context(|| format!("deleting smoke task {}", task.number))?;
            deleted += 1;
        }
    }
    anyhow::bail!("GET /api/tasks still lists tasks after deleting {deleted}")
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
    let before = ids(&get_page(http, &list_url, &session.token).await?);
    let restarted = restart.await.context("restarting")?;
    let started = Instant::now();
    let after = loop {
        let last: Result<Reply> = http
            .call(Method::GET, &list_url, Some(&session.token), None)
            .await;
        let last = match last {
            Ok(reply) if reply.status == 200 => break ids(&reply.parse()?),
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
