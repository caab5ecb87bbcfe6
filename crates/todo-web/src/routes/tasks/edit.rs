//! The edit page of a task (`task_edit.html`, also shown in place of the task's row by the
//! page's script) and its form post.

use super::{ListState, back_param, flash_back, gone_or_failed, replace_all, task_form, user_zone};
use crate::api::ApiFailure;
use crate::forms::{Form, TaskInput};
use crate::pages::html;
use crate::routes::{AppState, SignedIn};
use crate::session::Flash;
use crate::views::{API_DOWN, FieldErrors, Layout, TaskForm};
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

/// The edit page (`task_edit.html`).
#[derive(Template)]
#[template(path = "task_edit.html")]
pub struct TaskEditPage {
    pub layout: Layout,
    pub id: String,
    pub number: i64,
    pub back: String,
    pub cancel_url: String,
    pub form: TaskForm,
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
