//! Tasks, always scoped to their owner: every statement filters on `user_id`, so another
//! user's task is simply not found.

use crate::error::StoreError;
use crate::model::{Task, TaskRef};
use crate::query::{
    CountMode, Cursor, CursorValue, DueWindow, ListStatement, Order, Paging, SortKey, StatusFilter,
    TOTAL_CAP, TaskPage, TaskQuery,
};
use crate::validate::{NewTask, TaskPatch};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

/// `due_at` clamped into the range the row type can hold (see [`COLUMNS`]); lists sort and
/// page on this same expression, so a clamped row still pages exactly once.
///
/// The times are written without `:` (ISO 8601 basic, the same instants): `cargo xtask bench
/// api` runs the list's SQL under pgbench, which reads every `:name` as a variable. The
/// indexes of migration 20261203000001 are on this expression, character for character.
macro_rules! due_expr {
    () => {
        "(CASE WHEN tasks.due_at > '9999-12-31 235959.999999+00' THEN '9999-12-31 235959.999999+00'::timestamptz \
         WHEN tasks.due_at < '4713-01-01 000000+00 BC' THEN '4713-01-01 000000+00 BC'::timestamptz \
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

/// What `q` searches: title and description as one text, exactly as the trigram index of
/// migration 20261203000001 is built (the planner only uses it for the same expression).
const SEARCH_EXPR: &str = "(tasks.title || E'\\x1f' || coalesce(tasks.description, ''))";

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

    /// One page of the user's tasks. Its cost depends on the page, not on how many tasks the
    /// user has: rows come from an index in sort order (keyset after a cursor), and `total`
    /// stops counting at [`TOTAL_CAP`] unless the query asks for [`CountMode::Exact`].
    pub async fn list(&self, user: Uuid, query: &TaskQuery) -> Result<TaskPage, StoreError> {
        let query = &fixed_now(query)?;
        let mut page = page_statement(user, query);
        let rows = page.q.build().fetch_all(self.pool).await?;
        let counted: Option<i64> = match rows.first() {
            Some(row) => Some(row.try_get("total_count")?),
            None => None,
        };
        let mut items = rows
            .iter()
            .map(Task::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let counted = match counted {
            Some(counted) => counted,
            // An empty page (no tasks, or past the end) carries no total: count separately.
            None => {
                let mut count = Stmt::new("");
                push_count(&mut count, user, query);
                count.q.build_query_scalar().fetch_one(self.pool).await?
            }
        };
        let total_is_lower_bound = query.count == CountMode::Capped && counted > TOTAL_CAP;
        let total = if total_is_lower_bound {
            TOTAL_CAP
        } else {
            counted
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
            total_is_lower_bound,
            limit: query.limit,
            offset,
            next_cursor,
            has_more,
        })
    }

    /// The statement [`TaskStore::list`] sends for a page, with its parameters as text: what
    /// `pgbench -M prepared` needs to run the very same SQL (`cargo xtask bench api`), and
    /// what a test needs to EXPLAIN it.
    pub fn list_statement(user: Uuid, query: &TaskQuery) -> Result<ListStatement, StoreError> {
        let query = fixed_now(query)?;
        let page = page_statement(user, &query);
        Ok(ListStatement {
            sql: page.q.sql().as_str().to_owned(),
            params: page.params,
        })
    }
}

/// Checks the query's values and fixes "now" once, so the page and its total count the same
/// days.
fn fixed_now(query: &TaskQuery) -> Result<TaskQuery, StoreError> {
    query.check_values()?;
    Ok(TaskQuery {
        now: Some(query.now.unwrap_or_else(time::OffsetDateTime::now_utc)),
        ..query.clone()
    })
}

/// The page: its rows in sort order, one more than the limit (to tell whether another page
/// exists), and the total as an uncorrelated subquery (run once): one round trip, and unlike
/// `count(*) OVER ()` it does not make the page query read every matching row.
fn page_statement(user: Uuid, query: &TaskQuery) -> Stmt {
    let mut q = Stmt::new(format!("SELECT {COLUMNS}, ("));
    push_count(&mut q, user, query);
    q.push(") AS total_count FROM tasks WHERE user_id = ");
    q.bind(user);
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
    q.bind(i64::from(query.limit) + 1);
    if let Paging::Offset(offset) = query.paging
        && offset > 0
    {
        q.push(" OFFSET ");
        q.bind(i64::from(offset));
    }
    q
}

/// `count(*)` of the matching tasks: exact, or stopping at one past [`TOTAL_CAP`] (a LIMIT
/// under the count, so at most that many index entries are read whatever the list's size).
fn push_count(q: &mut Stmt, user: Uuid, query: &TaskQuery) {
    match query.count {
        CountMode::Exact => {
            q.push("SELECT count(*) FROM tasks WHERE user_id = ");
            q.bind(user);
            push_filters(q, query);
        }
        CountMode::Capped => {
            q.push("SELECT count(*) FROM (SELECT 1 FROM tasks WHERE user_id = ");
            q.bind(user);
            push_filters(q, query);
            q.push(format!(" LIMIT {}) AS capped", TOTAL_CAP + 1));
        }
    }
}

/// A statement being built: the SQL with its bound values, and the same values as text
/// (see [`ListStatement`]), kept side by side so the two cannot drift apart.
struct Stmt {
    q: QueryBuilder<Postgres>,
    params: Vec<String>,
}

impl Stmt {
    fn new(sql: impl Into<String>) -> Stmt {
        Stmt {
            q: QueryBuilder::new(sql.into()),
            params: Vec::new(),
        }
    }

    fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.q.push(sql);
        self
    }

    fn bind<T: Param>(&mut self, value: T) -> &mut Self {
        self.params.push(value.text());
        self.q.push_bind(value);
        self
    }
}

/// A value a list binds, and its text form for PostgreSQL.
trait Param: for<'q> sqlx::Encode<'q, Postgres> + sqlx::Type<Postgres> {
    fn text(&self) -> String;
}

impl Param for Uuid {
    fn text(&self) -> String {
        self.to_string()
    }
}

impl Param for String {
    fn text(&self) -> String {
        self.clone()
    }
}

impl Param for i64 {
    fn text(&self) -> String {
        self.to_string()
    }
}

impl Param for crate::model::Priority {
    fn text(&self) -> String {
        self.as_str().to_owned()
    }
}

impl Param for time::OffsetDateTime {
    fn text(&self) -> String {
        // Years RFC 3339 cannot write (a forged cursor's) in PostgreSQL's own notation.
        self.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| {
                let utc = self.to_offset(time::UtcOffset::UTC);
                let (year, era) = if utc.year() <= 0 {
                    (1 - utc.year(), " BC")
                } else {
                    (utc.year(), "")
                };
                format!(
                    "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00{era}",
                    u8::from(utc.month()),
                    utc.day(),
                    utc.hour(),
                    utc.minute(),
                    utc.second(),
                    utc.microsecond()
                )
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

fn push_filters(q: &mut Stmt, query: &TaskQuery) {
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
        q.push(" AND priority = ").bind(priority);
    }
    if let Some(tag) = &query.tag {
        // Containment, so the GIN index on (user_id, tags) is used.
        q.push(" AND tags @> ARRAY[")
            .bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(search) = &query.search {
        // One expression over title and description, the one the trigram index is built on
        // (migration 20261203000001). A search text holds no control characters, so no match
        // can span the U+001F between the two.
        let pattern = format!("%{}%", escape_like(search));
        q.push(format!(" AND {SEARCH_EXPR} ILIKE "))
            .bind(pattern)
            .push(" ESCAPE '\\'");
    }
    // Due filters compare the clamped expression the list sorts on (DUE_EXPR), so one index
    // serves the range and the order. The same rows as on `due_at`: the bounds are in year
    // 1..=9999, inside the clamp, where clamping does not change a comparison.
    if let Some(before) = query.due_before {
        q.push(format!(" AND {DUE_EXPR} < ")).bind(before);
    }
    if let Some(after) = query.due_after {
        q.push(format!(" AND {DUE_EXPR} >= ")).bind(after);
    }
    match query.due_window() {
        None => {}
        Some(DueWindow::Range { from, before }) => {
            q.push(format!(" AND {DUE_EXPR} IS NOT NULL"));
            if let Some(from) = from {
                q.push(format!(" AND {DUE_EXPR} >= ")).bind(from);
            }
            if let Some(before) = before {
                q.push(format!(" AND {DUE_EXPR} < ")).bind(before);
            }
        }
        Some(DueWindow::Overdue { today_starts, now }) => {
            // Before now, except exactly the start of today: that is "today, no time", due
            // all day, not late. (today_starts <= now, so this is "before today, or today at
            // a time that has passed" as one range the index can read.)
            q.push(format!(" AND NOT completed AND {DUE_EXPR} < "))
                .bind(now);
            q.push(format!(" AND {DUE_EXPR} <> ")).bind(today_starts);
        }
    }
}

/// Rows strictly after the cursor in `ORDER BY column dir [NULLS LAST], id dir`.
fn push_keyset(q: &mut Stmt, cursor: &Cursor, column: &str, cmp: &str) {
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
                .bind(cursor.id);
        }
        value if !nullable => {
            // A row comparison, so the (user_id, column, id) index can seek straight to the
            // cursor instead of filtering from the first row.
            q.push(format!(" AND ({column}, id) {cmp} ("));
            push_value(q, value);
            q.push(format!("{cast}, ")).bind(cursor.id).push(")");
        }
        value => {
            q.push(format!(" AND ({column} {cmp} "));
            push_value(q, value);
            q.push(format!("{cast} OR ({column} = "));
            push_value(q, value);
            q.push(format!("{cast} AND id {cmp} "))
                .bind(cursor.id)
                .push(")");
            // due_at: the NULLs come after every dated task.
            q.push(format!(" OR {column} IS NULL)"));
        }
    }
}

fn push_value(q: &mut Stmt, value: &CursorValue) {
    match value {
        CursorValue::Null => q.push("NULL"),
        CursorValue::Text(s) => q.bind(s.clone()),
        CursorValue::Time(t) => q.bind(*t),
    };
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
