//! `/api/chat` and `/api/conversations`: the chatbot over HTTP. Each turn is stateless (the
//! history comes from the database), so any replica can serve any conversation.

use crate::errors::from_store;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::tasks::path_segment;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_chat::{TurnError, TurnRequest};
use todo_store::validate::message_rule;
use todo_wire::chat::ChatTurnRequest;
use todo_wire::{ChatTurn, ConversationDetail, ConversationList};
use tracing::Instrument;
use uuid::Uuid;

/// One turn. The turn runs in a task of its own that this handler awaits: when the client
/// goes away (a browser closed, todo-web gave up), the handler is dropped but the turn runs to
/// its end and its reply is stored, so a reload or a retry with the same `client_message_id`
/// finds it. The task carries the request's span, so its log lines keep the request id.
pub async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<ChatTurnRequest>,
) -> Result<Json<ChatTurn>, ApiError> {
    let message = message_rule("message", &req.message)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    let Some(chat) = state.chat.clone() else {
        return Err(ApiError::unavailable(
            "chat is not configured on this server (MCP_URL is not set)",
        ));
    };
    let user = auth.id;
    // The user's calendar: "tomorrow" and "friday" are days in their zone.
    let zone = state
        .store
        .users()
        .zone_of(user)
        .await
        .map_err(from_store)?;
    let token = auth.token;
    let conversation = req.conversation_id;
    let client_message_id = req.client_message_id;
    let turn = tokio::spawn(
        async move {
            let result = chat
                .turn_once(TurnRequest {
                    user,
                    token: &token,
                    conversation,
                    message: &message,
                    client_message_id,
                    zone: zone.name(),
                })
                .await;
            service_kit::metrics::chat_turn(
                chat.engine_name(),
                match &result {
                    Ok(t) if t.error.is_none() => "ok",
                    Ok(_) => "error",
                    Err(_) => "rejected",
                },
            );
            if let Ok(turn) = &result
                && let Some(error) = &turn.error
            {
                tracing::warn!(code = %error.code, conversation = %turn.conversation_id, "chat turn ended with an error");
            }
            result
        }
        .instrument(tracing::Span::current()),
    );
    let waiting = ClientWatch::new(client_message_id);
    let result = turn.await;
    waiting.answered();
    let turn = result
        .map_err(|e| {
            tracing::error!(error = %e, "the chat turn task failed");
            ApiError::internal()
        })?
        .map_err(|e| match e {
            TurnError::Invalid { field, message } => ApiError::validation(field, message),
            TurnError::ConversationNotFound => conversation_not_found(),
            TurnError::InProgress => {
                let mut e = ApiError::new(
                    StatusCode::CONFLICT,
                    "TURN_IN_PROGRESS",
                    "this message is still being answered; send it again with the same client_message_id in a few seconds to get the reply",
                )
                .with_field("client_message_id");
                e.retry_after_secs = Some(2);
                e
            }
            // 409, not 422: the request is valid on its own; it conflicts with what is stored.
            TurnError::IdReused => ApiError::new(
                StatusCode::CONFLICT,
                "CLIENT_MESSAGE_ID_REUSED",
                "this client_message_id was already used for a different message; pick a new UUID for each message",
            )
            .with_field("client_message_id"),
            TurnError::Store(e) => from_store(e),
        })?;
    Ok(Json(turn))
}

/// Logs when the client stops waiting for a turn (the handler is dropped before the answer).
struct ClientWatch {
    client_message_id: Option<Uuid>,
    answered: bool,
}

impl ClientWatch {
    fn new(client_message_id: Option<Uuid>) -> ClientWatch {
        ClientWatch {
            client_message_id,
            answered: false,
        }
    }

    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for ClientWatch {
    fn drop(&mut self) {
        if !self.answered {
            tracing::warn!(
                client_message_id = ?self.client_message_id,
                "chat: the client went away before the answer; the turn goes on and its reply will be stored"
            );
        }
    }
}

/// The `{id}` path segment of a conversation: a hyphenated UUID, else a 422 naming `id`.
pub struct ConversationId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ConversationId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_segment(parts, state).await?;
        let bad = || ApiError::validation("id", "must be a conversation UUID");
        if raw.len() != 36 {
            return Err(bad());
        }
        Uuid::parse_str(&raw).map(ConversationId).map_err(|_| bad())
    }
}

pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<Json<ConversationList>, ApiError> {
    let items = state
        .store
        .conversations()
        .list(auth.id, 100)
        .await
        .map_err(from_store)?;
    Ok(Json(ConversationList { items }))
}

pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    ConversationId(id): ConversationId,
) -> Result<Json<ConversationDetail>, ApiError> {
    let conversations = state.store.conversations();
    let conversation = conversations
        .get(auth.id, id)
        .await
        .map_err(from_store)?
        .ok_or_else(conversation_not_found)?;
    let messages = conversations
        .recent_messages(auth.id, id, 500)
        .await
        .map_err(from_store)?;
    Ok(Json(ConversationDetail {
        conversation,
        messages,
    }))
}

fn conversation_not_found() -> ApiError {
    ApiError::not_found("CONVERSATION_NOT_FOUND", "no such conversation")
}
