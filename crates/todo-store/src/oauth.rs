//! OAuth clients, authorization codes and grants (tables in the `oauth` migration).
//!
//! A grant is a sign-in session (`sessions`) plus its `oauth_grants` row, so refresh-token
//! rotation with reuse detection and revocation are the session machinery's
//! ([`crate::sessions::SessionStore::rotate`]; every revocation goes through its one
//! statement); this module adds what is OAuth's own: clients (registered, or cached from a
//! client metadata document), codes, grants and the connected-apps view. Codes and
//! tokens are opaque random strings chosen by the caller, stored only as their SHA-256.

use crate::Store;
use crate::error::StoreError;
use crate::sessions::{Revoked, revoke_session, start_session};
use sqlx::{PgPool, Row};
use std::time::Duration;
use uuid::Uuid;

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    /// A client metadata document whose cached copy has expired: fetch it again before use.
    /// Always false for a registered client.
    pub stale: bool,
}

/// An app the user has connected (live grants of one client), for the connected-apps page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    pub client_name: String,
    pub granted_at: time::OffsetDateTime,
    pub last_used_at: time::OffsetDateTime,
    /// The scopes of its grants, space-separated (may repeat; the caller parses them).
    pub scope: String,
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
            "SELECT client_id, client_name, redirect_uris,
                    coalesce(metadata_expires_at <= now(), false) AS stale
             FROM oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.pool)
        .await?;
        row.map(|r| {
            Ok(Client {
                client_id: r.try_get("client_id")?,
                client_name: r.try_get("client_name")?,
                redirect_uris: r.try_get("redirect_uris")?,
                stale: r.try_get("stale")?,
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
                revoke_session(&mut tx, session, None, Revoked::Reuse).await?;
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
        let mut tx = self.pool.begin().await?;
        let started = start_session(&mut tx, grant.user_id, refresh_token, ttl).await?;
        let (id, version) = (started.id, started.token_version);
        sqlx::query(
            "INSERT INTO oauth_grants (session_id, client_id, resource, scope) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(&grant.client_id)
        .bind(&grant.resource)
        .bind(&grant.scope)
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

    /// Revokes an OAuth grant (RFC 7009). True when it was live. A sign-in session is not an
    /// OAuth grant and is left alone.
    pub async fn revoke_grant(&self, session_id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let is_grant: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM oauth_grants WHERE session_id = $1)")
                .bind(session_id)
                .fetch_one(&mut *tx)
                .await?;
        let revoked = is_grant && revoke_session(&mut tx, session_id, None, Revoked::Grant).await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// The apps `user` has connected: their live grants (not revoked, a refresh token still
    /// usable), one entry per client, most recently used first. "Last used" is the last
    /// refresh, which an app in use makes at least every access token lifetime.
    pub async fn connected_apps(&self, user: Uuid) -> Result<Vec<ConnectedApp>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.client_id, c.client_name,
                    min(s.created_at) AS granted_at, max(s.refreshed_at) AS last_used_at,
                    string_agg(DISTINCT g.scope, ' ') AS scope
             FROM oauth_grants g
             JOIN sessions s ON s.id = g.session_id
             JOIN oauth_clients c ON c.client_id = g.client_id
             WHERE s.user_id = $1 AND s.revoked_at IS NULL
               AND EXISTS (SELECT 1 FROM refresh_tokens r
                           WHERE r.session_id = s.id AND r.used_at IS NULL AND r.expires_at > now())
             GROUP BY g.client_id, c.client_name
             ORDER BY max(s.refreshed_at) DESC, g.client_id",
        )
        .bind(user)
        .fetch_all(self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConnectedApp {
                    client_id: r.try_get("client_id")?,
                    client_name: r.try_get("client_name")?,
                    granted_at: r.try_get("granted_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    scope: r.try_get("scope")?,
                })
            })
            .collect()
    }

    /// Disconnects `client_id` from `user`: revokes every grant of that user to that client
    /// (their access and refresh tokens stop working at once). The number revoked; 0 when
    /// the user had none (another user's grants are never touched).
    pub async fn disconnect(&self, user: Uuid, client_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sessions: Vec<Uuid> = sqlx::query_scalar(
            "SELECT s.id FROM sessions s JOIN oauth_grants g ON g.session_id = s.id
             WHERE s.user_id = $1 AND g.client_id = $2 AND s.revoked_at IS NULL
             FOR UPDATE OF s",
        )
        .bind(user)
        .bind(client_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut revoked = 0;
        for session in sessions {
            if revoke_session(&mut tx, session, Some(user), Revoked::Grant).await? {
                revoked += 1;
            }
        }
        tx.commit().await?;
        Ok(revoked)
    }

    /// Stores (or refreshes) the client a fetched metadata document describes, reusable for
    /// `ttl`. Never overwrites a registered client.
    pub async fn cache_document_client(
        &self,
        client_id: &str,
        client_name: &str,
        redirect_uris: &[String],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oauth_clients (client_id, client_name, redirect_uris, metadata_expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4))
             ON CONFLICT (client_id) DO UPDATE
                 SET client_name = EXCLUDED.client_name, redirect_uris = EXCLUDED.redirect_uris,
                     metadata_expires_at = EXCLUDED.metadata_expires_at
                 WHERE oauth_clients.metadata_expires_at IS NOT NULL",
        )
        .bind(client_id)
        .bind(client_name)
        .bind(redirect_uris)
        .bind(ttl.as_secs_f64())
        .execute(self.pool)
        .await?;
        Ok(())
    }
}
