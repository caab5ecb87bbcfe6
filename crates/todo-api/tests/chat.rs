//! The chatbot end to end: todo-api's chat agent calling a real todo-mcp over HTTP, both on a
//! real PostgreSQL, with the built-in engine.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn chat_config(database_url: &str, mcp_url: &str) -> todo_api::config::Config {
    let mut c = config(database_url);
    c.chat.mcp_url = Some(mcp_url.to_owned());
    c.chat.mcp_timeout = Duration::from_secs(5);
    c.chat.history_messages = 20;
    c.chat.history_chars = 8000;
    c
}

async fn start_chat_api() -> TestApi {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    TestApi::start_with(chat_config(&db, &mcp)).await
}

async fn say(api: &TestApi, token: &str, conversation: Option<&str>, message: &str) -> Value {
    let mut body = json!({"message": message});
    if let Some(c) = conversation {
        body["conversation_id"] = json!(c);
    }
    let (status, reply) = api.post("/api/chat", token, body).await;
    assert_eq!(status, 200, "{message}: {reply}");
    reply
}

#[tokio::test]
async fn chat_adds_and_completes_tasks_and_survives_a_restart() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    let mut api = TestApi::start_with(chat_config(&db, &mcp)).await;
    let (token, _) = api.register("chat@x.io").await;

    let reply = say(&api, &token, None, "add buy milk tomorrow high priority").await;
    assert_eq!(reply["engine"], "builtin");
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .starts_with("Added #1 “buy milk”"),
        "{reply}"
    );
    assert_eq!(reply["tool_calls"][0]["tool"], "add_task");
    assert_eq!(reply["tool_calls"][0]["arguments"]["priority"], "high");
    assert!(reply.get("error").is_none());
    let conversation = reply["conversation_id"].as_str().unwrap().to_owned();

    let (_, page) = api.get("/api/tasks", &token).await;
    assert_eq!(page["total"], 1);
    let task = &page["items"][0];
    let tomorrow = time::OffsetDateTime::now_utc().date() + time::Duration::days(1);
    assert_eq!(task["title"], "buy milk");
    assert_eq!(task["priority"], "high");
    assert_eq!(task["due_at"], format!("{tomorrow}T00:00:00Z"));

    let reply = say(&api, &token, Some(&conversation), "done with buy milk").await;
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("Marked #1 “buy milk” as done"),
        "{reply}"
    );
    let tools: Vec<&str> = reply["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["list_tasks", "complete_task"]);
    let (_, task) = api.get("/api/tasks/1", &token).await;
    assert_eq!(task["completed"], true);

    // Restart the API on the same database: the conversation is all there, and goes on.
    api.shutdown().await.unwrap();
    let api = TestApi::start_with(chat_config(&db, &mcp)).await;
    let (status, convo) = api
        .get(&format!("/api/conversations/{conversation}"), &token)
        .await;
    assert_eq!(status, 200, "{convo}");
    assert_eq!(
        convo["conversation"]["title"],
        "add buy milk tomorrow high priority"
    );
    let roles: Vec<&str> = convo["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant"]);
    assert_eq!(convo["messages"][1]["tool_calls"][0]["tool"], "add_task");
    let reply = say(&api, &token, Some(&conversation), "what's left?").await;
    assert_eq!(
        reply["response"],
        "You're all caught up: nothing pending. Add one with \"add ...\"."
    );
    let (_, convo) = api
        .get(&format!("/api/conversations/{conversation}"), &token)
        .await;
    assert_eq!(convo["messages"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn conversations_are_private_and_messages_validated() {
    let api = start_chat_api().await;
    let (a, _) = api.register("a@x.io").await;
    let (b, _) = api.register("b@x.io").await;
    let first = say(&api, &a, None, "hi").await;
    let second = say(&api, &a, None, "help").await;
    let (_, list) = api.get("/api/conversations", &a).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            second["conversation_id"].as_str().unwrap(),
            first["conversation_id"].as_str().unwrap()
        ],
        "most recent first"
    );

    let a_convo = first["conversation_id"].as_str().unwrap();
    let (status, body) = api.get(&format!("/api/conversations/{a_convo}"), &b).await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (404, "CONVERSATION_NOT_FOUND")
    );
    let (status, body) = api
        .post(
            "/api/chat",
            &b,
            json!({"conversation_id": a_convo, "message": "add spy task"}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0.as_str()),
        (404, "CONVERSATION_NOT_FOUND")
    );
    let (_, b_list) = api.get("/api/conversations", &b).await;
    assert_eq!(b_list["items"], json!([]));
    let (_, b_tasks) = api.get("/api/tasks", &b).await;
    assert_eq!(b_tasks["total"], 0, "the refused turn created nothing");

    for (body, field) in [
        (json!({"message": "   "}), "message"),
        (json!({"message": "x".repeat(2001)}), "message"),
        (json!({}), "message"),
        (json!({"message": 5}), "message"),
        (
            json!({"message": "hi", "conversation_id": "nope"}),
            "conversation_id",
        ),
        (json!({"message": "hi", "model": "gpt"}), "model"),
    ] {
        let (status, response) = api.post("/api/chat", &a, body.clone()).await;
        assert_eq!(
            (status, error_of(&response).1.as_deref()),
            (422, Some(field)),
            "{body}"
        );
    }
    let (status, _) = api.get("/api/conversations/not-a-uuid", &a).await;
    assert_eq!(status, 422);
    assert_eq!(
        api.call(
            Method::POST,
            "/api/chat",
            None,
            Some(json!({"message": "hi"}))
        )
        .await
        .0,
        401
    );
}

#[tokio::test]
async fn ambiguous_references_get_a_question_not_a_guess() {
    let api = start_chat_api().await;
    let (t, _) = api.register("a@x.io").await;
    say(&api, &t, None, "add buy milk").await;
    say(&api, &t, None, "add milk the cow #farm").await;
    let reply = say(&api, &t, None, "mark the milk one done").await;
    let text = reply["response"].as_str().unwrap();
    assert!(
        text.contains("Which one do you mean?")
            && text.contains("#1 “buy milk”")
            && text.contains("#2 “milk the cow”"),
        "{text}"
    );
    let (_, page) = api.get("/api/tasks?status=completed", &t).await;
    assert_eq!(page["total"], 0, "nothing was completed");
    let reply = say(&api, &t, None, "done with 2").await;
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("#2 “milk the cow” as done")
    );
    let reply = say(&api, &t, None, "delete 9").await;
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("There's no task #9")
    );
}

/// A question the engine asked is answered on the next turn even when that turn reaches a
/// restarted API (the open question is stored with the conversation, not in memory).
#[tokio::test]
async fn confirmations_survive_a_restart_and_statements_are_confirmed_first() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    let mut api = TestApi::start_with(chat_config(&db, &mcp)).await;
    let (t, _) = api.register("confirm@x.io").await;
    let first = say(&api, &t, None, "add buy the groceries").await;
    let c = first["conversation_id"].as_str().unwrap().to_owned();
    for m in ["add call mom", "add pay rent", "done with 2", "done with 3"] {
        say(&api, &t, Some(&c), m).await;
    }
    let asked = say(&api, &t, Some(&c), "I bought the groceries").await;
    assert_eq!(
        asked["response"],
        "Do you want me to mark #1 “buy the groceries” as done? (yes/no)"
    );
    let (_, page) = api.get("/api/tasks?status=completed", &t).await;
    assert_eq!(page["total"], 2, "nothing completed before the yes");

    api.shutdown().await.unwrap();
    let mut api = TestApi::start_with(chat_config(&db, &mcp)).await;
    let done = say(&api, &t, Some(&c), "yes").await;
    assert_eq!(done["response"], "Marked #1 “buy the groceries” as done. ✓");

    let asked = say(&api, &t, Some(&c), "remove all completed tasks").await;
    assert!(
        asked["response"]
            .as_str()
            .unwrap()
            .starts_with("Delete 3 completed tasks?"),
        "{asked}"
    );
    api.shutdown().await.unwrap();
    let api = TestApi::start_with(chat_config(&db, &mcp)).await;
    let done = say(&api, &t, Some(&c), "y").await;
    assert_eq!(done["response"], "Deleted 3 tasks: #1, #2, #3.");
    let (_, page) = api.get("/api/tasks?status=all", &t).await;
    assert_eq!(page["total"], 0);
    let none = say(&api, &t, Some(&c), "yes").await;
    assert!(none["tool_calls"].as_array().unwrap().is_empty(), "{none}");
}

#[tokio::test]
async fn when_mcp_is_down_the_user_is_told_and_nothing_is_lost() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api =
        TestApi::start_with(chat_config(&db, &format!("http://127.0.0.1:{closed}/mcp"))).await;
    let (t, _) = api.register("a@x.io").await;
    let reply = say(&api, &t, None, "add buy milk").await;
    assert_eq!(reply["error"]["code"], "MCP_UNAVAILABLE");
    assert!(
        reply["response"]
            .as_str()
            .unwrap()
            .contains("can't reach the task service"),
        "{reply}"
    );
    let id = reply["conversation_id"].as_str().unwrap();
    let (_, convo) = api.get(&format!("/api/conversations/{id}"), &t).await;
    let messages = convo["messages"].as_array().unwrap();
    assert_eq!(
        messages[0]["content"], "add buy milk",
        "the user's message was stored"
    );
    assert_eq!(messages[1]["role"], "assistant");
}

#[tokio::test]
async fn without_mcp_configured_chat_is_unavailable() {
    let api = TestApi::start().await;
    let (t, _) = api.register("a@x.io").await;
    let (status, body) = api.post("/api/chat", &t, json!({"message": "hi"})).await;
    assert_eq!((status, error_of(&body).0.as_str()), (503, "UNAVAILABLE"));
}
