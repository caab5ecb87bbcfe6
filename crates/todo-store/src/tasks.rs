//! Tasks, always scoped to their owner: every statement filters on `user_id`, so another
//! user's task is simply not found.

use crate::error::StoreError;
use crate::model::{Task, TaskRef};
use crate::query::{
    Cursor, CursorValue, DueWindow, Order, Paging, SortKey, StatusFilter, TaskPage, TaskQuery,
};
use crate::validate::{NewTask, TaskPatch};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// `due_at` clamped into the range the row type can hold (see [`COLUMNS`]); lists sort and
/// page on this same expression, so a clamped row still pages exactly once.
macro_rules! due_expr {
    () => {
        "(CASE WHEN tasks.due_at > '9999-12-31 23:59:59.999999+00' THEN '9999-12-31 23:59:59.999999+00'::timestamptz \
         WHEN tasks.due_at < '4713-01-01 00:00:00+00 BC' THEN '4713-01-01 00:00:00+00 BC'::timestamptz \
         ELSE tasks.due_at END)"
    };
}
/// `due_at` is read clamped to what the row type can hold: rows written before the range
/// CHECK (or around it) may hold years past 9999 or `infinity`, which would otherwise fail
/// (or panic) while decoding and break every list of their owner.
const COLUMNS: &str = concat!(
    "id, number, title, description, completed, completed_at, priority, ",
    due_expr!(),
    " AS due_at, tags, created_at, updated_at"
);

const DUE_EXPR: &str = due_expr!();

/// The CHECK constraint keeping due dates in year 1..=9999 (migration 2).
const DUE_CHECK: &str = "tasks_due_at_year_range";

pub struct TaskStore<'a> {
    pool: &'a PgPool,
}

impl<'a> TaskStore<'a> {
    pub(crate) fn new(pool: &'a PgPool) -> Self {
        TaskStore { pool }
    }

    pub async fn create(&self, user: Uuid, task: &NewTask) -> Result<Task, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taking the next number locks the user's row until commit, so concurrent inserts
        // for one user get distinct, gap-free numbers.
        let number: Option<i32> = sqlx::query_scalar(
            "UPDATE users SET task_counter = task_counter + 1 WHERE id = $1 RETURNING task_counter",
        )
        .bind(user)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(number) = number else {
            return Err(StoreError::Conflict {
                field: "user".into(),
                message: "this account no longer exists".into(),
            });
        };
        // COLUMNS is a constant: no user input reaches this SQL text.
        let task = sqlx::query_as::<_, Task>(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tasks (id, user_id, number, title, description, priority, due_at, tags)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        )))
        .bind(Uuid::new_v4())
        .bind(user)
        .bind(number)
        .bind(&task.title)
        .bind(&task.description)
        .bind(task.priority)
        .bind(task.due_at)
        .bind(&task.tags)
        .fetch_one(&mut *tx)
        .await
        .map_err(due_check_violation)?;
        tx.commit().await?;
        Ok(task)
    }

    pub async fn get(&self, user: Uuid, task: TaskRef) -> Result<Option<Task>, StoreError> {
        let mut q =
            QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM tasks WHERE user_id = "));
        q.push_bind(user);
        push_ref(&mut q, task);
        Ok(q.build_query_as::<Task>().fetch_optional(self.pool).await?)
    }

    /// Applies a (normalised) patch; `None` when the task does not exist for this user.
    pub async fn update(
        &self,
        user: Uuid,
        task: TaskRef,
        patch: &TaskPatch,
    ) -> Result<Option<Task>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new("UPDATE tasks SET updated_at = now()");
        if let Some(title) = &patch.title {
            q.push(", title = ").push_bind(title.clone());
        }
        if let Some(description) = &patch.description {
            q.push(", description = ").push_bind(description.clone());
        }
        if let Some(priority) = patch.priority {
            q.push(", priority = ").push_bind(priority);
        }
        if let Some(due_at) = patch.due_at {
            q.push(", due_at = ").push_bind(due_at);
        }
        if let Some(tags) = &patch.tags {
            q.push(", tags = ").push_bind(tags.clone());
        }
        if let Some(completed) = patch.completed {
            q.push(", completed = ").push_bind(completed);
            // Keep the first completion time when completing twice.
            q.push(", completed_at = CASE WHEN ").push_bind(completed);
            q.push(" THEN COALESCE(completed_at, now()) ELSE NULL END");
        }
        q.push(" WHERE user_id = ").push_bind(user);
        push_ref(&mut q, task);
        q.push(format!(" RETURNING {COLUMNS}"));
        q.build_query_as::<Task>()
            .fetch_optional(self.pool)
            .await
            .map_err(due_check_violation)
    }

    pub async fn set_completed(
        &self,
        user: Uuid,
        task: TaskRef,
        completed: bool,
    ) -> Result<Option<Task>, StoreError> {
        self.update(
            user,
            task,
            &TaskPatch {
                completed: Some(completed),
                ..Default::default()
            },
        )
        .await
    }

    /// Deletes a task; returns it (as it was) when it existed for this user.
    pub async fn delete(&self, user: Uuid, task: TaskRef) -> Result<Option<Task>, StoreError> {
        let mut q = QueryBuilder::<Postgres>::new("DELETE FROM tasks WHERE user_id = ");
        q.push_bind(user);
        push_ref(&mut q, task);
        q.push(format!(" RETURNING {COLUMNS}"));
        Ok(q.build_query_as::<Task>().fetch_optional(self.pool).await?)
    }

    pub async fn list(&self, user: Uuid, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        query.check_values()?;
        // "Now" is fixed once, so the page and its total count the same days.
        let query = &TaskQuery {
            now: Some(query.now.unwrap_or_else(time::OffsetDateTime::now_utc)),
            ..query.clone()
        };
        // The total rides along as an uncorrelated subquery (run once): one round trip, and
        // unlike `count(*) OVER ()` it does not make the page query read every matching row.
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {COLUMNS}, (SELECT count(*) FROM tasks WHERE user_id = "
        ));
        q.push_bind(user);
        push_filters(&mut q, query);
        q.push(") AS total_count FROM tasks WHERE user_id = ");
        q.push_bind(user);
        push_filters(&mut q, query);
        let column = match query.sort {
            SortKey::DueAt => DUE_EXPR,
            other => crate::query::column(other),
        };
        let cmp = if query.order == Order::Asc { ">" } else { "<" };
        if let Paging::Cursor(cursor) = &query.paging {
            push_keyset(&mut q, cursor, column, cmp);
        }
        let dir = crate::query::sql(query.order);
        let nulls = crate::query::nulls(query.sort);
        q.push(format!(" ORDER BY {column} {dir}{nulls}, id {dir} LIMIT "));
        // One extra row tells whether another page exists.
        q.push_bind(i64::from(query.limit) + 1);
        if let Paging::Offset(offset) = query.paging {
            q.push(" OFFSET ").push_bind(i64::from(offset));
        }
        let rows = q.build().fetch_all(self.pool).await?;
        let page_total: Option<i64> = match rows.first() {
            Some(row) => Some(row.try_get("total_count")?),
            None => None,
        };
        let mut items = rows
            .iter()
            .map(Task::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let total = match page_total {
            Some(total) => total,
            // An empty page (no tasks, or past the end) carries no total: count separately.
            None => {
                let mut count =
                    QueryBuilder::<Postgres>::new("SELECT count(*) FROM tasks WHERE user_id = ");
                count.push_bind(user);
                push_filters(&mut count, query);
                count.build_query_scalar().fetch_one(self.pool).await?
            }
        };
        let has_more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        let next_cursor = if has_more {
            items
                .last()
                .map(|last| Cursor::after(last, query.sort, query.order).encode())
        } else {
            None
        };
        let offset = match query.paging {
            Paging::Offset(o) => Some(o),
            Paging::Cursor(_) => None,
        };
        Ok(TaskPage {
            items,
            total,
            limit: query.limit,
            offset,
            next_cursor,
            has_more,
        })
    }
}

/// A write refused by the due date CHECK: a task stored before the check with a due date out
/// of range cannot be saved again until the due date is changed or cleared.
fn due_check_violation(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.constraint() == Some(DUE_CHECK) => {
            StoreError::Validation(crate::ValidationError::new(
                "due_at",
                "the due date is out of range (year 1 to 9999); set a new due date or clear it",
            ))
        }
        other => StoreError::Database(other),
    }
}

fn push_ref(q: &mut QueryBuilder<Postgres>, task: TaskRef) {
    match task {
        TaskRef::Id(id) => q.push(" AND id = ").push_bind(id),
        TaskRef::Number(n) => q.push(" AND number = ").push_bind(n),
    };
}

fn push_filters(q: &mut QueryBuilder<Postgres>, query: &TaskQuery) {
    match query.status {
        StatusFilter::All => {}
        StatusFilter::Pending => {
            q.push(" AND NOT completed");
        }
        StatusFilter::Completed => {
            q.push(" AND completed");
        }
    }
    if let Some(priority) = query.priority {
        q.push(" AND priority = ").push_bind(priority);
    }
    if let Some(tag) = &query.tag {
        // Containment, so the GIN index on tags is used.
        q.push(" AND tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(search) = &query.search {
        let pattern = format!("%{}%", escape_like(search));
        q.push(" AND (title ILIKE ").push_bind(pattern.clone());
        q.push(" ESCAPE '\\' OR description ILIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
    if let Some(before) = query.due_before {
        q.push(" AND due_at < ").push_bind(before);
    }
    if let Some(after) = query.due_after {
        q.push(" AND due_at >= ").push_bind(after);
    }
    match query.due_window() {
        None => {}
        Some(DueWindow::Range { from, before }) => {
            q.push(" AND due_at IS NOT NULL");
            if let Some(from) = from {
                q.push(" AND due_at >= ").push_bind(from);
            }
            if let Some(before) = before {
                q.push(" AND due_at < ").push_bind(before);
            }
        }
        Some(DueWindow::Overdue { today_starts, now }) => {
            // A due date at the start of today is "today, no time": due all day, not late.
            q.push(" AND NOT completed AND (due_at < ")
                .push_bind(today_starts);
            q.push(" OR (due_at > ").push_bind(today_starts);
            q.push(" AND due_at < ").push_bind(now).push("))");
        }
    }
}

/// Rows strictly after the cursor in `ORDER BY column dir [NULLS LAST], id dir`.
fn push_keyset(q: &mut QueryBuilder<Postgres>, cursor: &Cursor, column: &str, cmp: &str) {
    let nullable = cursor.sort == SortKey::DueAt;
    let cast = if cursor.sort == SortKey::Priority {
        "::task_priority"
    } else {
        ""
    };
    match &cursor.value {
        CursorValue::Null => {
            // Nulls sort last: only later null rows remain.
            q.push(format!(" AND {column} IS NULL AND id {cmp} "))
                .push_bind(cursor.id);
        }
        value if !nullable => {
            // A row comparison, so the (user_id, created_at DESC, id DESC) index can seek
            // straight to the cursor instead of filtering from the first row.
            q.push(format!(" AND ({column}, id) {cmp} ("));
            push_value(q, value);
            q.push(format!("{cast}, ")).push_bind(cursor.id).push(")");
        }
        value => {
            q.push(format!(" AND ({column} {cmp} "));
            push_value(q, value);
            q.push(format!("{cast} OR ({column} = "));
            push_value(q, value);
            q.push(format!("{cast} AND id {cmp} "))
                .push_bind(cursor.id)
                .push(")");
            // due_at: the NULLs come after every dated task.
            q.push(format!(" OR {column} IS NULL)"));
        }
    }
}

fn push_value(q: &mut QueryBuilder<Postgres>, value: &CursorValue) {
    match value {
        CursorValue::Null => q.push("NULL"),
        CursorValue::Text(s) => q.push_bind(s.clone()),
        CursorValue::Time(t) => q.push_bind(*t),
    };
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
