//! `/api/chat`, `/api/chat/stream` and `/api/conversations`: the chatbot over HTTP. Each
//! turn is stateless (the history comes from the database), so any replica can serve any
//! conversation; the stream variant sends the reply as server-sent events while it is
//! written.

use crate::errors::from_store;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::tasks::path_segment;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_chat::{TurnError, TurnEvent, TurnEvents, TurnRequest};
use todo_store::validate::message_rule;
use todo_wire::chat::{ChatDelta, ChatError, ChatStreamEvent, ChatStreamStart, ChatTurnRequest};
use todo_wire::{ChatTurn, ConversationDetail, ConversationList};
use tokio::task::JoinHandle;
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
    let (turn, client_message_id) = spawn_turn(&state, auth, req, TurnEvents::none()).await?;
    let waiting = ClientWatch::new(client_message_id);
    let result = turn.await;
    waiting.answered();
    Ok(Json(joined(result)?))
}

/// The same turn as [`chat`], answered as server-sent events while it runs:
///
/// - `start` `{"conversation_id"}`: the message is stored, the engine starts;
/// - `delta` `{"text"}`: the next piece of the reply, in order (the built-in engine's
///   answer, and a replayed one, come as one piece);
/// - `tool` (a `ToolCall`): a tool call, as soon as it returned;
/// - `error` `{"code","message"}`: the turn failed (the engine, its tools, or storing it);
/// - `done` (a `ChatTurn`, as `POST /api/chat` answers): the turn is stored; the last event.
///
/// What is refused before the turn starts (validation, an unknown conversation, a message
/// still being answered, chat not configured) is answered as by [`chat`], with a status and
/// the JSON error. The turn runs in a task of its own: a client that goes away mid-stream
/// loses the rest of the events, not the turn, which is stored once as usual.
pub async fn chat_stream(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<ChatTurnRequest>,
) -> Result<Response, ApiError> {
    let (events, mut rx) = TurnEvents::channel();
    let (turn, client_message_id) = spawn_turn(&state, auth, req, events).await?;
    let waiting = ClientWatch::new(client_message_id);
    // Rejections come before any event; a turn that runs starts with one (a replayed
    // answer with its text), so the status can still be chosen here.
    let first = rx.recv().await;
    let mut turn = Some(turn);
    if first.is_none()
        && let Some(handle) = turn.take()
    {
        let result = joined(handle.await);
        waiting.answered();
        // No event at all: a rejection, answered with its status; or a stored answer with
        // nothing to send before its end (a replayed error).
        return Ok(sse(futures::stream::iter(ending(&result?))));
    }
    let stream = futures::stream::unfold(
        (first, rx, turn, Some(waiting)),
        |(first, mut rx, mut turn, mut waiting)| async move {
            let next = match first {
                Some(event) => Some(event),
                None => rx.recv().await,
            };
            if let Some(event) = next {
                return Some((vec![turn_event(event)], (None, rx, turn, waiting)));
            }
            // Every event is out (the turn dropped its sender): the end.
            let handle = turn.take()?;
            let result = joined(handle.await);
            if let Some(w) = waiting.take() {
                w.answered();
            }
            let events = match result {
                Ok(done) => ending(&done),
                Err(e) => vec![error_event(e.code, &e.message)],
            };
            Some((events, (None, rx, turn, waiting)))
        },
    )
    .flat_map(futures::stream::iter);
    Ok(sse(stream))
}

fn sse(stream: impl futures::Stream<Item = Event> + Send + 'static) -> Response {
    let mut response = Sse::new(stream.map(Ok::<_, std::convert::Infallible>))
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies that buffer responses (ingress-nginx does by default) would hold the reply
    // back until it is finished.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn turn_event(event: TurnEvent) -> Event {
    sse_event(match event {
        TurnEvent::Accepted { conversation_id } => {
            ChatStreamEvent::Start(ChatStreamStart { conversation_id })
        }
        TurnEvent::Delta(text) => ChatStreamEvent::Delta(ChatDelta { text }),
        TurnEvent::Tool(call) => ChatStreamEvent::Tool(call),
    })
}

fn error_event(code: &str, message: &str) -> Event {
    sse_event(ChatStreamEvent::Error(ChatError::new(code, message)))
}

/// The last events of a stored turn: its error if it failed, then `done`.
fn ending(turn: &ChatTurn) -> Vec<Event> {
    let mut out = Vec::new();
    if let Some(error) = &turn.error {
        out.push(sse_event(ChatStreamEvent::Error(error.clone())));
    }
    out.push(sse_event(ChatStreamEvent::Done(Box::new(turn.clone()))));
    out
}

fn sse_event(event: ChatStreamEvent) -> Event {
    Event::default().event(event.name()).data(event.data())
}

/// A spawned turn: its task, and the message's client id.
type Spawned = (JoinHandle<Result<ChatTurn, TurnError>>, Option<Uuid>);

/// Checks what can be checked before a turn, then starts it in a task of its own (so that a
/// client going away cannot cancel it), reporting to `events`.
async fn spawn_turn(
    state: &AppState,
    auth: AuthUser,
    req: ChatTurnRequest,
    events: TurnEvents,
) -> Result<Spawned, ApiError> {
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
                .turn_streamed(
                    TurnRequest {
                        user,
                        token: &token,
                        conversation,
                        message: &message,
                        client_message_id,
                        zone: zone.name(),
                    },
                    events,
                )
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
    Ok((turn, client_message_id))
}

/// A finished turn task as the API answers it.
fn joined(
    result: Result<Result<ChatTurn, TurnError>, tokio::task::JoinError>,
) -> Result<ChatTurn, ApiError> {
    result
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
        })
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
