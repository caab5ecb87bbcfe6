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
use service_kit::ApiError;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use todo_auth::AuthUser;
use todo_store::User;
use todo_store::validate::{name_rule, text_rule};
use todo_wire::user::{EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN};
use todo_wire::{LoginRequest, Me, RegisterRequest, Session};

pub async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let email = valid_email(&req.email)?;
    let name = name_rule("name", &req.name, NAME_MAX)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
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
        .create(&email, &name, &hash)
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
) -> Result<Json<Session>, ApiError> {
    state
        .login_limiter
        .check(client_ip(peer, &headers))
        .map_err(ApiError::too_many_requests)?;
    // The same rules as registration: no account can have another address.
    let email = valid_email(&req.email)?;
    let len = req.password.chars().count();
    if len == 0 || len > PASSWORD_MAX {
        return Err(ApiError::validation(
            "password",
            format!("must be 1 to {PASSWORD_MAX} characters"),
        ));
    }
    let found = state
        .store
        .users()
        .credentials_by_email(&email)
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

pub async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    let user = state.store.users().get(auth.id).await.map_err(from_store)?;
    let user = user.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Json(Me { user }))
}

fn session(state: &AppState, user: &User) -> Result<Session, ApiError> {
    let token = state
        .tokens
        .issue(user.id, &user.email, &user.name)
        .map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            ApiError::internal()
        })?;
    Ok(Session {
        user: user.clone(),
        token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
    })
}

/// `local@domain` as the schema's `EMAIL_PATTERN` states it: 3 to 254 characters; no
/// whitespace, `@` or control characters in either part; domain labels separated by single
/// dots. Surrounding whitespace is ignored (people paste addresses).
fn valid_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim();
    text_rule("email", email, false).map_err(|e| ApiError::validation(e.field, e.message))?;
    let bad = || ApiError::validation("email", "must be an email address like name@example.com");
    let len = email.chars().count();
    if !(3..=EMAIL_MAX).contains(&len) {
        return Err(bad());
    }
    // ECMA-262's `\s` (the schema's) also counts the byte-order mark as whitespace.
    let plain = |c: char| !(c.is_whitespace() || c == '\u{feff}' || c == '@' || c.is_control());
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && label.chars().all(plain));
    if local.is_empty() || !local.chars().all(plain) || !labels_ok {
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
        assert!(valid_email("a@b").is_ok());
        for bad in [
            "",
            "ann",
            "@x.io",
            "ann@",
            "a b@x.io",
            "ann@.io",
            "ann@x.",
            "a@b..c",
            "a@b@c",
            "a\u{0}b@x.io",
            "a@x\u{7f}.io",
            "a\u{feff}@x.io",
            "a@",
        ] {
            assert_eq!(
                valid_email(bad).err().and_then(|e| e.field).as_deref(),
                Some("email"),
                "{bad}"
            );
        }
    }
}
