//! One chat turn, stateless: everything comes from and goes to the database, so a conversation
//! resumes after a restart or on another replica.

use crate::engine::{ChatEngine, ChatError, HistoryMessage, ToolCallRecord, ToolRunner, Turn};
use crate::mcp_client::McpClient;
use serde::Serialize;
use std::sync::Arc;
use todo_store::{Role, Store, StoreError};
use uuid::Uuid;

pub const MESSAGE_MAX: usize = 2000;
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

#[derive(Debug, Clone, Serialize)]
pub struct ChatTurn {
    pub conversation_id: Uuid,
    pub response: String,
    pub tool_calls: Vec<ToolCallRecord>,
    pub engine: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ChatError>,
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
        let message = message.trim();
        if message.is_empty() {
            return Err(TurnError::Invalid {
                field: "message",
                message: "must not be empty".into(),
            });
        }
        let len = message.chars().count();
        if len > MESSAGE_MAX {
            return Err(TurnError::Invalid {
                field: "message",
                message: format!("must be at most {MESSAGE_MAX} characters (got {len})"),
            });
        }
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
        let calls_json =
            (!tool_calls.is_empty()).then(|| serde_json::to_value(&tool_calls).unwrap_or_default());
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
            engine: self.engine.name(),
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
    }
}
