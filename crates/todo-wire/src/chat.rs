//! The chatbot: a turn, its tool calls, conversations and their messages.

use crate::timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

pub const MESSAGE_MAX: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// What a chat message may hold: 1..=2000 characters, no control characters but tab and line
/// breaks, and something visible.
pub const MESSAGE_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

/// A chat message without a client id (a client that never retries). The API reads
/// [`ChatTurnRequest`], of which this is the subset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Omit to start a new conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<Uuid>,
    #[schemars(length(min = 1, max = 2000), regex(pattern = MESSAGE_PATTERN))]
    pub message: String,
}

/// `POST /api/chat`: a message, and optionally the client's id for it, which makes the turn
/// safe to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatTurnRequest {
    /// Omit to start a new conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<Uuid>,
    #[schemars(length(min = 1, max = 2000), regex(pattern = MESSAGE_PATTERN))]
    pub message: String,
    /// A UUID the client picks once per message and sends again with every retry of it. A
    /// repeat answers with the stored reply and runs no tool again; a repeat while the first
    /// is still running answers 409 `TURN_IN_PROGRESS`, and the same id with other words 409
    /// `CLIENT_MESSAGE_ID_REUSED`. Unique per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<Uuid>,
}

impl From<ChatRequest> for ChatTurnRequest {
    fn from(r: ChatRequest) -> ChatTurnRequest {
        ChatTurnRequest {
            conversation_id: r.conversation_id,
            message: r.message,
            client_message_id: None,
        }
    }
}

/// Which engine answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Builtin,
    Llm,
}

/// A tool call made during a turn: what was asked and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    pub tool: String,
    pub arguments: Value,
    pub result: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

/// A failure the user is told about in plain words, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatError {
    pub code: String,
    pub message: String,
}

impl ChatError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ChatError {
        ChatError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ChatError {}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Builtin => "builtin",
            Engine::Llm => "llm",
        }
    }
}

/// The answer to one chat turn. With `error`, the engine or the tools failed; the message is
/// stored either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChatTurn {
    pub conversation_id: Uuid,
    pub response: String,
    pub tool_calls: Vec<ToolCall>,
    pub engine: Engine,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ChatError>,
    /// True when this is the stored answer to an earlier send of the same
    /// `client_message_id` (nothing ran again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
}

/// `start`, the first event of `POST /api/chat/stream`: the message is stored, in this
/// conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatStreamStart {
    pub conversation_id: Uuid,
}

/// `delta`: the next piece of the reply, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ChatDelta {
    pub text: String,
}

/// The server-sent events of `POST /api/chat/stream`: each event's name, and its `data`, one
/// JSON value of the type named here.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatStreamEvent {
    Start(ChatStreamStart),
    Delta(ChatDelta),
    /// A tool call, as it returns.
    Tool(ToolCall),
    /// The turn failed (sent before `done`).
    Error(ChatError),
    /// The stored turn, as `POST /api/chat` answers it; always last.
    Done(Box<ChatTurn>),
}

impl ChatStreamEvent {
    /// The event names, in the order a turn sends them.
    pub const NAMES: [&'static str; 5] = ["start", "delta", "tool", "error", "done"];

    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self {
            ChatStreamEvent::Start(_) => "start",
            ChatStreamEvent::Delta(_) => "delta",
            ChatStreamEvent::Tool(_) => "tool",
            ChatStreamEvent::Error(_) => "error",
            ChatStreamEvent::Done(_) => "done",
        }
    }

    /// The SSE `data:` value, as JSON.
    pub fn data(&self) -> String {
        let json = match self {
            ChatStreamEvent::Start(v) => serde_json::to_string(v),
            ChatStreamEvent::Delta(v) => serde_json::to_string(v),
            ChatStreamEvent::Tool(v) => serde_json::to_string(v),
            ChatStreamEvent::Error(v) => serde_json::to_string(v),
            ChatStreamEvent::Done(v) => serde_json::to_string(v),
        };
        // These types serialize infallibly (string keys, no maps of non-string keys).
        json.unwrap_or_else(|_| "null".to_owned())
    }

    /// Reads an event from its name and data; `Ok(None)` for a name this version does not
    /// know (a newer server may add events; clients skip them).
    pub fn parse(name: &str, data: &str) -> Result<Option<ChatStreamEvent>, serde_json::Error> {
        Ok(Some(match name {
            "start" => ChatStreamEvent::Start(serde_json::from_str(data)?),
            "delta" => ChatStreamEvent::Delta(serde_json::from_str(data)?),
            "tool" => ChatStreamEvent::Tool(serde_json::from_str(data)?),
            "error" => ChatStreamEvent::Error(serde_json::from_str(data)?),
            "done" => ChatStreamEvent::Done(Box::new(serde_json::from_str(data)?)),
            _ => return Ok(None),
        }))
    }

    /// The schema of one event as an SSE parser hands it over (OpenAPI 3.1 reads a
    /// `text/event-stream` schema as one event's): `event` one of [`Self::NAMES`], `data` a
    /// JSON text whose `contentSchema` is that event's type.
    pub fn event_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = |name: &str, data: schemars::Schema| {
            serde_json::json!({
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": { "const": name },
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": data,
                    },
                    "id": { "type": "string" },
                    "retry": { "type": "integer", "minimum": 0 },
                },
            })
        };
        let events = vec![
            one("start", g.subschema_for::<ChatStreamStart>()),
            one("delta", g.subschema_for::<ChatDelta>()),
            one("tool", g.subschema_for::<ToolCall>()),
            one("error", g.subschema_for::<ChatError>()),
            one("done", g.subschema_for::<ChatTurn>()),
        ];
        schemars::json_schema!({ "oneOf": events })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Conversation {
    pub id: Uuid,
    pub title: String,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    pub id: i64,
    pub conversation_id: Uuid,
    pub role: Role,
    pub content: String,
    /// The tool calls of an assistant message (stored as JSON, passed through as stored).
    #[schemars(with = "Option<Vec<ToolCall>>")]
    pub tool_calls: Option<Value>,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub created_at: OffsetDateTime,
}

/// `GET /api/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationList {
    pub items: Vec<Conversation>,
}

/// `GET /api/conversations/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}
