//! Every task endpoint, filter, sort and paging mode, isolation between users, and every
//! validation error, over real HTTP against a real PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn task_lifecycle() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    let task = api
        .add_task(&t, json!({"title": "  Buy milk ", "description": "2 litres", "priority": "high", "due_at": "2026-11-25", "tags": ["#Shop", "home"]}))
        .await;
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["number"], 1);
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_at"], "2026-11-25T00:00:00Z");
    assert_eq!(task["tags"], json!(["shop", "home"]));
    assert_eq!(task["completed"], false);
    let id = task["id"].as_str().unwrap();

    let (status, got) = api.get(&format!("/api/tasks/{id}"), &t).await;
    assert_eq!((status, &got), (200, &task));
    let (status, by_number) = api.get("/api/tasks/1", &t).await;
    assert_eq!((status, by_number["id"].as_str()), (200, Some(id)));

    let (status, patched) = api
        .patch(
            &format!("/api/tasks/{id}"),
            &t,
            json!({"title": "Buy oat milk", "description": null, "due_at": null, "tags": null}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["title"], "Buy oat milk");
    assert_eq!(
        (
            patched["description"].clone(),
            patched["due_at"].clone(),
            patched["tags"].clone()
        ),
        (Value::Null, Value::Null, json!([]))
    );
    assert_eq!(patched["priority"], "high", "absent fields are kept");

    let (status, done) = api
        .post(&format!("/api/tasks/{id}/complete"), &t, json!({}))
        .await;
    assert_eq!((status, done["completed"].as_bool()), (200, Some(true)));
    assert!(done["completed_at"].is_string());
    let (status, reopened) = api
        .post(&format!("/api/tasks/{id}/reopen"), &t, json!({}))
        .await;
    assert_eq!(
        (
            status,
            reopened["completed"].as_bool(),
            reopened["completed_at"].clone()
        ),
        (200, Some(false), Value::Null)
    );
    let (status, via_patch) = api
        .patch("/api/tasks/1", &t, json!({"completed": true}))
        .await;
    assert_eq!(
        (status, via_patch["completed"].as_bool()),
        (200, Some(true))
    );

    let (status, _) = api
        .call(Method::DELETE, &format!("/api/tasks/{id}"), Some(&t), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = api.get(&format!("/api/tasks/{id}"), &t).await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (404, "TASK_NOT_FOUND")
    );
    let (status, _) = api
        .call(Method::DELETE, &format!("/api/tasks/{id}"), Some(&t), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_users_tasks_are_404_for_every_operation() {
    let api = TestApi::start().await;
    let (a, _) = api.register("a@x.io").await;
    let (b, _) = api.register("b@x.io").await;
    let task = api.add_task(&a, json!({"title": "A's secret"})).await;
    let id = task["id"].as_str().unwrap();
    for path in [format!("/api/tasks/{id}"), "/api/tasks/1".to_owned()] {
        let (status, body) = api.get(&path, &b).await;
        assert_eq!(status, 404, "{body}");
        assert!(
            !body.to_string().contains("secret"),
            "no data leaks: {body}"
        );
        assert_eq!(api.patch(&path, &b, json!({"title": "pwned"})).await.0, 404);
        assert_eq!(
            api.post(&format!("{path}/complete"), &b, json!({})).await.0,
            404
        );
        assert_eq!(
            api.post(&format!("{path}/reopen"), &b, json!({})).await.0,
            404
        );
        assert_eq!(api.call(Method::DELETE, &path, Some(&b), None).await.0, 404);
    }
    let (_, list) = api.get("/api/tasks", &b).await;
    assert_eq!(
        (
            list["total"].as_i64(),
            list["items"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let (_, mine) = api.get(&format!("/api/tasks/{id}"), &a).await;
    assert_eq!(
        (mine["title"].as_str(), mine["completed"].as_bool()),
        (Some("A's secret"), Some(false)),
        "A's task untouched"
    );
}

async fn titles(api: &TestApi, token: &str, query: &str) -> Vec<String> {
    let (status, page) = api.get(&format!("/api/tasks?{query}"), token).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(
        &t,
        json!({"title": "Buy milk", "priority": "high", "due_at": "2026-11-25", "tags": ["shop"]}),
    )
    .await;
    api.add_task(&t, json!({"title": "Call mom", "priority": "low", "due_at": "2026-11-28T18:00:00Z", "tags": ["family"], "description": "about the trip"})).await;
    api.add_task(&t, json!({"title": "Buy bread", "tags": ["shop"]}))
        .await;
    api.add_task(&t, json!({"title": "Answer email", "priority": "high"}))
        .await;
    api.post("/api/tasks/2/complete", &t, json!({})).await;

    assert_eq!(
        titles(&api, &t, "").await,
        ["Answer email", "Buy bread", "Call mom", "Buy milk"],
        "newest first by default"
    );
    assert_eq!(titles(&api, &t, "status=completed").await, ["Call mom"]);
    assert_eq!(
        titles(&api, &t, "status=pending&sort=title&order=asc").await,
        ["Answer email", "Buy bread", "Buy milk"]
    );
    assert_eq!(
        titles(&api, &t, "priority=high&sort=created_at&order=asc").await,
        ["Buy milk", "Answer email"]
    );
    assert_eq!(
        titles(&api, &t, "tag=SHOP&sort=title").await,
        ["Buy milk", "Buy bread"]
    );
    assert_eq!(
        titles(&api, &t, "q=TRIP").await,
        ["Call mom"],
        "search covers the description"
    );
    assert_eq!(
        titles(&api, &t, "q=buy&status=pending&tag=shop&priority=high").await,
        ["Buy milk"]
    );
    assert_eq!(
        titles(&api, &t, "due_before=2026-11-26").await,
        ["Buy milk"]
    );
    assert_eq!(
        titles(&api, &t, "due_after=2026-11-26&due_before=2026-12-01").await,
        ["Call mom"]
    );
    assert_eq!(
        titles(&api, &t, "sort=due_at&order=asc").await[..2],
        ["Buy milk", "Call mom"],
        "undated last"
    );
    let by_priority = titles(&api, &t, "sort=priority&order=desc").await;
    let mut highs = by_priority[..2].to_vec();
    highs.sort();
    assert_eq!(
        highs,
        ["Answer email", "Buy milk"],
        "high first (ties in id order)"
    );
    assert_eq!(
        by_priority[2..],
        ["Buy bread", "Call mom"],
        "then medium, then low"
    );
    assert_eq!(
        titles(&api, &t, "sort=updated_at&order=desc&limit=1").await,
        ["Call mom"],
        "completing updated it last"
    );

    let (_, page) = api
        .get("/api/tasks?sort=title&order=asc&limit=2&offset=1", &t)
        .await;
    assert_eq!(
        (
            page["total"].as_i64(),
            page["offset"].as_i64(),
            page["has_more"].as_bool()
        ),
        (Some(4), Some(1), Some(true))
    );
    assert_eq!(page["items"][0]["title"], "Buy bread");

    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query = match &next {
            Some(c) => format!("sort=title&order=asc&limit=3&cursor={c}"),
            None => "sort=title&order=asc&limit=3".to_owned(),
        };
        let (status, page) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["title"].as_str().unwrap().to_owned()),
        );
        next = page["next_cursor"].as_str().map(str::to_owned);
        if next.is_none() {
            assert_eq!(page["has_more"], false);
            break;
        }
    }
    assert_eq!(seen, ["Answer email", "Buy bread", "Buy milk", "Call mom"]);
}

#[tokio::test]
async fn every_bad_input_gets_a_clear_error_never_a_500() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    api.add_task(&t, json!({"title": "x"})).await;
    let body_cases: Vec<(Value, u16, &str)> = vec![
        (json!({"title": ""}), 422, "title"),
        (json!({"title": "   "}), 422, "title"),
        (json!({"title": "x".repeat(201)}), 422, "title"),
        (
            json!({"title": "x", "description": "d".repeat(1001)}),
            422,
            "description",
        ),
        (json!({"title": "x", "priority": "urgent"}), 422, "priority"),
        (json!({"title": "x", "due_at": "next week"}), 422, "due_at"),
        (json!({"title": "x", "tags": ["a b"]}), 422, "tags"),
        (json!({"title": "x", "tags": ["x".repeat(33)]}), 422, "tags"),
        (
            json!({"title": "x", "tags": (0..11).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            422,
            "tags",
        ),
        (json!({"title": "x", "tags": "shop"}), 422, "tags"),
        (json!({"title": 42}), 422, "title"),
        (json!({"title": "x", "colour": "red"}), 422, "colour"),
        (json!({}), 422, "title"),
        (json!([1, 2]), 422, "body"),
    ];
    for (body, status, field) in body_cases {
        let (got, response) = api.post("/api/tasks", &t, body.clone()).await;
        assert_eq!(
            (got, error_of(&response).1.as_deref()),
            (status, Some(field)),
            "POST {body} -> {response}"
        );
    }
    let patch_cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "body"),
        (json!({"title": null}), 422, "title"),
        (json!({"priority": null}), 422, "priority"),
        (json!({"completed": null}), 422, "completed"),
        (json!({"completed": "yes"}), 422, "completed"),
        (json!({"due_at": "soon"}), 422, "due_at"),
        (json!({"number": 5}), 422, "number"),
    ];
    for (body, status, field) in patch_cases {
        let (got, response) = api.patch("/api/tasks/1", &t, body.clone()).await;
        assert_eq!(
            (got, error_of(&response).1.as_deref()),
            (status, Some(field)),
            "PATCH {body} -> {response}"
        );
    }
    for (query, status, field) in [
        ("sort=colour", 422, "sort"),
        ("order=sideways", 422, "order"),
        ("status=done", 422, "status"),
        ("priority=urgent", 422, "priority"),
        ("limit=201", 422, "limit"),
        ("limit=-1", 422, "limit"),
        ("offset=x", 422, "offset"),
        ("cursor=nonsense", 422, "cursor"),
        ("due_before=tomorrow", 422, "due_before"),
        ("stauts=pending", 400, "stauts"),
    ] {
        let (got, response) = api.get(&format!("/api/tasks?{query}"), &t).await;
        assert_eq!(
            (got, error_of(&response).1.as_deref()),
            (status, Some(field)),
            "{query} -> {response}"
        );
    }
    let (status, body) = api.get("/api/tasks/not-an-id", &t).await;
    assert_eq!((status, error_of(&body).1.as_deref()), (422, Some("id")));

    // Malformed JSON, wrong content type, oversized body.
    let raw = |body: &'static str, content_type: &'static str| {
        api.client
            .post(api.url("/api/tasks"))
            .bearer_auth(&t)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, body) = read(raw("{\"title\": ", "application/json").await.unwrap()).await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (400, "MALFORMED_JSON")
    );
    let (status, body) = read(
        raw("title=x", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (415, "UNSUPPORTED_MEDIA_TYPE")
    );
    let huge = json!({"title": "x", "description": "y".repeat(100_000)});
    let (status, body) = api.post("/api/tasks", &t, huge).await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (413, "PAYLOAD_TOO_LARGE")
    );
    let (status, body) = api.call(Method::PUT, "/api/tasks", Some(&t), None).await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );
    let (status, body) = api.get("/api/nope", &t).await;
    assert_eq!((status, error_of(&body).0.as_str()), (404, "NO_ROUTE"));

    // Odd bytes and shapes: whatever comes in, the answer is a 4xx with the error shape.
    for junk in [
        "",
        "null",
        "\"str\"",
        "{\"title\": \"\\ud800\"}",
        "{\"title\": \"a\u{0}b\"}",
        "{\"title\":\"x\",\"tags\":[null]}",
        "{\"title\":\"x\",\"due_at\":\"9999-99-99\"}",
        "{\"title\":\"x\",\"priority\":{}}",
    ] {
        let response = api
            .client
            .post(api.url("/api/tasks"))
            .bearer_auth(&t)
            .header("content-type", "application/json")
            .body(junk)
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert!(
            (400..500).contains(&status) || status == 201,
            "{junk:?} -> {status} {body}"
        );
        if status != 201 {
            error_of(&body);
        }
    }
    // Nothing above created or changed data: the one task is as it was.
    let (_, list) = api.get("/api/tasks", &t).await;
    let titles: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["title"].as_str())
        .collect();
    assert!(titles.contains(&"x"));
}

#[tokio::test]
async fn request_ids_are_taken_or_made_and_returned() {
    let api = TestApi::start().await;
    let r = api
        .client
        .get(api.url("/livez"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = api.client.get(api.url("/livez")).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36, "a generated UUID");
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let api = TestApi::start().await;
    let (status, doc) = api.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete", "put"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let concrete = path.replace("{id}", "1");
            let (_, body) = api
                .call(
                    method.to_uppercase().parse().unwrap(),
                    &concrete,
                    None,
                    Some(json!({})),
                )
                .await;
            let code = body["error"]["code"].as_str().unwrap_or("");
            assert!(
                code != "NO_ROUTE" && code != "METHOD_NOT_ALLOWED",
                "{method} {path} is documented but not routed: {body}"
            );
        }
    }
    assert!(operations >= 13, "{operations}");
}
