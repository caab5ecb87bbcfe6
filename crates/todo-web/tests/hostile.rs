//! Hostile values posted straight to the add-task form (as a script would, with the page's
//! CSRF token): each comes back as the form with the field's message, never a 5xx, and the
//! tasks page keeps rendering.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[tokio::test]
async fn hostile_form_values_get_a_field_message() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.sign_up("hostile@example.com").await;
    let long_title = format!("{} ", "x".repeat(200));
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("title", &long_title)], "add-title-error"),
        (&[("title", "\u{3164}\u{115F}\u{2800}")], "add-title-error"),
        (&[("title", "x"), ("tags", "##a")], "add-tags-error"),
        (&[("title", "x"), ("tags", "a\u{a0}b")], "add-tags-error"),
        (
            &[("title", "x"), ("due_date", "2026-02-29")],
            "add-due-error",
        ),
        (
            &[
                ("title", "x"),
                ("due_date", "2026-06-30"),
                ("due_time", "23:59:60"),
            ],
            "add-due-error",
        ),
        (
            &[
                ("title", "x"),
                ("due_date", "2026-01-01"),
                ("due_time", "10:00:00.5"),
            ],
            "add-due-error",
        ),
        (
            &[("title", "x"), ("due_date", "+10000-01-01")],
            "add-due-error",
        ),
    ];
    for (fields, error_id) in cases {
        let mut all = fields.to_vec();
        all.push(("back", ""));
        let r = b.post("/tasks", &all).await;
        assert_eq!(r.status, 422, "{fields:?}: {}", r.body);
        assert!(
            r.text_of(error_id).is_some_and(|e| !e.is_empty()),
            "{fields:?}: no #{error_id} in {}",
            r.body
        );
    }
    let page = b.get("/tasks").await;
    assert_eq!(page.status, 200, "{}", page.body);
}

#[tokio::test]
async fn a_body_that_is_not_a_form_gets_a_page_saying_so() {
    let stack = Stack::start_with(Options {
        with_chat: false,
        cookie_secure: false,
    })
    .await;
    let mut b = stack.browser();
    b.sign_up("notaform@example.com").await;
    // JSON to a form endpoint: refused by the typed form, with this site's error page.
    let r = b
        .post_body("/tasks", "application/json", r#"{"title":"x"}"#)
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.text().contains("could not read the form"), "{}", r.body);
    assert!(r.header("content-type").starts_with("text/html"));
    // A field sent twice is not a form this site makes either.
    let r = b
        .post_body(
            "/tasks",
            "application/x-www-form-urlencoded",
            "title=a&title=b&back=",
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Unknown fields are ignored and a bad priority is the default: the task is added.
    let r = b
        .post_body(
            "/tasks",
            "application/x-www-form-urlencoded",
            "title=Fine&priority=urgent&colour=red&back=",
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/tasks").await;
    assert!(page.text_of("task-1").unwrap().contains("medium"));
}
