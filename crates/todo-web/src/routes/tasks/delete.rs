//! Deleting a task: the confirmation page for when JavaScript is off (`task_delete.html`;
//! the script deletes at once and offers Undo instead) and the form post, which keeps what
//! Undo brings back.

use super::undo::{Snapshot, UNDO_MAX, Undo};
use super::{ListState, back_param, flash_back, gone_or_failed};
use crate::forms::{BackInput, Form};
use crate::pages::html;
use crate::routes::{AppState, SignedIn};
use crate::session::{self, Flash};
use crate::views::Layout;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

/// The delete confirmation page (`task_delete.html`).
#[derive(Template)]
#[template(path = "task_delete.html")]
pub struct TaskDeletePage {
    pub layout: Layout,
    pub id: String,
    pub number: i64,
    pub title: String,
    pub back: String,
    pub cancel_url: String,
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
