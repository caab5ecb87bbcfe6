//! The whole-turn budget: a todo-mcp that accepts and never answers, with a per-call timeout
//! longer than the budget, still ends the turn within the budget, with the reply stored.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};
use todo_chat::{ChatService, HistoryLimits, McpClient};
use todo_store::{PoolSettings, Role, Store};

#[tokio::test]
async fn a_turn_ends_within_its_budget_with_a_stored_error_reply() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mcp = Arc::new(McpClient::new(url, Duration::from_secs(60)).unwrap());
    let service = ChatService::new(
        store.clone(),
        mcp,
        Arc::new(todo_chat::builtin::BuiltinEngine),
        HistoryLimits::default(),
    )
    .with_turn_budget(Duration::from_secs(1));
    let user = store.users().create("b@x.io", "B", "x").await.unwrap().id;
    let started = Instant::now();
    let turn = service
        .turn(user, "not-a-real-token", None, "add buy milk")
        .await
        .unwrap();
    let took = started.elapsed();
    println!("turn with a 1 s budget against a hung todo-mcp ended in {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        turn.error.as_ref().map(|e| e.code.as_str()),
        Some("CHAT_TIMEOUT")
    );
    let stored = store
        .conversations()
        .recent_texts(user, turn.conversation_id, 10)
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![
            (Role::User, "add buy milk".to_owned()),
            (Role::Assistant, turn.response.clone())
        ]
    );
}
