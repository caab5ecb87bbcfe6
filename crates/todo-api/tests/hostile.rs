//! Hostile input found by probing the running API the way an outside reviewer would: each
//! case is what the published schema says about it (valid is taken, invalid is refused with a
//! 422 naming the field), and none of them leaves a stored row that breaks a later read.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};

async fn raw(api: &TestApi, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let req = api
        .client
        .request(method.parse().unwrap(), api.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned());
    read(req.send().await.unwrap()).await
}

fn refused(status: u16, body: &Value) -> Option<String> {
    assert_eq!(status, 422, "{body}");
    error_of(body).1
}

/// Forms the due-date schema pattern refuses were taken by the old parser (it trimmed, read a
/// space for `T`, leap seconds and any number of fraction digits). Now refused, naming the
/// field, through POST, PATCH and the list filters.
#[tokio::test]
async fn due_dates_outside_the_published_pattern_are_refused() {
    let api = TestApi::start().await;
    let (t, _) = api.register("due@x.io").await;
    api.add_task(&t, json!({"title": "keep"})).await;
    for due in [
        " 2026-01-01",
        "2026-01-01 ",
        "2026-01-01 00:00:00Z",
        "2026-06-30T23:59:60Z",
        "2026-01-01T00:00:00.1234567890Z",
        "2026-01-01T00:00:00.5",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00+24:00",
        "2026-02-29",
    ] {
        let (s, b) = api
            .post("/api/tasks", &t, json!({"title": "x", "due_at": due}))
            .await;
        assert_eq!(refused(s, &b).as_deref(), Some("due_at"), "{due:?}");
        let (s, b) = api.patch("/api/tasks/1", &t, json!({"due_at": due})).await;
        assert_eq!(refused(s, &b).as_deref(), Some("due_at"), "PATCH {due:?}");
        let q: String = form_urlencoded::byte_serialize(due.as_bytes()).collect();
        let (s, b) = api.get(&format!("/api/tasks?due_after={q}"), &t).await;
        assert_eq!(refused(s, &b).as_deref(), Some("due_after"), "{due:?}");
    }
    // What the pattern allows is taken, lower-case `t`/`z`, 9 digits and `-00:00` included.
    for (due, stored) in [
        ("2026-01-01t10:00:00z", "2026-01-01T10:00:00Z"),
        ("2026-01-01T10:00:00.123456Z", "2026-01-01T10:00:00.123456Z"),
        (
            "2026-01-01T10:00:00.123456789Z",
            "2026-01-01T10:00:00.123456Z",
        ),
        ("2026-01-01T10:00:00-00:00", "2026-01-01T10:00:00Z"),
        ("2024-02-29T10:30", "2024-02-29T10:30:00Z"),
    ] {
        let task = api
            .add_task(&t, json!({"title": "ok", "due_at": due}))
            .await;
        assert_eq!(task["due_at"], stored, "{due}");
    }
    let (s, page) = api.get("/api/tasks?sort=due_at&order=asc", &t).await;
    assert_eq!(s, 200, "{page}");
}

/// `maxLength` counts the value as sent; the server used to count after trimming, so a title
/// the schema refuses (201 characters with a space) was stored.
#[tokio::test]
async fn lengths_and_tags_are_judged_as_the_schema_judges_them() {
    let api = TestApi::start().await;
    let (t, _) = api.register("len@x.io").await;
    let padded = format!(" {} ", "x".repeat(200));
    let (s, b) = api.post("/api/tasks", &t, json!({"title": padded})).await;
    assert_eq!(refused(s, &b).as_deref(), Some("title"));
    let (s, b) = api
        .post(
            "/api/tasks",
            &t,
            json!({"title": "x", "description": format!("{}\u{3000}", "d".repeat(1000))}),
        )
        .await;
    assert_eq!(refused(s, &b).as_deref(), Some("description"));
    // 200 emoji are 200 code points, as JSON Schema counts them.
    let task = api.add_task(&t, json!({"title": "😀".repeat(200)})).await;
    assert_eq!(task["title"].as_str().unwrap().chars().count(), 200);

    for tag in ["##a", " a", "a\u{a0}", "\u{3000}a", "#", "a,b"] {
        let (s, b) = api
            .post("/api/tasks", &t, json!({"title": "x", "tags": [tag]}))
            .await;
        assert_eq!(refused(s, &b).as_deref(), Some("tags"), "{tag:?}");
    }
    // 32 characters as sent are allowed even when lower-casing lengthens them.
    let dotted = "\u{130}".repeat(32);
    let task = api
        .add_task(
            &t,
            json!({"title": "x", "tags": [dotted, "a#b", "#A", "a"]}),
        )
        .await;
    assert_eq!(task["tags"].as_array().unwrap().len(), 3, "{task}");
    let (s, page) = api.get("/api/tasks?tag=a%23b", &t).await;
    assert_eq!((s, page["total"].as_i64()), (200, Some(1)), "{page}");
}

#[tokio::test]
async fn json_and_query_edge_cases_name_the_field() {
    let api = TestApi::start().await;
    let (t, _) = api.register("json@x.io").await;
    let (s, b) = raw(
        &api,
        "POST",
        "/api/tasks",
        &t,
        r#"{"title":"a","title":"b"}"#,
    )
    .await;
    assert_eq!(refused(s, &b).as_deref(), Some("title"), "duplicate key");
    for (body, code) in [
        (r#"{"title":"\ud800"}"#, "MALFORMED_JSON"),
        ("\u{feff}{\"title\":\"bom\"}", "MALFORMED_JSON"),
        (r#"{"title":1e400}"#, "MALFORMED_JSON"),
        ("", "MALFORMED_JSON"),
    ] {
        let (s, b) = raw(&api, "POST", "/api/tasks", &t, body).await;
        assert_eq!((s, error_of(&b).0.as_str()), (400, code), "{body:?}: {b}");
    }
    // Bytes that are not UTF-8 used to be searched for as U+FFFD.
    for (query, field) in [("tag=%ff", "tag"), ("q=%C0%80", "q"), ("q=%ED%A0%80", "q")] {
        let (s, b) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(refused(s, &b).as_deref(), Some(field), "{query}");
    }
    let (s, b) = api.get("/api/tasks?q=caf%C3%A9+100%25", &t).await;
    assert_eq!(s, 200, "{b}");
}

/// Task ids exactly as the TaskKey schema gives them; other spellings are a 422 naming `id`.
#[tokio::test]
async fn task_ids_take_only_the_schema_forms() {
    let api = TestApi::start().await;
    let (t, _) = api.register("ids@x.io").await;
    let task = api.add_task(&t, json!({"title": "one"})).await;
    let id = task["id"].as_str().unwrap().to_owned();
    for ok in ["1", "%231", id.as_str(), &id.to_uppercase()] {
        let (s, b) = api.get(&format!("/api/tasks/{ok}"), &t).await;
        assert_eq!(s, 200, "{ok}: {b}");
    }
    let braced = format!("%7B{id}%7D");
    let urn = format!("urn:uuid:{id}");
    let simple = id.replace('-', "");
    for bad in [
        "0",
        "01",
        "+1",
        "%201",
        "1.0",
        "%D9%A3",
        "%00",
        "2147483648",
        &braced,
        &urn,
        &simple,
    ] {
        let (s, b) = api.get(&format!("/api/tasks/{bad}"), &t).await;
        assert_eq!(refused(s, &b).as_deref(), Some("id"), "{bad}");
    }
}

/// A forged cursor whose time is before PostgreSQL's first timestamp (4714 BC) was a 500 from
/// the database; upper-case hex (which the cursor pattern refuses) was taken.
#[tokio::test]
async fn forged_cursors_are_refused_on_cursor() {
    let api = TestApi::start().await;
    let (t, _) = api.register("cursor@x.io").await;
    api.add_task(&t, json!({"title": "one"})).await;
    let hex = |v: Value| -> String { v.to_string().bytes().map(|b| format!("{b:02x}")).collect() };
    let id = "6f1e0d1c-1a2b-4c3d-8e9f-000000000000";
    let ancient = hex(
        json!({"s": "created_at", "o": "desc", "v": {"time": -210_876_803_200_000_000i64}, "i": id}),
    );
    let fine = hex(
        json!({"s": "created_at", "o": "desc", "v": {"time": "2026-01-01T00:00:00Z"}, "i": id}),
    );
    for cursor in [ancient, fine.to_uppercase()] {
        let (s, b) = api.get(&format!("/api/tasks?cursor={cursor}"), &t).await;
        assert_eq!(refused(s, &b).as_deref(), Some("cursor"), "{b}");
    }
    let (s, b) = api.get(&format!("/api/tasks?cursor={fine}"), &t).await;
    assert_eq!(s, 200, "{b}");
}
