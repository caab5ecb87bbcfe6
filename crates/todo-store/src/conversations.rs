//! Chat conversations and their messages, scoped to their owner.

use crate::error::{StoreError, ValidationError};
use crate::model::{Conversation, Message, Role};
use crate::validate::{CONVERSATION_TITLE_MAX, name_rule, text_rule};
use sqlx::{PgPool, Row};
use uuid::Uuid;

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
        text_rule("message", content, true)?;
        if tool_calls.is_some_and(json_has_nul) {
            return Err(ValidationError::new(
                "tool_calls",
                "must not contain NUL characters (U+0000)",
            )
            .into());
        }
        // One statement (so one round trip, and atomic without BEGIN/COMMIT): the insert
        // only happens when the conversation is this user's, and bumps its updated_at.
        let row = sqlx::query(
            "WITH touched AS (
                 UPDATE conversations SET updated_at = now()
                 WHERE user_id = $1 AND id = $2
                 RETURNING id
             )
             INSERT INTO messages (conversation_id, user_id, role, content, tool_calls)
             SELECT id, $1, $3, $4, $5 FROM touched
             RETURNING id, conversation_id, role, content, tool_calls, created_at",
        )
        .bind(user)
        .bind(conversation)
        .bind(role.as_str())
        .bind(content)
        .bind(tool_calls)
        .fetch_optional(self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        message_from_row(&row).map(Some)
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
