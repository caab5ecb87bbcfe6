//! The todo data and its rules.
//!
//! - [`Store`]: the PostgreSQL pool, the embedded migrations (applied under sqlx's advisory
//!   lock, so several replicas starting at once is safe) and readiness checks.
//! - Repositories, always scoped to one user: a user can never reach another user's rows,
//!   because every query filters on the caller's id ([`UserStore`], [`TaskStore`],
//!   [`ConversationStore`]).
//! - Validation shared by every entry point (REST, MCP, chat): [`validate`].

mod conversations;
mod error;
pub mod model;
pub mod query;
mod tasks;
#[doc(hidden)]
pub mod testing;
mod users;
pub mod validate;

pub use conversations::ConversationStore;
pub use error::{StoreError, ValidationError};
pub use model::*;
pub use query::{Cursor, Order, Paging, SortKey, StatusFilter, TaskPage, TaskQuery};
pub use tasks::TaskStore;
pub use users::UserStore;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, migrate::Migrator};
use std::str::FromStr;
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

/// The database: a connection pool plus the repositories over it.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Creates the pool. Connects lazily, so a service can start (and answer `/livez`) while
    /// the database is still coming up; `/readyz` reports when it is reachable.
    pub fn connect_lazy(url: &str, settings: &PoolSettings) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!(
            "DATABASE_URL is not a valid PostgreSQL URL ({e}); expected postgres://USER:PASSWORD@HOST:PORT/DB"
        )))?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Store { pool })
    }

    pub fn from_pool(pool: PgPool) -> Store {
        Store { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies pending migrations (idempotent; serialised across processes by an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// Database reachable: a round trip on a pooled connection.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
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
        UserStore::new(&self.pool)
    }

    pub fn tasks(&self) -> TaskStore<'_> {
        TaskStore::new(&self.pool)
    }

    pub fn conversations(&self) -> ConversationStore<'_> {
        ConversationStore::new(&self.pool)
    }
}
