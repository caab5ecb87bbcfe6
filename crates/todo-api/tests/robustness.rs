//! Inputs that used to reach a 500 (or worse, poison a user's list), and the guarantees around
//! errors: 4xx naming the field for bad input, 503 for a database outage, the JSON error shape
//! with the request id everywhere, and a document that lists every status an operation gives.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use throwaway_postgres::PgServer;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn raw_post(api: &TestApi, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = api
        .client
        .post(api.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read(req.send().await.unwrap()).await
}

fn field_of(status: u16, body: &Value) -> (u16, String, Option<String>) {
    let (code, field) = error_of(body);
    (status, code, field)
}

#[tokio::test]
async fn due_dates_outside_years_1_to_9999_are_refused_and_the_list_survives() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(&t, json!({"title": "keep"})).await;
    for due in [
        "-0001-01-01",
        "0000-12-31",
        "10000-01-01",
        "+10000-01-01",
        "0001-01-01T00:00:00+01:00",
    ] {
        let (status, body) = api
            .post("/api/tasks", &t, json!({"title": "x", "due_at": due}))
            .await;
        assert_eq!(
            field_of(status, &body),
            (422, "VALIDATION_ERROR".into(), Some("due_at".into())),
            "{due}: {body}"
        );
        let (status, body) = api.patch("/api/tasks/1", &t, json!({"due_at": due})).await;
        assert_eq!(
            (status, error_of(&body).1.as_deref()),
            (422, Some("due_at")),
            "PATCH {due}: {body}"
        );
        let (status, body) = api.get(&format!("/api/tasks?due_before={due}"), &t).await;
        assert_eq!(
            (status, error_of(&body).1.as_deref()),
            (422, Some("due_before")),
            "{due}: {body}"
        );
    }
    // The edges of the range are fine.
    for due in ["0001-01-01", "9999-12-31T23:59:59Z"] {
        let task = api
            .add_task(&t, json!({"title": "edge", "due_at": due}))
            .await;
        assert!(task["due_at"].is_string(), "{task}");
    }
    for query in [
        "",
        "sort=due_at&order=asc",
        "sort=due_at&order=desc&limit=1",
    ] {
        let (status, page) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(status, 200, "{query}: {page}");
        let next = page["next_cursor"].as_str().map(str::to_owned);
        if let Some(c) = next {
            let (status, page) = api.get(&format!("/api/tasks?{query}&cursor={c}"), &t).await;
            assert_eq!(status, 200, "{page}");
        }
    }
}

#[tokio::test]
async fn nul_and_control_characters_are_a_422_naming_the_field() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(&t, json!({"title": "x"})).await;
    for (body, field) in [
        (json!({"title": "a\u{0}b"}), "title"),
        (json!({"title": "a\u{1b}b"}), "title"),
        (json!({"title": "a\u{85}b"}), "title"),
        (
            json!({"title": "x", "description": "a\u{0}b"}),
            "description",
        ),
        (json!({"title": "x", "tags": ["a\u{0}b"]}), "tags"),
    ] {
        let (status, response) = api.post("/api/tasks", &t, body.clone()).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some(field)),
            "{body}: {response}"
        );
    }
    let (status, response) = api
        .patch("/api/tasks/1", &t, json!({"title": "a\u{0}b"}))
        .await;
    assert_eq!(
        (status, error_of(&response).1.as_deref()),
        (422, Some("title"))
    );
    for (query, field) in [("q=a%00b", "q"), ("tag=a%00b", "tag"), ("q=%1b", "q")] {
        let (status, response) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some(field)),
            "{query}: {response}"
        );
    }
    for (body, field) in [
        (
            json!({"email": "a\u{0}b@x.io", "password": "correct horse", "name": "N"}),
            "email",
        ),
        (
            json!({"email": "n@x.io", "password": "correct horse", "name": "a\u{0}b"}),
            "name",
        ),
        (
            json!({"email": "n@x.io", "password": "correct horse", "name": "\u{200b}\u{200b}"}),
            "name",
        ),
    ] {
        let (status, response) = api
            .call(Method::POST, "/api/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some(field)),
            "{body}: {response}"
        );
    }
    let (status, response) = api
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "a\u{0}@x.io", "password": "correct horse"})),
        )
        .await;
    assert_eq!(
        (status, error_of(&response).1.as_deref()),
        (422, Some("email"))
    );
    // Chat is not configured here: the message is still checked first.
    let (status, response) = api
        .post("/api/chat", &t, json!({"message": "hi\u{0}there"}))
        .await;
    assert_eq!(
        (status, error_of(&response).1.as_deref()),
        (422, Some("message")),
        "{response}"
    );
}

#[tokio::test]
async fn odd_bodies_paths_and_cursors_are_4xx_never_500() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(&t, json!({"title": "x"})).await;

    // Data after the JSON value.
    for body in [
        r#"{"title":"x"} trailing"#,
        r#"{"title":"x"}{}"#,
        r#"{"title":"x"}]"#,
    ] {
        let (status, response) = raw_post(&api, "/api/tasks", Some(&t), body).await;
        assert_eq!(
            (status, error_of(&response).0.as_str()),
            (400, "MALFORMED_JSON"),
            "{body}: {response}"
        );
    }
    let (status, response) = raw_post(
        &api,
        "/api/auth/login",
        None,
        r#"{"email":"a@x.io","password":"correct horse"} x"#,
    )
    .await;
    assert_eq!(
        (status, error_of(&response).0.as_str()),
        (400, "MALFORMED_JSON")
    );
    let (status, _) = raw_post(&api, "/api/tasks", Some(&t), "{\"title\":\"ok\"}\n  ").await;
    assert_eq!(status, 201, "trailing whitespace is fine");

    // More than 10 tags (counted as sent), invisible titles.
    let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let same: Vec<&str> = vec!["a"; 11];
    for body in [
        json!({"title": "x", "tags": eleven}),
        json!({"title": "x", "tags": same}),
    ] {
        let (status, response) = api.post("/api/tasks", &t, body).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some("tags"))
        );
    }
    for title in ["\u{200b}", "\u{200b}\u{200d}\u{feff}", " \u{2060} "] {
        let (status, response) = api.post("/api/tasks", &t, json!({ "title": title })).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some("title")),
            "{title:?}: {response}"
        );
    }

    // Path ids.
    for path in [
        "/api/tasks/0",
        "/api/tasks/-1",
        "/api/tasks/01",
        "/api/tasks/2147483648",
        "/api/tasks/%FF",
        "/api/tasks/%00",
        "/api/tasks/x",
    ] {
        let (status, response) = api.get(path, &t).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some("id")),
            "{path}: {response}"
        );
    }
    let (status, response) = api.get("/api/conversations/%FF", &t).await;
    assert_eq!(
        (status, error_of(&response).1.as_deref()),
        (422, Some("id"))
    );

    // Cursors: for another sort or order, with a value of the wrong type, or not one at all.
    for i in 0..3 {
        api.add_task(&t, json!({ "title": format!("t{i}") })).await;
    }
    let (_, page) = api.get("/api/tasks?sort=title&order=asc&limit=1", &t).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    for query in [
        format!("sort=created_at&cursor={cursor}"),
        format!("sort=title&order=desc&cursor={cursor}"),
        format!("sort=title&order=asc&cursor={cursor}&offset=1"),
    ] {
        let (status, response) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some("cursor")),
            "{query}: {response}"
        );
    }
    let id = uuid::Uuid::new_v4();
    let crafted = [
        json!({"s":"title","o":"desc","v":{"time":"2026-01-01T00:00:00Z"},"i":id}),
        json!({"s":"created_at","o":"desc","v":{"text":"milk"},"i":id}),
        json!({"s":"priority","o":"desc","v":{"text":"urgent"},"i":id}),
        json!({"s":"created_at","o":"desc","v":"null","i":id}),
        json!({"s":"title","o":"desc","v":{"text":"a\u{0}b"},"i":id}),
    ];
    for c in crafted {
        let sort = c["s"].as_str().unwrap();
        let query = format!(
            "sort={sort}&order=desc&cursor={}",
            hex(c.to_string().as_bytes())
        );
        let (status, response) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some("cursor")),
            "{c}: {response}"
        );
    }
    let (status, _) = api.get("/api/tasks", &t).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn error_bodies_carry_the_request_id() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    let response = api
        .client
        .get(api.url("/api/tasks/0"))
        .bearer_auth(&t)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let (status, body) = read(response).await;
    assert_eq!(
        (status, body["error"]["request_id"].as_str()),
        (422, Some("req-42"))
    );
    let response = api.client.get(api.url("/api/tasks")).send().await.unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = read(response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["request_id"].as_str(), Some(header.as_str()));
}

/// Every documented operation, called as a stranger (no token, an empty JSON body), answers
/// with a status its entry documents, in the documented shape.
#[tokio::test]
async fn every_operation_answers_only_documented_statuses() {
    let api = TestApi::start().await;
    let (status, doc) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(!todo_wire::schema::has_type_array(&doc), "no type arrays");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace("{id}", "1");
            let body = op.get("requestBody").map(|_| json!({}));
            let (status, response) = api
                .call(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    None,
                    body,
                )
                .await;
            assert!(
                op["responses"].get(status.to_string()).is_some(),
                "{method} {path} answered {status}, which it does not document: {response}"
            );
            if status >= 400 && !path.starts_with("/health") && !path.starts_with("/readyz") {
                error_of(&response);
            }
        }
    }
    assert_eq!(operations, todo_api::openapi::operations().len());
    // And nothing outside the document is routed.
    for (method, path) in [
        (Method::GET, "/api"),
        (Method::GET, "/api/task"),
        (Method::GET, "/api/tasks/1/complete"),
        (Method::PUT, "/api/tasks/1"),
        (Method::GET, "/api/users"),
        (Method::DELETE, "/api/conversations/1"),
    ] {
        let (status, body) = api.call(method.clone(), path, None, None).await;
        assert!(
            matches!(status, 404 | 405),
            "{method} {path} is routed but not documented: {status} {body}"
        );
    }
}

/// A database outage is a 503 UNAVAILABLE in the JSON error shape on every database-backed
/// operation, never a 500.
#[tokio::test]
async fn a_database_outage_is_503_on_every_database_operation() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("outage").unwrap();
    let api = TestApi::start_with(config(&url)).await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(&t, json!({"title": "x"})).await;
    pg.stop().unwrap();
    let id = uuid::Uuid::new_v4();
    let calls: Vec<(Method, String, Option<&str>, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/auth/register".into(),
            None,
            Some(json!({"email": "b@x.io", "password": "correct horse", "name": "B"})),
        ),
        (
            Method::POST,
            "/api/auth/login".into(),
            None,
            Some(json!({"email": "a@x.io", "password": "correct horse"})),
        ),
        (Method::GET, "/api/auth/me".into(), Some(&t), None),
        (Method::GET, "/api/tasks".into(), Some(&t), None),
        (
            Method::POST,
            "/api/tasks".into(),
            Some(&t),
            Some(json!({"title": "y"})),
        ),
        (Method::GET, "/api/tasks/1".into(), Some(&t), None),
        (
            Method::PATCH,
            "/api/tasks/1".into(),
            Some(&t),
            Some(json!({"title": "z"})),
        ),
        (Method::POST, "/api/tasks/1/complete".into(), Some(&t), None),
        (Method::POST, "/api/tasks/1/reopen".into(), Some(&t), None),
        (Method::DELETE, "/api/tasks/1".into(), Some(&t), None),
        (Method::GET, "/api/conversations".into(), Some(&t), None),
        (
            Method::GET,
            format!("/api/conversations/{id}"),
            Some(&t),
            None,
        ),
    ];
    // Concurrently: each waits out the pool's acquire timeout.
    let answers =
        futures::future::join_all(calls.into_iter().map(|(method, path, token, body)| {
            let api = &api;
            async move {
                let answer = api.call(method.clone(), &path, token, body).await;
                (method, path, answer)
            }
        }))
        .await;
    for (method, path, (status, response)) in answers {
        assert_eq!(
            (status, error_of(&response).0.as_str()),
            (503, "UNAVAILABLE"),
            "{method} {path}: {response}"
        );
        assert!(response["error"]["request_id"].is_string(), "{response}");
    }
    pg.start_again().unwrap();
}
