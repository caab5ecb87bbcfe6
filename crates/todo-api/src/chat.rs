//! `/api/chat` and `/api/conversations`: the chatbot over HTTP. Each turn is stateless (the
//! history comes from the database), so any replica can serve any conversation.

use crate::errors::from_store;
use crate::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_chat::service::TurnError;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    #[serde(default)]
    conversation_id: Option<Uuid>,
    message: String,
}

pub async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let Some(chat) = state.chat.as_ref() else {
        return Err(ApiError::unavailable(
            "chat is not configured on this server (MCP_URL is not set)",
        )
        .with_field("message"));
    };
    let turn = chat
        .turn(auth.id, &auth.token, req.conversation_id, &req.message)
        .await
        .map_err(|e| match e {
            TurnError::Invalid { field, message } => ApiError::validation(field, message),
            TurnError::ConversationNotFound => conversation_not_found(),
            TurnError::Store(e) => from_store(e),
        })?;
    if let Some(error) = &turn.error {
        tracing::warn!(code = error.code, conversation = %turn.conversation_id, "chat turn ended with an error");
    }
    Ok(Json(turn))
}

pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    let items = state
        .store
        .conversations()
        .list(auth.id, 100)
        .await
        .map_err(from_store)?;
    Ok(Json(json!({ "items": items })))
}

pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| ApiError::validation("id", "must be a conversation UUID"))?;
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
    Ok(Json(
        json!({ "conversation": conversation, "messages": messages }),
    ))
}

fn conversation_not_found() -> ApiError {
    ApiError::not_found("CONVERSATION_NOT_FOUND", "no such conversation")
}
