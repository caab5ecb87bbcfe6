//! The tasks page (list, filters, add form, chat panel) and the task actions: add, edit,
//! complete, reopen, delete (with a confirmation page when JavaScript is off).

use super::{AppState, SignedIn, failed, to_signin};
use crate::api::{
    ApiFailure, ConversationDetail, CreateTask, ListQuery, Priority, Role, UpdateTask,
    message_tool_calls,
};
use crate::forms::{BackInput, Choice, Form, TaskInput};
use crate::pages::html;
use crate::session::{self, Flash, Session, see_other};
use crate::views::{
    API_DOWN, ChatPanel, FieldErrors, Layout, Link, MessageView, TaskDeletePage, TaskEditPage,
    TaskForm, TaskView, TasksPage, ToolView,
};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use time::OffsetDateTime;
use todo_wire::UserZone;

pub const PAGE_SIZE: u32 = 50;
const STATUSES: [&str; 3] = ["all", "pending", "completed"];
const PRIORITIES: [&str; 3] = ["low", "medium", "high"];
const SORTS: [&str; 5] = ["created_at", "updated_at", "due_at", "priority", "title"];

/// What the tasks page shows, from its query string. Unknown or invalid values fall back to
/// the defaults, so the API only ever sees parameters it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    pub status: String,
    pub priority: String,
    pub tag: String,
    pub q: String,
    pub sort: String,
    pub order: String,
    pub page: u32,
    /// `c`: a conversation id, or "new" for an empty chat.
    pub conversation: Option<String>,
}

impl Default for ListState {
    fn default() -> ListState {
        ListState {
            status: "all".into(),
            priority: String::new(),
            tag: String::new(),
            q: String::new(),
            sort: "created_at".into(),
            order: "desc".into(),
            page: 1,
            conversation: None,
        }
    }
}

impl ListState {
    pub fn parse(raw: &str) -> ListState {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
        let mut s = ListState::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "status" if STATUSES.contains(&v) => s.status = v.to_owned(),
                "priority" if PRIORITIES.contains(&v) => s.priority = v.to_owned(),
                "tag" => s.tag = v.trim_start_matches('#').chars().take(64).collect(),
                "q" => s.q = v.chars().take(200).collect(),
                "sort" if SORTS.contains(&v) => s.sort = v.to_owned(),
                "order" if v == "asc" || v == "desc" => s.order = v.to_owned(),
                "page" => {
                    s.page = v
                        .parse()
                        .ok()
                        .filter(|p| (1..=10_000).contains(p))
                        .unwrap_or(1)
                }
                "c" if v == "new" || uuid::Uuid::parse_str(v).is_ok() => {
                    s.conversation = Some(v.to_owned())
                }
                _ => {}
            }
        }
        s
    }

    /// This page's query string (defaults left out).
    pub fn query(&self) -> String {
        let d = ListState::default();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.status != d.status {
            pairs.push(("status", self.status.clone()));
        }
        for (k, v) in [
            ("priority", &self.priority),
            ("tag", &self.tag),
            ("q", &self.q),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.clone()));
            }
        }
        if self.sort != d.sort {
            pairs.push(("sort", self.sort.clone()));
        }
        if self.order != d.order {
            pairs.push(("order", self.order.clone()));
        }
        if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if let Some(c) = &self.conversation {
            pairs.push(("c", c.clone()));
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        let q = self.query();
        if q.is_empty() {
            "/tasks".into()
        } else {
            format!("/tasks?{q}")
        }
    }

    /// The API's list query for this page.
    pub fn api_query(&self) -> ListQuery {
        let text = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        ListQuery {
            status: todo_wire::StatusFilter::parse(&self.status),
            priority: Priority::ALL
                .into_iter()
                .find(|p| p.as_str() == self.priority),
            tag: text(&self.tag),
            q: text(&self.q),
            sort: todo_wire::SortKey::parse(&self.sort),
            order: todo_wire::Order::parse(&self.order),
            limit: Some(PAGE_SIZE),
            offset: Some((self.page - 1) * PAGE_SIZE),
            ..ListQuery::default()
        }
    }

    pub fn filtered(&self) -> bool {
        self.status != "all"
            || !self.priority.is_empty()
            || !self.tag.is_empty()
            || !self.q.is_empty()
    }

    fn with(&self, change: impl FnOnce(&mut ListState)) -> ListState {
        let mut s = self.clone();
        s.page = 1;
        change(&mut s);
        s
    }
}

/// What a re-rendered page keeps from a failed form post.
#[derive(Default)]
pub struct Carry {
    pub add: Option<TaskForm>,
    pub chat_message: Option<String>,
    pub chat_errors: FieldErrors,
    /// The client id of a chat message shown again for a retry (same id: answered once).
    pub chat_client_id: Option<uuid::Uuid>,
}

pub async fn page(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    RawQuery(raw): RawQuery,
) -> Response {
    let state = ListState::parse(raw.as_deref().unwrap_or(""));
    render(
        &app,
        &session,
        &token,
        &state,
        Carry::default(),
        StatusCode::OK,
    )
    .await
}

/// Renders the tasks page: the list, and the chat panel (conversations and the open one),
/// fetched from the API concurrently.
pub async fn render(
    app: &AppState,
    session: &Session,
    token: &str,
    state: &ListState,
    carry: Carry,
    status: StatusCode,
) -> Response {
    let from_cookie = state.conversation.is_none();
    let open = match state.conversation.as_deref() {
        Some("new") => None,
        Some(id) => uuid::Uuid::parse_str(id).ok(),
        None => session
            .conversation
            .as_deref()
            .and_then(|id| uuid::Uuid::parse_str(id).ok()),
    };
    let api = &app.api;
    let api_query = state.api_query();
    let (list, conversations, detail, zone) = tokio::join!(
        api.list_tasks(token, &api_query),
        api.conversations(token),
        async {
            match open {
                Some(id) => Some(api.conversation(token, id).await),
                None => None,
            }
        },
        user_zone(api, token)
    );
    let here = state.url();
    let (page, list_error) = match list {
        Ok(p) => (Some(p), None),
        Err(ApiFailure::Rejected(r)) => (None, Some(r.message)),
        // A form being shown again after a failure keeps what the user typed, even when the
        // list cannot be loaded either (the API or its database is down).
        Err(ApiFailure::Unavailable(why))
            if carry.add.is_some() || carry.chat_message.is_some() =>
        {
            tracing::warn!(error = %why, "task list unavailable; showing the form with its input");
            (
                None,
                Some(
                    "Your tasks cannot be loaded right now; what you typed is kept below."
                        .to_owned(),
                ),
            )
        }
        Err(other) => return failed(session, other, &here),
    };
    if matches!(conversations, Err(ApiFailure::Unauthorized(_))) {
        return to_signin(session, &here);
    }

    let now = OffsetDateTime::now_utc();
    let back = state.query();
    let (all_tasks, total) = match page {
        Some(p) => {
            let total = p.total;
            let views = p
                .items
                .into_iter()
                .map(|t| {
                    TaskView::new(
                        t,
                        now,
                        &zone,
                        |tag| state.with(|s| s.tag = tag.to_owned()).url(),
                        &back,
                    )
                })
                .collect::<Vec<_>>();
            (views, total)
        }
        None => (Vec::new(), 0),
    };
    let first = (state.page - 1) * PAGE_SIZE;
    let shown = all_tasks.len() as u32;
    // On "All", the completed ones go under the pending ones (collapsed), in list order.
    let (tasks, done): (Vec<TaskView>, Vec<TaskView>) = if state.status == "all" {
        all_tasks.into_iter().partition(|t| !t.completed)
    } else {
        (all_tasks, Vec::new())
    };
    let range = if total as u32 <= PAGE_SIZE && state.page == 1 {
        format!("{total} task{}", if total == 1 { "" } else { "s" })
    } else {
        format!("{}–{} of {total}", first + 1, first + shown)
    };
    let prev_url = (state.page > 1).then(|| {
        let mut s = state.clone();
        s.page -= 1;
        s.url()
    });
    let next_url = (i64::from(first + shown) < total).then(|| {
        let mut s = state.clone();
        s.page += 1;
        s.url()
    });

    // The chat panel degrades on its own: the task list stays usable without it.
    let mut chat_unavailable = false;
    let mut notice = None;
    let mut forget_conversation = false;
    let mut conversation_id = String::new();
    let mut messages = Vec::new();
    match detail {
        Some(Ok(d)) => {
            conversation_id = d.conversation.id.to_string();
            messages = message_views(d, now, &zone);
        }
        Some(Err(ApiFailure::Rejected(r))) if r.status == 404 => {
            notice = Some("That conversation no longer exists. Start a new one below.".to_owned());
            forget_conversation = from_cookie;
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "loading a conversation failed");
            chat_unavailable = true;
        }
        None => {}
    }
    let conversations = match conversations {
        Ok(list) => list
            .into_iter()
            .take(10)
            .map(|c| Link {
                current: c.id.to_string() == conversation_id,
                url: state
                    .with(|s| s.conversation = Some(c.id.to_string()))
                    .url(),
                label: Some(c.title)
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| truncate(&t, 48))
                    .unwrap_or_else(|| {
                        format!("Chat of {}", crate::views::iso_date(c.updated_at.date()))
                    }),
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing conversations failed");
            chat_unavailable = true;
            Vec::new()
        }
    };
    let add_open = carry.add.as_ref().is_some_and(|f| {
        f.errors.any() && f.errors.title.is_none()
            || !f.due_date.is_empty()
            || !f.tags.is_empty()
            || !f.description.is_empty()
    });
    let page = TasksPage {
        layout: Layout::new("Tasks", session),
        time_zone: zone.name().to_owned(),
        back,
        status: state.status.clone(),
        priority: state.priority.clone(),
        tag: state.tag.clone(),
        q: state.q.clone(),
        sort: state.sort.clone(),
        order: state.order.clone(),
        filtered: state.filtered(),
        status_tabs: [
            ("all", "All"),
            ("pending", "Pending"),
            ("completed", "Completed"),
        ]
        .into_iter()
        .map(|(value, label)| Link {
            label: label.to_owned(),
            url: state.with(|s| s.status = value.to_owned()).url(),
            current: state.status == value,
        })
        .collect(),
        clear_url: ListState {
            conversation: state.conversation.clone(),
            ..ListState::default()
        }
        .url(),
        tasks,
        done,
        chips: chips(state),
        total,
        range,
        prev_url,
        next_url,
        add: carry.add.unwrap_or_default(),
        add_open,
        list_error,
        chat: ChatPanel {
            conversation_id,
            conversations,
            messages,
            new_url: state.with(|s| s.conversation = Some("new".into())).url(),
            message: carry.chat_message.unwrap_or_default(),
            // One id per form shown, so a double submit or a browser resend is one turn.
            client_message_id: carry
                .chat_client_id
                .unwrap_or_else(uuid::Uuid::new_v4)
                .to_string(),
            errors: carry.chat_errors,
            notice,
            unavailable: chat_unavailable,
        },
    };
    let mut response = html(status, &page);
    if forget_conversation {
        response
            .headers_mut()
            .append(header::SET_COOKIE, session.clear(session::CONVERSATION));
    }
    response
}

/// The active filters as removable chips: each links to the list without it.
fn chips(state: &ListState) -> Vec<Link> {
    let mut chips = Vec::new();
    if !state.q.is_empty() {
        chips.push(Link {
            label: format!("Search: {}", truncate(&state.q, 30)),
            url: state.with(|s| s.q.clear()).url(),
            current: false,
        });
    }
    if !state.priority.is_empty() {
        chips.push(Link {
            label: format!("Priority: {}", state.priority),
            url: state.with(|s| s.priority.clear()).url(),
            current: false,
        });
    }
    if !state.tag.is_empty() {
        chips.push(Link {
            label: format!("Tag: #{}", truncate(&state.tag, 30)),
            url: state.with(|s| s.tag.clear()).url(),
            current: false,
        });
    }
    chips
}

/// The user's time zone, for showing dates. The API applies it itself to everything it
/// computes; if it cannot be read, dates are shown in UTC rather than failing the page.
pub async fn user_zone(api: &crate::api::Api, token: &str) -> UserZone {
    match api.me(token).await {
        Ok(me) => UserZone::from_stored(&me.user.time_zone),
        Err(e) => {
            tracing::warn!(error = %e, "reading the user's time zone failed; showing UTC");
            UserZone::utc()
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Messages for display. Tool results are shown compactly under the assistant message that
/// made the calls; separate `tool` messages are shown only when no assistant message lists
/// its calls (so nothing appears twice).
fn message_views(d: ConversationDetail, now: OffsetDateTime, zone: &UserZone) -> Vec<MessageView> {
    let calls_listed = d
        .messages
        .iter()
        .any(|m| m.role == Role::Assistant && !message_tool_calls(m).is_empty());
    d.messages
        .into_iter()
        .filter(|m| m.role != Role::Tool || !calls_listed)
        .map(|m| {
            let who = match m.role {
                Role::User => "You",
                Role::Assistant => "Assistant",
                Role::Tool => "Tool",
            };
            let tools = message_tool_calls(&m)
                .iter()
                .map(|c| ToolView::at(c, now, zone))
                .collect();
            let text = if m.role == Role::Tool {
                truncate(&m.content, 160)
            } else {
                m.content
            };
            MessageView {
                role: m.role.as_str().to_owned(),
                who,
                text,
                tools,
            }
        })
        .collect()
}

/// The add/edit form as typed, and what it asks the API for.
/// A priority that is not one of the three (only a script can send one) is the default,
/// as the select shows.
fn task_form(form: &TaskInput) -> (TaskForm, CreateTask) {
    let priority = match &form.priority {
        Choice::Valid(p) => *p,
        Choice::Missing | Choice::Invalid(_) => Priority::default(),
    };
    let values = TaskForm {
        title: form.title.clone(),
        description: form.description.clone(),
        priority: priority.as_str().to_owned(),
        due_date: form.due_date.trim().to_owned(),
        due_time: form.due_time.trim().to_owned(),
        tags: form.tags.clone(),
        errors: FieldErrors::default(),
    };
    let due_at = match (values.due_date.as_str(), values.due_time.as_str()) {
        ("", _) => None,
        (date, "") => Some(date.to_owned()),
        (date, time) => Some(format!("{date}T{time}")),
    };
    let tags: Vec<String> = values
        .tags
        .split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let input = CreateTask {
        title: values.title.clone(),
        description: Some(values.description.clone()).filter(|d| !d.trim().is_empty()),
        priority: Some(priority),
        due_at,
        tags: (!tags.is_empty()).then_some(tags),
    };
    (values, input)
}

/// The edit form replaces every editable field: empty optional fields are cleared.
fn replace_all(input: CreateTask) -> UpdateTask {
    UpdateTask {
        title: todo_wire::Patch::Set(input.title),
        description: input.description.into(),
        priority: input.priority.into(),
        due_at: input.due_at.into(),
        tags: input.tags.into(),
        ..UpdateTask::default()
    }
}

fn flash_back(session: &Session, state: &ListState, flash: Flash) -> Response {
    let mut r = see_other(&state.url());
    r.headers_mut()
        .append(header::SET_COOKIE, session.flash_cookie(flash));
    r
}

pub async fn create(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<TaskInput>,
) -> Response {
    let state = ListState::parse(&form.back);
    let token = token.as_str();
    let (mut values, input) = task_form(&form);
    match app.api.create_task(token, &input).await {
        Ok(_) => flash_back(&session, &state, Flash::Added),
        Err(ApiFailure::Rejected(r)) => {
            values.errors = FieldErrors::from_rejection(&r);
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let carry = Carry {
                add: Some(values),
                ..Carry::default()
            };
            render(&app, &session, token, &state, carry, status).await
        }
        Err(ApiFailure::Unavailable(why)) => {
            tracing::warn!(error = %why, "adding a task: todo-api unavailable");
            values.errors = FieldErrors::general(
                "The task service is unavailable right now, so the task may not have been added. Check your list, then try again in a moment.",
            );
            let carry = Carry {
                add: Some(values),
                ..Carry::default()
            };
            render(
                &app,
                &session,
                token,
                &state,
                carry,
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(e) => failed(&session, e, &state.url()),
    }
}

pub async fn edit_page(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let state = back_param(raw.as_deref());
    let (task, zone) = tokio::join!(app.api.get_task(&token, &id), user_zone(&app.api, &token));
    match task {
        Ok(task) => html(
            StatusCode::OK,
            &TaskEditPage {
                layout: Layout::new(format!("Edit task #{}", task.number), &session),
                id: task.id.to_string(),
                number: i64::from(task.number),
                back: state.query(),
                cancel_url: state.url(),
                form: TaskForm::from_task(&task, &zone),
            },
        ),
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

/// `?back=<query>` of the edit and delete pages.
fn back_param(raw: Option<&str>) -> ListState {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    pairs
        .into_iter()
        .find(|(k, _)| k == "back")
        .map(|(_, v)| ListState::parse(&v))
        .unwrap_or_default()
}

/// A task that is not there (deleted meanwhile, or never this user's): back to the list
/// with a notice. Anything else: the usual failure page.
fn gone_or_failed(session: &Session, state: &ListState, e: ApiFailure) -> Response {
    match e {
        ApiFailure::Rejected(r)
            if r.status == 404
                || r.code == "TASK_NOT_FOUND"
                || r.field.as_deref() == Some("id") =>
        {
            flash_back(session, state, Flash::TaskGone)
        }
        other => failed(session, other, &state.url()),
    }
}

pub async fn update(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<TaskInput>,
) -> Response {
    let state = ListState::parse(&form.back);
    let token = token.as_str();
    let (mut values, input) = task_form(&form);
    match app.api.update_task(token, &id, &replace_all(input)).await {
        Ok(_) => flash_back(&session, &state, Flash::Updated),
        Err(ApiFailure::Rejected(r)) if r.status == 422 && r.field.as_deref() != Some("id") => {
            values.errors = FieldErrors::from_rejection(&r);
            let number = app
                .api
                .get_task(token, &id)
                .await
                .map(|t| i64::from(t.number))
                .unwrap_or(0);
            html(
                StatusCode::UNPROCESSABLE_ENTITY,
                &TaskEditPage {
                    layout: Layout::new(format!("Edit task #{number}"), &session),
                    id: id.clone(),
                    number,
                    back: state.query(),
                    cancel_url: state.url(),
                    form: values,
                },
            )
        }
        Err(ApiFailure::Unavailable(why)) => {
            tracing::warn!(error = %why, "updating a task: todo-api unavailable");
            // Keep what the user typed: the edit page again, with the outage said plainly.
            values.errors = FieldErrors::general(
                "The task service is unavailable right now, so your changes were not saved. They are still here: try again in a moment.",
            );
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                &TaskEditPage {
                    layout: Layout::new("Edit task", &session).with_banner(API_DOWN),
                    id: id.clone(),
                    number: id.parse().unwrap_or(0),
                    back: state.query(),
                    cancel_url: state.url(),
                    form: values,
                },
            )
        }
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

pub async fn complete(
    state: State<AppState>,
    user: SignedIn,
    id: Path<String>,
    form: Form<BackInput>,
) -> Response {
    set_completed(state, user, id, form, true).await
}

pub async fn reopen(
    state: State<AppState>,
    user: SignedIn,
    id: Path<String>,
    form: Form<BackInput>,
) -> Response {
    set_completed(state, user, id, form, false).await
}

async fn set_completed(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<BackInput>,
    done: bool,
) -> Response {
    let state = ListState::parse(&form.back);
    match app.api.set_completed(&token, &id, done).await {
        Ok(task) if done => {
            let mut r = flash_back(&session, &state, Flash::Completed);
            let undo = Undo::Reopen(task.number).encode();
            r.headers_mut().append(
                header::SET_COOKIE,
                session.cookie(session::UNDO, &undo, Some(600)),
            );
            r
        }
        Ok(_) => flash_back(&session, &state, Flash::Reopened),
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

pub async fn delete_page(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let state = back_param(raw.as_deref());
    match app.api.get_task(&token, &id).await {
        Ok(task) => html(
            StatusCode::OK,
            &TaskDeletePage {
                layout: Layout::new(format!("Delete task #{}", task.number), &session),
                id: task.id.to_string(),
                number: i64::from(task.number),
                title: task.title,
                back: state.query(),
                cancel_url: state.url(),
            },
        ),
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

pub async fn delete(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Path(id): Path<String>,
    Form(form): Form<BackInput>,
) -> Response {
    let state = ListState::parse(&form.back);
    // What Undo brings back. Read first: once deleted, the task is gone from the API.
    let snapshot = match app.api.get_task(&token, &id).await {
        Ok(task) => Some(task),
        Err(e) => return gone_or_failed(&session, &state, e),
    };
    match app.api.delete_task(&token, &id).await {
        Ok(()) => {
            let mut r = flash_back(&session, &state, Flash::Deleted);
            // A task too large for a cookie (a long description) is deleted without an Undo.
            if let Some(undo) = snapshot
                .map(|t| Undo::Restore(Box::new(Snapshot::of(t))).encode())
                .filter(|u| u.len() <= UNDO_MAX)
            {
                r.headers_mut().append(
                    header::SET_COOKIE,
                    session.cookie(session::UNDO, &undo, Some(600)),
                );
            }
            r
        }
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

/// Cookies hold about 4 KB with their attributes; larger undo data is not kept.
const UNDO_MAX: usize = 3500;

/// What the notice's Undo button undoes, kept in the `todo_undo` cookie. The cookie is
/// the user's own data going back to the user's own account through the API, which checks
/// it like any input, so it needs no signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// Completing task N: reopen it.
    Reopen(i32),
    /// Deleting a task: add it again (the API gives it a new number; numbers are never
    /// reused).
    Restore(Box<Snapshot>),
}

/// A deleted task, as it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub task: CreateTask,
    pub completed: bool,
}

impl Snapshot {
    fn of(t: crate::api::Task) -> Snapshot {
        Snapshot {
            task: CreateTask {
                title: t.title,
                description: t.description,
                priority: Some(t.priority),
                due_at: t.due_at.map(|d| todo_wire::timestamp::format(&d)),
                tags: (!t.tags.is_empty()).then_some(t.tags),
            },
            completed: t.completed,
        }
    }
}

impl Undo {
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        match self {
            Undo::Reopen(n) => format!("reopen.{n}"),
            Undo::Restore(s) => format!(
                "restore.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(serde_json::to_vec(s).unwrap_or_default())
            ),
        }
    }

    pub fn decode(raw: &str) -> Option<Undo> {
        use base64::Engine as _;
        let (kind, value) = raw.split_once('.')?;
        match kind {
            "reopen" => value.parse().ok().map(Undo::Reopen),
            "restore" => {
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(value)
                    .ok()?;
                serde_json::from_slice(&bytes)
                    .ok()
                    .map(|s| Undo::Restore(Box::new(s)))
            }
            _ => None,
        }
    }

    /// Whether this undoes what `flash` reports (so the button is shown next to it).
    pub fn matches(&self, flash: Option<Flash>) -> bool {
        matches!(
            (self, flash),
            (Undo::Reopen(_), Some(Flash::Completed)) | (Undo::Restore(_), Some(Flash::Deleted))
        )
    }
}

/// `POST /tasks/undo`: undoes the last complete or delete (the `todo_undo` cookie).
pub async fn undo(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<BackInput>,
) -> Response {
    let state = ListState::parse(&form.back);
    let undo = session.undo.as_deref().and_then(Undo::decode);
    let result = match &undo {
        None => Ok(Flash::NothingToUndo),
        Some(Undo::Reopen(n)) => app
            .api
            .set_completed(&token, &n.to_string(), false)
            .await
            .map(|_| Flash::Reopened),
        Some(Undo::Restore(s)) => match app.api.create_task(&token, &s.task).await {
            Ok(t) if s.completed => app
                .api
                .set_completed(&token, &t.id.to_string(), true)
                .await
                .map(|_| Flash::Restored),
            Ok(_) => Ok(Flash::Restored),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(flash) => {
            let mut r = flash_back(&session, &state, flash);
            r.headers_mut()
                .append(header::SET_COOKIE, session.clear(session::UNDO));
            r
        }
        Err(e) => gone_or_failed(&session, &state, e),
    }
}

/// Used by the chat handler: back to the page with this conversation open.
pub fn with_conversation(state: &ListState, id: &str) -> ListState {
    let mut s = state.clone();
    s.conversation = Some(id.to_owned());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_state_round_trips_and_drops_what_it_does_not_know() {
        let s = ListState::parse(
            "status=pending&priority=high&tag=%23Work&q=milk+run&sort=due_at&order=asc&page=2&c=new&evil=1&sort2=x",
        );
        assert_eq!(s.status, "pending");
        assert_eq!(s.tag, "Work");
        assert_eq!(s.q, "milk run");
        assert_eq!(s.page, 2);
        assert_eq!(s.conversation.as_deref(), Some("new"));
        assert_eq!(ListState::parse(&s.query()), s);
        let api = crate::api::list_query_string(&s.api_query()).unwrap_or_default();
        assert!(!api.contains("evil") && !api.contains("c="), "{api}");
        assert!(api.contains("offset=50"), "{api}");
        let bad = ListState::parse("status=done&sort=colour&order=up&page=-3&c=../x");
        assert_eq!(bad, ListState::default());
        assert_eq!(bad.url(), "/tasks");
        assert!(!bad.filtered());
    }

    #[test]
    fn forms_become_api_input() {
        let f: TaskInput = serde_urlencoded::from_str(
            "title=Call+mom&priority=high&due_date=2026-11-27&due_time=17%3A30&tags=family%2C+phone&description=+",
        )
        .unwrap_or_default();
        let (values, input) = task_form(&f);
        assert_eq!(values.title, "Call mom");
        assert_eq!(input.due_at.as_deref(), Some("2026-11-27T17:30"));
        assert_eq!(
            input.tags,
            Some(vec!["family".to_owned(), "phone".to_owned()])
        );
        assert_eq!(input.description, None);
        let f: TaskInput =
            serde_urlencoded::from_str("title=x&priority=urgent").unwrap_or_default();
        let (_, input) = task_form(&f);
        assert_eq!(
            (input.priority, input.due_at, input.tags),
            (Some(Priority::Medium), None, None)
        );
    }
}
