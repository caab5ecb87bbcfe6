//! `/api/auth`: register, login, refresh, logout, me (read, and `PATCH` for the name and the
//! time zone), password (change it, which revokes every token of the account: sign-in
//! sessions, OAuth grants of connected apps, all access tokens; the caller gets a new
//! session).
//!
//! Tokens: login and register start a server-side session (a row in `sessions`) and answer
//! a short-lived access token (a JWT naming the session in `sid`, `TOKEN_TTL_SECONDS`) plus
//! an opaque refresh token (`REFRESH_TOKEN_TTL_SECONDS`, stored hashed). `POST
//! /api/auth/refresh` trades a refresh token for a new pair, once: presenting a used one
//! again revokes the session (it was copied). `POST /api/auth/logout` revokes the caller's
//! session, so its access token is refused at once by todo-api and todo-mcp, which both
//! check every token against the database ([`todo_auth::authenticate`]).
//!
//! Passwords are hashed with argon2id on blocking threads,
//! a few at a time with login first in line ([`Passwords`]), so a burst of registrations can
//! neither starve the server of CPU or memory nor make logins wait behind it.
//!
//! Who may try how often ([`crate::rate_limit`]): each client address has a login and a
//! register budget; each account (by normalised email, whether or not it exists) has a
//! failure count in PostgreSQL with exponential backoff, shared by every replica.
//!
//! Registering an email that is taken answers 409: people need to learn to log in instead,
//! and the alternatives (a uniform 201-like answer plus an email) need mail we do not send.
//! What bounds enumeration through it is the per-client register budget, checked first.

use crate::config::HashLimits;
use crate::errors::from_store;
use crate::json::JsonBody;
use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use service_kit::ApiError;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use todo_auth::{AuthUser, Subject};
use todo_store::sessions::Rotation;
use todo_store::validate::{name_rule, text_rule, zone_rule};
use todo_store::{Attempt, LoginThrottle, User};
use todo_wire::user::RefreshRequest;
use todo_wire::user::{EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN};
use todo_wire::{LoginRequest, Me, RegisterRequest, Session, UpdateMe, UserZone};

pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Session>), ApiError> {
    let limits = &state.login_limiter;
    limits
        .register
        .check(limits.client_ip(peer, &headers))
        .map_err(|secs| {
            let mut e = ApiError::too_many_requests(secs);
            e.message = format!("too many registrations from this address; try again in {secs} s");
            e
        })?;
    let email = valid_email(&req.email)?;
    let name = name_rule("name", &req.name, NAME_MAX)
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    // Checked before the (expensive) password hash, like every other field.
    let zone = match req.time_zone.as_deref() {
        Some(raw) => {
            zone_rule("time_zone", raw).map_err(|e| ApiError::validation(e.field, e.message))?
        }
        None => UserZone::utc(),
    };
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
    strong_enough(&req.password, &email, &name, limits.password_min_score)?;
    let hash = state.passwords.hash(req.password).await?;
    let user = state
        .store
        .users()
        .create_in(&email, &name, &hash, &zone)
        .await
        .map_err(from_store)?;
    let body = session(&state, &user).await?;
    Ok((StatusCode::CREATED, Json(body)))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<Session>, ApiError> {
    let limits = &state.login_limiter;
    limits
        .login
        .check(limits.client_ip(peer, &headers))
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
    // Wait for a hashing slot before counting the attempt, so a busy server (503) does not
    // cost the account an attempt.
    let permit = state.passwords.permit(Lane::Login).await?;
    let account = LoginThrottle::key(&email);
    let throttle = state.store.login_throttle();
    if let Attempt::Blocked { retry_after } = throttle
        .begin(&account, &limits.account)
        .await
        .map_err(from_store)?
    {
        let secs = retry_after.as_secs().max(1);
        let mut e = ApiError::too_many_requests(secs);
        e.message = format!("too many failed logins for this email; try again in {secs} s");
        return Err(e);
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
    let ok = permit.verify(req.password, hash).await?;
    match user {
        Some(user) if ok => {
            throttle.succeeded(&account).await.map_err(from_store)?;
            Ok(Json(session(&state, &user).await?))
        }
        _ => {
            service_kit::metrics::login_failure("bad_credentials");
            // Keep the shared table small when many different emails are tried.
            if rand::random::<u8>() == 0
                && let Err(e) = throttle.prune(limits.account.window).await
            {
                tracing::warn!(error = %e, "pruning login_throttle failed");
            }
            Err(ApiError::unauthorized("invalid email or password"))
        }
    }
}

/// Refuses a password zxcvbn can guess quickly, saying why and what would help. The email,
/// its local part and the name count as known to an attacker.
fn strong_enough(password: &str, email: &str, name: &str, min_score: u8) -> Result<(), ApiError> {
    let local = email.split('@').next().unwrap_or(email);
    let estimate = zxcvbn::zxcvbn(password, &[email, local, name]);
    if u8::from(estimate.score()) >= min_score {
        return Ok(());
    }
    let mut why = String::from("is too easy to guess");
    if let Some(feedback) = estimate.feedback() {
        if let Some(warning) = feedback.warning() {
            why.push_str(&format!(": {}", warning.to_string().trim_end_matches('.')));
        }
        let tips: Vec<String> = feedback
            .suggestions()
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !tips.is_empty() {
            why.push_str(&format!(". {}", tips.join(" ")));
        }
    }
    if !why.ends_with('.') {
        why.push('.');
    }
    if estimate
        .feedback()
        .is_none_or(|f| f.suggestions().is_empty())
    {
        why.push_str(" Add another word or two; uncommon words are better.");
    }
    Err(ApiError::validation("password", why))
}

pub async fn me(State(state): State<AppState>, auth: AuthUser) -> Result<Json<Me>, ApiError> {
    let user = state.store.users().get(auth.id).await.map_err(from_store)?;
    let user = user.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Json(Me { user }))
}

/// `PATCH /api/auth/me`: the account's name and time zone. Answers the updated account.
pub async fn update_me(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<UpdateMe>,
) -> Result<Json<Me>, ApiError> {
    if req == UpdateMe::default() {
        return Err(ApiError::validation(
            "body",
            "give at least one of name or time_zone",
        ));
    }
    let zone = req
        .time_zone
        .as_deref()
        .map(|raw| zone_rule("time_zone", raw))
        .transpose()
        .map_err(|e| ApiError::validation(e.field, e.message))?;
    let user = state
        .store
        .users()
        .update_settings(auth.id, req.name.as_deref(), zone.as_ref())
        .await
        .map_err(from_store)?;
    let user = user.ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    Ok(Json(Me { user }))
}

/// `POST /api/auth/password`: the current password and the new one.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schemars(length(min = 1, max = 1024))]
    pub current_password: String,
    /// The same rules as at registration: 8 to 1024 characters, not easy to guess.
    #[schemars(length(min = 8, max = 1024))]
    pub new_password: String,
}

/// `POST /api/auth/password`: checks the current password (403 `WRONG_PASSWORD` when wrong,
/// counted against the account's failed-login budget as a login is, so a stolen token cannot
/// guess it quickly), then the new one (422 naming `new_password`), stores the
/// new one and revokes every token of the account in the same transaction: every sign-in
/// session, every connected app's grant, every access token (the version bump), on todo-api
/// and todo-mcp alike. Answers a new session, so the device that changed it stays signed in.
pub async fn change_password(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<ChangePassword>,
) -> Result<Json<Session>, ApiError> {
    let current_len = req.current_password.chars().count();
    if current_len == 0 || current_len > PASSWORD_MAX {
        return Err(ApiError::validation(
            "current_password",
            format!("must be 1 to {PASSWORD_MAX} characters"),
        ));
    }
    let len = req.new_password.chars().count();
    if len < PASSWORD_MIN {
        return Err(ApiError::validation(
            "new_password",
            format!("must be at least {PASSWORD_MIN} characters"),
        ));
    }
    if len > PASSWORD_MAX {
        return Err(ApiError::validation(
            "new_password",
            format!("must be at most {PASSWORD_MAX} characters"),
        ));
    }
    let users = state.store.users();
    let user = users
        .get(auth.id)
        .await
        .map_err(from_store)?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let limits = &state.login_limiter;
    let hash = users
        .password_hash(auth.id)
        .await
        .map_err(from_store)?
        .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?;
    let permit = state.passwords.permit(Lane::Login).await?;
    let account = LoginThrottle::key(&user.email);
    let throttle = state.store.login_throttle();
    if let Attempt::Blocked { retry_after } = throttle
        .begin(&account, &limits.account)
        .await
        .map_err(from_store)?
    {
        let secs = retry_after.as_secs().max(1);
        let mut e = ApiError::too_many_requests(secs);
        e.message = format!("too many wrong passwords for this account; try again in {secs} s");
        return Err(e);
    }
    let same = req.new_password == req.current_password;
    if !permit.verify(req.current_password, hash).await? {
        service_kit::metrics::login_failure("bad_credentials");
        // 403, not 422: the request is well-formed, the caller just does not know the
        // password. It is checked before the new one is judged, so a guess learns nothing
        // else (and the schema-conformance run, which cannot know it, sees a refusal).
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "WRONG_PASSWORD",
            "is not your current password; nothing was changed",
        )
        .with_field("current_password"));
    }
    throttle.succeeded(&account).await.map_err(from_store)?;
    if same {
        return Err(ApiError::validation(
            "new_password",
            "is the current password; choose a different one",
        ));
    }
    strong_enough(
        &req.new_password,
        &user.email,
        &user.name,
        limits.password_min_score,
    )
    .map_err(|mut e| {
        e.field = Some("new_password".into());
        e
    })?;
    let new_hash = state.passwords.hash(req.new_password).await?;
    if !users
        .change_password(auth.id, &new_hash)
        .await
        .map_err(from_store)?
    {
        return Err(ApiError::unauthorized("this account no longer exists"));
    }
    tracing::info!(user = %auth.id, "password changed: every token of the account revoked");
    Ok(Json(session(&state, &user).await?))
}

/// Starts a session for `user`: a refresh token stored (hashed) in a new family, and an
/// access token naming that session.
async fn session(state: &AppState, user: &User) -> Result<Session, ApiError> {
    let refresh_token = todo_auth::new_refresh_token();
    let started = state
        .store
        .sessions()
        .create(user.id, &refresh_token, state.refresh_ttl)
        .await
        .map_err(from_store)?;
    answer(
        state,
        user,
        started.token_version,
        started.id,
        refresh_token,
    )
}

fn answer(
    state: &AppState,
    user: &User,
    version: i32,
    session: uuid::Uuid,
    refresh_token: String,
) -> Result<Session, ApiError> {
    let token = state
        .tokens
        .issue_for(Subject {
            user: user.id,
            email: &user.email,
            name: &user.name,
            version,
            session: Some(session),
        })
        .map_err(|e| {
            tracing::error!(error = %e, "signing a token failed");
            ApiError::internal()
        })?;
    Ok(Session {
        user: user.clone(),
        token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.ttl().as_secs(),
        refresh_token,
        refresh_expires_in: state.refresh_ttl.as_secs(),
    })
}

/// `POST /api/auth/refresh`: a new access token and refresh token for a refresh token that
/// has not been used. A used one revokes its session (401 saying so); an unknown, expired or
/// signed-out one is a plain 401.
pub async fn refresh(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RefreshRequest>,
) -> Result<Json<Session>, ApiError> {
    // The schema's bounds; any other string is simply not a live token (401).
    let presented = req.refresh_token.as_str();
    if presented.is_empty() || presented.chars().count() > 256 {
        return Err(ApiError::validation(
            "refresh_token",
            "must be the refresh_token of a login, register or refresh answer",
        ));
    }
    let next = todo_auth::new_refresh_token();
    let sessions = state.store.sessions();
    let rotation = sessions
        .rotate(presented, &next, state.refresh_ttl)
        .await
        .map_err(from_store)?;
    // Keep the table to live families (used tokens stay until they expire, for reuse checks).
    if rand::random::<u8>() == 0
        && let Err(e) = sessions.prune().await
    {
        tracing::warn!(error = %e, "pruning refresh tokens failed");
    }
    match rotation {
        Rotation::Rotated {
            session,
            user,
            token_version,
        } => Ok(Json(answer(&state, &user, token_version, session, next)?)),
        Rotation::Reused => Err(ApiError::unauthorized(
            "this refresh token was already used, so the session has been signed out (a copy \
             may have been stolen): log in again",
        )),
        Rotation::Invalid => Err(ApiError::unauthorized(
            "unknown, expired or signed-out refresh token: log in again",
        )),
    }
}

/// `POST /api/auth/logout`: revokes the caller's session (its access token stops working
/// at once, on todo-api and todo-mcp, and its refresh tokens die with it). A token without
/// a session (minted by a tool) can only be revoked with all of the user's tokens, which is
/// what happens then.
pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    let sessions = state.store.sessions();
    match auth.session {
        Some(session) => {
            sessions
                .revoke(auth.id, session)
                .await
                .map_err(from_store)?;
        }
        None => sessions.revoke_all(auth.id).await.map_err(from_store)?,
    }
    Ok(StatusCode::NO_CONTENT)
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

/// Which queue a hash waits in. Logins go first: a flood of registrations must not make
/// people who already have an account wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Login,
    Register,
}

/// argon2id hashing, bounded in concurrency (each hash takes ~19 MiB and a core for a while)
/// and in waiting: each lane has a bounded queue and a longest wait, past which the request
/// gets 503 with `Retry-After` instead of queueing without end. When a slot frees, waiting
/// logins get it first, and registrations never hold the last slot (with two or more).
#[derive(Clone)]
pub struct Passwords {
    pool: Arc<HashPool>,
}

struct HashPool {
    limits: HashLimits,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    free: usize,
    registering: usize,
    login_waiting: VecDeque<tokio::sync::oneshot::Sender<HashPermit>>,
    register_waiting: VecDeque<tokio::sync::oneshot::Sender<HashPermit>>,
}

/// One hashing slot; given back when dropped (also when a waiter gave up after it was sent).
pub struct HashPermit {
    pool: Arc<HashPool>,
    lane: Lane,
    armed: bool,
}

impl HashPool {
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // The state is a few counters and queues kept consistent under the lock; a panic
        // elsewhere while holding it cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register_cap(&self) -> usize {
        let n = self.limits.concurrency.max(1);
        if n > 1 { n - 1 } else { 1 }
    }
}

impl PoolState {
    fn can_run(&self, lane: Lane, register_cap: usize) -> bool {
        self.free > 0 && (lane == Lane::Login || self.registering < register_cap)
    }

    fn take(&mut self, lane: Lane) {
        self.free -= 1;
        if lane == Lane::Register {
            self.registering += 1;
        }
    }

    fn queue(&mut self, lane: Lane) -> &mut VecDeque<tokio::sync::oneshot::Sender<HashPermit>> {
        match lane {
            Lane::Login => &mut self.login_waiting,
            Lane::Register => &mut self.register_waiting,
        }
    }
}

impl Drop for HashPermit {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let pool = self.pool.clone();
        let cap = pool.register_cap();
        let mut state = pool.lock();
        state.free += 1;
        if self.lane == Lane::Register {
            state.registering -= 1;
        }
        // Hand the slot on: logins first, then registrations (within their cap). A waiter
        // that gave up has a closed channel; skip it.
        for lane in [Lane::Login, Lane::Register] {
            while state.can_run(lane, cap) {
                let Some(tx) = state.queue(lane).pop_front() else {
                    break;
                };
                let permit = HashPermit {
                    pool: pool.clone(),
                    lane,
                    armed: true,
                };
                match tx.send(permit) {
                    Ok(()) => state.take(lane),
                    Err(mut unsent) => unsent.armed = false,
                }
            }
        }
    }
}

impl HashPermit {
    /// Checks `password` against `hash` on a blocking thread, holding this slot.
    pub async fn verify(self, password: String, hash: String) -> Result<bool, ApiError> {
        let ok = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&hash) else {
                return false;
            };
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .await
        .map_err(|_| ApiError::internal())?;
        drop(self);
        Ok(ok)
    }
}

impl Passwords {
    /// `concurrency` hashes at once, with the default queue bounds.
    pub fn new(concurrency: usize) -> Passwords {
        Passwords::with_limits(HashLimits {
            concurrency,
            ..HashLimits::default()
        })
    }

    pub fn with_limits(limits: HashLimits) -> Passwords {
        let limits = HashLimits {
            concurrency: limits.concurrency.max(1),
            ..limits
        };
        Passwords {
            pool: Arc::new(HashPool {
                limits,
                state: Mutex::new(PoolState {
                    free: limits.concurrency,
                    ..PoolState::default()
                }),
            }),
        }
    }

    /// A hashing slot in `lane`: at once, after waiting in a bounded queue, or 503.
    pub async fn permit(&self, lane: Lane) -> Result<HashPermit, ApiError> {
        let cap = self.pool.register_cap();
        let rx = {
            let mut state = self.pool.lock();
            state.queue(lane).retain(|tx| !tx.is_closed());
            if state.can_run(lane, cap) && state.queue(lane).is_empty() {
                state.take(lane);
                return Ok(HashPermit {
                    pool: self.pool.clone(),
                    lane,
                    armed: true,
                });
            }
            if state.queue(lane).len() >= self.pool.limits.queue {
                return Err(busy(lane));
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            state.queue(lane).push_back(tx);
            rx
        };
        match tokio::time::timeout(self.pool.limits.max_wait, rx).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out, or the pool went away: a permit sent meanwhile is dropped with the
            // channel and hands its slot on.
            _ => Err(busy(lane)),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let permit = self.permit(Lane::Register).await?;
        let hashed = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
        })
        .await;
        drop(permit);
        hashed.map_err(|_| ApiError::internal())?.map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
    }

    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        self.permit(Lane::Login).await?.verify(password, hash).await
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

/// 503 for a full queue or a wait that ran out.
fn busy(lane: Lane) -> ApiError {
    let what = match lane {
        Lane::Login => "logins",
        Lane::Register => "registrations",
    };
    let mut e = ApiError::unavailable(format!(
        "the server is busy checking passwords for other {what}; try again in 2 s"
    ));
    e.retry_after_secs = Some(2);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        for weak in [
            "password",
            "12345678",
            "        ",
            "password123",
            "ann@example.com1",
        ] {
            let e = strong_enough(weak, "ann@example.com", "Ann", 3).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("password"), "{weak}");
            assert!(
                e.message.starts_with("is too easy to guess"),
                "{}",
                e.message
            );
            assert!(
                e.message.len() > "is too easy to guess.".len(),
                "{}",
                e.message
            );
        }
        assert!(strong_enough("correct horse battery staple", "a@x.io", "A", 3).is_ok());
        assert!(strong_enough("password", "a@x.io", "A", 0).is_ok());
    }

    #[tokio::test]
    async fn registrations_never_take_the_last_slot_and_queues_are_bounded() {
        let p = Passwords::with_limits(HashLimits {
            concurrency: 2,
            queue: 1,
            max_wait: std::time::Duration::from_millis(200),
        });
        let r1 = p.permit(Lane::Register).await.unwrap();
        // One registration runs; a second waits (one slot is kept for logins)...
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.permit(Lane::Register).await.map(|_| ()) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // ...a third finds the queue full: 503 with Retry-After at once.
        let full = p.permit(Lane::Register).await.err().unwrap();
        assert_eq!(full.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(full.retry_after_secs, Some(2));
        // A login still gets the reserved slot at once.
        let l = p.permit(Lane::Login).await.unwrap();
        // The waiting registration gives up after max_wait.
        assert!(waiting.await.unwrap().is_err());
        drop(l);
        drop(r1);
        // Everything handed back: both slots free again.
        let a = p.permit(Lane::Login).await.unwrap();
        let b = p.permit(Lane::Login).await.unwrap();
        drop((a, b));
    }

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
