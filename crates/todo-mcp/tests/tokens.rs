//! todo-mcp refuses tokens that are signed correctly but no longer live: a signed-out
//! session, a bumped token version, a deleted user, and `nbf`/`iat` in the future. Each
//! refusal is the 401 shape todo-mcp uses for every bad token: JSON `UNAUTHORIZED` with
//! `WWW-Authenticate: Bearer resource_metadata="...", error="invalid_token"`. Against a real server and PostgreSQL.
#![allow(clippy::unwrap_used)]

mod common;

use serde_json::{Value, json};
use std::time::Duration;
use todo_auth::{Claims, Subject};

async fn tools_list(base: &str, token: &str) -> (u16, String, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .bearer_auth(token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    (status, challenge, body)
}

async fn refused(base: &str, token: &str, why: &str) {
    let (status, challenge, body) = tools_list(base, token).await;
    assert_eq!(status, 401, "{body}");
    // RFC 6750 §3 / RFC 9728 §5.1: the challenge names the metadata and the error.
    assert!(
        challenge.starts_with("Bearer resource_metadata=\"http://127.0.0.1:")
            && challenge.contains("/.well-known/oauth-protected-resource/mcp\"")
            && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
    assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(why), "{message}");
}

#[tokio::test]
async fn signed_out_revoked_and_deleted_users_tokens_are_refused() {
    let s = common::start(None, Vec::new()).await;
    let user = s.store.users().create("t@x.io", "T", "x").await.unwrap();
    let sessions = s.store.sessions();
    let started = sessions
        .create(
            user.id,
            &todo_auth::new_refresh_token(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let subject = Subject {
        user: user.id,
        email: "t@x.io",
        name: "T",
        version: started.token_version,
        session: Some(started.id),
    };
    let token = s.tokens.issue_for(subject).unwrap();
    assert_eq!(tools_list(&s.base, &token).await.0, 200);

    // Signed out: refused at once, although the token has 10 minutes left.
    assert!(sessions.revoke(user.id, started.id).await.unwrap());
    refused(&s.base, &token, "revoked").await;

    // A token without a session works until the user's version is bumped.
    let minted = s.tokens.issue(user.id, "t@x.io", "T").unwrap();
    assert_eq!(tools_list(&s.base, &minted).await.0, 200);
    sessions.revoke_all(user.id).await.unwrap();
    refused(&s.base, &minted, "revoked").await;
    let current = s
        .tokens
        .issue_for(Subject {
            version: 1,
            session: None,
            ..subject
        })
        .unwrap();
    assert_eq!(tools_list(&s.base, &current).await.0, 200);

    // The user is deleted: every token of theirs is refused (it used to list the tools and
    // run them against no rows).
    assert!(s.store.users().delete(user.id).await.unwrap());
    refused(&s.base, &current, "no longer exists").await;
}

#[tokio::test]
async fn tokens_from_the_future_are_refused() {
    let s = common::start(None, Vec::new()).await;
    let (_, token) = s.user("f@x.io").await;
    let claims = s.tokens.verify(&token).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |iat: i64, nbf: i64| {
        s.tokens
            .sign(&Claims {
                iat,
                nbf,
                exp: now + 7200,
                ..claims.clone()
            })
            .unwrap()
    };
    refused(&s.base, &with(now, now + 3600), "not valid yet").await;
    refused(&s.base, &with(now + 3600, now), "issued in the future").await;
    assert_eq!(tools_list(&s.base, &with(now - 1, now - 1)).await.0, 200);
}
