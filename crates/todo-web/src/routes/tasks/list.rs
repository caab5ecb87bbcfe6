//! The tasks page: the list (filters, chips, the pending tasks with the completed ones
//! collapsed under them), the add form and the chat panel; and the list's own actions (add,
//! complete, reopen), which come back to it.

use super::undo::Undo;
use super::{ListState, PAGE_SIZE, flash_back, gone_or_failed, task_form, truncate, user_zone};
use crate::api::{ApiFailure, ConversationDetail, Role, message_tool_calls};
use crate::forms::{BackInput, Form, TaskInput};
use crate::pages::html;
use crate::routes::{AppState, SignedIn, failed, to_signin};
use crate::session::{self, Flash, Session};
use crate::views::{FieldErrors, Layout, Link, MessageView, TaskForm, TaskView, ToolView};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use time::OffsetDateTime;
use todo_wire::UserZone;

/// The chat panel of the tasks page.
pub struct ChatPanel {
    pub conversation_id: String,
    /// Sent with the message: a repeat with the same id returns the stored answer.
    pub client_message_id: String,
    pub conversations: Vec<Link>,
    pub messages: Vec<MessageView>,
    pub new_url: String,
    pub message: String,
    pub errors: FieldErrors,
    /// Chat works but something is worth saying (e.g. a conversation that no longer exists).
    pub notice: Option<String>,
    /// The chat endpoints could not be reached: the rest of the page still works.
    pub unavailable: bool,
}

/// The tasks page (`tasks.html`).
#[derive(Template)]
#[template(path = "tasks.html")]
pub struct TasksPage {
    pub layout: Layout,
    /// The user's IANA zone, which the dates on the page are in.
    pub time_zone: String,
    /// The page's own query string, sent back with every form so actions return here.
    pub back: String,
    pub status: String,
    pub priority: String,
    pub tag: String,
    pub q: String,
    pub sort: String,
    pub order: String,
    pub filtered: bool,
    pub status_tabs: Vec<Link>,
    pub clear_url: String,
    /// The pending tasks (all tasks unless the list shows "All").
    pub tasks: Vec<TaskView>,
    /// On "All", the completed tasks of this page, collapsed under the pending ones.
    pub done: Vec<TaskView>,
    /// Active filters, each a link to the list without it.
    pub chips: Vec<Link>,
    pub total: i64,
    pub range: String,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub add: TaskForm,
    pub add_open: bool,
    pub list_error: Option<String>,
    pub chat: ChatPanel,
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
    let (all_tasks, total, more) = match page {
        Some(p) => {
            let (total, more) = (p.total, p.total_is_lower_bound);
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
            (views, total, more)
        }
        None => (Vec::new(), 0, false),
    };
    let first = (state.page - 1) * PAGE_SIZE;
    let shown = all_tasks.len() as u32;
    // On "All", the completed ones go under the pending ones (collapsed), in list order.
    let (tasks, done): (Vec<TaskView>, Vec<TaskView>) = if state.status == "all" {
        all_tasks.into_iter().partition(|t| !t.completed)
    } else {
        (all_tasks, Vec::new())
    };
    let range = if total as u32 <= PAGE_SIZE && state.page == 1 && !more {
        format!("{total} task{}", if total == 1 { "" } else { "s" })
    } else {
        // Past the API's count cap the total is a floor: "1–50 of 1000+".
        let plus = if more { "+" } else { "" };
        format!("{}–{} of {total}{plus}", first + 1, first + shown)
    };
    let prev_url = (state.page > 1).then(|| {
        let mut s = state.clone();
        s.page -= 1;
        s.url()
    });
    let next_url = (i64::from(first + shown) < total || (more && shown == PAGE_SIZE)).then(|| {
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
