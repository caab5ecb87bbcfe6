//! What the templates show: page structs (askama checks each template against its struct
//! at compile time) and the small view models that turn API data into display text.

use crate::api::{Rejection, Task, ToolCall};
use crate::assets;
use crate::session::Session;
use askama::Template;
use serde_json::Value;
use time::{Date, OffsetDateTime};
use todo_wire::UserZone;

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub js: &'static str,
    pub csrf: String,
    pub user: Option<String>,
    pub flash: Option<&'static str>,
    pub flash_warning: bool,
    /// The notice can be undone (`POST /tasks/undo`).
    pub undo: bool,
    /// A page-wide problem, e.g. "the API is unavailable".
    pub banner: Option<String>,
}

impl Layout {
    pub fn new(title: impl Into<String>, session: &Session) -> Layout {
        Layout {
            title: title.into(),
            css: &assets::CSS.path,
            js: &assets::JS.path,
            csrf: session.csrf_token.clone(),
            user: session.claims.as_ref().map(|c| c.name.clone()),
            flash: session.flash.map(|f| f.message()),
            flash_warning: session.flash.is_some_and(|f| f.is_warning()),
            undo: session
                .undo
                .as_deref()
                .and_then(crate::routes::tasks::undo::Undo::decode)
                .is_some_and(|u| u.matches(session.flash)),
            banner: None,
        }
    }

    pub fn with_banner(mut self, banner: impl Into<String>) -> Layout {
        self.banner = Some(banner.into());
        self
    }
}

pub const API_DOWN: &str = "The task service is not reachable right now, so this page can't show or change your tasks. Please try again in a moment.";

/// Errors for a form, next to the field they concern; anything else is `general`.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors {
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub due: Option<String>,
    pub tags: Option<String>,
    pub email: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub message: Option<String>,
    pub time_zone: Option<String>,
    pub general: Option<String>,
}

impl FieldErrors {
    /// Places an API refusal next to its field.
    pub fn from_rejection(r: &Rejection) -> FieldErrors {
        let mut e = FieldErrors::default();
        let text = sentence(r.field.as_deref(), &r.message);
        let slot = match r.field.as_deref() {
            Some("title") => &mut e.title,
            Some("description") => &mut e.description,
            Some("priority") => &mut e.priority,
            Some("due_at") => &mut e.due,
            Some(f) if f == "tags" || f.starts_with("tags[") => &mut e.tags,
            Some("email") => &mut e.email,
            Some("password") => &mut e.password,
            Some("name") => &mut e.name,
            Some("message") => &mut e.message,
            Some("time_zone") => &mut e.time_zone,
            _ => &mut e.general,
        };
        *slot = Some(text);
        e
    }

    pub fn general(message: impl Into<String>) -> FieldErrors {
        FieldErrors {
            general: Some(message.into()),
            ..FieldErrors::default()
        }
    }

    pub fn any(&self) -> bool {
        [
            &self.title,
            &self.description,
            &self.priority,
            &self.due,
            &self.tags,
            &self.email,
            &self.password,
            &self.name,
            &self.message,
            &self.time_zone,
            &self.general,
        ]
        .iter()
        .any(|e| e.is_some())
    }
}

/// "must not be empty" -> "Title must not be empty."
fn sentence(field: Option<&str>, message: &str) -> String {
    let label = match field {
        Some("title") => "Title",
        Some("description") => "Description",
        Some("priority") => "Priority",
        Some("due_at") => "Due date",
        Some(f) if f == "tags" || f.starts_with("tags[") => "Tags",
        Some("email") => "Email",
        Some("password") => "Password",
        Some("name") => "Name",
        Some("message") => "Message",
        Some("time_zone") => "Time zone",
        _ => "",
    };
    let message = message.trim().trim_end_matches('.');
    // "must not be empty" needs its subject; "each tag must ..." already has one.
    let predicate = ["must ", "is ", "cannot ", "should ", "given "]
        .iter()
        .any(|p| message.starts_with(p));
    if label.is_empty() || !predicate {
        let mut m = message.to_owned();
        if let Some(first) = m.get(0..1) {
            let upper = first.to_uppercase();
            m.replace_range(0..1, &upper);
        }
        format!("{m}.")
    } else {
        format!("{label} {message}.")
    }
}

/// The add/edit form's values (as typed) and errors.
#[derive(Debug, Clone)]
pub struct TaskForm {
    pub title: String,
    pub description: String,
    pub priority: String,
    pub due_date: String,
    pub due_time: String,
    pub tags: String,
    pub errors: FieldErrors,
}

impl Default for TaskForm {
    fn default() -> TaskForm {
        TaskForm {
            title: String::new(),
            description: String::new(),
            priority: "medium".into(),
            due_date: String::new(),
            due_time: String::new(),
            tags: String::new(),
            errors: FieldErrors::default(),
        }
    }
}

impl TaskForm {
    /// The form for a stored task, its due date as the user's wall-clock date and time
    /// (which is how the API reads a date-time without an offset).
    pub fn from_task(t: &Task, zone: &UserZone) -> TaskForm {
        let (due_date, due_time) = match t.due_at {
            Some(d) => {
                let local = zone.local(d);
                (
                    iso_date(local.date()),
                    if zone.is_date_only(d) {
                        String::new()
                    } else {
                        format!("{:02}:{:02}", local.hour(), local.minute())
                    },
                )
            }
            None => (String::new(), String::new()),
        };
        TaskForm {
            title: t.title.clone(),
            description: t.description.clone().unwrap_or_default(),
            priority: t.priority.as_str().to_owned(),
            due_date,
            due_time,
            tags: t.tags.join(", "),
            errors: FieldErrors::default(),
        }
    }
}

pub fn iso_date(d: Date) -> String {
    let sign = if d.year() < 0 { "-" } else { "" };
    format!(
        "{sign}{:04}-{:02}-{:02}",
        d.year().unsigned_abs(),
        u8::from(d.month()),
        d.day()
    )
}

/// How a due date stands relative to today, in the user's time zone (the API's rules:
/// `todo_wire::zone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueState {
    Overdue,
    Today,
    Upcoming,
}

pub struct DueView {
    pub label: String,
    pub iso: String,
    pub state: DueState,
}

impl DueView {
    pub fn new(
        due: OffsetDateTime,
        now: OffsetDateTime,
        completed: bool,
        zone: &UserZone,
    ) -> DueView {
        let today = zone.date_of(now);
        let local = zone.local(due);
        let date = local.date();
        // Local midnight reads as a date without a time, due all that day; a time is a
        // deadline.
        let has_time = !zone.is_date_only(due);
        let state = if zone.is_overdue(due, now) {
            DueState::Overdue
        } else if date == today {
            DueState::Today
        } else {
            DueState::Upcoming
        };
        let state = if completed { DueState::Upcoming } else { state };
        let day = if date == today {
            "today".to_owned()
        } else if Some(date) == today.next_day() {
            "tomorrow".to_owned()
        } else if Some(date) == today.previous_day() {
            "yesterday".to_owned()
        } else if date.year() == today.year() {
            format!("{} {} {}", weekday(date), date.day(), month(date))
        } else {
            format!("{} {} {}", date.day(), month(date), date.year())
        };
        let time = if has_time {
            format!(" {:02}:{:02}", local.hour(), local.minute())
        } else {
            String::new()
        };
        let label = match state {
            DueState::Overdue => format!("Overdue · {day}{time}"),
            DueState::Today => format!("Due today{time}"),
            DueState::Upcoming => format!("Due {day}{time}"),
        };
        DueView {
            label,
            iso: todo_wire::timestamp::format(&due),
            state,
        }
    }

    pub fn class(&self) -> &'static str {
        match self.state {
            DueState::Overdue => "overdue",
            DueState::Today => "today",
            DueState::Upcoming => "upcoming",
        }
    }
}

fn weekday(d: Date) -> &'static str {
    match d.weekday() {
        time::Weekday::Monday => "Mon",
        time::Weekday::Tuesday => "Tue",
        time::Weekday::Wednesday => "Wed",
        time::Weekday::Thursday => "Thu",
        time::Weekday::Friday => "Fri",
        time::Weekday::Saturday => "Sat",
        time::Weekday::Sunday => "Sun",
    }
}

fn month(d: Date) -> &'static str {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::from(u8::from(d.month())).saturating_sub(1) % 12]
}

pub struct Link {
    pub label: String,
    pub url: String,
    pub current: bool,
}

pub struct TaskView {
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    /// Every level is shown, so a row says where it stands without knowing the default.
    pub priority: String,
    pub due: Option<DueView>,
    pub tags: Vec<Link>,
    /// `?back=...` for the edit and delete links, or nothing on the default list.
    pub back_suffix: String,
}

impl TaskView {
    /// Rows name tasks by number (the API takes numbers as ids): short URLs, light pages.
    pub fn new(
        t: Task,
        now: OffsetDateTime,
        zone: &UserZone,
        tag_url: impl Fn(&str) -> String,
        back: &str,
    ) -> TaskView {
        TaskView {
            back_suffix: if back.is_empty() {
                String::new()
            } else {
                format!("?back={}", crate::routes::encode(back))
            },
            due: t.due_at.map(|d| DueView::new(d, now, t.completed, zone)),
            tags: t
                .tags
                .iter()
                .map(|tag| Link {
                    label: tag.clone(),
                    url: tag_url(tag),
                    current: false,
                })
                .collect(),
            number: i64::from(t.number),
            title: t.title,
            description: t.description,
            completed: t.completed,
            priority: t.priority.as_str().to_owned(),
        }
    }

    /// Row classes: done, overdue, due today.
    pub fn class(&self) -> String {
        let mut c = String::from("task");
        if self.completed {
            c.push_str(" done");
        }
        if let Some(d) = &self.due
            && d.state != DueState::Upcoming
        {
            c.push(' ');
            c.push_str(d.class());
        }
        c
    }

    /// The action of the round button: complete a pending task, reopen a done one.
    pub fn toggle(&self) -> &'static str {
        if self.completed { "reopen" } else { "complete" }
    }

    pub fn toggle_label(&self) -> &'static str {
        if self.completed { "Reopen" } else { "Complete" }
    }
}

pub struct ToolView {
    /// What happened, in plain words ("Added #9 “Buy milk”, due Fri 27 Nov").
    pub plain: String,
    /// The raw call, shown behind a disclosure.
    pub name: String,
    pub summary: String,
    pub failed: bool,
}

impl ToolView {
    pub fn new(call: &ToolCall) -> ToolView {
        ToolView::at(call, OffsetDateTime::now_utc(), &UserZone::utc())
    }

    /// The view, with due dates said in the user's zone relative to `now`.
    pub fn at(call: &ToolCall, now: OffsetDateTime, zone: &UserZone) -> ToolView {
        let args = match &call.arguments {
            Value::Object(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("{k}: {}", short(v, 40)))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Null => String::new(),
            other => short(other, 60),
        };
        let failed = call.is_error || call.result.get("error").is_some();
        ToolView {
            plain: plain_words(call, failed, now, zone),
            name: call.tool.clone(),
            summary: format!("({args}) → {}", result_summary(&call.result)),
            failed,
        }
    }
}

/// One sentence for a tool call, as a person would report it.
fn plain_words(call: &ToolCall, failed: bool, now: OffsetDateTime, zone: &UserZone) -> String {
    let verb = match call.tool.as_str() {
        "add_task" => "add the task",
        "update_task" => "change the task",
        "complete_task" => "complete the task",
        "delete_task" => "delete the task",
        "get_task" => "look the task up",
        "list_tasks" => "list your tasks",
        _ => "do that",
    };
    if failed {
        let e = call.result.get("error").unwrap_or(&call.result);
        let msg = e.get("message").unwrap_or(e);
        return format!("Could not {verb}: {}", short(msg, 80));
    }
    let task = call.result.get("task").unwrap_or(&call.result);
    let label = match (
        task.get("number"),
        task.get("title").and_then(Value::as_str),
    ) {
        (Some(n), Some(t)) => format!("#{n} “{}”", short(&Value::String(t.into()), 40)),
        (Some(n), None) => format!("#{n}"),
        _ => match call
            .arguments
            .get("id")
            .or_else(|| call.arguments.get("number"))
        {
            Some(id) => format!("#{}", short(id, 12)),
            None => "a task".to_owned(),
        },
    };
    let due = task
        .get("due_at")
        .and_then(Value::as_str)
        .and_then(|d| todo_wire::timestamp::parse(d).ok())
        .map(|d| {
            let label = DueView::new(d, now, false, zone).label;
            let mut chars = label.chars();
            match chars.next() {
                Some(first) => format!(", {}{}", first.to_lowercase(), chars.as_str()),
                None => String::new(),
            }
        })
        .unwrap_or_default();
    match call.tool.as_str() {
        "add_task" => format!("Added {label}{due}"),
        "update_task" => format!("Updated {label}{due}"),
        "complete_task" => format!("Completed {label}"),
        "delete_task" => format!("Deleted {label}"),
        "get_task" => format!("Looked up {label}"),
        "list_tasks" => {
            let n = ["items", "tasks"]
                .iter()
                .find_map(|k| call.result.get(*k).and_then(Value::as_array))
                .map(|items| {
                    call.result
                        .get("total")
                        .and_then(Value::as_i64)
                        .unwrap_or(items.len() as i64)
                });
            match n {
                Some(0) => "Looked through your tasks: none matched".to_owned(),
                Some(1) => "Looked through your tasks: 1 found".to_owned(),
                Some(n) => format!("Looked through your tasks: {n} found"),
                None => "Looked through your tasks".to_owned(),
            }
        }
        other => format!("Ran {other}"),
    }
}

fn short(v: &Value, max: usize) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    }
}

/// A task -> "#4 call mom"; a list -> "3 tasks"; an error -> its message.
fn result_summary(v: &Value) -> String {
    if let Some(e) = v.get("error") {
        let msg = e.get("message").unwrap_or(e);
        return format!("error: {}", short(msg, 60));
    }
    let task = v.get("task").unwrap_or(v);
    if let (Some(n), Some(t)) = (
        task.get("number"),
        task.get("title").and_then(Value::as_str),
    ) {
        let done = if task.get("completed").and_then(Value::as_bool) == Some(true) {
            " ✓"
        } else {
            ""
        };
        return format!("#{n} {}{done}", short(&Value::String(t.into()), 40));
    }
    for key in ["items", "tasks"] {
        if let Some(items) = v.get(key).and_then(Value::as_array) {
            let n = v
                .get("total")
                .and_then(Value::as_i64)
                .unwrap_or(items.len() as i64);
            return format!("{n} task{}", if n == 1 { "" } else { "s" });
        }
    }
    if let Some(items) = v.as_array() {
        return format!(
            "{} item{}",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        );
    }
    if v.get("deleted").is_some() || v.get("ok").is_some() {
        return "ok".into();
    }
    short(v, 60)
}

/// One tool call of the chat log on its own (the same markup as in the page), for the
/// streamed reply, where each call is shown as soon as it returned.
#[derive(Template)]
#[template(path = "chat_tool.html")]
pub struct ToolItem<'a> {
    pub t: &'a ToolView,
}

pub struct MessageView {
    pub role: String,
    pub who: &'static str,
    pub text: String,
    pub tools: Vec<ToolView>,
}

#[derive(Template)]
#[template(path = "auth.html")]
pub struct AuthPage {
    pub layout: Layout,
    pub signup: bool,
    pub next: String,
    pub name: String,
    pub email: String,
    /// The zone chosen in the fallback select (scripts off), kept after a refusal.
    pub time_zone: String,
    /// The select's choices.
    pub zones: &'static [String],
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub time_zone: String,
    pub zones: &'static [String],
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub retry_url: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn due_dates_stand_out_when_overdue_or_today() {
        let utc = UserZone::utc();
        let now = datetime!(2026-11-25 10:00 UTC);
        let v = DueView::new(datetime!(2026-11-24 0:00 UTC), now, false, &utc);
        assert_eq!(
            (v.state, v.label.as_str()),
            (DueState::Overdue, "Overdue · yesterday")
        );
        let v = DueView::new(datetime!(2026-11-25 0:00 UTC), now, false, &utc);
        assert_eq!((v.state, v.label.as_str()), (DueState::Today, "Due today"));
        let v = DueView::new(datetime!(2026-11-25 9:00 UTC), now, false, &utc);
        assert_eq!(
            v.state,
            DueState::Overdue,
            "a deadline earlier today has passed"
        );
        let v = DueView::new(datetime!(2026-11-25 17:30 UTC), now, false, &utc);
        assert_eq!(v.label, "Due today 17:30");
        let v = DueView::new(datetime!(2026-11-27 0:00 UTC), now, false, &utc);
        assert_eq!(v.label, "Due Fri 27 Nov");
        let v = DueView::new(datetime!(2026-11-20 0:00 UTC), now, true, &utc);
        assert_eq!(v.state, DueState::Upcoming, "done tasks are never overdue");
        let v = DueView::new(datetime!(2027-01-02 0:00 UTC), now, false, &utc);
        assert_eq!(v.label, "Due 2 Jan 2027");
    }

    #[test]
    fn due_dates_are_the_users_days() {
        let auckland = UserZone::parse("Pacific/Auckland").unwrap();
        let la = UserZone::parse("America/Los_Angeles").unwrap();
        let kolkata = UserZone::parse("Asia/Kolkata").unwrap();
        // 2026-11-25 10:00 UTC is the 25th 23:00 in Auckland (UTC+13), the 25th 02:00 in
        // Los Angeles (UTC-8) and the 25th 15:30 in Kolkata.
        let now = datetime!(2026-11-25 10:00 UTC);
        // Auckland's 26th starts at 2026-11-25 11:00 UTC: a date-only task for tomorrow.
        let v = DueView::new(datetime!(2026-11-25 11:00 UTC), now, false, &auckland);
        assert_eq!(
            (v.state, v.label.as_str()),
            (DueState::Upcoming, "Due tomorrow")
        );
        // The same instant in Los Angeles is 03:00 today: a deadline later today.
        let v = DueView::new(datetime!(2026-11-25 11:00 UTC), now, false, &la);
        assert_eq!(
            (v.state, v.label.as_str()),
            (DueState::Today, "Due today 03:00")
        );
        // Kolkata's 25th began at 2026-11-24 18:30 UTC: a date-only task due today.
        let v = DueView::new(datetime!(2026-11-24 18:30 UTC), now, false, &kolkata);
        assert_eq!((v.state, v.label.as_str()), (DueState::Today, "Due today"));
        // In UTC that instant is yesterday evening, a deadline that passed.
        let v = DueView::new(
            datetime!(2026-11-24 18:30 UTC),
            now,
            false,
            &UserZone::utc(),
        );
        assert_eq!(v.state, DueState::Overdue);
        // Across the DST change (Los Angeles falls back on 2026-11-01): local midnight of the
        // 2nd is 08:00 UTC, a date without a time.
        let now = datetime!(2026-11-01 20:00 UTC);
        let v = DueView::new(datetime!(2026-11-02 8:00 UTC), now, false, &la);
        assert_eq!(v.label, "Due tomorrow");
        let form = TaskForm::from_task(
            &Task {
                due_at: Some(datetime!(2026-11-02 8:00 UTC)),
                ..sample_task()
            },
            &la,
        );
        assert_eq!(
            (form.due_date.as_str(), form.due_time.as_str()),
            ("2026-11-02", "")
        );
    }

    fn sample_task() -> Task {
        serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "number": 1,
            "title": "t",
            "description": null,
            "completed": false,
            "priority": "medium",
            "due_at": null,
            "tags": [],
            "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-01T00:00:00Z",
            "completed_at": null
        }))
        .unwrap()
    }

    #[test]
    fn tool_calls_are_said_in_plain_words() {
        let now = datetime!(2026-11-25 10:00 UTC);
        let utc = UserZone::utc();
        let call = |tool: &str, arguments: Value, result: Value| ToolCall {
            tool: tool.into(),
            arguments,
            result,
            is_error: false,
        };
        let added = call(
            "add_task",
            serde_json::json!({"title": "Buy milk"}),
            serde_json::json!({"number": 9, "title": "Buy milk", "due_at": "2026-11-27T00:00:00Z"}),
        );
        assert_eq!(
            ToolView::at(&added, now, &utc).plain,
            "Added #9 “Buy milk”, due Fri 27 Nov"
        );
        let listed = call(
            "list_tasks",
            serde_json::json!({"status": "pending"}),
            serde_json::json!({"items": [{}, {}], "total": 2}),
        );
        assert_eq!(
            ToolView::at(&listed, now, &utc).plain,
            "Looked through your tasks: 2 found"
        );
        let failed = ToolCall {
            is_error: true,
            ..call(
                "delete_task",
                serde_json::json!({"id": "7"}),
                serde_json::json!({"error": {"message": "task 7 not found"}}),
            )
        };
        let v = ToolView::at(&failed, now, &utc);
        assert!(v.failed);
        assert_eq!(v.plain, "Could not delete the task: task 7 not found");
        let deleted = call(
            "delete_task",
            serde_json::json!({"id": "7"}),
            serde_json::json!({"deleted": true}),
        );
        assert_eq!(ToolView::at(&deleted, now, &utc).plain, "Deleted #7");
    }

    #[test]
    fn api_errors_land_next_to_their_field() {
        let r = |field: Option<&str>, message: &str| Rejection {
            status: 422,
            code: "VALIDATION_ERROR".into(),
            message: message.into(),
            field: field.map(str::to_owned),
        };
        let e = FieldErrors::from_rejection(&r(Some("title"), "must not be empty"));
        assert_eq!(e.title.as_deref(), Some("Title must not be empty."));
        let e = FieldErrors::from_rejection(&r(Some("due_at"), "\"x\" is not an ISO 8601 date"));
        assert_eq!(e.due.as_deref(), Some("\"x\" is not an ISO 8601 date."));
        let e = FieldErrors::from_rejection(&r(Some("tags[0]"), "tag must not be empty"));
        assert!(e.tags.is_some());
        let e = FieldErrors::from_rejection(&r(None, "too many attempts; try again in 5 s"));
        assert_eq!(
            e.general.as_deref(),
            Some("Too many attempts; try again in 5 s.")
        );
        assert!(e.any());
    }

    #[test]
    fn tool_calls_are_summarised_compactly() {
        let call = ToolCall {
            tool: "add_task".into(),
            arguments: serde_json::json!({"title": "call mom", "due_at": "2026-11-27", "description": null}),
            result: serde_json::json!({"number": 4, "title": "call mom", "completed": false}),
            is_error: false,
        };
        let v = ToolView::new(&call);
        assert_eq!(v.name, "add_task");
        // Argument order follows the API's JSON; both arguments are there, nulls are not.
        assert!(v.summary.contains("title: call mom"), "{}", v.summary);
        assert!(v.summary.contains("due_at: 2026-11-27"), "{}", v.summary);
        assert!(!v.summary.contains("description"), "{}", v.summary);
        assert!(v.summary.ends_with(") → #4 call mom"), "{}", v.summary);
        let list = ToolCall {
            tool: "list_tasks".into(),
            arguments: serde_json::json!({}),
            result: serde_json::json!({"items": [{}, {}], "total": 2}),
            is_error: false,
        };
        assert_eq!(ToolView::new(&list).summary, "() → 2 tasks");
    }
}
