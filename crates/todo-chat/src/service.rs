//! One chat turn, stateless: everything comes from and goes to the database, so a conversation
//! resumes after a restart or on another replica.

use crate::clock::UserClock;
use crate::engine::{
    ChatEngine, ChatError, ConversationState, Engine, HistoryMessage, ToolRunner, Turn,
};
use crate::events::{TurnEvent, TurnEvents};
use crate::mcp_client::McpClient;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use todo_store::validate::{is_forbidden_control, message_rule, visible_rule};
use todo_store::{Added, NewMessage, Store, StoreError, StoredReply};
use uuid::Uuid;

pub use todo_wire::ChatTurn;
use todo_wire::Role;
pub use todo_wire::chat::MESSAGE_MAX;
const TITLE_MAX: usize = 60;

/// How much history an engine sees: the most recent messages, cut further to a character
/// budget, so long conversations keep working and cost the same per turn.
#[derive(Debug, Clone, Copy)]
pub struct HistoryLimits {
    pub max_messages: i64,
    pub max_chars: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        HistoryLimits {
            max_messages: 20,
            max_chars: 8000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("no such conversation")]
    ConversationNotFound,
    /// A repeat of a `client_message_id` whose first send is still being answered.
    #[error("this message is still being answered")]
    InProgress,
    /// A `client_message_id` already used for other words (a client bug: ids are per message).
    #[error("client_message_id was already used for a different message")]
    IdReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How long a turn may run when nothing else is configured (todo-api's
/// `CHAT_TURN_TIMEOUT_SECONDS` default).
pub const DEFAULT_TURN_BUDGET: Duration = Duration::from_secs(45);

/// A turn whose user message has waited this long past the budget without a reply was cut
/// off (its process stopped mid-turn): a repeat gets an error reply instead of 409 forever.
const ABANDONED_AFTER: Duration = Duration::from_secs(30);

/// One message to answer (see [`ChatService::turn_once`]).
#[derive(Debug, Clone, Copy)]
pub struct TurnRequest<'a> {
    pub user: Uuid,
    pub token: &'a str,
    pub conversation: Option<Uuid>,
    pub message: &'a str,
    /// The client's id for this message: a repeat returns the stored answer.
    pub client_message_id: Option<Uuid>,
    /// The user's IANA time zone ("UTC" until users have one): dates in the message are
    /// read on that calendar.
    pub zone: &'a str,
}

pub struct ChatService {
    store: Store,
    mcp: Arc<McpClient>,
    engine: Arc<dyn ChatEngine>,
    limits: HistoryLimits,
    budget: Duration,
    now: fn() -> time::OffsetDateTime,
}

impl ChatService {
    pub fn new(
        store: Store,
        mcp: Arc<McpClient>,
        engine: Arc<dyn ChatEngine>,
        limits: HistoryLimits,
    ) -> ChatService {
        ChatService {
            store,
            mcp,
            engine,
            limits,
            budget: DEFAULT_TURN_BUDGET,
            now: time::OffsetDateTime::now_utc,
        }
    }

    /// Where "now" comes from (the system clock unless set): tests pin it so "tomorrow" and
    /// "friday" are the same days on every run.
    pub fn with_clock_source(mut self, now: fn() -> time::OffsetDateTime) -> ChatService {
        self.now = now;
        self
    }

    /// Bounds the engine's whole part of a turn (every LLM and MCP call of it): past this, the
    /// turn ends with a `CHAT_TIMEOUT` reply that is stored like any other.
    pub fn with_turn_budget(mut self, budget: Duration) -> ChatService {
        self.budget = budget;
        self
    }

    pub fn turn_budget(&self) -> Duration {
        self.budget
    }

    pub fn engine_name(&self) -> &'static str {
        self.engine.name()
    }

    pub async fn turn(
        &self,
        user: Uuid,
        token: &str,
        conversation: Option<Uuid>,
        message: &str,
    ) -> Result<ChatTurn, TurnError> {
        self.turn_once(TurnRequest {
            user,
            token,
            conversation,
            message,
            client_message_id: None,
            zone: "UTC",
        })
        .await
    }

    /// One turn. With a `client_message_id`, at most once: a repeat gets the stored answer
    /// (`replayed`), or [`TurnError::InProgress`] while the first send is still running; no
    /// tool runs twice. The user's message and the reply are both stored before this returns,
    /// so run it where a dropped connection cannot cancel it (todo-api spawns it).
    pub async fn turn_once(&self, req: TurnRequest<'_>) -> Result<ChatTurn, TurnError> {
        self.turn_streamed(req, TurnEvents::none()).await
    }

    /// [`ChatService::turn_once`], reporting to `events` as it goes: [`TurnEvent::Accepted`]
    /// once the user's message is stored, then the tool calls and the reply's text in the
    /// order they happen. An engine that answers in one piece (the built-in one) sends its
    /// text as one [`TurnEvent::Delta`] at the end; a replayed answer sends its tool calls and
    /// text the same way. Errors are not sent as text: they are the returned turn's `error`.
    /// Whatever happens to the receiver, the turn is stored exactly as without one.
    pub async fn turn_streamed(
        &self,
        req: TurnRequest<'_>,
        events: TurnEvents,
    ) -> Result<ChatTurn, TurnError> {
        let turn = self.run_turn(req, &events).await?;
        if turn.replayed {
            for call in &turn.tool_calls {
                events.send(TurnEvent::Tool(call.clone()));
            }
        }
        if turn.error.is_none() && !events.text_sent() {
            events.delta(&turn.response);
        }
        Ok(turn)
    }

    async fn run_turn(
        &self,
        req: TurnRequest<'_>,
        events: &TurnEvents,
    ) -> Result<ChatTurn, TurnError> {
        let TurnRequest {
            user,
            token,
            conversation,
            message,
            client_message_id,
            zone,
        } = req;
        let clock = UserClock::new(zone, (self.now)()).map_err(|e| TurnError::Invalid {
            field: "zone",
            message: e.to_string(),
        })?;
        // The store's rule for messages (no control characters but tab and line breaks, at
        // most MESSAGE_MAX characters), plus something visible to title the conversation with.
        let message = message_rule("message", message)
            .and_then(|m| visible_rule("message", &m).map(|()| m))
            .map_err(|e| TurnError::Invalid {
                field: "message",
                message: e.message,
            })?;
        let message = message.as_str();
        if let Some(id) = client_message_id
            && let Some(done) = self.repeat(user, id, message).await?
        {
            return Ok(done);
        }
        let conversations = self.store.conversations();
        let (conversation_id, created) = match conversation {
            Some(id) => (
                conversations
                    .get(user, id)
                    .await?
                    .ok_or(TurnError::ConversationNotFound)?
                    .id,
                false,
            ),
            None => (
                conversations.create(user, &title_from(message)).await?.id,
                true,
            ),
        };
        let history = self.history(user, conversation_id).await?;
        let stored_state = if created {
            None
        } else {
            conversations.state(user, conversation_id).await?
        };
        // The user's words are saved before anything can fail.
        let asked = NewMessage {
            role: Role::User,
            content: message,
            tool_calls: None,
            client_message_id,
            engine: None,
            error_code: None,
        };
        match conversations.add(user, conversation_id, &asked).await? {
            Added::Stored(_) => events.send(TurnEvent::Accepted { conversation_id }),
            Added::NoConversation => return Err(TurnError::ConversationNotFound),
            Added::Duplicate => {
                // A concurrent send of the same id got in first: answer as a repeat.
                if created {
                    conversations.delete_if_empty(user, conversation_id).await?;
                }
                let id = client_message_id.ok_or(TurnError::InProgress)?;
                return self
                    .repeat(user, id, message)
                    .await?
                    .ok_or(TurnError::InProgress);
            }
        }

        let tools = ToolRunner::new(&self.mcp, token).with_events(events.clone());
        let state = ConversationState::new(stored_state.clone());
        let outcome = tokio::time::timeout(
            self.budget,
            self.engine.respond(Turn {
                history: &history,
                message,
                tools: &tools,
                clock: &clock,
                state: &state,
            }),
        )
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(
                budget_s = self.budget.as_secs_f64(),
                "chat turn ran out of time"
            );
            Err(ChatError::new(
                "CHAT_TIMEOUT",
                "That took too long, so I stopped. Anything listed under tool calls was done; check your tasks before asking again.",
            ))
        });
        // Calls made before a timeout are kept: the reply must say what was changed.
        let tool_calls = tools.take_calls();
        let (response, error) = match outcome {
            Ok(text) => (text, None),
            Err(e) => (e.message.clone(), Some(e)),
        };
        // The reply quotes what the tools returned (rows stored before the text rules may
        // hold control characters): store what can be stored rather than lose the turn.
        let response = storable_text(&response);
        let calls_json = (!tool_calls.is_empty()).then(|| {
            let mut v = serde_json::to_value(&tool_calls).unwrap_or_default();
            strip_nul(&mut v);
            v
        });
        let engine = self.engine.engine();
        let reply = NewMessage {
            role: Role::Assistant,
            content: &response,
            tool_calls: calls_json.as_ref(),
            client_message_id,
            engine: Some(engine.as_str()),
            error_code: error.as_ref().map(|e| e.code.as_str()),
        };
        conversations.add(user, conversation_id, &reply).await?;
        // A turn that failed leaves no open question: a later "yes" must not confirm
        // something the user never saw asked.
        let next_state = if error.is_some() { None } else { state.get() };
        if next_state != stored_state {
            let mut next_state = next_state;
            if let Some(v) = next_state.as_mut() {
                strip_nul(v);
            }
            conversations
                .set_state(user, conversation_id, next_state.as_ref())
                .await?;
        }
        Ok(ChatTurn {
            conversation_id,
            response,
            tool_calls,
            engine,
            error,
            replayed: false,
        })
    }

    /// The answer to a repeated client message id: `None` when it is new.
    async fn repeat(
        &self,
        user: Uuid,
        client_message_id: Uuid,
        message: &str,
    ) -> Result<Option<ChatTurn>, TurnError> {
        let conversations = self.store.conversations();
        let Some(turn) = conversations.find_turn(user, client_message_id).await? else {
            return Ok(None);
        };
        if turn.message != message {
            return Err(TurnError::IdReused);
        }
        let reply = match turn.reply {
            Some(reply) => reply,
            None => {
                let age = time::OffsetDateTime::now_utc() - turn.asked_at;
                if age < self.budget + ABANDONED_AFTER {
                    return Err(TurnError::InProgress);
                }
                // Cut off mid-turn (a restart): say so once, and store it, so every later
                // repeat gets the same answer and no tool runs again.
                let error = ChatError::new(
                    "TURN_INTERRUPTED",
                    "Your message was received, but its answer was lost when the server restarted. Check your tasks, then send it again as a new message if needed.",
                );
                let stored = NewMessage {
                    role: Role::Assistant,
                    content: &error.message,
                    tool_calls: None,
                    client_message_id: Some(client_message_id),
                    engine: Some(self.engine.engine().as_str()),
                    error_code: Some(&error.code),
                };
                conversations
                    .add(user, turn.conversation_id, &stored)
                    .await?;
                return Box::pin(self.repeat(user, client_message_id, message)).await;
            }
        };
        Ok(Some(replayed(
            turn.conversation_id,
            reply,
            self.engine.engine(),
        )))
    }

    async fn history(
        &self,
        user: Uuid,
        conversation: Uuid,
    ) -> Result<Vec<HistoryMessage>, StoreError> {
        let recent = self
            .store
            .conversations()
            .recent_texts(user, conversation, self.limits.max_messages)
            .await?;
        let mut window: Vec<HistoryMessage> = Vec::new();
        let mut budget = self.limits.max_chars;
        for (role, content) in recent.into_iter().rev() {
            let cost = content.chars().count();
            if cost > budget {
                break;
            }
            budget -= cost;
            window.push(HistoryMessage { role, content });
        }
        window.reverse();
        Ok(window)
    }
}

/// A stored reply as the turn it answered.
fn replayed(conversation_id: Uuid, reply: StoredReply, current: Engine) -> ChatTurn {
    let engine = match reply.engine.as_deref() {
        Some("llm") => Engine::Llm,
        Some("builtin") => Engine::Builtin,
        _ => current,
    };
    let tool_calls = match reply.tool_calls {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    };
    let error = reply
        .error_code
        .map(|code| ChatError::new(code, reply.content.clone()));
    ChatTurn {
        conversation_id,
        response: reply.content,
        tool_calls,
        engine,
        error,
        replayed: true,
    }
}

/// Text as the message store accepts it: control characters other than tab and line breaks
/// become U+FFFD.
pub fn storable_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if is_forbidden_control(c, true) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Replaces NUL (which PostgreSQL's jsonb cannot hold) in every string of a JSON value.
pub fn strip_nul(value: &mut Value) {
    match value {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(k.replace('\0', "\u{FFFD}"), v);
                }
            }
            map.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

/// A conversation's title: its first message, cut at a word boundary.
pub fn title_from(message: &str) -> String {
    let one_line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= TITLE_MAX {
        return one_line;
    }
    let cut: String = one_line.chars().take(TITLE_MAX).collect();
    let cut = cut
        .rsplit_once(' ')
        .map(|(head, _)| head.to_owned())
        .filter(|h| h.len() > 20)
        .unwrap_or(cut);
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_message() {
        assert_eq!(title_from("add buy milk"), "add buy milk");
        let long = "please add a task to call the plumber about the leaking kitchen tap before the weekend";
        let t = title_from(long);
        assert!(t.ends_with('…') && t.chars().count() <= 61, "{t}");
        assert!(long.starts_with(t.trim_end_matches('…')));
        assert_eq!(title_from("buy\n\tmilk\r\n"), "buy milk");
    }

    #[test]
    fn stored_text_keeps_line_breaks_and_replaces_other_controls() {
        assert_eq!(
            storable_text("a\tb\nc\0d\u{7}e\u{85}"),
            "a\tb\nc\u{FFFD}d\u{FFFD}e\u{FFFD}"
        );
        let mut v = serde_json::json!({"k\0": ["x\0", {"y": "ok"}], "n": 1});
        strip_nul(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"k\u{FFFD}": ["x\u{FFFD}", {"y": "ok"}], "n": 1})
        );
    }
}
