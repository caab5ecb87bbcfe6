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
