//! The chat agent behind `POST /api/chat`.
//!
//! - [`McpClient`]: todo-api's one MCP client, forwarding each caller's token to todo-mcp.
//! - Engines behind [`ChatEngine`]: the built-in intent engine (no LLM needed) and an
//!   OpenAI-compatible LLM engine with tool calling.
//! - [`ChatService`]: a stateless turn: load the history window from the database, store the
//!   user's message, run the engine, store the reply with its tool calls.
//! - [`TurnEvents`]: what a turn reports while it runs (text pieces, tool calls), for
//!   streaming clients.

pub mod builtin;
pub mod clock;
pub mod engine;
pub mod events;
pub mod llm;
pub mod mcp_client;
pub mod service;

pub use clock::{UnknownZone, UserClock};
pub use engine::{
    ChatEngine, ChatError, ConversationState, Engine, HistoryMessage, ToolCall, ToolCallRecord,
    ToolRunner, Turn,
};
pub use events::{TurnEvent, TurnEvents};
pub use mcp_client::{McpClient, McpError};
pub use service::{
    ChatService, ChatTurn, DEFAULT_TURN_BUDGET, HistoryLimits, TurnError, TurnRequest,
};
