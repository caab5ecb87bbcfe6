//! Input that cannot poison data (issue 15): the store refuses it with a field, the database
//! refuses out-of-range due dates on its own, and rows stored before either still read.
#![allow(clippy::unwrap_used)]

use time::macros::datetime;
use todo_store::query::CursorValue;
use todo_store::validate::{NewTask, TaskPatch};
use todo_store::*;
use uuid::Uuid;

async fn store() -> Store {
    let url = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    store
}

async fn user(store: &Store) -> Uuid {
    store
        .users()
        .create("p@x.io", "Poison", "hash")
        .await
        .unwrap()
        .id
}

fn field(err: StoreError) -> String {
    match err {
        StoreError::Validation(v) => v.field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Inserts a task row directly, as a writer that bypasses the store would.
async fn insert_raw(store: &Store, user: Uuid, number: i32, title: &str, due_sql: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO tasks (id, user_id, number, title, due_at) VALUES ($1, $2, $3, $4, {due_sql})"
    )))
    .bind(id)
    .bind(user)
    .bind(number)
    .bind(title)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE users SET task_counter = greatest(task_counter, $2) WHERE id = $1")
        .bind(user)
        .bind(number)
        .execute(store.pool())
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn the_database_refuses_due_dates_outside_years_1_to_9999() {
    let store = store().await;
    let a = user(&store).await;
    for due in [
        "'0002-06-01 00:00:00+00 BC'",
        "'0001-01-01 00:00:00+00 BC'",
        "'10000-01-01 00:00:00+00'",
        "'infinity'",
        "'-infinity'",
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tasks (id, user_id, number, title, due_at) VALUES ($1, $2, 1, 't', {due})"
        )))
        .bind(Uuid::new_v4())
        .bind(a)
        .execute(store.pool())
        .await
        .unwrap_err();
        let sqlx::Error::Database(db) = err else {
            panic!("{due}: {err}")
        };
        assert_eq!(db.constraint(), Some("tasks_due_at_year_range"), "{due}");
    }
    // The bounds themselves are fine, whatever the session's time zone.
    sqlx::query("SET TIME ZONE 'Pacific/Kiritimati'")
        .execute(store.pool())
        .await
        .unwrap();
    insert_raw(&store, a, 1, "first", "'0001-01-01 00:00:00+00'").await;
    insert_raw(&store, a, 2, "last", "'9999-12-31 23:59:59.999999+00'").await;
}

#[tokio::test]
async fn a_bad_row_stored_before_the_check_does_not_block_the_migration() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    let first = MIGRATOR.iter().map(|m| m.version).min().unwrap();
    MIGRATOR.run_to(first, store.pool()).await.unwrap();
    // The first schema's columns only: today's UserStore reads columns added since.
    let a = Uuid::new_v4();
    sqlx::query("INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'p@x.io', 'Poison', 'hash')")
        .bind(a)
        .execute(store.pool())
        .await
        .unwrap();
    insert_raw(&store, a, 1, "old", "'0002-06-01 00:00:00+00 BC'").await;
    store.migrate().await.unwrap();
    store.check_schema().await.unwrap();
    let page = store.tasks().list(a, &TaskQuery::default()).await.unwrap();
    assert_eq!(page.items[0].due_at.map(|d| d.year()), Some(-1));
}

#[tokio::test]
async fn rows_with_out_of_range_due_dates_still_list_get_serialise_and_page() {
    let store = store().await;
    let a = user(&store).await;
    store
        .tasks()
        .create(a, &NewTask::new("fine", None, None, None, &[]).unwrap())
        .await
        .unwrap();
    // As if written before the CHECK existed (or by a tool that bypassed it).
    sqlx::query("ALTER TABLE tasks DROP CONSTRAINT tasks_due_at_year_range")
        .execute(store.pool())
        .await
        .unwrap();
    let bc = insert_raw(&store, a, 10, "year -1", "'0002-06-01 00:00:00+00 BC'").await;
    insert_raw(&store, a, 11, "year 0", "'0001-06-01 00:00:00+00 BC'").await;
    insert_raw(&store, a, 12, "year 20000", "'20000-01-01 00:00:00+00'").await;
    insert_raw(&store, a, 13, "infinity", "'infinity'").await;
    insert_raw(&store, a, 14, "minus infinity", "'-infinity'").await;
    insert_raw(&store, a, 15, "4713 BC", "'4713-01-01 00:00:00+00 BC'").await;
    sqlx::query(
        "ALTER TABLE tasks ADD CONSTRAINT tasks_due_at_year_range
         CHECK (due_at >= '0001-01-01 00:00:00+00' AND due_at < '10000-01-01 00:00:00+00') NOT VALID",
    )
    .execute(store.pool())
    .await
    .unwrap();

    for sort in SortKey::ALL {
        for order in [Order::Asc, Order::Desc] {
            let all = TaskQuery {
                sort,
                order,
                ..Default::default()
            };
            let page = store.tasks().list(a, &all).await.unwrap();
            assert_eq!(page.items.len(), 7, "{sort:?} {order:?}");
            let json = serde_json::to_value(&page).unwrap();
            assert_eq!(json["items"].as_array().unwrap().len(), 7);
            // Page through two at a time: every row ends a page somewhere.
            let mut seen = 0;
            let mut paging = Paging::Offset(0);
            for _ in 0..10 {
                let q = TaskQuery {
                    sort,
                    order,
                    limit: 2,
                    paging: paging.clone(),
                    ..Default::default()
                }
                .validated()
                .unwrap();
                let page = store.tasks().list(a, &q).await.unwrap();
                serde_json::to_string(&page).unwrap();
                seen += page.items.len();
                match page.next_cursor {
                    Some(c) => paging = Paging::Cursor(Cursor::decode(&c).unwrap()),
                    None => break,
                }
            }
            assert_eq!(
                seen, 7,
                "{sort:?} {order:?}: each row once, and the paging ends"
            );
        }
    }
    let task = store
        .tasks()
        .get(a, TaskRef::Id(bc))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&task).unwrap()["due_at"],
        "-000001-06-01T00:00:00Z"
    );
    let far = store
        .tasks()
        .get(a, TaskRef::Number(12))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(far.due_at, Some(datetime!(9999-12-31 23:59:59.999999 UTC)));

    // Saving such a row again is refused on its due date, with a way out.
    let rename = TaskPatch {
        title: Some("renamed".into()),
        ..Default::default()
    };
    let err = store
        .tasks()
        .update(a, TaskRef::Id(bc), &rename)
        .await
        .unwrap_err();
    assert_eq!(field(err), "due_at");
    let fix = TaskPatch {
        title: Some("renamed".into()),
        due_at: Some(Some(datetime!(2026-12-01 0:00 UTC))),
        ..Default::default()
    };
    let fixed = store
        .tasks()
        .update(a, TaskRef::Id(bc), &fix.normalised().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fixed.title, "renamed");
    // Deleting one always works.
    assert!(
        store
            .tasks()
            .delete(a, TaskRef::Number(13))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_store_refuses_bad_text_with_a_field_not_a_database_error() {
    let store = store().await;
    let a = user(&store).await;
    assert_eq!(
        field(
            store
                .users()
                .create("n\0@x.io", "N", "h")
                .await
                .unwrap_err()
        ),
        "email"
    );
    assert_eq!(
        field(
            store
                .users()
                .create("n@x.io", "N\0", "h")
                .await
                .unwrap_err()
        ),
        "name"
    );
    assert!(
        store
            .users()
            .credentials_by_email("p\0@x.io")
            .await
            .unwrap()
            .is_none()
    );
    let conversations = store.conversations();
    assert_eq!(
        field(conversations.create(a, "bad\0title").await.unwrap_err()),
        "title"
    );
    assert_eq!(
        field(conversations.create(a, "\u{200B}").await.unwrap_err()),
        "title"
    );
    let c = conversations.create(a, "  Groceries ").await.unwrap();
    assert_eq!(c.title, "Groceries");
    assert_eq!(
        field(
            conversations
                .add_message(a, c.id, Role::User, "nul\0", None)
                .await
                .unwrap_err()
        ),
        "message"
    );
    let calls = serde_json::json!([{"tool": "add_task", "arguments": {"title": "x\u{0}"}}]);
    assert_eq!(
        field(
            conversations
                .add_message(a, c.id, Role::Assistant, "ok", Some(&calls))
                .await
                .unwrap_err()
        ),
        "tool_calls"
    );
    conversations
        .add_message(a, c.id, Role::User, "line one\n\tline two", None)
        .await
        .unwrap()
        .unwrap();

    // Queries built without `validated` are still checked before they reach the database.
    let tasks = store.tasks();
    let q = TaskQuery {
        search: Some("milk\0".into()),
        ..Default::default()
    };
    assert_eq!(field(tasks.list(a, &q).await.unwrap_err()), "q");
    let q = TaskQuery {
        tag: Some("shop\0".into()),
        ..Default::default()
    };
    assert_eq!(field(tasks.list(a, &q).await.unwrap_err()), "tag");
    let forged = TaskQuery {
        paging: Paging::Cursor(Cursor {
            sort: SortKey::CreatedAt,
            order: Order::Desc,
            value: CursorValue::Text("yesterday".into()),
            id: Uuid::nil(),
        }),
        ..Default::default()
    };
    assert_eq!(field(tasks.list(a, &forged).await.unwrap_err()), "cursor");
    let forged = TaskQuery {
        sort: SortKey::Priority,
        paging: Paging::Cursor(Cursor {
            sort: SortKey::Priority,
            order: Order::Desc,
            value: CursorValue::Text("urgent".into()),
            id: Uuid::nil(),
        }),
        ..Default::default()
    };
    assert_eq!(field(tasks.list(a, &forged).await.unwrap_err()), "cursor");
}
