//! `POST /chat`: one chat turn. The API runs the agent (and changes tasks through its
//! tools); this handler remembers the conversation and redirects back to the page with it
//! open, where the reply, the tool calls and the updated task list are rendered.
//!
//! Each message carries a client id (the form's hidden `client_message_id`, else one made
//! here), so the API answers a resubmission with the stored reply instead of running the
//! turn, and its tools, again. When no answer comes back in time the page says the message
//! may still be processing, never that it was not sent.

use super::tasks::{Carry, ListState, render, with_conversation};
use super::{AppState, SignedIn, failed};
use crate::api::{ApiFailure, ChatFailure};
use crate::forms::{ChatInput, Form};
use crate::session::{self, Session, see_other};
use crate::views::FieldErrors;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

pub use todo_wire::chat::MESSAGE_MAX;

pub async fn send(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<ChatInput>,
) -> Response {
    let state = ListState::parse(&form.back);
    let token = token.as_str();
    let message = form.message.trim().to_owned();
    let conversation = uuid::Uuid::parse_str(form.conversation_id.trim()).ok();
    let client_message_id = uuid::Uuid::parse_str(form.client_message_id.trim())
        .unwrap_or_else(|_| uuid::Uuid::new_v4());
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
            Shown {
                message: &message,
                errors,
                retry_id: None,
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match app
        .api
        .chat(token, conversation, &message, client_message_id)
        .await
    {
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
        Err(ChatFailure::NoAnswer(why)) => {
            tracing::warn!(error = %why, %client_message_id, "chat: no answer from todo-api in time");
            again(
                &app,
                &session,
                token,
                &state,
                Shown {
                    message: &message,
                    errors: FieldErrors::general("Your message was sent, but the assistant has not answered yet; it may still be processing. Reload the page in a moment to see the reply."),
                    // Sending the form again retries the same message: answered once.
                    retry_id: Some(client_message_id),
                },
                StatusCode::GATEWAY_TIMEOUT,
            )
            .await
        }
        Err(ChatFailure::Api(ApiFailure::Rejected(r))) if r.code == "TURN_IN_PROGRESS" => {
            again(
                &app,
                &session,
                token,
                &state,
                Shown {
                    message: &message,
                    errors: FieldErrors::general("This message is still being answered. Reload the page in a moment to see the reply."),
                    retry_id: Some(client_message_id),
                },
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(ChatFailure::Api(ApiFailure::Rejected(r))) => {
            let mut errors = FieldErrors::from_rejection(&r);
            if r.code == "CONVERSATION_NOT_FOUND" {
                errors = FieldErrors::general(
                    "That conversation no longer exists. Your message was not sent; start a new chat and send it again.",
                );
            }
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            again(
                &app,
                &session,
                token,
                &state,
                Shown {
                    message: &message,
                    errors,
                    retry_id: None,
                },
                status,
            ).await
        }
        Err(ChatFailure::Api(ApiFailure::Unavailable(why))) => {
            tracing::warn!(error = %why, "chat: todo-api unavailable");
            // Not reached, or a 503 before the message could be stored (chat not configured,
            // database down). The one exception, the database failing between storing the
            // message and its reply, shows the message on reload.
            again(
                &app,
                &session,
                token,
                &state,
                Shown {
                    message: &message,
                    errors: FieldErrors::general(
                    "The assistant is unavailable right now. Your message was not sent; try again in a moment.",
                ),
                    retry_id: Some(client_message_id),
                },
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
        Err(ChatFailure::Api(e)) => failed(&session, e, &state.url()),
    }
}

/// What the chat form shows again: the message as typed, the errors, and the client id to
/// keep when sending it again is a retry of the same message.
struct Shown<'a> {
    message: &'a str,
    errors: FieldErrors,
    retry_id: Option<uuid::Uuid>,
}

/// The page again with the message kept and the error next to it.
async fn again(
    app: &AppState,
    session: &Session,
    token: &str,
    state: &ListState,
    shown: Shown<'_>,
    status: StatusCode,
) -> Response {
    let carry = Carry {
        chat_message: Some(shown.message.to_owned()),
        chat_errors: shown.errors,
        chat_client_id: shown.retry_id,
        ..Carry::default()
    };
    render(app, session, token, state, carry, status).await
}
