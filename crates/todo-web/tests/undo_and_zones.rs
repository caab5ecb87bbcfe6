//! Undo for complete and delete, without JavaScript (the notice's Undo button is a form),
//! and the user's time zone: chosen at sign-up, changed on the settings page, and the
//! dates of the tasks page shown in it.
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

#[tokio::test]
async fn deleting_and_completing_can_be_undone() {
    let stack = stack().await;
    let mut b = stack.browser();
    b.sign_up("undo@example.com").await;
    let r = b
        .post(
            "/tasks",
            &[
                ("title", "Water the plants"),
                ("priority", "high"),
                ("due_date", "2030-05-04"),
                ("due_time", "18:15"),
                ("tags", "home, garden"),
                ("description", "The ones on the balcony"),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);

    // Complete, then undo: pending again, same number.
    let r = b.post("/tasks/1/complete", &[("back", "")]).await;
    assert_eq!(r.status, 303);
    let page = b.follow(&r).await;
    assert!(page.text_of("flash").unwrap().contains("Task completed."));
    assert!(page.body.contains("id=\"undo-form\""), "{}", page.body);
    assert!(page.task_rows()[0].1.contains("done"));
    let r = b.post("/tasks/undo", &[("back", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(page.text_of("flash").unwrap().contains("Task reopened."));
    assert!(
        !page.task_rows()[0].1.contains("done"),
        "{:?}",
        page.task_rows()
    );
    assert!(
        !page.body.contains("id=\"undo-form\""),
        "an undo is used once"
    );

    // Delete, then undo: everything comes back (under a new number: numbers are never reused).
    let r = b.post("/tasks/1/delete", &[("back", "")]).await;
    assert_eq!(r.status, 303);
    let page = b.follow(&r).await;
    assert!(page.task_rows().is_empty());
    assert!(page.text_of("flash").unwrap().contains("Task deleted."));
    assert!(page.body.contains("id=\"undo-form\""), "{}", page.body);
    let r = b.post("/tasks/undo", &[("back", "")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(page.text_of("flash").unwrap().contains("Task restored."));
    assert_eq!(page.task_rows().len(), 1, "{}", page.body);
    let row = page.text_of("task-2").unwrap();
    for part in [
        "Water the plants",
        "high",
        "#home",
        "#garden",
        "balcony",
        "18:15",
    ] {
        assert!(row.contains(part), "{part} in {row}");
    }

    // A second undo has nothing left to undo, and says so.
    let r = b.post("/tasks/undo", &[("back", "")]).await;
    let page = b.follow(&r).await;
    assert!(page.text_of("flash").unwrap().contains("nothing to undo"));
    assert_eq!(page.task_rows().len(), 1);

    // The undo goes away with its notice: after another action there is nothing to undo.
    let r = b.post("/tasks/2/delete", &[("back", "")]).await;
    b.follow(&r).await;
    let r = b.post("/tasks", &[("title", "Other"), ("back", "")]).await;
    b.follow(&r).await;
    let r = b.post("/tasks/undo", &[("back", "")]).await;
    let page = b.follow(&r).await;
    assert!(page.text_of("flash").unwrap().contains("nothing to undo"));
    assert_eq!(page.task_rows().len(), 1, "only the new task");
}

#[tokio::test]
async fn the_users_zone_is_set_at_sign_up_changed_in_settings_and_used_for_dates() {
    let stack = stack().await;
    let mut b = stack.browser();
    let page = b.get("/signup").await;
    // Without JavaScript the zone is a select; with it, a hidden field the script fills.
    assert!(page.body.contains("name=\"browser_time_zone\""));
    assert!(page.body.contains("<option>Pacific/Auckland</option>"));
    assert!(page.body.contains("<option selected>UTC</option>"));
    let r = b
        .post(
            "/signup",
            &[
                ("name", "Kiri"),
                ("email", "kiri@example.com"),
                ("password", "correct horse"),
                ("browser_time_zone", "Pacific/Auckland"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(
        page.text().contains("Dates in Pacific/Auckland"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("UTC, optional"));

    // A date-time typed in the form is the user's wall-clock time, shown back as typed.
    let r = b
        .post(
            "/tasks",
            &[
                ("title", "Call"),
                ("due_date", "2030-01-10"),
                ("due_time", "09:30"),
                ("back", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    let row = page.text_of("task-1").unwrap();
    assert!(row.contains("10 Jan 2030 09:30"), "{row}");
    assert!(
        page.body.contains("datetime=\"2030-01-09T20:30:00Z\""),
        "stored as the instant (Auckland is UTC+13 in January): {}",
        page.body
    );

    // Settings: the current zone is selected; a new one is saved and used at once.
    let page = b.get("/settings").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<option selected>Pacific/Auckland</option>")
    );
    let r = b
        .post("/settings", &[("time_zone", "America/Los_Angeles")])
        .await;
    assert_eq!((r.status, r.location()), (303, "/settings"), "{}", r.body);
    let page = b.follow(&r).await;
    assert!(page.text().contains("Settings saved."));
    assert!(
        page.body
            .contains("<option selected>America/Los_Angeles</option>")
    );
    let page = b.get("/tasks").await;
    let row = page.text_of("task-1").unwrap();
    // The same instant is 12:30 on the 9th in Los Angeles (UTC-8).
    assert!(row.contains("9 Jan 2030 12:30"), "{row}");
    let edit = b.get("/tasks/1/edit").await;
    assert!(edit.body.contains("value=\"2030-01-09\""), "{}", edit.body);
    assert!(edit.body.contains("value=\"12:30\""), "{}", edit.body);

    // An unknown zone comes back as the page with the field's error.
    let r = b.post("/settings", &[("time_zone", "Mars/Olympus")]).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let e = r.text_of("time_zone-error").unwrap();
    assert!(e.contains("time zone"), "{e}");
    let page = b.get("/settings").await;
    assert!(
        page.body
            .contains("<option selected>America/Los_Angeles</option>")
    );

    // Settings need a signed-in user.
    let mut other = stack.browser();
    let r = other.get("/settings").await;
    assert_eq!((r.status, r.location()), (303, "/signin"));
}
