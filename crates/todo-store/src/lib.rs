//! The todo data and its rules.
//!
//! - [`Store`]: the PostgreSQL pool, the embedded migrations (applied under sqlx's advisory
//!   lock, so several replicas starting at once is safe) and readiness checks.
//!   [`Store::migrate_when_reachable`] waits for a database that is still starting (bounded
//!   exponential backoff, [`WaitSettings`]), for `todo-api migrate` in an init container.
//! - Repositories, always scoped to one user: a user can never reach another user's rows,
//!   because every query filters on the caller's id ([`UserStore`], [`TaskStore`],
//!   [`ConversationStore`]).
//! - Validation shared by every entry point (REST, MCP, chat): [`validate`].

mod conversations;
mod error;
pub mod model;
pub mod oauth;
pub mod query;
pub mod sessions;
mod tasks;
#[doc(hidden)]
pub mod testing;
mod throttle;
mod users;
pub mod validate;

pub use conversations::{Added, ConversationStore, NewMessage, StoredReply, StoredTurn};
pub use error::{StoreError, ValidationError};
pub use model::*;
pub use query::{Cursor, Order, Paging, SortKey, StatusFilter, TaskPage, TaskQuery};
pub use tasks::TaskStore;
pub use throttle::{Attempt, LoginThrottle, ThrottlePolicy};
pub use users::UserStore;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool, migrate::Migrator};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The schema, compiled into every binary that uses the store.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Pool settings; defaults suit one small service replica.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// How long [`Store::migrate_when_reachable`] waits for the database, and how it backs off.
#[derive(Debug, Clone)]
pub struct WaitSettings {
    /// Total time to keep trying; past it the wait fails with the last error.
    pub budget: Duration,
    /// The first pause; each later one doubles, up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for WaitSettings {
    fn default() -> Self {
        // Long enough for a first install, where PostgreSQL's volume is provisioned and its
        // data directory initialised while this waits; short enough that a wrong URL is
        // reported within a couple of minutes.
        WaitSettings {
            budget: Duration::from_secs(120),
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// What [`Store::pool_state`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Open connections, idle ones included.
    pub size: u32,
    pub idle: usize,
    pub max: u32,
    pub up: bool,
}

/// The database: a connection pool plus the repositories over it.
///
/// Fails fast during an outage: a background probe (started by [`Store::connect_lazy`])
/// checks the database on a connection of its own; while it is known to be down, repositories
/// run on a closed pool, so every request gets its 503 at once instead of after the pool's
/// acquire timeout. The probe keeps checking and the store recovers as soon as it answers.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    gate: Arc<Gate>,
}

/// Whether the database is known to be down, and the pool that answers meanwhile.
#[derive(Debug)]
struct Gate {
    down: AtomicBool,
    /// Never opened: every acquire fails at once with `PoolClosed` (a 503, like a timeout).
    closed: PgPool,
}

impl Gate {
    fn new(options: PgConnectOptions) -> Arc<Gate> {
        let closed = PgPoolOptions::new().connect_lazy_with(options);
        // Marks the pool closed synchronously; the future only waits for connections, of
        // which a never-used lazy pool has none.
        drop(closed.close());
        Arc::new(Gate {
            down: AtomicBool::new(false),
            closed,
        })
    }
}

/// How often the probe checks a healthy database, and a down one (recovery is noticed
/// within this), and how long one check may take.
const PROBE_EVERY_UP: Duration = Duration::from_millis(500);
const PROBE_EVERY_DOWN: Duration = Duration::from_millis(250);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Store {
    /// Creates the pool. Connects lazily, so a service can start (and answer `/livez`) while
    /// the database is still coming up; `/readyz` reports when it is reachable. Inside a
    /// Tokio runtime it also starts the outage probe (see [`Store`]).
    pub fn connect_lazy(url: &str, settings: &PoolSettings) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!(
            "DATABASE_URL is not a valid PostgreSQL URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DB"
        )))?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options.clone());
        let gate = Gate::new(options.clone());
        // Outside a runtime (a CLI that only builds the store) there is nothing to probe for.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            // Its own connection: a busy main pool must not look like an outage.
            let probe = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(PROBE_TIMEOUT)
                .connect_lazy_with(options);
            drop(runtime.spawn(probe_until_closed(
                pool.clone(),
                probe,
                Arc::downgrade(&gate),
            )));
        }
        Ok(Store { pool, gate })
    }

    pub fn from_pool(pool: PgPool) -> Store {
        let gate = Gate::new((*pool.connect_options()).clone());
        Store { pool, gate }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool's state for metrics: open and idle connections, the maximum, and whether the
    /// database is up (not [`Store::is_known_down`]).
    pub fn pool_state(&self) -> PoolState {
        PoolState {
            size: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.pool.options().get_max_connections(),
            up: !self.is_known_down(),
        }
    }

    /// True while the probe finds the database unreachable.
    pub fn is_known_down(&self) -> bool {
        self.gate.down.load(Ordering::Acquire)
    }

    /// The pool repositories use: the real one, or the closed one while the database is down.
    fn gated(&self) -> &PgPool {
        if self.is_known_down() {
            &self.gate.closed
        } else {
            &self.pool
        }
    }

    /// Applies pending migrations (idempotent; serialised across processes by an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Waits until the database accepts a connection, then applies pending migrations.
    ///
    /// Only "not there yet" is retried: refused or timed-out connections, DNS that does not
    /// resolve yet, and a server still starting up or full. A wrong password or a missing
    /// database fails at once, since waiting cannot fix them. Each pause is logged, naming the
    /// server (never the password) and the error; when `wait.budget` is spent the error says
    /// how long it waited and what failed last.
    pub async fn migrate_when_reachable(&self, wait: &WaitSettings) -> Result<(), StoreError> {
        let options = self.pool.connect_options();
        let target = describe(&options);
        let started = tokio::time::Instant::now();
        let mut delay = wait.first_delay;
        let mut attempt = 1u32;
        loop {
            let left = wait.budget.saturating_sub(started.elapsed());
            // One attempt may not outlast the budget, nor hang on a black-holed address.
            let per_attempt = left.clamp(Duration::from_millis(100), Duration::from_secs(5));
            let error =
                match tokio::time::timeout(per_attempt, PgConnection::connect_with(&options)).await
                {
                    Ok(Ok(conn)) => {
                        // Reachable: a failed close of the probe connection changes nothing.
                        let _ = conn.close().await;
                        return self.migrate().await;
                    }
                    Ok(Err(e)) => e,
                    Err(_) => sqlx::Error::PoolTimedOut,
                };
            let reason = match &error {
                sqlx::Error::PoolTimedOut => {
                    format!("no answer within {} ms", per_attempt.as_millis())
                }
                other => other.to_string(),
            };
            if !worth_waiting_for(&error) {
                return Err(StoreError::Migration(format!(
                    "PostgreSQL at {target} refused the connection: {reason} (waiting will not help: check DATABASE_URL's user, password and database name)"
                )));
            }
            let left = wait.budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(StoreError::Migration(format!(
                    "gave up waiting for PostgreSQL at {target} after {:.0} s and {attempt} attempts; last error: {reason}. Check that the database is running and that DATABASE_URL points at it",
                    wait.budget.as_secs_f64()
                )));
            }
            let pause = delay.min(left);
            tracing::warn!(
                waiting_for = %target,
                error = %reason,
                attempt,
                retry_in_ms = pause.as_millis() as u64,
                budget_left_s = left.as_secs(),
                "waiting for PostgreSQL at {target}: {reason}; attempt {attempt} failed, next in {:.1} s ({} s of {} s left)",
                pause.as_secs_f64(),
                left.as_secs(),
                wait.budget.as_secs()
            );
            tokio::time::sleep(pause).await;
            delay = (delay * 2).min(wait.max_delay);
            attempt += 1;
        }
    }

    /// Database reachable: a round trip on a pooled connection.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.gated()).await?;
        Ok(())
    }

    /// Database reachable and every embedded migration applied (readiness).
    pub async fn check_schema(&self) -> Result<(), StoreError> {
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
                        StoreError::Migration(
                            "no migrations applied yet (run `todo-api migrate`)".into(),
                        )
                    }
                    other => StoreError::Database(other),
                })?;
        match applied {
            Some(v) if v >= latest => Ok(()),
            other => Err(StoreError::Migration(format!(
                "schema at version {other:?}, this build needs {latest} (run `todo-api migrate`)"
            ))),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub fn users(&self) -> UserStore<'_> {
        UserStore::new(self.gated())
    }

    pub fn tasks(&self) -> TaskStore<'_> {
        TaskStore::new(self.gated())
    }

    pub fn conversations(&self) -> ConversationStore<'_> {
        ConversationStore::new(self.gated())
    }

    /// Failed logins per account, shared by every replica.
    pub fn login_throttle(&self) -> LoginThrottle<'_> {
        LoginThrottle::new(self.gated())
    }
}

/// `host:port/database` (or the socket), for messages: never the password.
fn describe(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or(options.get_username());
    match options.get_socket() {
        Some(socket) => format!("{}/{database}", socket.display()),
        None => format!("{}:{}/{database}", options.get_host(), options.get_port()),
    }
}

/// Errors that mean "the database is not there yet", as opposed to "it said no".
fn worth_waiting_for(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        // 57P03: starting up, shutting down or in recovery; 53300: too many connections.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03" | "53300")),
        _ => false,
    }
}

/// Checks the database until the main pool is closed or the last [`Store`] is gone. Two
/// failures in a row mark it down (one slow answer under load is not an outage); one success
/// marks it up again.
async fn probe_until_closed(pool: PgPool, probe: PgPool, gate: Weak<Gate>) {
    let mut failures = 0u32;
    loop {
        if pool.is_closed() {
            break;
        }
        let Some(gate) = gate.upgrade() else { break };
        let reachable = match tokio::time::timeout(
            PROBE_TIMEOUT,
            sqlx::query("SELECT 1").execute(&probe),
        )
        .await
        {
            Ok(Ok(_)) => true,
            // A database that answers with an error (say, too many connections) is up.
            Ok(Err(e)) => !StoreError::from(e).is_unavailable(),
            Err(_) => false,
        };
        failures = if reachable { 0 } else { failures + 1 };
        let down = failures >= 2;
        let was_down = gate.down.swap(down, Ordering::AcqRel);
        if down && !was_down {
            tracing::warn!(
                "database unreachable: requests get 503 at once (their errors say \"closed pool\") until it answers again"
            );
        } else if was_down && !down {
            tracing::info!("database reachable again");
        }
        drop(gate);
        let wait = match (reachable, down) {
            (true, _) => PROBE_EVERY_UP,
            // A first failure is checked again soon, so an outage is noticed quickly.
            (false, false) => Duration::from_millis(100),
            (false, true) => PROBE_EVERY_DOWN,
        };
        tokio::time::sleep(wait).await;
    }
    probe.close().await;
}
