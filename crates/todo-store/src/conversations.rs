//! Chat conversations and their messages, scoped to their owner.

use crate::error::{StoreError, ValidationError};
use crate::model::{Conversation, Message, Role};
use crate::validate::{CONVERSATION_TITLE_MAX, name_rule, text_rule};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// A message to store (see [`ConversationStore::add`]).
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub role: Role,
    pub content: &'a str,
    pub tool_calls: Option<&'a serde_json::Value>,
    /// The client's id for the turn (both its user message and the reply carry it).
    pub client_message_id: Option<Uuid>,
    /// Of a reply: the engine that answered (`builtin`, `llm`).
    pub engine: Option<&'a str>,
    /// Of a reply that is an error: its stable code (the content is its message).
    pub error_code: Option<&'a str>,
}

/// What [`ConversationStore::add`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    Stored(Message),
    /// The conversation does not exist or is not this user's.
    NoConversation,
    /// This client message id is already stored for this user and role: nothing was written.
    Duplicate,
}

/// A turn found by its client message id.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTurn {
    pub conversation_id: Uuid,
    pub message: String,
    pub asked_at: time::OffsetDateTime,
    /// `None` while the turn is still running (or if it was cut off before its reply).
    pub reply: Option<StoredReply>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredReply {
    pub content: String,
    pub tool_calls: Option<serde_json::Value>,
    pub engine: Option<String>,
    pub error_code: Option<String>,
}

pub struct ConversationStore<'a> {
    pool: &'a PgPool,
}

impl<'a> ConversationStore<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Self {
        ConversationStore { pool }
    }

    /// Creates a conversation; the title follows [`name_rule`] (field `title`).
    pub async fn create(&self, user: Uuid, title: &str) -> Result<Conversation, StoreError> {
        let title = name_rule("title", title, CONVERSATION_TITLE_MAX)?;
        Ok(sqlx::query_as::<_, Conversation>(
            "INSERT INTO conversations (id, user_id, title) VALUES ($1, $2, $3)
             RETURNING id, title, created_at, updated_at",
        )
        .bind(Uuid::new_v4())
        .bind(user)
        .bind(&title)
        .fetch_one(self.pool)
        .await?)
    }

    pub async fn get(&self, user: Uuid, id: Uuid) -> Result<Option<Conversation>, StoreError> {
        Ok(sqlx::query_as::<_, Conversation>(
            "SELECT id, title, created_at, updated_at FROM conversations WHERE user_id = $1 AND id = $2",
        )
        .bind(user)
        .bind(id)
        .fetch_optional(self.pool)
        .await?)
    }

    /// Deletes the conversation if it has no messages (one a lost race created for nothing).
    pub async fn delete_if_empty(&self, user: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "DELETE FROM conversations c WHERE c.user_id = $1 AND c.id = $2
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id)",
        )
        .bind(user)
        .bind(id)
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The chat engine's state kept with a conversation (its open question, the tasks it is
    /// about): `None` when there is none or the conversation is not this user's.
    pub async fn state(
        &self,
        user: Uuid,
        id: Uuid,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        Ok(sqlx::query_scalar::<_, Option<serde_json::Value>>(
            "SELECT engine_state FROM conversations WHERE user_id = $1 AND id = $2",
        )
        .bind(user)
        .bind(id)
        .fetch_optional(self.pool)
        .await?
        .flatten())
    }

    /// Replaces the engine's state of a conversation (`None` clears it). Stored with the
    /// conversation, so a "yes" on another replica or after a restart answers the question.
    /// Returns false when the conversation is not this user's.
    pub async fn set_state(
        &self,
        user: Uuid,
        id: Uuid,
        state: Option<&serde_json::Value>,
    ) -> Result<bool, StoreError> {
        if state.is_some_and(json_has_nul) {
            return Err(ValidationError::new(
                "engine_state",
                "must not contain NUL characters (U+0000)",
            )
            .into());
        }
        let done = sqlx::query(
            "UPDATE conversations SET engine_state = $3 WHERE user_id = $1 AND id = $2",
        )
        .bind(user)
        .bind(id)
        .bind(state)
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Most recently active first.
    pub async fn list(&self, user: Uuid, limit: i64) -> Result<Vec<Conversation>, StoreError> {
        Ok(sqlx::query_as::<_, Conversation>(
            "SELECT id, title, created_at, updated_at FROM conversations WHERE user_id = $1
             ORDER BY updated_at DESC, id DESC LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(self.pool)
        .await?)
    }

    /// Appends a message; `None` when the conversation is not this user's. The content may
    /// hold tabs and line breaks but no other control characters (field `message`); the tool
    /// calls no NUL characters, which PostgreSQL's jsonb cannot store (field `tool_calls`).
    pub async fn add_message(
        &self,
        user: Uuid,
        conversation: Uuid,
        role: Role,
        content: &str,
        tool_calls: Option<&serde_json::Value>,
    ) -> Result<Option<Message>, StoreError> {
        let message = NewMessage {
            role,
            content,
            tool_calls,
            client_message_id: None,
            engine: None,
            error_code: None,
        };
        match self.add(user, conversation, &message).await? {
            Added::Stored(m) => Ok(Some(m)),
            Added::NoConversation | Added::Duplicate => Ok(None),
        }
    }

    /// Appends a message with everything a chat turn records. With a `client_message_id`
    /// already stored for this user and role, nothing is written and the answer is
    /// [`Added::Duplicate`] (the retry of a turn; see [`Self::find_turn`]).
    pub async fn add(
        &self,
        user: Uuid,
        conversation: Uuid,
        message: &NewMessage<'_>,
    ) -> Result<Added, StoreError> {
        text_rule("message", message.content, true)?;
        if message.tool_calls.is_some_and(json_has_nul) {
            return Err(ValidationError::new(
                "tool_calls",
                "must not contain NUL characters (U+0000)",
            )
            .into());
        }
        // One statement (so one round trip, and atomic without BEGIN/COMMIT): the insert
        // only happens when the conversation is this user's, and bumps its updated_at. A
        // repeated client id inserts nothing (the unique index of migration 3 decides, so two
        // concurrent retries cannot both get in).
        let row = sqlx::query(
            "WITH touched AS (
                 UPDATE conversations SET updated_at = now()
                 WHERE user_id = $1 AND id = $2
                 RETURNING id
             )
             INSERT INTO messages
                 (conversation_id, user_id, role, content, tool_calls, client_message_id, engine, error_code)
             SELECT id, $1, $3, $4, $5, $6, $7, $8 FROM touched
             ON CONFLICT (user_id, client_message_id, role) WHERE client_message_id IS NOT NULL
             DO NOTHING
             RETURNING id, conversation_id, role, content, tool_calls, created_at",
        )
        .bind(user)
        .bind(conversation)
        .bind(message.role.as_str())
        .bind(message.content)
        .bind(message.tool_calls)
        .bind(message.client_message_id)
        .bind(message.engine)
        .bind(message.error_code)
        .fetch_optional(self.pool)
        .await?;
        if let Some(row) = row {
            return message_from_row(&row).map(Added::Stored);
        }
        // Nothing inserted: either the conversation is not this user's, or the id is taken.
        let exists = match message.client_message_id {
            None => false,
            Some(id) => sqlx::query_scalar::<_, i64>(
                "SELECT id FROM messages WHERE user_id = $1 AND client_message_id = $2 AND role = $3",
            )
            .bind(user)
            .bind(id)
            .bind(message.role.as_str())
            .fetch_optional(self.pool)
            .await?
            .is_some(),
        };
        Ok(if exists {
            Added::Duplicate
        } else {
            Added::NoConversation
        })
    }

    /// What is stored of the turn a client named `client_message_id`: the user's message
    /// (its conversation and when it was stored) and the reply, once there is one.
    pub async fn find_turn(
        &self,
        user: Uuid,
        client_message_id: Uuid,
    ) -> Result<Option<StoredTurn>, StoreError> {
        let rows = sqlx::query(
            "SELECT conversation_id, role, content, tool_calls, engine, error_code, created_at
             FROM messages WHERE user_id = $1 AND client_message_id = $2",
        )
        .bind(user)
        .bind(client_message_id)
        .fetch_all(self.pool)
        .await?;
        let mut turn: Option<StoredTurn> = None;
        let mut reply = None;
        for row in &rows {
            let role: String = row.try_get("role")?;
            match parse_role(&role)? {
                Role::User => {
                    turn = Some(StoredTurn {
                        conversation_id: row.try_get("conversation_id")?,
                        asked_at: row.try_get("created_at")?,
                        message: row.try_get("content")?,
                        reply: None,
                    })
                }
                _ => {
                    reply = Some(StoredReply {
                        content: row.try_get("content")?,
                        tool_calls: row.try_get("tool_calls")?,
                        engine: row.try_get("engine")?,
                        error_code: row.try_get("error_code")?,
                    })
                }
            }
        }
        Ok(turn.map(|t| StoredTurn { reply, ..t }))
    }

    /// The last `limit` messages, oldest first (the window the chat agent reads).
    pub async fn recent_messages(
        &self,
        user: Uuid,
        conversation: Uuid,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM (
                 SELECT id, conversation_id, role, content, tool_calls, created_at FROM messages
                 WHERE user_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3
             ) recent ORDER BY id ASC",
        )
        .bind(user)
        .bind(conversation)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    /// The last `limit` messages' roles and words, oldest first: the history a chat engine
    /// reads. Leaves out the tool-call payloads, which can be many times larger.
    pub async fn recent_texts(
        &self,
        user: Uuid,
        conversation: Uuid,
        limit: i64,
    ) -> Result<Vec<(Role, String)>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT role, content FROM (
                 SELECT id, role, content FROM messages
                 WHERE user_id = $1 AND conversation_id = $2 ORDER BY id DESC LIMIT $3
             ) recent ORDER BY id ASC",
        )
        .bind(user)
        .bind(conversation)
        .bind(limit)
        .fetch_all(self.pool)
        .await?;
        rows.into_iter()
            .map(|(role, content)| Ok((parse_role(&role)?, content)))
            .collect()
    }
}

fn parse_role(role: &str) -> Result<Role, StoreError> {
    Role::parse(role)
        .ok_or_else(|| StoreError::Migration(format!("unknown role {role:?} in messages")))
}

fn message_from_row(row: &sqlx::postgres::PgRow) -> Result<Message, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        role: parse_role(&role)?,
        content: row.try_get("content")?,
        tool_calls: row.try_get("tool_calls")?,
        created_at: row.try_get("created_at")?,
    })
}

/// True when any string (or key) in the JSON holds U+0000.
pub(crate) fn json_has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v))
        }
        _ => false,
    }
}
