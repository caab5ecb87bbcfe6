//! Undo of the last complete or delete: what the notice's Undo button undoes, kept in the
//! `todo_undo` cookie, and `POST /tasks/undo`.

use super::{ListState, flash_back, gone_or_failed};
use crate::api::CreateTask;
use crate::forms::{BackInput, Form};
use crate::routes::{AppState, SignedIn};
use crate::session::{self, Flash};
use axum::extract::State;
use axum::http::header;
use axum::response::Response;

/// Cookies hold about 4 KB with their attributes; larger undo data is not kept.
pub const UNDO_MAX: usize = 3500;

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
    pub fn of(t: crate::api::Task) -> Snapshot {
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
