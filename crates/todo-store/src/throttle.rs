//! Failed logins per account, in PostgreSQL so that every replica sees the same count.
//!
//! Each attempt is counted *before* the password is checked, in one atomic statement, so
//! parallel guesses across replicas cannot all slip in before any failure is recorded; a
//! successful login then clears the count. After `free_failures` attempts the account is
//! blocked for `base`, doubling with each further attempt up to `max`. The key is the
//! normalised email whether or not an account has it, so the answer never tells which emails
//! are registered.

use crate::error::StoreError;
use sqlx::PgPool;
use std::time::Duration;

/// How many failures are free and how the wait grows after them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottlePolicy {
    /// Attempts allowed before the first wait.
    pub free_failures: u32,
    /// The first wait; each further failure doubles it.
    pub base: Duration,
    /// The longest wait (it also bounds how long an attacker can lock a real user out).
    pub max: Duration,
    /// Failures older than this (with no block in force) are forgotten.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            base: Duration::from_secs(2),
            max: Duration::from_secs(15 * 60),
            window: Duration::from_secs(60 * 60),
        }
    }
}

/// What [`LoginThrottle::begin`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Go ahead and check the password; this attempt is already counted as a failure.
    Allowed,
    /// Too many recent failures: try again after this long.
    Blocked { retry_after: Duration },
}

pub struct LoginThrottle<'a> {
    pool: &'a PgPool,
}

/// Counts one attempt unless a block is in force. `$2` free failures, `$3` first wait and `$4`
/// longest wait in seconds, `$5` the window in seconds. The failure count restarts at 1 once
/// the window has passed; the wait starts at the `$2`-th failure and doubles from there.
const BEGIN: &str = "
    INSERT INTO login_throttle AS t (account, failures, blocked_until, updated_at)
    VALUES ($1, 1,
            CASE WHEN 1 >= $2
                 THEN now() + make_interval(secs => LEAST($4, $3 * power(2, LEAST(1 - $2, 40))))
                 ELSE now() END,
            now())
    ON CONFLICT (account) DO UPDATE SET
        failures = CASE WHEN t.updated_at < now() - make_interval(secs => $5)
                        THEN 1 ELSE t.failures + 1 END,
        blocked_until = CASE
            WHEN (CASE WHEN t.updated_at < now() - make_interval(secs => $5)
                       THEN 1 ELSE t.failures + 1 END) >= $2
            THEN now() + make_interval(secs => LEAST($4, $3 * power(2, LEAST(
                (CASE WHEN t.updated_at < now() - make_interval(secs => $5)
                      THEN 1 ELSE t.failures + 1 END) - $2, 40))))
            ELSE now() END,
        updated_at = now()
    WHERE t.blocked_until <= now()
    RETURNING t.failures";

impl<'a> LoginThrottle<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Self {
        LoginThrottle { pool }
    }

    /// The key for an email: trimmed and lower-cased, as logins match emails.
    pub fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// Counts an attempt for `account` unless it is blocked.
    pub async fn begin(
        &self,
        account: &str,
        policy: &ThrottlePolicy,
    ) -> Result<Attempt, StoreError> {
        let counted: Option<i32> = sqlx::query_scalar(BEGIN)
            .bind(account)
            .bind(i64::from(policy.free_failures.max(1)))
            .bind(policy.base.as_secs_f64())
            .bind(policy.max.as_secs_f64())
            .bind(policy.window.as_secs_f64())
            .fetch_optional(self.pool)
            .await?;
        if counted.is_some() {
            return Ok(Attempt::Allowed);
        }
        let wait: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM blocked_until - now())::float8
             FROM login_throttle WHERE account = $1",
        )
        .bind(account)
        .fetch_optional(self.pool)
        .await?;
        // The block may have ended between the two statements: a second's wait is honest.
        let secs = wait
            .unwrap_or(1.0)
            .clamp(1.0, policy.max.as_secs_f64().max(1.0));
        Ok(Attempt::Blocked {
            retry_after: Duration::from_secs(secs.ceil() as u64),
        })
    }

    /// The password was right: forget the failures.
    pub async fn succeeded(&self, account: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_throttle WHERE account = $1")
            .bind(account)
            .execute(self.pool)
            .await?;
        Ok(())
    }

    /// The recorded failures for `account` (0 when none), for tests and operators.
    pub async fn failures(&self, account: &str) -> Result<u32, StoreError> {
        let n: Option<i32> =
            sqlx::query_scalar("SELECT failures FROM login_throttle WHERE account = $1")
                .bind(account)
                .fetch_optional(self.pool)
                .await?;
        Ok(n.map_or(0, |n| n.unsigned_abs()))
    }

    /// Deletes rows idle past the window with no block in force; returns how many. Keeps the
    /// table small when many different emails are tried.
    pub async fn prune(&self, window: Duration) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM login_throttle
             WHERE updated_at < now() - make_interval(secs => $1) AND blocked_until <= now()",
        )
        .bind(window.as_secs_f64())
        .execute(self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
