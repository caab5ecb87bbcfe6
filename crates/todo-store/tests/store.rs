//! The store against a real PostgreSQL (throwaway server, or DATABASE_URL's).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use time::macros::datetime;
use todo_store::validate::{NewTask, TaskPatch};
use todo_store::*;
use uuid::Uuid;

async fn store() -> Store {
    let url = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    store
}

async fn user(store: &Store, email: &str) -> Uuid {
    store
        .users()
        .create(email, "Test", "hash")
        .await
        .unwrap()
        .id
}

fn task(title: &str) -> NewTask {
    NewTask::new(title, None, None, None, &[]).unwrap()
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_run_concurrently() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let runs = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move {
            let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
            store.migrate().await
        })
    });
    for run in futures_join(runs).await {
        run.unwrap();
    }
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    store.check_schema().await.unwrap();
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn schema_check_fails_before_migrations() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&url, &PoolSettings::default()).unwrap();
    store.ping().await.unwrap();
    let err = store.check_schema().await.unwrap_err();
    assert!(err.to_string().contains("todo-api migrate"), "{err}");
}

#[tokio::test]
async fn emails_are_unique_regardless_of_case() {
    let store = store().await;
    store
        .users()
        .create("Ann@Example.com", "Ann", "h")
        .await
        .unwrap();
    let err = store
        .users()
        .create("ann@example.COM", "Ann", "h")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref field, .. } if field == "email"),
        "{err}"
    );
    let found = store
        .users()
        .credentials_by_email("ANN@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.name, "Ann");
}

#[tokio::test]
async fn task_numbers_are_per_user_and_distinct_under_concurrency() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    let b = user(&store, "b@x.io").await;
    let mut handles = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store
                .tasks()
                .create(a, &task(&format!("t{i}")))
                .await
                .unwrap()
                .number
        }));
    }
    let numbers: HashSet<i32> = futures_join(handles.into_iter())
        .await
        .into_iter()
        .collect();
    assert_eq!(numbers, (1..=20).collect());
    assert_eq!(
        store
            .tasks()
            .create(b, &task("first of b"))
            .await
            .unwrap()
            .number,
        1
    );
}

#[tokio::test]
async fn another_users_task_is_not_found_for_any_operation() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    let b = user(&store, "b@x.io").await;
    let t = store.tasks().create(a, &task("secret")).await.unwrap();
    let by_id = TaskRef::Id(t.id);
    assert_eq!(store.tasks().get(b, by_id).await.unwrap(), None);
    assert_eq!(
        store.tasks().get(b, TaskRef::Number(1)).await.unwrap(),
        None
    );
    let patch = TaskPatch {
        title: Some("hacked".into()),
        ..Default::default()
    };
    assert_eq!(store.tasks().update(b, by_id, &patch).await.unwrap(), None);
    assert_eq!(
        store.tasks().set_completed(b, by_id, true).await.unwrap(),
        None
    );
    assert_eq!(store.tasks().delete(b, by_id).await.unwrap(), None);
    assert_eq!(
        store
            .tasks()
            .list(b, &TaskQuery::default())
            .await
            .unwrap()
            .total,
        0
    );
    let still = store.tasks().get(a, by_id).await.unwrap().unwrap();
    assert_eq!((still.title.as_str(), still.completed), ("secret", false));
}

#[tokio::test]
async fn patches_set_clear_and_complete() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    let t = NewTask::new(
        "x",
        Some("d"),
        Some(Priority::High),
        Some(datetime!(2026-12-01 0:00 UTC)),
        &["a".into()],
    )
    .unwrap();
    let t = store.tasks().create(a, &t).await.unwrap();
    let r = TaskRef::Number(t.number);
    let clear = TaskPatch {
        description: Some(None),
        due_at: Some(None),
        tags: Some(vec![]),
        ..Default::default()
    };
    let u = store.tasks().update(a, r, &clear).await.unwrap().unwrap();
    assert_eq!(
        (u.description, u.due_at, u.tags.len(), u.priority),
        (None, None, 0, Priority::High)
    );
    assert!(u.updated_at >= t.updated_at);
    let done = store
        .tasks()
        .set_completed(a, r, true)
        .await
        .unwrap()
        .unwrap();
    let first = done.completed_at.unwrap();
    let again = store
        .tasks()
        .set_completed(a, r, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.completed_at,
        Some(first),
        "completing twice keeps the first time"
    );
    let reopened = store
        .tasks()
        .set_completed(a, r, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reopened.completed, reopened.completed_at), (false, None));
    assert_eq!(store.tasks().delete(a, r).await.unwrap().unwrap().id, t.id);
    assert_eq!(store.tasks().get(a, r).await.unwrap(), None);
}

#[tokio::test]
async fn keyset_paging_visits_every_task_once_in_order_for_every_sort() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    for i in 0..23 {
        let priority = Priority::ALL[i % 3];
        // Some tasks share a due date, some have none, titles repeat: ties exercise the id tiebreak.
        let due = (i % 4 != 0)
            .then(|| datetime!(2026-12-01 0:00 UTC) + time::Duration::days((i % 5) as i64));
        let t = NewTask::new(&format!("task {}", i % 7), None, Some(priority), due, &[]).unwrap();
        store.tasks().create(a, &t).await.unwrap();
    }
    for sort in [
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
        SortKey::DueAt,
        SortKey::Priority,
        SortKey::Title,
    ] {
        for order in [Order::Asc, Order::Desc] {
            let all = TaskQuery {
                sort,
                order,
                limit: 200,
                ..Default::default()
            };
            let expected: Vec<Uuid> = store
                .tasks()
                .list(a, &all)
                .await
                .unwrap()
                .items
                .iter()
                .map(|t| t.id)
                .collect();
            assert_eq!(expected.len(), 23);
            let mut seen = Vec::new();
            let mut paging = Paging::Offset(0);
            loop {
                let q = TaskQuery {
                    sort,
                    order,
                    limit: 4,
                    paging: paging.clone(),
                    ..Default::default()
                };
                let page = store
                    .tasks()
                    .list(a, &q.validated().unwrap())
                    .await
                    .unwrap();
                assert_eq!(page.total, 23);
                seen.extend(page.items.iter().map(|t| t.id));
                match page.next_cursor {
                    Some(c) => paging = Paging::Cursor(Cursor::decode(&c).unwrap()),
                    None => break,
                }
            }
            assert_eq!(seen, expected, "sort {sort:?} {order:?}");
            // Offset paging agrees with the full list too.
            let q = TaskQuery {
                sort,
                order,
                limit: 5,
                paging: Paging::Offset(10),
                ..Default::default()
            };
            let page = store.tasks().list(a, &q).await.unwrap();
            assert_eq!(
                page.items.iter().map(|t| t.id).collect::<Vec<_>>(),
                expected[10..15].to_vec()
            );
        }
    }
}

#[tokio::test]
async fn filters_combine() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    let mk = |title: &str, p: Priority, due: Option<time::OffsetDateTime>, tags: &[&str]| {
        NewTask::new(
            title,
            Some("notes 100%"),
            Some(p),
            due,
            &tags.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let milk = store
        .tasks()
        .create(
            a,
            &mk(
                "Buy milk",
                Priority::High,
                Some(datetime!(2026-11-25 0:00 UTC)),
                &["shop"],
            ),
        )
        .await
        .unwrap();
    store
        .tasks()
        .create(
            a,
            &mk(
                "Call mom",
                Priority::Low,
                Some(datetime!(2026-11-28 0:00 UTC)),
                &["family"],
            ),
        )
        .await
        .unwrap();
    store
        .tasks()
        .create(a, &mk("Buy bread", Priority::Low, None, &["shop"]))
        .await
        .unwrap();
    store
        .tasks()
        .set_completed(a, TaskRef::Id(milk.id), true)
        .await
        .unwrap();
    let titles = |page: TaskPage| page.items.into_iter().map(|t| t.title).collect::<Vec<_>>();
    let list = |q: TaskQuery| {
        let store = store.clone();
        async move { titles(store.tasks().list(a, &q).await.unwrap()) }
    };
    assert_eq!(
        list(TaskQuery {
            status: StatusFilter::Completed,
            ..Default::default()
        })
        .await,
        ["Buy milk"]
    );
    assert_eq!(
        list(TaskQuery {
            status: StatusFilter::Pending,
            tag: Some("shop".into()),
            ..Default::default()
        })
        .await,
        ["Buy bread"]
    );
    assert_eq!(
        list(TaskQuery {
            priority: Some(Priority::Low),
            sort: SortKey::Title,
            order: Order::Asc,
            ..Default::default()
        })
        .await,
        ["Buy bread", "Call mom"]
    );
    assert_eq!(
        list(TaskQuery {
            search: Some("BUY".into()),
            sort: SortKey::Title,
            order: Order::Asc,
            ..Default::default()
        })
        .await,
        ["Buy bread", "Buy milk"]
    );
    assert_eq!(
        list(TaskQuery {
            search: Some("100%".into()),
            ..Default::default()
        })
        .await
        .len(),
        3,
        "% is literal"
    );
    assert_eq!(
        list(TaskQuery {
            search: Some("_".into()),
            ..Default::default()
        })
        .await
        .len(),
        0,
        "_ is literal"
    );
    assert_eq!(
        list(TaskQuery {
            due_before: Some(datetime!(2026-11-26 0:00 UTC)),
            ..Default::default()
        })
        .await,
        ["Buy milk"]
    );
    assert_eq!(
        list(TaskQuery {
            due_after: Some(datetime!(2026-11-26 0:00 UTC)),
            ..Default::default()
        })
        .await,
        ["Call mom"]
    );
}

#[tokio::test]
async fn conversations_keep_messages_in_order_and_per_user() {
    let store = store().await;
    let a = user(&store, "a@x.io").await;
    let b = user(&store, "b@x.io").await;
    let c = store.conversations().create(a, "Groceries").await.unwrap();
    for i in 0..5 {
        let calls = serde_json::json!([{"tool": "list_tasks", "i": i}]);
        store
            .conversations()
            .add_message(a, c.id, Role::User, &format!("m{i}"), Some(&calls))
            .await
            .unwrap()
            .unwrap();
    }
    let recent = store
        .conversations()
        .recent_messages(a, c.id, 3)
        .await
        .unwrap();
    assert_eq!(
        recent
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["m2", "m3", "m4"]
    );
    assert_eq!(recent[0].tool_calls.as_ref().unwrap()[0]["i"], 2);
    let texts = store
        .conversations()
        .recent_texts(a, c.id, 3)
        .await
        .unwrap();
    assert_eq!(
        texts,
        recent
            .iter()
            .map(|m| (m.role, m.content.clone()))
            .collect::<Vec<_>>(),
        "the same window, without the payloads"
    );
    assert!(
        store
            .conversations()
            .recent_texts(b, c.id, 3)
            .await
            .unwrap()
            .is_empty(),
        "B reads nothing of A's conversation"
    );
    assert_eq!(
        store
            .conversations()
            .add_message(b, c.id, Role::User, "intrude", None)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .conversations()
            .recent_messages(b, c.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.conversations().get(b, c.id).await.unwrap(), None);
    let after = store
        .conversations()
        .recent_messages(a, c.id, 10)
        .await
        .unwrap();
    assert!(
        after.iter().all(|m| m.content != "intrude"),
        "B's message did not land in A's conversation"
    );
    let c2 = store.conversations().create(a, "Later").await.unwrap();
    store
        .conversations()
        .add_message(a, c.id, Role::Assistant, "bump", None)
        .await
        .unwrap();
    let listed: Vec<Uuid> = store
        .conversations()
        .list(a, 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![c.id, c2.id], "most recently active first");
}
