//! Users: sign-up, the credential lookup behind login, password change (which revokes every
//! token of the user), settings (name, time zone), the time
//! zone every date of the user is read in ([`UserStore::zone_of`]), and deletion (which takes
//! the user's tasks, conversations and sessions with it: every token of the user is refused
//! after).

use crate::error::StoreError;
use crate::model::{User, UserCredentials};
use crate::validate::{NAME_MAX, name_rule, text_rule};
use sqlx::{PgPool, Postgres, QueryBuilder, Row};
use todo_wire::UserZone;
use uuid::Uuid;

/// The user columns every read returns, in [`user_from_row`]'s shape.
const USER_COLUMNS: &str = "id, email, name, time_zone, created_at";

pub struct UserStore<'a> {
    pool: &'a PgPool,
}

impl<'a> UserStore<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Self {
        UserStore { pool }
    }

    /// Creates a user in UTC. An email already taken (in any letter case) is a conflict on
    /// `email`.
    pub async fn create(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<User, StoreError> {
        self.create_in(email, name, password_hash, &UserZone::utc())
            .await
    }

    /// Creates a user whose dates are read in `zone`.
    pub async fn create_in(
        &self,
        email: &str,
        name: &str,
        password_hash: &str,
        zone: &UserZone,
    ) -> Result<User, StoreError> {
        // The service checks the shape (todo-api); this keeps unstorable text out whatever
        // the caller (PostgreSQL refuses NUL outright, with a database error).
        text_rule("email", email, false)?;
        text_rule("name", name, false)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO users (id, email, name, password_hash, time_zone) VALUES ($1, $2, $3, $4, $5)
             RETURNING {USER_COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(email)
        .bind(name)
        .bind(password_hash)
        .bind(zone.name())
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(email) = lower($1)"
        )))
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The zone the user's dates are read in (UTC for an account that no longer exists:
    /// its requests fail on their own, with their own errors).
    pub async fn zone_of(&self, id: Uuid) -> Result<UserZone, StoreError> {
        let name: Option<String> = sqlx::query_scalar("SELECT time_zone FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool)
            .await?;
        Ok(name
            .as_deref()
            .map(UserZone::from_stored)
            .unwrap_or_default())
    }

    /// Changes the account's settings; absent ones are kept. `None` when the account does
    /// not exist. The name is checked here as at sign-up; the zone is already a known one.
    pub async fn update_settings(
        &self,
        id: Uuid,
        name: Option<&str>,
        zone: Option<&UserZone>,
    ) -> Result<Option<User>, StoreError> {
        let name = name.map(|n| name_rule("name", n, NAME_MAX)).transpose()?;
        let mut q = QueryBuilder::<Postgres>::new("UPDATE users SET id = id");
        if let Some(name) = name {
            q.push(", name = ").push_bind(name);
        }
        if let Some(zone) = zone {
            q.push(", time_zone = ").push_bind(zone.name().to_owned());
        }
        q.push(" WHERE id = ").push_bind(id);
        q.push(format!(" RETURNING {USER_COLUMNS}"));
        let row = q.build().fetch_optional(self.pool).await?;
        row.as_ref().map(user_from_row).transpose()
    }
}

impl UserStore<'_> {
    /// The account's stored password hash; `None` when it does not exist.
    pub async fn password_hash(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool)
                .await?,
        )
    }

    /// Sets a new password hash and, in the same transaction, revokes every token of the
    /// user: the version bump refuses every access token (sign-in and OAuth), and every
    /// session (sign-in sessions and OAuth grants, with their refresh tokens) is revoked.
    /// False when the account does not exist.
    pub async fn change_password(&self, id: Uuid, password_hash: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        crate::sessions::revoke_all_of(&mut tx, id, crate::sessions::Revoked::Password).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes the account and everything it owns. True when it existed.
    pub async fn delete(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

pub(crate) fn user_from_row(row: &sqlx::postgres::PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        time_zone: row.try_get("time_zone")?,
        created_at: row.try_get("created_at")?,
    })
}
