//! OAuth clients, authorization codes and grants (tables in the `oauth` migration).
//!
//! A grant is a sign-in session (`sessions`) plus its `oauth_grants` row, so refresh-token
//! rotation with reuse detection and revocation are the session machinery's
//! ([`crate::sessions::SessionStore::rotate`]); this module adds what is OAuth's own. Codes and
//! tokens are opaque random strings chosen by the caller, stored only as their SHA-256.

use crate::Store;
use crate::error::StoreError;
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
}

/// What an authorization code was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub client_id: String,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub scope: String,
}

/// What presenting a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the code is used now; `grant` is what it was issued for.
    Redeemed { code_id: Vec<u8>, grant: CodeGrant },
    /// Used before: the grant it made (if any) is revoked now.
    Reused,
    /// Unknown or expired.
    Invalid,
}

/// A grant's binding, found from one of its refresh tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantBinding {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub client_id: String,
    pub resource: String,
    pub scope: String,
}

pub struct OAuthStore<'a> {
    pool: &'a PgPool,
}

impl Store {
    /// OAuth clients, codes and grants.
    pub fn oauth(&self) -> OAuthStore<'_> {
        OAuthStore { pool: self.gated() }
    }
}

impl OAuthStore<'_> {
    pub async fn register_client(
        &self,
        client_id: &str,
        client_name: &str,
        redirect_uris: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, client_name, redirect_uris) VALUES ($1, $2, $3)",
        )
        .bind(client_id)
        .bind(client_name)
        .bind(redirect_uris)
        .execute(self.pool)
        .await?;
        Ok(())
    }

    pub async fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(
            "SELECT client_id, client_name, redirect_uris FROM oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.pool)
        .await?;
        row.map(|r| {
            Ok(Client {
                client_id: r.try_get("client_id")?,
                client_name: r.try_get("client_name")?,
                redirect_uris: r.try_get("redirect_uris")?,
            })
        })
        .transpose()
    }

    /// Stores a code for `grant`, valid for `ttl`.
    pub async fn create_code(
        &self,
        code: &str,
        grant: &CodeGrant,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, code_challenge,
                                      resource, scope, expires_at)
             VALUES (sha256(convert_to($1, 'UTF8')), $2, $3, $4, $5, $6, $7,
                     now() + make_interval(secs => $8))",
        )
        .bind(code)
        .bind(&grant.client_id)
        .bind(grant.user_id)
        .bind(&grant.redirect_uri)
        .bind(&grant.code_challenge)
        .bind(&grant.resource)
        .bind(&grant.scope)
        .bind(ttl.as_secs_f64())
        .execute(self.pool)
        .await?;
        // Expired codes are of no use, not even for reuse detection.
        sqlx::query("DELETE FROM oauth_codes WHERE expires_at < now() - interval '1 hour'")
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// Uses `code` once. The row lock serialises two exchanges of one code: exactly one is
    /// `Redeemed`. A second use revokes the grant the first one made.
    pub async fn redeem_code(&self, code: &str) -> Result<Redemption, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT code_hash, client_id, user_id, redirect_uri, code_challenge, resource, scope,
                    used_at IS NOT NULL AS used, expires_at <= now() AS expired, session_id
             FROM oauth_codes WHERE code_hash = sha256(convert_to($1, 'UTF8')) FOR UPDATE",
        )
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Redemption::Invalid);
        };
        if row.try_get::<bool, _>("used")? {
            let session: Option<Uuid> = row.try_get("session_id")?;
            if let Some(session) = session {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = now(), revoked_reason = 'reuse'
                     WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(session)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(%session, "an authorization code was used twice: its grant is revoked");
            }
            tx.commit().await?;
            return Ok(Redemption::Reused);
        }
        if row.try_get::<bool, _>("expired")? {
            return Ok(Redemption::Invalid);
        }
        let code_id: Vec<u8> = row.try_get("code_hash")?;
        sqlx::query("UPDATE oauth_codes SET used_at = now() WHERE code_hash = $1")
            .bind(&code_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Redemption::Redeemed {
            code_id,
            grant: CodeGrant {
                client_id: row.try_get("client_id")?,
                user_id: row.try_get("user_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
                resource: row.try_get("resource")?,
                scope: row.try_get("scope")?,
            },
        })
    }

    /// Starts the grant a redeemed code allows: a session with `refresh_token` (valid for
    /// `ttl`) and its binding. Returns the session id and the user's token version.
    pub async fn start_grant(
        &self,
        code_id: &[u8],
        grant: &CodeGrant,
        refresh_token: &str,
        ttl: Duration,
    ) -> Result<(Uuid, i32), StoreError> {
        let id = Uuid::new_v4();
        let mut tx = self.pool.begin().await?;
        let version: i32 = sqlx::query_scalar(
            "WITH s AS (INSERT INTO sessions (id, user_id) VALUES ($1, $2))
             SELECT token_version FROM users WHERE id = $2",
        )
        .bind(id)
        .bind(grant.user_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO oauth_grants (session_id, client_id, resource, scope) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&grant.client_id)
        .bind(&grant.resource)
        .bind(&grant.scope)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
             VALUES (sha256(convert_to($1, 'UTF8')), $2, now() + make_interval(secs => $3))",
        )
        .bind(refresh_token)
        .bind(id)
        .bind(ttl.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE oauth_codes SET session_id = $1 WHERE code_hash = $2")
            .bind(id)
            .bind(code_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((id, version))
    }

    /// The OAuth grant a refresh token belongs to (used or not, live or not); `None` for a
    /// sign-in session's token or an unknown one, which the token endpoint must not rotate.
    pub async fn grant_of_refresh(
        &self,
        refresh_token: &str,
    ) -> Result<Option<GrantBinding>, StoreError> {
        let row = sqlx::query(
            "SELECT g.session_id, s.user_id, g.client_id, g.resource, g.scope
             FROM refresh_tokens r
             JOIN oauth_grants g ON g.session_id = r.session_id
             JOIN sessions s ON s.id = g.session_id
             WHERE r.token_hash = sha256(convert_to($1, 'UTF8'))",
        )
        .bind(refresh_token)
        .fetch_optional(self.pool)
        .await?;
        row.map(|r| {
            Ok(GrantBinding {
                session_id: r.try_get("session_id")?,
                user_id: r.try_get("user_id")?,
                client_id: r.try_get("client_id")?,
                resource: r.try_get("resource")?,
                scope: r.try_get("scope")?,
            })
        })
        .transpose()
    }

    /// Revokes an OAuth grant (RFC 7009, disconnect). True when it was live.
    pub async fn revoke_grant(&self, session_id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = 'revoked'
             WHERE id = $1 AND revoked_at IS NULL
               AND EXISTS (SELECT 1 FROM oauth_grants WHERE session_id = $1)",
        )
        .bind(session_id)
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
