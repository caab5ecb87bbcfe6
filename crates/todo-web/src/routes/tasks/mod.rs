//! The task pages, one module each (handler, view model, template): the list with its add
//! form and chat panel ([`list`], `tasks.html`), the edit page ([`edit`], `task_edit.html`),
//! the delete confirmation for when JavaScript is off ([`delete`], `task_delete.html`), and
//! the Undo of the last complete or delete ([`undo`]). Here: what they share, the list's
//! state in the query string and the task form.

pub mod delete;
pub mod edit;
pub mod list;
pub mod undo;

pub use delete::{delete, delete_page};
pub use edit::{edit_page, update};
pub use list::{Carry, complete, create, page, render, reopen};
pub use undo::undo;

use super::failed;
use crate::api::{ApiFailure, CreateTask, ListQuery, Priority, UpdateTask};
use crate::forms::{Choice, TaskInput};
use crate::session::{Flash, Session, see_other};
use crate::views::{FieldErrors, TaskForm};
use axum::http::header;
use axum::response::Response;
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
