//! Chat turns that finish: a hanging todo-mcp, a client that goes away mid-turn, retries with
//! the same `client_message_id`, and a database outage, against real servers on loopback and
//! a real PostgreSQL. Timings are printed (`--nocapture`), with generous bounds only.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;
use tokio::net::TcpListener;

/// A server that accepts connections and never answers (a hung todo-mcp).
async fn hanging_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

/// A TCP proxy to `target` that holds every connection for `delay` first (a slow todo-mcp).
async fn slow_proxy(target: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

async fn api_with_mcp(db: &str, mcp_addr: &str, mcp_timeout: Duration) -> TestApi {
    let mut c = config(db);
    c.chat.mcp_url = Some(format!("http://{mcp_addr}/mcp"));
    c.chat.mcp_timeout = mcp_timeout;
    TestApi::start_with(c).await
}

async fn messages(api: &TestApi, token: &str, conversation: &str) -> Vec<Value> {
    let (status, detail) = api
        .get(&format!("/api/conversations/{conversation}"), token)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_hanging_mcp_ends_the_turn_with_a_stored_error_reply() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = hanging_server().await;
    let api = api_with_mcp(&db, &mcp, Duration::from_secs(1)).await;
    let (token, _) = api.register("hang@x.io").await;
    let started = Instant::now();
    let (status, turn) = api
        .post("/api/chat", &token, json!({"message": "what's left?"}))
        .await;
    let took = started.elapsed();
    println!("turn against a hung todo-mcp (MCP_TIMEOUT 1 s) answered in {took:?}");
    assert_eq!(status, 200, "{turn}");
    assert_eq!(turn["error"]["code"], "MCP_UNAVAILABLE", "{turn}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    let stored = messages(&api, &token, turn["conversation_id"].as_str().unwrap()).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[0]["role"], "user");
    assert_eq!(stored[1]["role"], "assistant");
    assert_eq!(stored[1]["content"], turn["response"]);
}

#[tokio::test]
async fn a_turn_is_stored_when_the_client_goes_away() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = start_mcp(&db).await;
    let slow = slow_proxy(mcp, Duration::from_millis(1500)).await;
    let api = api_with_mcp(&db, &slow, Duration::from_secs(10)).await;
    let (token, _) = api.register("gone@x.io").await;
    let id = uuid::Uuid::new_v4();
    let body = json!({"message": "add buy milk", "client_message_id": id});
    // The client gives up long before the turn can finish.
    let gave_up = api
        .client
        .post(api.url("/api/chat"))
        .bearer_auth(&token)
        .json(&body)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client should have timed out");

    // A retry while the first send is still running: 409, with Retry-After.
    let retry = api
        .client
        .post(api.url("/api/chat"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 409);
    assert!(retry.headers().contains_key("retry-after"));
    let (code, field) = error_of(&read(retry).await.1);
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("TURN_IN_PROGRESS", Some("client_message_id"))
    );

    // The turn goes on without its client: the task is added and the reply stored.
    let mut turn = Value::Null;
    for _ in 0..100 {
        let (status, t) = api.post("/api/chat", &token, body.clone()).await;
        if status == 200 {
            turn = t;
            break;
        }
        assert_eq!(status, 409, "{t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(turn["replayed"], true, "{turn}");
    assert!(
        turn["response"].as_str().unwrap().starts_with("Added #1"),
        "{turn}"
    );
    let (_, page) = api.get("/api/tasks", &token).await;
    assert_eq!(page["total"], 1, "{page}");
    let stored = messages(&api, &token, turn["conversation_id"].as_str().unwrap()).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
}

#[tokio::test]
async fn a_retry_with_the_same_client_id_gets_the_same_answer_and_runs_the_tool_once() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = start_mcp(&db).await;
    let api = api_with_mcp(&db, &mcp, Duration::from_secs(5)).await;
    let (token, _) = api.register("retry@x.io").await;
    let id = uuid::Uuid::new_v4();
    let body = json!({"message": "add call mom friday", "client_message_id": id});
    let (s1, first) = api.post("/api/chat", &token, body.clone()).await;
    let (s2, again) = api.post("/api/chat", &token, body.clone()).await;
    assert_eq!((s1, s2), (200, 200), "{first} {again}");
    assert!(first.get("replayed").is_none(), "{first}");
    assert_eq!(again["replayed"], true);
    for key in ["conversation_id", "response", "tool_calls", "engine"] {
        assert_eq!(first[key], again[key], "{key}");
    }
    let (_, page) = api.get("/api/tasks", &token).await;
    assert_eq!(page["total"], 1, "the tool ran once: {page}");
    let conversation = first["conversation_id"].as_str().unwrap();
    assert_eq!(messages(&api, &token, conversation).await.len(), 2);
    let (_, list) = api.get("/api/conversations", &token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // The same id for other words is a client bug, named as such.
    let (status, err) = api
        .post(
            "/api/chat",
            &token,
            json!({"message": "delete 1", "client_message_id": id}),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(
        error_of(&err),
        (
            "CLIENT_MESSAGE_ID_REUSED".to_owned(),
            Some("client_message_id".to_owned())
        )
    );

    // Another user's id space is their own.
    let (other, _) = api.register("other@x.io").await;
    let (status, theirs) = api.post("/api/chat", &other, body).await;
    assert_eq!(status, 200, "{theirs}");
    assert!(theirs.get("replayed").is_none());

    // Concurrent sends of one new id: one turn, one task.
    let id = uuid::Uuid::new_v4();
    let body = json!({"message": "add water plants", "client_message_id": id});
    let sends = (0..4).map(|_| api.post("/api/chat", &token, body.clone()));
    let results = futures::future::join_all(sends).await;
    for (status, r) in &results {
        assert!(matches!(status, 200 | 409), "{status} {r}");
    }
    let (_, page) = api.get("/api/tasks", &token).await;
    assert_eq!(page["total"], 2, "{page}");
    let (_, list) = api.get("/api/conversations", &token).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "a lost race leaves no empty conversation: {list}"
    );
}

#[tokio::test]
async fn a_database_outage_fails_fast_and_recovers_when_it_returns() {
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("fastfail").unwrap();
    let api = TestApi::start_with(config(&url)).await;
    let (token, _) = api.register("down@x.io").await;
    pg.stop().unwrap();
    let mut took = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = api.get("/api/tasks", &token).await;
        took.push(started.elapsed());
        assert_eq!(status, 503, "{body}");
        assert_eq!(error_of(&body).0, "UNAVAILABLE");
    }
    println!("503s during the outage took {took:?} (pool acquire timeout 5 s)");
    assert!(
        took[1] < Duration::from_secs(2) && took[2] < Duration::from_secs(2),
        "later requests should not wait out the pool: {took:?}"
    );

    pg.start_again().unwrap();
    let back = Instant::now();
    loop {
        let (status, _) = api.get("/api/tasks", &token).await;
        if status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "no recovery after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "first 200 {:?} after the database came back",
        back.elapsed()
    );
}
