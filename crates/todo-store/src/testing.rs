//! For tests of the services: reach past the store's rules the way an old release or a tool
//! writing SQL directly could, to prove that what is already stored cannot break them.
//! Not for production code.

use crate::{Store, StoreError};
use uuid::Uuid;

/// Drops the due date range CHECK (migration 2), as on a database written before it.
pub async fn drop_due_check(store: &Store) -> Result<(), StoreError> {
    sqlx::query("ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_due_at_year_range")
        .execute(store.pool())
        .await?;
    Ok(())
}

/// Inserts a task with no validation at all: `due` is PostgreSQL timestamptz text
/// (`'0002-06-01 00:00:00+00 BC'`, `infinity`), `None` for no due date. Bumps the owner's
/// task counter past `number`.
pub async fn insert_task_unchecked(
    store: &Store,
    user: Uuid,
    number: i32,
    title: &str,
    due: Option<&str>,
    tags: &[&str],
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    sqlx::query(
        "INSERT INTO tasks (id, user_id, number, title, due_at, tags)
         VALUES ($1, $2, $3, $4, $5::text::timestamptz, $6)",
    )
    .bind(id)
    .bind(user)
    .bind(number)
    .bind(title)
    .bind(due)
    .bind(&tags)
    .execute(store.pool())
    .await?;
    sqlx::query("UPDATE users SET task_counter = greatest(task_counter, $2) WHERE id = $1")
        .bind(user)
        .bind(number)
        .execute(store.pool())
        .await?;
    Ok(id)
}
