//! `POST /chat`: one chat turn. The API runs the agent (and changes tasks through its
//! tools); this handler remembers the conversation and redirects back to the page with it
//! open, where the reply, the tool calls and the updated task list are rendered.

use super::tasks::{Carry, ListState, render, with_conversation};
use super::{AppState, Form, failed, signed_in};
use crate::api::ApiFailure;
use crate::session::{self, Session, see_other};
use crate::views::FieldErrors;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

pub use todo_wire::chat::MESSAGE_MAX;

pub async fn send(
    State(app): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let state = ListState::parse(form.get("back"));
    let token = match signed_in(&session, &state.url()) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let message = form.get("message").trim().to_owned();
    let conversation = uuid::Uuid::parse_str(form.get("conversation_id")).ok();
    // Checked here too, so an empty or oversized message is answered without a round trip.
    let too_long = message.chars().count() > MESSAGE_MAX;
    if message.is_empty() || too_long {
        let error = if too_long {
            format!("Message must be at most {MESSAGE_MAX} characters.")
        } else {
            "Type a message first.".to_owned()
        };
        let errors = FieldErrors {
            message: Some(error),
            ..FieldErrors::default()
        };
        return again(
            &app,
            &session,
            token,
            &state,
            &message,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match app.api.chat(token, conversation, &message).await {
        Ok(reply) => {
            let conversation_id = reply.conversation_id.to_string();
            if let Some(e) = &reply.error {
                tracing::warn!(error = %e, "chat turn answered with an error");
            }
            let mut r = see_other(&format!(
                "{}#chat-panel",
                with_conversation(&state, &conversation_id).url()
            ));
            r.headers_mut().append(
                header::SET_COOKIE,
                session.cookie(
                    session::CONVERSATION,
                    &conversation_id,
                    Some(30 * 24 * 3600),
                ),
            );
            r
        }
        Err(ApiFailure::Rejected(r)) => {
            let mut errors = FieldErrors::from_rejection(&r);
            if r.code == "CONVERSATION_NOT_FOUND" {
                errors = FieldErrors::general(
                    "That conversation no longer exists. Your message was not sent; start a new chat and send it again.",
                );
            }
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            again(&app, &session, token, &state, &message, errors, status).await
        }
        Err(ApiFailure::Unavailable(why)) => {
            tracing::warn!(error = %why, "chat: todo-api unavailable");
            again(
                &app,
                &session,
                token,
                &state,
                &message,
                FieldErrors::general("The assistant is unavailable right now. Your message was not sent; try again in a moment."),
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(e) => failed(&session, e, &state.url()),
    }
}

/// The page again with the message kept and the error next to it.
async fn again(
    app: &AppState,
    session: &Session,
    token: &str,
    state: &ListState,
    message: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let carry = Carry {
        chat_message: Some(message.to_owned()),
        chat_errors: errors,
        ..Carry::default()
    };
    render(app, session, token, state, carry, status).await
}
