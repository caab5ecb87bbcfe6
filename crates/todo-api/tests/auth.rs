//! Registration, login, tokens and the login rate limit, over real HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn register_login_and_me() {
    let api = TestApi::start().await;
    let (status, body) = api
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "Ann@Example.com", "password": "s3cret-pass-phrase", "name": " Ann "})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["user"]["name"], "Ann");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["user"].get("password_hash").is_none());

    let (status, body) = api
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ann@example.COM", "password": "s3cret-pass-phrase"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_owned();
    let (status, me) = api.get("/api/auth/me", &token).await;
    assert_eq!(
        (status, me["user"]["email"].as_str()),
        (200, Some("Ann@Example.com"))
    );

    let (status, body) = api
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ann@example.com", "password": "wrong-pass"})),
        )
        .await;
    assert_eq!((status, error_of(&body).0.as_str()), (401, "UNAUTHORIZED"));
    let (status, body) = api
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "nobody@example.com", "password": "whatever1"})),
        )
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["message"], "invalid email or password",
        "same answer for unknown users"
    );
}

#[tokio::test]
async fn registration_validates_every_field() {
    let api = TestApi::start().await;
    api.register("taken@x.io").await;
    let cases = [
        (
            json!({"email": "TAKEN@x.io", "password": "correct horse", "name": "A"}),
            409,
            "email",
        ),
        (
            json!({"email": "not-an-email", "password": "longenough", "name": "A"}),
            422,
            "email",
        ),
        (
            json!({"email": "a@x.io", "password": "short", "name": "A"}),
            422,
            "password",
        ),
        (
            json!({"email": "a@x.io", "password": "x".repeat(1025), "name": "A"}),
            422,
            "password",
        ),
        (
            json!({"email": "a@x.io", "password": "longenough", "name": "  "}),
            422,
            "name",
        ),
        (
            json!({"email": "a@x.io", "password": "longenough", "name": "x".repeat(101)}),
            422,
            "name",
        ),
        (
            json!({"email": "a@x.io", "password": "longenough"}),
            422,
            "name",
        ),
        (
            json!({"email": 7, "password": "longenough", "name": "A"}),
            422,
            "email",
        ),
        (
            json!({"email": "a@x.io", "password": "longenough", "name": "A", "admin": true}),
            422,
            "admin",
        ),
    ];
    for (body, status, field) in cases {
        let (got, response) = api
            .call(Method::POST, "/api/auth/register", None, Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} -> {response}");
        assert_eq!(
            error_of(&response).1.as_deref(),
            Some(field),
            "{body} -> {response}"
        );
    }
}

#[tokio::test]
async fn missing_bad_tampered_and_expired_tokens_get_401() {
    let api = TestApi::start().await;
    let (token, user_id) = api.register("a@x.io").await;
    let (status, body) = api.call(Method::GET, "/api/tasks", None, None).await;
    assert_eq!((status, error_of(&body).0.as_str()), (401, "UNAUTHORIZED"));
    let response = api.client.get(api.url("/api/tasks")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");

    for bad in ["garbage", "a.b.c", &format!("{token}x")] {
        let (status, _) = api.get("/api/tasks", bad).await;
        assert_eq!(status, 401, "{bad}");
    }
    let tokens = todo_auth::Tokens::new(SECRET, Duration::from_secs(60));
    let uid = user_id.parse().unwrap();
    let expired = tokens
        .issue_at(
            uid,
            "a@x.io",
            "A",
            time::OffsetDateTime::now_utc().unix_timestamp() - 7200,
        )
        .unwrap();
    let (status, body) = api.get("/api/tasks", &expired).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    let forged = todo_auth::Tokens::new(
        "some-other-secret-some-other-secret",
        Duration::from_secs(60),
    )
    .issue(uid, "a@x.io", "A")
    .unwrap();
    assert_eq!(api.get("/api/tasks", &forged).await.0, 401);
    assert_eq!(api.get("/api/tasks", &token).await.0, 200);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_client() {
    let url = throwaway_postgres::fresh_database().unwrap();
    let mut config = config(&url);
    config.login_attempts_per_minute = 3;
    let api = TestApi::start_with(config).await;
    api.register("a@x.io").await;
    let attempt = |password: &'static str| {
        let api = &api;
        async move {
            api.call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": "a@x.io", "password": password})),
            )
            .await
        }
    };
    assert_eq!(attempt("wrong-1").await.0, 401);
    assert_eq!(attempt("wrong-2").await.0, 401);
    assert_eq!(attempt("correct horse").await.0, 200);
    let response = api
        .client
        .post(api.url("/api/auth/login"))
        .json(&json!({"email": "a@x.io", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let (_, body) = read(response).await;
    assert_eq!(error_of(&body).0, "RATE_LIMITED");
}
