//! Input that cannot poison data (issue 15), through the web: a refused form comes back with
//! the field's error (never a 5xx), and a bad row already stored never takes the tasks page
//! down.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

async fn stack() -> Stack {
    Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await
}

async fn add_refused(b: &mut Browser, fields: &[(&str, &str)], error_id: &str) -> String {
    let mut all = fields.to_vec();
    all.push(("back", ""));
    let r = b.post("/tasks", &all).await;
    assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
    r.text_of(error_id)
        .unwrap_or_else(|| panic!("{fields:?}: no #{error_id} in {}", r.body))
}

#[tokio::test]
async fn poisoned_forms_come_back_with_the_fields_error() {
    let stack = stack().await;
    let mut b = stack.browser();
    b.sign_up("poison@example.com").await;

    let e = add_refused(
        &mut b,
        &[("title", "Ancient"), ("due_date", "-0001-06-01")],
        "add-due-error",
    )
    .await;
    assert!(e.contains("year 1 to 9999"), "{e}");
    let e = add_refused(
        &mut b,
        &[("title", "Year zero"), ("due_date", "0000-12-31")],
        "add-due-error",
    )
    .await;
    assert!(e.contains("year 1 to 9999"), "{e}");
    let e = add_refused(&mut b, &[("title", "milk\0")], "add-title-error").await;
    assert!(e.contains("control characters"), "{e}");
    let e = add_refused(
        &mut b,
        &[("title", "\u{200B}\u{2060}\u{FEFF}")],
        "add-title-error",
    )
    .await;
    assert!(e.contains("visible character"), "{e}");
    let e = add_refused(
        &mut b,
        &[("title", "Notes"), ("description", "bell\u{7}")],
        "add-description-error",
    )
    .await;
    assert!(e.contains("control characters"), "{e}");
    let e = add_refused(
        &mut b,
        &[("title", "Tags"), ("tags", "a a a a a a a a a a a")],
        "add-tags-error",
    )
    .await;
    assert!(e.to_lowercase().contains("at most 10 tags (got 11)"), "{e}");

    // Nothing was stored, and the page is fine.
    let page = b.get("/tasks").await;
    assert_eq!(page.status, 200);
    assert!(page.task_rows().is_empty(), "{:?}", page.task_rows());

    // The edit form too.
    let r = b.post("/tasks", &[("title", "Fine"), ("back", "")]).await;
    assert_eq!(r.status, 303);
    let r = b
        .post(
            "/tasks/1",
            &[("title", "Fine"), ("due_date", "-0001-06-01"), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.text_of("edit-due-error")
            .unwrap()
            .contains("year 1 to 9999"),
        "{}",
        r.body
    );
    let r = b
        .post("/tasks/1", &[("title", "Fine\0"), ("back", "")])
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.text_of("edit-title-error").is_some(), "{}", r.body);

    // Searches and tag filters with control characters are refused on the page, not a 5xx.
    for query in ["/tasks?q=milk%00", "/tasks?tag=a%01b", "/tasks?q=%1B%5B2J"] {
        let page = b.get(query).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
    }
    let page = b.get("/tasks").await;
    assert_eq!(page.task_rows().len(), 1);
    assert!(page.text().contains("Fine"));
}

#[tokio::test]
async fn a_bad_row_stored_before_the_rules_never_breaks_the_tasks_page() {
    let stack = stack().await;
    let mut b = stack.browser();
    b.sign_up("stored@example.com").await;
    let r = b.post("/tasks", &[("title", "Fine"), ("back", "")]).await;
    assert_eq!(r.status, 303);

    // Rows as an older version (or a tool bypassing the API) could have written them.
    let pool = sqlx::PgPool::connect(&stack.db).await.unwrap();
    sqlx::query("ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_due_at_year_range")
        .execute(&pool)
        .await
        .unwrap();
    let user: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind("stored@example.com")
        .fetch_one(&pool)
        .await
        .unwrap();
    for (number, title, due) in [
        (2, "Ancient", "'0002-06-01 00:00:00+00 BC'"),
        (3, "Far future", "'20000-01-01 00:00:00+00'"),
        (4, "Forever", "'infinity'"),
        (5, "Bell\u{7} title", "NULL"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO tasks (id, user_id, number, title, due_at, tags)
             VALUES ($1, $2, $3, $4, {due}, ARRAY['x\u{1}y'])"
        )))
        .bind(uuid::Uuid::new_v4())
        .bind(user)
        .bind(number)
        .bind(title)
        .execute(&pool)
        .await
        .unwrap();
    }
    sqlx::query("UPDATE users SET task_counter = 5 WHERE id = $1")
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();

    for path in [
        "/tasks",
        "/tasks?sort=due_at&order=asc",
        "/tasks?sort=due_at&order=desc",
        "/tasks?sort=title",
        "/tasks?status=pending",
        "/tasks/2/edit",
        "/tasks/3/edit",
        "/tasks/2/delete",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }
    let page = b.get("/tasks").await;
    assert_eq!(page.task_rows().len(), 5, "{:?}", page.task_rows());
    for title in ["Ancient", "Far future", "Forever", "title"] {
        assert!(page.text().contains(title), "{title}: {}", page.body);
    }

    // Such a row can be fixed through the form, and completed once fixed.
    let r = b
        .post(
            "/tasks/2",
            &[
                ("title", "Ancient"),
                ("due_date", "2026-12-01"),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = b.post("/tasks/2/complete", &[("back", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Completing one that still holds a bad date is refused with a message, not a 5xx.
    let r = b.post("/tasks/3/complete", &[("back", "")]).await;
    assert!(r.status < 500, "{}: {}", r.status, r.body);
    assert_eq!(b.get("/tasks").await.status, 200);
}

#[tokio::test]
async fn a_chat_message_with_control_characters_comes_back_with_its_error() {
    let stack = Stack::start().await;
    let mut b = stack.browser();
    b.sign_up("chatpoison@example.com").await;
    for bad in ["add milk\0", "add \u{1b}[2Jmilk", "\u{200B}\u{200D}"] {
        let r = b
            .post(
                "/chat",
                &[("message", bad), ("conversation_id", ""), ("back", "")],
            )
            .await;
        assert_eq!(r.status, 422, "{bad:?}: {}", r.body);
        assert!(
            r.text_of("chat-message-error").is_some(),
            "{bad:?}: {}",
            r.body
        );
    }
    // A tool call the chat makes with a poisoned due date is refused by the tools, and the
    // turn still answers.
    let r = b
        .post(
            "/chat",
            &[
                ("message", "add buy milk -0001-06-01"),
                ("conversation_id", ""),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert_eq!(page.status, 200, "{}", page.body);
}
