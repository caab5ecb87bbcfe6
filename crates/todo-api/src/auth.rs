//! `/api/auth`: register, login, me. Passwords are hashed with argon2id on blocking threads,
//! at most a few at a time, so a burst of logins cannot starve the server of CPU or memory.

use crate::errors::from_store;
use crate::json::JsonBody;
use crate::rate_limit::client_ip;
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use service_kit::ApiError;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use todo_auth::AuthUser;
use todo_store::User;

const PASSWORD_MIN: usize = 8;
const PASSWORD_MAX: usize = 1024;
const NAME_MAX: usize = 100;
const EMAIL_MAX: usize = 254;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    email: String,
    password: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

pub async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let email = valid_email(&req.email)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX {
        return Err(ApiError::validation(
            "name",
            format!("must be 1 to {NAME_MAX} characters"),
        ));
    }
    let len = req.password.chars().count();
    if len < PASSWORD_MIN {
        return Err(ApiError::validation(
            "password",
            format!("must be at least {PASSWORD_MIN} characters"),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(ApiError::validation(
            "password",
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    let hash = state.passwords.hash(req.password).await?;
    let user = state
        .store
        .users()
        .create(&email, name, &hash)
        .await
        .map_err(from_store)?;
    let body = session(&state, &user)?;
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .login_limiter
        .check(client_ip(peer, &headers))
        .map_err(ApiError::too_many_requests)?;
    let found = state
        .store
        .users()
        .credentials_by_email(req.email.trim())
        .await
        .map_err(from_store)?;
    // Verify against a dummy hash when the user does not exist, so timing does not reveal
    // which emails have accounts.
    let (hash, user) = match found {
        Some(c) => (c.password_hash, Some(c.user)),
        None => (state.passwords.dummy_hash().to_owned(), None),
    };
    let ok = state.passwords.verify(req.password, hash).await?;
    match user {
        Some(user) if ok => Ok(Json(session(&state, &user)?)),
        _ => Err(ApiError::unauthorized("invalid email or password")),
    }
}

pub async fn me(
    State(state): State<AppState>,
    auth: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    let user = state.store.users().get(auth.id).await.map_err(from_store)?;
    let user = user.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Json(json!({ "user": user })))
}

fn session(state: &AppState, user: &User) -> Result<serde_json::Value, ApiError> {
    let token = state
        .tokens
        .issue(user.id, &user.email, &user.name)
        .map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            ApiError::internal()
        })?;
    Ok(
        json!({ "user": user, "token": token, "token_type": "Bearer", "expires_in": state.tokens.ttl().as_secs() }),
    )
}

fn valid_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim();
    let bad = || ApiError::validation("email", "must be an email address like name@example.com");
    if email.len() > EMAIL_MAX || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || local.contains('@')
    {
        return Err(bad());
    }
    Ok(email.to_owned())
}

/// argon2id hashing, bounded in concurrency (each hash takes ~19 MiB and a core for a while).
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<tokio::sync::Semaphore>,
}

impl Passwords {
    pub fn new(concurrency: usize) -> Passwords {
        Passwords {
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
    }

    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal())?;
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .map_err(|_| ApiError::internal())
    }

    fn dummy_hash(&self) -> &'static str {
        static DUMMY: OnceLock<String> = OnceLock::new();
        DUMMY.get_or_init(|| {
            Argon2::default()
                .hash_password(b"not-a-real-password")
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_but_sanely() {
        assert_eq!(
            valid_email(" Ann@Example.com ").ok().as_deref(),
            Some("Ann@Example.com")
        );
        for bad in ["", "ann", "@x.io", "ann@", "a b@x.io", "ann@.io", "ann@x."] {
            assert_eq!(
                valid_email(bad).err().and_then(|e| e.field).as_deref(),
                Some("email"),
                "{bad}"
            );
        }
    }
}
