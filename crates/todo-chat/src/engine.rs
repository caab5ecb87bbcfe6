//! What every chat engine gets and gives: the conversation so far, the new message, and a
//! tool runner that calls todo-mcp as the user (and records each call for the reply).

use crate::clock::UserClock;
use crate::events::{TurnEvent, TurnEvents};
use crate::mcp_client::{McpClient, McpError, ToolOutcome};
use futures::future::BoxFuture;
use serde_json::{Map, Value};
use std::sync::Mutex;
use todo_wire::Role;

pub use todo_wire::{ChatError, Engine, ToolCall};

/// A tool call made during a turn (the wire type [`ToolCall`]).
pub type ToolCallRecord = ToolCall;

/// One earlier message, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub role: Role,
    pub content: String,
}

/// Why a tool call could not be made at all (the service is down or broke the protocol).
impl From<McpError> for ChatError {
    fn from(e: McpError) -> ChatError {
        tracing::warn!(error = %e, "MCP call failed");
        ChatError::new(
            "MCP_UNAVAILABLE",
            "I can't reach the task service right now, so nothing was changed. Please try again in a moment.",
        )
    }
}

/// Calls tools as the current user and keeps a record of every call; each call is also
/// reported to the turn's [`TurnEvents`] as soon as it returned.
pub struct ToolRunner<'a> {
    mcp: &'a McpClient,
    token: &'a str,
    calls: Mutex<Vec<ToolCallRecord>>,
    events: TurnEvents,
}

impl<'a> ToolRunner<'a> {
    pub fn new(mcp: &'a McpClient, token: &'a str) -> ToolRunner<'a> {
        ToolRunner {
            mcp,
            token,
            calls: Mutex::new(Vec::new()),
            events: TurnEvents::none(),
        }
    }

    /// Reports the calls, and whatever the engine streams, to `events`.
    pub fn with_events(mut self, events: TurnEvents) -> ToolRunner<'a> {
        self.events = events;
        self
    }

    /// Where the engine sends the reply's text as it is written ([`TurnEvents::delta`]).
    pub fn events(&self) -> &TurnEvents {
        &self.events
    }

    fn record(&self, call: ToolCallRecord) {
        self.events.send(TurnEvent::Tool(call.clone()));
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
    }

    pub fn mcp(&self) -> &McpClient {
        self.mcp
    }

    pub fn token(&self) -> &str {
        self.token
    }

    pub async fn call(
        &self,
        tool: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutcome, ChatError> {
        let outcome = self.mcp.call(self.token, tool, arguments.clone()).await?;
        self.record(ToolCallRecord {
            tool: tool.to_owned(),
            arguments: Value::Object(arguments),
            result: outcome.value.clone(),
            is_error: outcome.is_error,
        });
        Ok(outcome)
    }

    /// Calls a tool with typed arguments (the todo_wire::mcp argument types).
    pub async fn call_with<A: serde::Serialize>(
        &self,
        tool: &str,
        arguments: &A,
    ) -> Result<ToolOutcome, ChatError> {
        self.call(tool, to_arguments(arguments)).await
    }

    /// Records a call the engine refused to send (unknown tool, unreadable arguments).
    pub fn record_refused(&self, tool: &str, arguments: Value, result: Value) {
        self.record(ToolCallRecord {
            tool: tool.to_owned(),
            arguments,
            result,
            is_error: true,
        });
    }

    pub fn take_calls(&self) -> Vec<ToolCallRecord> {
        self.calls
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

/// One turn of a conversation.
pub struct Turn<'a> {
    pub history: &'a [HistoryMessage],
    pub message: &'a str,
    pub tools: &'a ToolRunner<'a>,
    /// The user's zone and now: "today", "tomorrow at 5pm" are read on this clock.
    pub clock: &'a UserClock,
    /// What the conversation carries between turns (the engine's open question); stored with
    /// the conversation after the turn.
    pub state: &'a ConversationState,
}

/// A conversation's engine state for one turn: loaded before, saved after if changed.
#[derive(Debug, Default)]
pub struct ConversationState {
    value: Mutex<Option<Value>>,
}

impl ConversationState {
    pub fn new(value: Option<Value>) -> ConversationState {
        ConversationState {
            value: Mutex::new(value),
        }
    }

    pub fn get(&self) -> Option<Value> {
        self.value.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn set(&self, value: Option<Value>) {
        if let Ok(mut v) = self.value.lock() {
            *v = value;
        }
    }
}

/// A chat engine: answers one turn, calling tools through `turn.tools`.
pub trait ChatEngine: Send + Sync {
    /// Which engine this is (reported with every turn).
    fn engine(&self) -> Engine;
    fn name(&self) -> &'static str {
        self.engine().as_str()
    }
    fn respond<'a>(&'a self, turn: Turn<'a>) -> BoxFuture<'a, Result<String, ChatError>>;
}

/// Typed tool arguments as the JSON object a tool call carries (an empty object if they do
/// not serialise to one, which the argument types always do).
pub fn to_arguments<A: serde::Serialize>(arguments: &A) -> Map<String, Value> {
    match serde_json::to_value(arguments) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}
