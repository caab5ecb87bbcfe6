//! `/api/chat` and `/api/conversations`: the chatbot over HTTP. Each turn is stateless (the
//! history comes from the database), so any replica can serve any conversation.

use crate::errors::from_store;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::tasks::path_segment;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_chat::service::TurnError;
use todo_store::validate::message_rule;
use todo_wire::{ChatRequest, ChatTurn, ConversationDetail, ConversationList};
use uuid::Uuid;

pub async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Result<Json<ChatTurn>, ApiError> {
    let message = message_rule("message", &req.message)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    let Some(chat) = state.chat.as_ref() else {
        return Err(ApiError::unavailable(
            "chat is not configured on this server (MCP_URL is not set)",
        ));
    };
    let turn = chat
        .turn(auth.id, &auth.token, req.conversation_id, &message)
        .await
        .map_err(|e| match e {
            TurnError::Invalid { field, message } => ApiError::validation(field, message),
            TurnError::ConversationNotFound => conversation_not_found(),
            TurnError::Store(e) => from_store(e),
        })?;
    if let Some(error) = &turn.error {
        tracing::warn!(code = %error.code, conversation = %turn.conversation_id, "chat turn ended with an error");
    }
    Ok(Json(turn))
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
