//! Sign-in sessions and their refresh tokens, and the liveness check behind every
//! authenticated request (see the `sessions` migration for the tables).
//!
//! Refresh tokens are opaque random strings chosen by the caller; only their SHA-256
//! (computed by PostgreSQL) is stored. [`SessionStore::rotate`] implements rotation with
//! reuse detection: a token works once; presenting it again revokes its whole family, since
//! either the client or a thief holds a copy, and the server cannot tell which.

use crate::Store;
use crate::error::StoreError;
use crate::model::User;
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

/// Whether an access token's user, version and session still stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Live,
    /// The user was deleted.
    NoAccount,
    /// Version bumped, or the session signed out (or revoked for reuse).
    Revoked,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was good and is now used; `new_token` replaces it.
    Rotated {
        session: Uuid,
        user: User,
        token_version: i32,
    },
    /// The token had been used before: the family is revoked now.
    Reused,
    /// Unknown, expired, or its session is revoked.
    Invalid,
}

/// A new session: its id and its user's token version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSession {
    pub id: Uuid,
    pub token_version: i32,
}

pub struct SessionStore<'a> {
    pool: &'a PgPool,
}

impl Store {
    /// Sign-in sessions, refresh tokens and token liveness.
    pub fn sessions(&self) -> SessionStore<'_> {
        SessionStore { pool: self.gated() }
    }
}

impl SessionStore<'_> {
    /// The check every authenticated request makes: one indexed lookup.
    pub async fn check_token(
        &self,
        user: Uuid,
        version: i32,
        session: Option<Uuid>,
    ) -> Result<TokenCheck, StoreError> {
        let row = sqlx::query(
            "SELECT u.token_version,
                    EXISTS (SELECT 1 FROM sessions s
                            WHERE s.id = $2 AND s.user_id = u.id AND s.revoked_at IS NULL) AS live
             FROM users u WHERE u.id = $1",
        )
        .bind(user)
        .bind(session)
        .fetch_optional(self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(TokenCheck::NoAccount);
        };
        let current: i32 = row.try_get("token_version")?;
        let live: bool = row.try_get("live")?;
        Ok(if current != version || (session.is_some() && !live) {
            TokenCheck::Revoked
        } else {
            TokenCheck::Live
        })
    }

    /// Starts a session for `user` whose first refresh token is `refresh_token`, valid for `ttl`.
    pub async fn create(
        &self,
        user: Uuid,
        refresh_token: &str,
        ttl: Duration,
    ) -> Result<NewSession, StoreError> {
        let mut tx = self.pool.begin().await?;
        let started = start_session(&mut tx, user, refresh_token, ttl).await?;
        tx.commit().await?;
        Ok(started)
    }

    /// Uses `presented` once: on success it is marked used and `new_token` (valid for `ttl`)
    /// joins its family. A used token revokes the family. Row locks serialise two refreshes
    /// with one token, so exactly one of them wins.
    pub async fn rotate(
        &self,
        presented: &str,
        new_token: &str,
        ttl: Duration,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT r.session_id, r.used_at IS NOT NULL AS used, r.expires_at <= now() AS expired,
                    s.revoked_at IS NOT NULL AS revoked
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
             WHERE r.token_hash = sha256(convert_to($1, 'UTF8'))
             FOR UPDATE OF r, s",
        )
        .bind(presented)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Invalid);
        };
        let session: Uuid = row.try_get("session_id")?;
        if row.try_get::<bool, _>("revoked")? || row.try_get::<bool, _>("expired")? {
            return Ok(Rotation::Invalid);
        }
        if row.try_get::<bool, _>("used")? {
            revoke_session(&mut tx, session, None, Revoked::Reuse).await?;
            tx.commit().await?;
            tracing::warn!(%session, "a used refresh token was presented again: session revoked");
            return Ok(Rotation::Reused);
        }
        sqlx::query(
            "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = sha256(convert_to($1, 'UTF8'))",
        )
        .bind(presented)
        .execute(&mut *tx)
        .await?;
        insert_token(&mut tx, session, new_token, ttl).await?;
        let user = sqlx::query(
            "UPDATE sessions s SET refreshed_at = now() FROM users u
             WHERE s.id = $1 AND u.id = s.user_id
             RETURNING u.id, u.email, u.name, u.time_zone, u.created_at, u.token_version",
        )
        .bind(session)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Rotation::Rotated {
            session,
            token_version: user.try_get("token_version")?,
            user: User {
                id: user.try_get("id")?,
                email: user.try_get("email")?,
                name: user.try_get("name")?,
                time_zone: user.try_get("time_zone")?,
                created_at: user.try_get("created_at")?,
            },
        })
    }

    /// Signs `session` out (only if it is `user`'s): its access and refresh tokens stop
    /// working at once. True when it was live.
    pub async fn revoke(&self, user: Uuid, session: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        revoke_session(&mut conn, session, Some(user), Revoked::Logout).await
    }

    /// Revokes every token of `user`: bumps the version (access tokens) and signs out every
    /// session (refresh tokens).
    pub async fn revoke_all(&self, user: Uuid) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        revoke_all_of(&mut tx, user, Revoked::Logout).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes expired refresh tokens and the sessions left without a live one (revoked
    /// sessions go once their tokens have expired, so reuse is recognised until then).
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= now()")
            .execute(self.pool)
            .await?
            .rows_affected();
        sqlx::query(
            "DELETE FROM sessions s WHERE NOT EXISTS
                 (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id)",
        )
        .execute(self.pool)
        .await?;
        Ok(tokens)
    }
}

/// Why a session was revoked (`sessions.revoked_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoked {
    /// Signed out (one session, or all of them).
    Logout,
    /// A used refresh token or authorization code was presented again.
    Reuse,
    /// An OAuth grant revoked: RFC 7009, or disconnected on the connected-apps page.
    Grant,
    /// The password changed: every session of the user.
    Password,
}

impl Revoked {
    fn as_str(self) -> &'static str {
        match self {
            Revoked::Logout => "logout",
            Revoked::Reuse => "reuse",
            Revoked::Grant => "revoked",
            Revoked::Password => "password",
        }
    }
}

/// The one statement that revokes a session (sign-out, reuse, OAuth revocation), for the
/// whole crate: its access tokens (which carry its id) and refresh tokens die with it. With
/// `owner`, only if the session is that user's. True when it was live.
pub(crate) async fn revoke_session(
    conn: &mut sqlx::PgConnection,
    session: Uuid,
    owner: Option<Uuid>,
    reason: Revoked,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $3
         WHERE id = $1 AND revoked_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)",
    )
    .bind(session)
    .bind(owner)
    .bind(reason.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Revokes every token of `user`: bumps the version (every access token, sign-in and OAuth)
/// and revokes every session (every refresh token and OAuth grant). Run inside the caller's
/// transaction, so a password change and the revocation land together.
pub(crate) async fn revoke_all_of(
    conn: &mut sqlx::PgConnection,
    user: Uuid,
    reason: Revoked,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = $1")
        .bind(user)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $2
         WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .bind(reason.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The one way a session starts (a sign-in, or an OAuth grant, which adds its binding in the
/// same transaction): the row, and its first refresh token valid for `ttl`.
pub(crate) async fn start_session(
    tx: &mut sqlx::PgConnection,
    user: Uuid,
    refresh_token: &str,
    ttl: Duration,
) -> Result<NewSession, StoreError> {
    let id = Uuid::new_v4();
    let version: i32 = sqlx::query_scalar(
        "WITH s AS (INSERT INTO sessions (id, user_id) VALUES ($1, $2))
         SELECT token_version FROM users WHERE id = $2",
    )
    .bind(id)
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    insert_token(tx, id, refresh_token, ttl).await?;
    Ok(NewSession {
        id,
        token_version: version,
    })
}

async fn insert_token(
    tx: &mut sqlx::PgConnection,
    session: Uuid,
    token: &str,
    ttl: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
         VALUES (sha256(convert_to($1, 'UTF8')), $2, now() + make_interval(secs => $3))",
    )
    .bind(token)
    .bind(session)
    .bind(ttl.as_secs_f64())
    .execute(tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::PoolSettings;

    async fn store() -> Store {
        let url = throwaway_postgres::fresh_database().unwrap();
        let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// (sessions, refresh tokens) stored.
    async fn counts(store: &Store) -> (i64, i64) {
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM refresh_tokens)",
        )
        .fetch_one(store.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn expired_refresh_tokens_are_refused_and_pruned_with_their_sessions() {
        let store = store().await;
        let user = store.users().create("p@x.io", "P", "x").await.unwrap();
        let sessions = store.sessions();
        // Expired on arrival, and one that lives.
        let dead = sessions
            .create(user.id, "dead-token", Duration::ZERO)
            .await
            .unwrap();
        let live = sessions
            .create(user.id, "live-token", Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(
            sessions
                .rotate("dead-token", "next", Duration::from_secs(60))
                .await
                .unwrap(),
            Rotation::Invalid
        );
        // Only hashes are stored.
        let raw: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%token%'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(raw, 0);
        assert_eq!(counts(&store).await, (2, 2));
        assert_eq!(sessions.prune().await.unwrap(), 1);
        assert_eq!(counts(&store).await, (1, 1));
        // The pruned session's tokens are refused; the live one is untouched.
        assert_eq!(
            sessions
                .check_token(user.id, 0, Some(dead.id))
                .await
                .unwrap(),
            TokenCheck::Revoked
        );
        assert_eq!(
            sessions
                .check_token(user.id, 0, Some(live.id))
                .await
                .unwrap(),
            TokenCheck::Live
        );
        // A session id of another user is not this user's session.
        let other = store.users().create("q@x.io", "Q", "x").await.unwrap();
        assert_eq!(
            sessions
                .check_token(other.id, 0, Some(live.id))
                .await
                .unwrap(),
            TokenCheck::Revoked
        );
        assert!(
            !sessions.revoke(other.id, live.id).await.unwrap(),
            "not theirs to revoke"
        );
        assert_eq!(
            sessions
                .check_token(user.id, 0, Some(live.id))
                .await
                .unwrap(),
            TokenCheck::Live
        );
    }
}
