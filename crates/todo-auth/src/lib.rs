//! Bearer tokens: HS256 JWTs signed with `JWT_SECRET`. todo-api issues them at login;
//! todo-api and todo-mcp verify them with the same secret, and the user always comes from the
//! token, never from the request body or a tool argument.
//!
//! A signature alone does not make a token good. [`authenticate`], which both services call
//! on every request, also asks PostgreSQL whether the token is still live:
//!
//! - its user still exists (a deleted account's tokens are refused everywhere);
//! - its `ver` equals the user's `token_version` (bumped to revoke every token at once);
//! - its `sid`, the server-side session it was issued for (one per sign-in, shared with the
//!   session's refresh tokens), is not revoked: signing out revokes it, so the token stops
//!   working at once instead of living out its `exp`.
//!
//! The time claims are checked too: `exp` and `nbf` (with [`CLOCK_LEEWAY_SECS`] for clock
//! skew between replicas), and `iat`, which may not lie in the future beyond that leeway.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use service_kit::ApiError;
use std::sync::Arc;
use std::time::Duration;
use todo_store::Store;
use todo_store::sessions::TokenCheck;
use uuid::Uuid;

const ISSUER: &str = "todo-api";

/// How far clocks may disagree: `exp`, `nbf` and `iat` are allowed this much slack.
pub const CLOCK_LEEWAY_SECS: i64 = 10;

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub email: String,
    pub name: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The user's `token_version` when the token was issued.
    pub ver: i32,
    /// The server-side session (sign-in) this token belongs to. Tokens minted without one
    /// (tools, tests) are revoked only by bumping the user's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// Why a token was refused (the message is safe to show the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Malformed,
    Expired,
    /// `nbf` in the future.
    NotYetValid,
    /// `iat` in the future.
    IssuedInFuture,
    Invalid,
    /// Signed out (session revoked) or revoked by a version bump.
    Revoked,
    /// The user the token names no longer exists.
    NoAccount,
}

impl TokenError {
    pub fn message(&self) -> &'static str {
        match self {
            TokenError::Missing => {
                "missing bearer token: send `Authorization: Bearer <token>` (POST /api/auth/login gives one)"
            }
            TokenError::Malformed => "malformed bearer token",
            TokenError::Expired => {
                "token expired: get a new one with POST /api/auth/refresh, or log in again"
            }
            TokenError::NotYetValid => {
                "token not valid yet (its nbf is in the future): check the clocks of client and server"
            }
            TokenError::IssuedInFuture => {
                "token issued in the future (its iat is ahead of this server's clock): refused"
            }
            TokenError::Invalid => "invalid token",
            TokenError::Revoked => "token revoked (signed out): log in again",
            TokenError::NoAccount => "this account no longer exists",
        }
    }
}

/// Issues and verifies tokens. Cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

/// Who a new token is for.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub user: Uuid,
    pub email: &'a str,
    pub name: &'a str,
    /// The user's current `token_version`.
    pub version: i32,
    pub session: Option<Uuid>,
}

impl Tokens {
    pub fn new(secret: &str, ttl: Duration) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_LEEWAY_SECS as u64;
        Tokens {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
                validation,
                ttl,
            }),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// A token for a user at token version 0 without a session (tools and tests; todo-api's
    /// login uses [`Tokens::issue_for`]).
    pub fn issue(
        &self,
        user: Uuid,
        email: &str,
        name: &str,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.issue_at(user, email, name, now)
    }

    /// Issues a token as if it were `now` (tests use this to make expired tokens).
    pub fn issue_at(
        &self,
        user: Uuid,
        email: &str,
        name: &str,
        now: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_for_at(
            Subject {
                user,
                email,
                name,
                version: 0,
                session: None,
            },
            now,
        )
    }

    /// A token for `who`, valid from now for [`Tokens::ttl`].
    pub fn issue_for(&self, who: Subject<'_>) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_for_at(who, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn issue_for_at(
        &self,
        who: Subject<'_>,
        now: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        self.sign(&Claims {
            sub: who.user,
            email: who.email.to_owned(),
            name: who.name.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            nbf: now,
            exp: now + self.inner.ttl.as_secs() as i64,
            ver: who.version,
            sid: who.session,
        })
    }

    /// Signs any claims (tests craft tokens with odd `iat`/`nbf` this way).
    pub fn sign(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.inner.encoding)
    }

    /// Checks signature, issuer and time claims (not whether the token was revoked: that is
    /// [`authenticate`]).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
                .map(|data| data.claims)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidToken
                    | ErrorKind::Base64(_)
                    | ErrorKind::Json(_)
                    | ErrorKind::Utf8(_) => TokenError::Malformed,
                    _ => TokenError::Invalid,
                })?;
        // jsonwebtoken does not look at `iat`; a token "issued" later than now was not
        // issued by a todo-api with a sane clock.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if claims.iat > now + CLOCK_LEEWAY_SECS {
            return Err(TokenError::IssuedInFuture);
        }
        Ok(claims)
    }

    /// Verifies an `Authorization` header value (`Bearer <token>`).
    pub fn verify_header(&self, header: Option<&str>) -> Result<(Claims, String), TokenError> {
        let header = header.ok_or(TokenError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        Ok((self.verify(token)?, token.to_owned()))
    }
}

/// A fresh opaque refresh token: 32 random bytes, hex. Only its hash is stored.
pub fn new_refresh_token() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The authenticated caller, extracted from `Authorization: Bearer <jwt>`; the raw token is
/// kept so it can be forwarded (the chat agent calls todo-mcp on the user's behalf).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub token: String,
    /// The session the token belongs to, if it was issued for one.
    pub session: Option<Uuid>,
}

/// Verifies the `Authorization` header and checks in PostgreSQL that the token is still
/// live (see the module docs). Every refusal is a 401 with the reason; a database that
/// cannot answer is a 503 (never a pass: a revoked token must not work during an outage).
pub async fn authenticate(
    tokens: &Tokens,
    store: &Store,
    header: Option<&str>,
) -> Result<AuthUser, ApiError> {
    let (claims, token) = tokens
        .verify_header(header)
        .map_err(|e| ApiError::unauthorized(e.message()))?;
    let check = store
        .sessions()
        .check_token(claims.sub, claims.ver, claims.sid)
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                tracing::warn!(error = %e, "database unavailable while checking a token");
                ApiError::unavailable("the database is unavailable; try again shortly")
            } else {
                tracing::error!(error = %e, "checking a token failed");
                ApiError::internal()
            }
        })?;
    let refused = match check {
        TokenCheck::Live => None,
        TokenCheck::NoAccount => Some(TokenError::NoAccount),
        TokenCheck::Revoked => Some(TokenError::Revoked),
    };
    if let Some(why) = refused {
        return Err(ApiError::unauthorized(why.message()));
    }
    Ok(AuthUser {
        id: claims.sub,
        email: claims.email,
        name: claims.name,
        token,
        session: claims.sid,
    })
}

impl<S> FromRequestParts<S> for AuthUser
where
    Tokens: FromRef<S>,
    Store: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Tokens::from_ref(state);
        let store = Store::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        authenticate(&tokens, &store, header).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_and_carry_the_user() {
        let tokens = Tokens::new(SECRET, Duration::from_secs(3600));
        let id = Uuid::new_v4();
        let t = tokens.issue(id, "a@x.io", "Ann").unwrap();
        let claims = tokens.verify(&t).unwrap();
        assert_eq!(
            (claims.sub, claims.email.as_str(), claims.name.as_str()),
            (id, "a@x.io", "Ann")
        );
        let (c, raw) = tokens.verify_header(Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!((c.sub, raw), (id, t));
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let tokens = Tokens::new(SECRET, Duration::from_secs(60));
        let id = Uuid::new_v4();
        let old = tokens
            .issue_at(
                id,
                "a@x.io",
                "Ann",
                time::OffsetDateTime::now_utc().unix_timestamp() - 3600,
            )
            .unwrap();
        assert_eq!(tokens.verify(&old), Err(TokenError::Expired));

        let good = tokens.issue(id, "a@x.io", "Ann").unwrap();
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        // Swap the payload for another user's: the signature no longer matches.
        let other = tokens.issue(Uuid::new_v4(), "b@x.io", "Bob").unwrap();
        parts[1] = other.split('.').nth(1).unwrap().to_owned();
        assert_eq!(tokens.verify(&parts.join(".")), Err(TokenError::Invalid));

        let foreign = Tokens::new("another-secret-another-secret-xx", Duration::from_secs(60));
        assert_eq!(
            tokens.verify(&foreign.issue(id, "a", "b").unwrap()),
            Err(TokenError::Invalid)
        );
        assert_eq!(tokens.verify("not.a.jwt"), Err(TokenError::Malformed));
        assert_eq!(tokens.verify_header(None), Err(TokenError::Missing));
        assert_eq!(
            tokens.verify_header(Some("Basic abc")),
            Err(TokenError::Missing)
        );
    }

    fn crafted(tokens: &Tokens, iat: i64, nbf: i64, exp: i64) -> String {
        tokens
            .sign(&Claims {
                sub: Uuid::new_v4(),
                email: "a@x.io".into(),
                name: "Ann".into(),
                iss: ISSUER.into(),
                iat,
                nbf,
                exp,
                ver: 0,
                sid: None,
            })
            .unwrap()
    }

    #[test]
    fn nbf_and_iat_are_honoured_with_a_small_leeway() {
        let tokens = Tokens::new(SECRET, Duration::from_secs(600));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // Normal: issued now, valid now.
        assert!(
            tokens
                .verify(&crafted(&tokens, now, now, now + 600))
                .is_ok()
        );
        // Not before an hour from now: refused, whatever iat says.
        assert_eq!(
            tokens.verify(&crafted(&tokens, now, now + 3600, now + 7200)),
            Err(TokenError::NotYetValid)
        );
        // Issued an hour in the future: refused even though nbf has passed.
        assert_eq!(
            tokens.verify(&crafted(&tokens, now + 3600, now - 10, now + 7200)),
            Err(TokenError::IssuedInFuture)
        );
        // A few seconds of clock skew is tolerated on both.
        assert!(
            tokens
                .verify(&crafted(&tokens, now + 3, now + 3, now + 600))
                .is_ok()
        );
        assert_eq!(
            tokens.verify(&crafted(
                &tokens,
                now + CLOCK_LEEWAY_SECS + 5,
                now,
                now + 600
            )),
            Err(TokenError::IssuedInFuture)
        );
        // nbf is required: a token without it (as issued before it was added) is refused.
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        let no_nbf = jsonwebtoken::encode(
            &header,
            &serde_json::json!({"sub": Uuid::new_v4(), "email": "a", "name": "b", "iss": ISSUER,
                                 "iat": now, "exp": now + 600, "ver": 0}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(tokens.verify(&no_nbf).is_err());
    }

    #[test]
    fn refresh_tokens_are_long_random_hex() {
        let a = new_refresh_token();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_refresh_token());
    }
}
