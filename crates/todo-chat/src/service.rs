//! One chat turn, stateless: everything comes from and goes to the database, so a conversation
//! resumes after a restart or on another replica.

use crate::engine::{ChatEngine, HistoryMessage, ToolRunner, Turn};
use crate::mcp_client::McpClient;
use serde_json::Value;
use std::sync::Arc;
use todo_store::validate::{is_forbidden_control, message_rule, visible_rule};
use todo_store::{Store, StoreError};
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
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct ChatService {
    store: Store,
    mcp: Arc<McpClient>,
    engine: Arc<dyn ChatEngine>,
    limits: HistoryLimits,
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
        }
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
        // The store's rule for messages (no control characters but tab and line breaks, at
        // most MESSAGE_MAX characters), plus something visible to title the conversation with.
        let message = message_rule("message", message)
            .and_then(|m| visible_rule("message", &m).map(|()| m))
            .map_err(|e| TurnError::Invalid {
                field: "message",
                message: e.message,
            })?;
        let message = message.as_str();
        let conversations = self.store.conversations();
        let conversation_id = match conversation {
            Some(id) => {
                conversations
                    .get(user, id)
                    .await?
                    .ok_or(TurnError::ConversationNotFound)?
                    .id
            }
            None => conversations.create(user, &title_from(message)).await?.id,
        };
        let history = self.history(user, conversation_id).await?;
        // The user's words are saved before anything can fail.
        conversations
            .add_message(user, conversation_id, Role::User, message, None)
            .await?
            .ok_or(TurnError::ConversationNotFound)?;

        let tools = ToolRunner::new(&self.mcp, token);
        let today = time::OffsetDateTime::now_utc().date();
        let outcome = self
            .engine
            .respond(Turn {
                history: &history,
                message,
                tools: &tools,
                today,
            })
            .await;
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
        conversations
            .add_message(
                user,
                conversation_id,
                Role::Assistant,
                &response,
                calls_json.as_ref(),
            )
            .await?;
        Ok(ChatTurn {
            conversation_id,
            response,
            tool_calls,
            engine: self.engine.engine(),
            error,
        })
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
