//! todo-mcp as an OAuth protected resource (MCP Authorization 2025-11-25, RFC 9728, RFC 6750,
//! RFC 8707), against a real server and PostgreSQL: the metadata documents, the 401 and 403
//! challenges, audience binding, per-tool scopes, case-insensitive schemes, sign-in tokens
//! (accepted by default, refused when turned off), revocation by version bump, and CORS.
#![allow(clippy::unwrap_used)]

mod common;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use todo_oauth::access::Grant;
use todo_oauth::{AccessTokens, Scopes};
use uuid::Uuid;

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

async fn post(url: &str, auth: Option<&str>, message: Value) -> Reply {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(&message);
    if let Some(auth) = auth {
        req = req.header("authorization", auth);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

fn list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

/// An access token for `user` as todo-api's token endpoint makes one: its grant is a live
/// session of the user.
async fn access_token(
    store: &todo_store::Store,
    user: Uuid,
    resource: &str,
    scope: &str,
) -> String {
    let grant = store
        .sessions()
        .create(
            user,
            &todo_auth::new_refresh_token(),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let scopes = Scopes::parse(scope).unwrap();
    AccessTokens::new(common::SECRET)
        .issue(&Grant {
            user,
            version: grant.token_version,
            resource,
            scopes: &scopes,
            client_id: "test-client",
            grant: grant.id,
        })
        .unwrap()
}

#[tokio::test]
async fn metadata_is_served_at_the_suffixed_and_root_urls() {
    let s = common::start(None, Vec::new()).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", s.base))
            .header("origin", "https://any.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(r.headers()["access-control-allow-origin"], "*", "{path}");
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["resource"], s.mcp_url(), "{doc}");
        assert_eq!(doc["authorization_servers"], json!([s.base]), "{doc}");
        assert_eq!(
            doc["scopes_supported"],
            json!(["tasks:read", "tasks:write"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
    }
}

#[tokio::test]
async fn challenges_name_the_metadata_scopes_and_error() {
    let s = common::start(None, Vec::new()).await;
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", s.base);

    // No credentials: a challenge without an error code (RFC 6750 §3.1).
    let r = post(&s.mcp_url(), None, list()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(
        r.challenge(),
        format!("Bearer resource_metadata=\"{metadata}\", scope=\"tasks:read tasks:write\"")
    );
    assert_eq!(r.body["error"]["code"], "UNAUTHORIZED");

    // A bad token: invalid_token.
    let r = post(&s.mcp_url(), Some("Bearer not-a-token"), list()).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge().starts_with(&format!(
            "Bearer resource_metadata=\"{metadata}\", scope=\"tasks:read tasks:write\", \
             error=\"invalid_token\", error_description=\""
        )),
        "{}",
        r.challenge()
    );

    // Another scheme: invalid_request.
    let r = post(&s.mcp_url(), Some("Basic dTpw"), list()).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge().contains("error=\"invalid_request\""),
        "{}",
        r.challenge()
    );
}

#[tokio::test]
async fn access_tokens_work_only_for_this_resource_and_their_scopes() {
    let s = common::start(None, Vec::new()).await;
    let (user, _) = s.user("o@x.io").await;

    let full = access_token(&s.store, user, &s.mcp_url(), "tasks:read tasks:write").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = post(&s.mcp_url(), Some(&format!("{scheme} {full}")), list()).await;
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    let auth = format!("Bearer {full}");
    let r = post(
        &s.mcp_url(),
        Some(&auth),
        call("add_task", json!({"title": "t1"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["isError"], false, "{}", r.body);
    let task_id = r.body["result"]["structuredContent"]["task"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Issued for another resource (RFC 8707): refused, the reason named.
    let other = access_token(
        &s.store,
        user,
        "https://other.example.com/mcp",
        "tasks:read",
    )
    .await;
    let r = post(&s.mcp_url(), Some(&format!("Bearer {other}")), list()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.challenge().contains("error=\"invalid_token\""));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another resource"),
        "{}",
        r.body
    );

    // Read-only: reads pass, a write is 403 insufficient_scope naming tasks:write.
    let read = format!(
        "Bearer {}",
        access_token(&s.store, user, &s.mcp_url(), "tasks:read").await
    );
    let r = post(&s.mcp_url(), Some(&read), call("list_tasks", json!({}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["isError"], false, "{}", r.body);
    let r = post(
        &s.mcp_url(),
        Some(&read),
        call("get_task", json!({"task_id": task_id})),
    )
    .await;
    assert_eq!(r.body["result"]["isError"], false, "{}", r.body);
    for (tool, args) in [
        ("add_task", json!({"title": "no"})),
        ("complete_task", json!({"task_id": task_id})),
        ("delete_task", json!({"task_id": task_id})),
    ] {
        let r = post(&s.mcp_url(), Some(&read), call(tool, args)).await;
        assert_eq!(r.status, 403, "{tool}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "INSUFFICIENT_SCOPE", "{}", r.body);
        assert!(
            r.challenge().starts_with(
                "Bearer error=\"insufficient_scope\", scope=\"tasks:write\", resource_metadata=\""
            ),
            "{}",
            r.challenge()
        );
    }
    // Duplicate keys cannot smuggle a write past the check (JSON objects: last one wins).
    let r = reqwest::Client::new()
        .post(s.mcp_url())
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("content-type", "application/json")
        .header("authorization", &read)
        .body(
            r#"{"jsonrpc":"2.0","id":3,"method":"tools/call",
                "params":{"name":"list_tasks","name":"add_task","arguments":{"title":"smuggled"}}}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Write-only: a read is refused with tasks:read.
    let write = format!(
        "Bearer {}",
        access_token(&s.store, user, &s.mcp_url(), "tasks:write").await
    );
    let r = post(&s.mcp_url(), Some(&write), call("list_tasks", json!({}))).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.challenge().contains("scope=\"tasks:read\""),
        "{}",
        r.challenge()
    );
    // The refused calls changed nothing: the task is still open and there.
    let r = post(&s.mcp_url(), Some(&auth), call("list_tasks", json!({}))).await;
    let tasks = &r.body["result"]["structuredContent"]["tasks"];
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{}", r.body);

    // Revoking the grant (its session) refuses its access tokens at once.
    let scopes = Scopes::all();
    let session = s
        .store
        .sessions()
        .create(
            user,
            &todo_auth::new_refresh_token(),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let granted = AccessTokens::new(common::SECRET)
        .issue(&Grant {
            user,
            version: session.token_version,
            resource: &s.mcp_url(),
            scopes: &scopes,
            client_id: "test-client",
            grant: session.id,
        })
        .unwrap();
    let bearer = format!("Bearer {granted}");
    assert_eq!(post(&s.mcp_url(), Some(&bearer), list()).await.status, 200);
    assert!(s.store.sessions().revoke(user, session.id).await.unwrap());
    let r = post(&s.mcp_url(), Some(&bearer), list()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.challenge().contains("error=\"invalid_token\""));

    // A version bump (password change, sign out everywhere) revokes access tokens at once.
    s.store.sessions().revoke_all(user).await.unwrap();
    let r = post(&s.mcp_url(), Some(&auth), list()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
}

#[tokio::test]
async fn sign_in_tokens_are_accepted_unless_turned_off() {
    let on = common::start(None, Vec::new()).await;
    let (_, token) = on.user("s@x.io").await;
    let r = post(
        &on.mcp_url(),
        Some(&format!("BEARER {token}")),
        call("add_task", json!({"title": "x"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["isError"], false, "{}", r.body);

    let off = common::start_with(None, Vec::new(), false).await;
    let (user, token) = off.user("s@x.io").await;
    let r = post(&off.mcp_url(), Some(&format!("Bearer {token}")), list()).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.challenge().contains("error=\"invalid_token\""));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sign-in token"),
        "{}",
        r.body
    );
    let access = access_token(&off.store, user, &off.mcp_url(), "tasks:read").await;
    let r = post(&off.mcp_url(), Some(&format!("Bearer {access}")), list()).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers_for_allowed_origins_only() {
    let allowed = "http://localhost:6274";
    let s = common::start(None, vec![allowed.to_owned()]).await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, s.mcp_url())
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .send()
    };
    let r = preflight("http://localhost:6274").await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["access-control-allow-origin"], allowed);
    let allow_headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    for h in ["authorization", "content-type", "mcp-protocol-version"] {
        assert!(allow_headers.contains(h), "{allow_headers}");
    }
    assert!(
        r.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let r = preflight("https://evil.example").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());

    // The 401 a browser client gets must be readable by it, challenge included.
    let r = client
        .post(s.mcp_url())
        .header("origin", allowed)
        .header("accept", "application/json, text/event-stream")
        .json(&list())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], allowed);
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(
        exposed.contains("www-authenticate") && exposed.contains("mcp-session-id"),
        "{exposed}"
    );
}
