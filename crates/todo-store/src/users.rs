//! Users: sign-up, the credential lookup behind login, and deletion (which takes the user's
//! tasks, conversations and sessions with it: every token of the user is refused after).

use crate::error::StoreError;
use crate::model::{User, UserCredentials};
use crate::validate::text_rule;
use sqlx::{PgPool, Row};
use uuid::Uuid;

pub struct UserStore<'a> {
    pool: &'a PgPool,
}

impl<'a> UserStore<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Self {
        UserStore { pool }
    }

    /// Creates a user. An email already taken (in any letter case) is a conflict on `email`.
    pub async fn create(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<User, StoreError> {
        // The service checks the shape (todo-api); this keeps unstorable text out whatever
        // the caller (PostgreSQL refuses NUL outright, with a database error).
        text_rule("email", email, false)?;
        text_rule("name", name, false)?;
        let row = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
             RETURNING id, email, name, created_at",
        )
        .bind(Uuid::new_v4())
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .fetch_one(self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                StoreError::Conflict {
                    field: "email".into(),
                    message: "an account with this email already exists".into(),
                }
            }
            other => StoreError::Database(other),
        })?;
        user_from_row(&row)
    }

    pub async fn credentials_by_email(
        &self,
        email: &str,
    ) -> Result<Option<UserCredentials>, StoreError> {
        if email.contains('\0') {
            // PostgreSQL text cannot hold NUL, so no account has such an email.
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT id, email, name, created_at, password_hash FROM users WHERE lower(email) = lower($1)",
        )
        .bind(email)
        .fetch_optional(self.pool)
        .await?;
        row.map(|r| {
            Ok(UserCredentials {
                user: user_from_row(&r)?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    pub async fn get(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, email, name, created_at FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

impl UserStore<'_> {
    /// Deletes the account and everything it owns. True when it existed.
    pub async fn delete(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn user_from_row(row: &sqlx::postgres::PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}
