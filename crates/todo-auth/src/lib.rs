//! Bearer tokens: HS256 JWTs signed with `JWT_SECRET`. todo-api issues them at login;
//! todo-api and todo-mcp verify them with the same secret, and the user always comes from the
//! token, never from the request body or a tool argument.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use service_kit::ApiError;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const ISSUER: &str = "todo-api";

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub email: String,
    pub name: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused (the message is safe to show the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Malformed,
    Expired,
    Invalid,
}

impl TokenError {
    pub fn message(&self) -> &'static str {
        match self {
            TokenError::Missing => {
                "missing bearer token: send `Authorization: Bearer <token>` (POST /api/auth/login gives one)"
            }
            TokenError::Malformed => "malformed bearer token",
            TokenError::Expired => "token expired: log in again",
            TokenError::Invalid => "invalid token",
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

impl Tokens {
    pub fn new(secret: &str, ttl: Duration) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
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
        let claims = Claims {
            sub: user,
            email: email.to_owned(),
            name: name.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.inner.ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.inner.encoding,
        )
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &self.inner.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidToken
                | ErrorKind::Base64(_)
                | ErrorKind::Json(_)
                | ErrorKind::Utf8(_) => TokenError::Malformed,
                _ => TokenError::Invalid,
            })
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

/// The authenticated caller, extracted from `Authorization: Bearer <jwt>`; the raw token is
/// kept so it can be forwarded (the chat agent calls todo-mcp on the user's behalf).
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub token: String,
}

impl<S> FromRequestParts<S> for AuthUser
where
    Tokens: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Tokens::from_ref(state);
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let (claims, token) = tokens
            .verify_header(header)
            .map_err(|e| ApiError::unauthorized(e.message()))?;
        Ok(AuthUser {
            id: claims.sub,
            email: claims.email,
            name: claims.name,
            token,
        })
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
}
