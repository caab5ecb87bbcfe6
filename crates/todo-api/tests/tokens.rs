//! Tokens that can be revoked, over real HTTP against a real PostgreSQL, with a real todo-mcp
//! on the same database: sign-out, refresh with rotation and reuse detection, short-lived
//! access tokens, `nbf`/`iat`, and deleted users, checked on todo-api and todo-mcp alike.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use todo_auth::{Claims, Tokens};
use uuid::Uuid;

struct Rig {
    api: TestApi,
    mcp: String,
    db: String,
}

async fn rig() -> Rig {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mut config = config(&db);
    config.token_ttl = Duration::from_secs(600);
    let api = TestApi::start_with(config).await;
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    Rig { api, mcp, db }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Rig {
    async fn register(&self, email: &str) -> Value {
        let (status, body) = self
            .api
            .call(
                Method::POST,
                "/api/auth/register",
                None,
                Some(json!({"email": email, "password": "correct horse", "name": "T"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    async fn login(&self, email: &str) -> Value {
        let (status, body) = self
            .api
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": "correct horse"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.api
            .call(
                Method::POST,
                "/api/auth/refresh",
                None,
                Some(json!({ "refresh_token": refresh_token })),
            )
            .await
    }

    async fn logout(&self, token: &str) -> u16 {
        self.api
            .call(Method::POST, "/api/auth/logout", Some(token), None)
            .await
            .0
    }

    /// `tools/list` on todo-mcp: (status, WWW-Authenticate, body).
    async fn mcp(&self, token: &str) -> (u16, String, Value) {
        let r = self
            .api
            .client
            .post(&self.mcp)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .bearer_auth(token)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
            .send()
            .await
            .unwrap();
        let challenge = r
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let (status, body) = read(r).await;
        (status, challenge, body)
    }

    /// Asserts `token` is refused by todo-api (tasks, me, writes) and todo-mcp, with 401 in
    /// the error shape and a message containing `why`.
    async fn refused_everywhere(&self, token: &str, why: &str) {
        for (method, path, body) in [
            (Method::GET, "/api/tasks", None),
            (Method::GET, "/api/auth/me", None),
            (Method::POST, "/api/tasks", Some(json!({"title": "x"}))),
            (Method::GET, "/api/conversations", None),
        ] {
            let (status, reply) = self.api.call(method.clone(), path, Some(token), body).await;
            assert_eq!(status, 401, "{method} {path}: {reply}");
            assert_eq!(error_of(&reply).0, "UNAUTHORIZED");
            let message = reply["error"]["message"].as_str().unwrap();
            assert!(message.contains(why), "{method} {path}: {message}");
        }
        let (status, challenge, body) = self.mcp(token).await;
        assert_eq!(status, 401, "{body}");
        // RFC 6750 plus the MCP authorization spec: the challenge names the metadata.
        assert!(
            challenge.starts_with("Bearer resource_metadata=")
                && challenge.contains("error=\"invalid_token\""),
            "{challenge}"
        );
        assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(why),
            "{body}"
        );
    }

    async fn accepted_everywhere(&self, token: &str) {
        assert_eq!(self.api.get("/api/tasks", token).await.0, 200);
        assert_eq!(self.api.get("/api/auth/me", token).await.0, 200);
        let (status, _, body) = self.mcp(token).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["result"]["tools"].is_array(), "{body}");
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[tokio::test]
async fn sign_out_revokes_the_token_on_the_api_and_on_mcp() {
    let r = rig().await;
    let first = r.register("out@x.io").await;
    // Register and login keep their fields and add the refresh token and its lifetime.
    for key in ["token", "token_type", "expires_in", "user"] {
        assert!(first.get(key).is_some(), "{key} in {first}");
    }
    assert_eq!(first["expires_in"], 600);
    assert_eq!(str_of(&first, "refresh_token").len(), 64);
    assert_eq!(first["refresh_expires_in"], 14 * 24 * 3600);
    let token = str_of(&first, "token");
    let other_device = r.login("out@x.io").await;
    r.accepted_everywhere(token).await;

    assert_eq!(r.logout(token).await, 204);
    r.refused_everywhere(token, "revoked").await;
    // Its refresh token died with the session...
    let (status, body) = r.refresh(str_of(&first, "refresh_token")).await;
    assert_eq!((status, error_of(&body).0.as_str()), (401, "UNAUTHORIZED"));
    // ...signing out again is a 401 (nothing left to revoke), and another sign-in of the same
    // user is not affected.
    assert_eq!(r.logout(token).await, 401);
    r.accepted_everywhere(str_of(&other_device, "token")).await;
    let (status, _) = r.refresh(str_of(&other_device, "refresh_token")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_refresh_token_revokes_its_family() {
    let r = rig().await;
    let s1 = r.register("rot@x.io").await;
    let r1 = str_of(&s1, "refresh_token");
    let (status, s2) = r.refresh(r1).await;
    assert_eq!(status, 200, "{s2}");
    assert_eq!(s2["user"]["email"], "rot@x.io");
    assert_eq!(s2["token_type"], "Bearer");
    let (t2, r2) = (str_of(&s2, "token"), str_of(&s2, "refresh_token"));
    assert_ne!(r2, r1, "a new refresh token each time");
    r.accepted_everywhere(t2).await;
    // The old access token stays valid until it expires: same session, not revoked.
    r.accepted_everywhere(str_of(&s1, "token")).await;

    let (status, s3) = r.refresh(r2).await;
    assert_eq!(status, 200, "{s3}");
    let t3 = str_of(&s3, "token");

    // r1 was used already: someone holds a copy. The whole family goes.
    let (status, body) = r.refresh(r1).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        str_of(&body["error"], "message").contains("already used"),
        "{body}"
    );
    r.refused_everywhere(t3, "revoked").await;
    r.refused_everywhere(t2, "revoked").await;
    let (status, _) = r.refresh(str_of(&s3, "refresh_token")).await;
    assert_eq!(status, 401, "the newest refresh token is revoked too");

    // Not a refresh token at all, and bodies that break the schema.
    let (status, body) = r.refresh("0123").await;
    assert_eq!((status, error_of(&body).0.as_str()), (401, "UNAUTHORIZED"));
    for bad in [
        json!({}),
        json!({"refresh_token": ""}),
        json!({"refresh_token": "x".repeat(300)}),
    ] {
        let (status, body) = r
            .api
            .call(Method::POST, "/api/auth/refresh", None, Some(bad.clone()))
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(error_of(&body).1.as_deref(), Some("refresh_token"), "{bad}");
    }
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_let_exactly_one_through() {
    let r = rig().await;
    let s = r.register("race@x.io").await;
    let token = str_of(&s, "refresh_token").to_owned();
    let (a, b) = tokio::join!(r.refresh(&token), r.refresh(&token));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{a:?} {b:?}");
}

/// Claims of a session token, re-signed with other time claims (the secret is the test's).
fn resigned(token: &str, iat: i64, nbf: i64, exp: i64) -> String {
    let tokens = Tokens::new(SECRET, Duration::from_secs(600));
    let claims = tokens.verify(token).unwrap();
    tokens
        .sign(&Claims {
            iat,
            nbf,
            exp,
            ..claims
        })
        .unwrap()
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_with_the_refresh_token() {
    let r = rig().await;
    let s = r.register("exp@x.io").await;
    // The same session's token as it will be once its 600 s are over.
    let expired = resigned(str_of(&s, "token"), now() - 700, now() - 700, now() - 100);
    let (status, body) = r.api.get("/api/tasks", &expired).await;
    assert_eq!(status, 401);
    assert!(
        str_of(&body["error"], "message").contains("POST /api/auth/refresh"),
        "{body}"
    );
    let (status, _, _) = r.mcp(&expired).await;
    assert_eq!(status, 401);
    let (status, renewed) = r.refresh(str_of(&s, "refresh_token")).await;
    assert_eq!(status, 200, "{renewed}");
    r.accepted_everywhere(str_of(&renewed, "token")).await;
}

#[tokio::test]
async fn nbf_and_iat_are_checked_on_the_api_and_on_mcp() {
    let r = rig().await;
    let s = r.register("time@x.io").await;
    let token = str_of(&s, "token");
    let t = now();
    r.accepted_everywhere(&resigned(token, t - 5, t - 5, t + 600))
        .await;
    // Not valid before an hour from now.
    r.refused_everywhere(&resigned(token, t, t + 3600, t + 7200), "not valid yet")
        .await;
    // Claims to be issued an hour from now (nbf already passed).
    r.refused_everywhere(
        &resigned(token, t + 3600, t - 5, t + 7200),
        "issued in the future",
    )
    .await;
    // A little clock skew is fine.
    r.accepted_everywhere(&resigned(token, t + 3, t + 3, t + 600))
        .await;
}

#[tokio::test]
async fn a_deleted_users_tokens_are_refused_everywhere() {
    let r = rig().await;
    let s = r.register("gone@x.io").await;
    let token = str_of(&s, "token");
    let id: Uuid = s["user"]["id"].as_str().unwrap().parse().unwrap();
    r.api.add_task(token, json!({"title": "mine"})).await;
    // A token minted without a session (as tools do) for the same user.
    let minted = Tokens::new(SECRET, Duration::from_secs(600))
        .issue(id, "gone@x.io", "T")
        .unwrap();
    r.accepted_everywhere(&minted).await;

    let store =
        todo_store::Store::connect_lazy(&r.db, &todo_store::PoolSettings::default()).unwrap();
    assert!(store.users().delete(id).await.unwrap());
    // Before: /me said 401, while /api/tasks answered 200 [] and MCP worked.
    r.refused_everywhere(token, "no longer exists").await;
    r.refused_everywhere(&minted, "no longer exists").await;
    let (status, _) = r.refresh(str_of(&s, "refresh_token")).await;
    assert_eq!(status, 401);
    // And a user id that never existed.
    let stranger = Tokens::new(SECRET, Duration::from_secs(600))
        .issue(Uuid::new_v4(), "x@x.io", "X")
        .unwrap();
    r.refused_everywhere(&stranger, "no longer exists").await;
}

#[tokio::test]
async fn signing_out_a_token_without_a_session_revokes_all_of_the_users_tokens() {
    let r = rig().await;
    let s = r.register("all@x.io").await;
    let id: Uuid = s["user"]["id"].as_str().unwrap().parse().unwrap();
    let minted = Tokens::new(SECRET, Duration::from_secs(600))
        .issue(id, "all@x.io", "T")
        .unwrap();
    r.accepted_everywhere(&minted).await;
    assert_eq!(r.logout(&minted).await, 204);
    // The only way to revoke a token without a session is a version bump, which revokes the
    // user's other tokens and sessions too.
    r.refused_everywhere(&minted, "revoked").await;
    r.refused_everywhere(str_of(&s, "token"), "revoked").await;
    let (status, _) = r.refresh(str_of(&s, "refresh_token")).await;
    assert_eq!(status, 401);
    // Logging in again works, with the new version.
    let fresh = r.login("all@x.io").await;
    r.accepted_everywhere(str_of(&fresh, "token")).await;
}

#[tokio::test]
async fn the_document_lists_refresh_and_logout() {
    let r = rig().await;
    let (status, doc) = r
        .api
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(status, 200);
    let refresh = &doc["paths"]["/api/auth/refresh"]["post"];
    assert_eq!(refresh["security"], json!([]));
    assert!(refresh["responses"]["200"].is_object() && refresh["responses"]["401"].is_object());
    let logout = &doc["paths"]["/api/auth/logout"]["post"];
    assert_eq!(logout["security"], json!([{ "bearer": [] }]));
    assert!(logout["responses"]["204"].is_object() && logout["responses"]["401"].is_object());
    let session = &doc["components"]["schemas"]["Session"];
    let required: Vec<&str> = session["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for field in [
        "token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    ] {
        assert!(required.contains(&field), "{field} in {required:?}");
    }
}
