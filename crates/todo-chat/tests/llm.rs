//! The LLM engine against a scripted OpenAI-compatible server (real HTTP on loopback), with a
//! real todo-mcp and PostgreSQL behind the tools.
#![allow(clippy::unwrap_used)]

#[path = "support/scripted_llm.rs"]
mod scripted_llm;

use scripted_llm::{Reply, Script, answer, tool_calls};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use todo_chat::llm::{LlmConfig, LlmEngine};
use todo_chat::{ChatService, HistoryLimits, McpClient};
use todo_store::{PoolSettings, Store, TaskQuery};

const SECRET: &str = "llm-test-secret-llm-test-secret-llm!";

struct Rig {
    service: ChatService,
    store: Store,
    user: uuid::Uuid,
    token: String,
    script: Script,
}

async fn rig(replies: Vec<Reply>, delay: Duration, timeout: Duration) -> Rig {
    let db = throwaway_postgres::fresh_database().unwrap();
    let store = Store::connect_lazy(&db, &PoolSettings::default()).unwrap();
    store.migrate().await.unwrap();
    let mcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp_url = format!("http://{}/mcp", mcp_listener.local_addr().unwrap());
    let config = todo_mcp::Config {
        database_url: db,
        jwt_secret: SECRET.into(),
        port: 0,
        log_format: service_kit::config::LogFormat::Text,
        allowed_hosts: None,
        allowed_origins: Vec::new(),
        db_max_connections: 5,
        shutdown_grace: Duration::from_secs(1),
    };
    tokio::spawn(todo_mcp::run(config, mcp_listener, std::future::pending()));

    let (llm_url, script) = scripted_llm::serve(replies, delay).await;
    let engine = LlmEngine::new(LlmConfig {
        base_url: llm_url,
        model: "scripted".into(),
        api_key: Some("sk-test".into()),
        timeout,
        max_rounds: 8,
    })
    .unwrap();
    let mcp = Arc::new(McpClient::new(mcp_url, Duration::from_secs(5)).unwrap());
    let user = store.users().create("llm@x.io", "L", "x").await.unwrap().id;
    let token = todo_auth::Tokens::new(SECRET, Duration::from_secs(600))
        .issue(user, "llm@x.io", "L")
        .unwrap();
    // todo-mcp may still be starting: wait until it answers.
    for _ in 0..100 {
        if mcp.tools(&token).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let service = ChatService::new(
        store.clone(),
        mcp,
        Arc::new(engine),
        HistoryLimits::default(),
    );
    Rig {
        service,
        store,
        user,
        token,
        script,
    }
}

impl Rig {
    fn requests(&self) -> Vec<(Value, Option<String>)> {
        self.script.requests()
    }

    async fn titles(&self) -> Vec<String> {
        let page = self
            .store
            .tasks()
            .list(
                self.user,
                &TaskQuery {
                    order: todo_store::Order::Asc,
                    ..TaskQuery::default()
                },
            )
            .await
            .unwrap();
        page.items.into_iter().map(|t| t.title).collect()
    }
}

fn tool_messages(request: &Value) -> Vec<Value> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .cloned()
        .collect()
}

#[tokio::test]
async fn runs_tool_rounds_until_the_model_answers() {
    let rig = rig(
        vec![
            tool_calls(&[("c1", "list_tasks", r#"{"status":"pending"}"#)]),
            tool_calls(&[(
                "c2",
                "add_task",
                r#"{"title":"buy milk","due":"2026-11-25","priority":"high"}"#,
            )]),
            answer("Added #1 “buy milk”, due tomorrow, high priority."),
        ],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(
            rig.user,
            &rig.token,
            None,
            "add buy milk tomorrow, it's important",
        )
        .await
        .unwrap();
    assert_eq!(turn.engine, todo_chat::Engine::Llm);
    assert_eq!(
        turn.response,
        "Added #1 “buy milk”, due tomorrow, high priority."
    );
    assert!(turn.error.is_none());
    assert_eq!(
        turn.tool_calls
            .iter()
            .map(|c| c.tool.as_str())
            .collect::<Vec<_>>(),
        ["list_tasks", "add_task"]
    );
    assert_eq!(rig.titles().await, ["buy milk"]);

    let requests = rig.requests();
    assert_eq!(requests.len(), 3);
    let (first, auth) = &requests[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(first["model"], "scripted");
    let functions: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        functions,
        [
            "add_task",
            "list_tasks",
            "get_task",
            "update_task",
            "complete_task",
            "delete_task"
        ]
    );
    assert_eq!(
        first["tools"][0]["function"]["parameters"]["required"],
        json!(["title"]),
        "MCP schemas become the parameters"
    );
    let system = first["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("confirm exactly what you did")
            && system.contains("call list_tasks first")
            && system.contains("ask which one")
    );
    assert_eq!(
        first["messages"].as_array().unwrap().last().unwrap()["content"],
        "add buy milk tomorrow, it's important"
    );
    // The tool result went back to the model, tied to its call id.
    let third = &requests[2].0;
    let results = tool_messages(third);
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["tool_call_id"], "c2");
    let added: Value = serde_json::from_str(results[1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(added["task"]["title"], "buy milk");

    // The next turn sees the conversation so far.
    let next = rig
        .service
        .turn(rig.user, &rig.token, Some(turn.conversation_id), "thanks")
        .await
        .unwrap();
    assert_eq!(next.conversation_id, turn.conversation_id);
    let fourth = &rig.requests()[3].0;
    let roles: Vec<&str> = fourth["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
}

#[tokio::test]
async fn parallel_tool_calls_all_run_and_answer_in_order() {
    let rig = rig(
        vec![
            tool_calls(&[
                ("a", "add_task", r#"{"title":"one"}"#),
                ("b", "add_task", r#"{"title":"two"}"#),
                ("c", "add_task", r#"{"title":"three"}"#),
            ]),
            answer("Added three tasks."),
        ],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "add one, two and three")
        .await
        .unwrap();
    assert_eq!(turn.tool_calls.len(), 3);
    let mut titles = rig.titles().await;
    titles.sort();
    assert_eq!(titles, ["one", "three", "two"]);
    let results = tool_messages(&rig.requests()[1].0);
    assert_eq!(
        results
            .iter()
            .map(|r| r["tool_call_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
}

#[tokio::test]
async fn unknown_tools_and_malformed_arguments_go_back_to_the_model() {
    let rig = rig(
        vec![
            tool_calls(&[
                ("x", "drop_all_tables", "{}"),
                ("y", "add_task", "{not json"),
            ]),
            answer("Sorry, I could not do that."),
        ],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "do something odd")
        .await
        .unwrap();
    assert_eq!(turn.response, "Sorry, I could not do that.");
    assert!(turn.tool_calls.iter().all(|c| c.is_error));
    let results = tool_messages(&rig.requests()[1].0);
    let codes: Vec<String> = results
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r["content"].as_str().unwrap()).unwrap()["error"]["code"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(codes, ["UNKNOWN_TOOL", "INVALID_ARGUMENTS"]);
    assert!(rig.titles().await.is_empty(), "nothing was created");
}

#[tokio::test]
async fn a_slow_model_times_out_with_a_clear_message_and_the_message_is_kept() {
    let rig = rig(
        vec![answer("too late")],
        Duration::from_secs(3),
        Duration::from_millis(300),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "add something")
        .await
        .unwrap();
    let error = turn.error.unwrap();
    assert_eq!(error.code, "LLM_TIMEOUT");
    assert!(turn.response.contains("took too long"));
    let stored = rig
        .store
        .conversations()
        .recent_messages(rig.user, turn.conversation_id, 10)
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["add something", turn.response.as_str()]
    );
}

#[tokio::test]
async fn tool_rounds_are_capped() {
    let rig = rig(
        vec![tool_calls(&[("loop", "list_tasks", "{}")])],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "loop forever")
        .await
        .unwrap();
    assert_eq!(
        turn.error.as_ref().map(|e| e.code.as_str()),
        Some("TOOL_ROUND_LIMIT")
    );
    assert_eq!(rig.requests().len(), 8, "at most 8 rounds");
    assert_eq!(turn.tool_calls.len(), 8);
}

#[tokio::test]
async fn a_refused_key_or_broken_answer_is_explained() {
    let rig = rig(
        vec![Reply::Json(json!({"unexpected": true}))],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "hello")
        .await
        .unwrap();
    assert_eq!(
        turn.error.map(|e| e.code).as_deref(),
        Some("LLM_BAD_RESPONSE")
    );
}

#[tokio::test]
async fn messages_with_control_characters_are_refused_before_anything_is_stored() {
    let rig = rig(
        vec![answer("never asked")],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    for bad in [
        "add milk\0",
        "add \u{1b}[2Jmilk",
        "del\u{7f}",
        "\u{200B}\u{200D}",
    ] {
        let err = rig
            .service
            .turn(rig.user, &rig.token, None, bad)
            .await
            .unwrap_err();
        match err {
            todo_chat::service::TurnError::Invalid { field, .. } => {
                assert_eq!(field, "message", "{bad:?}")
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert!(rig.requests().is_empty(), "the model was never asked");
    assert!(
        rig.store
            .conversations()
            .list(rig.user, 10)
            .await
            .unwrap()
            .is_empty(),
        "no conversation was started"
    );
    // Tabs and line breaks are fine.
    rig.service
        .turn(rig.user, &rig.token, None, "add milk\n\tand bread")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_poisoned_tool_call_is_refused_by_the_tools_and_the_turn_is_still_stored() {
    let rig = rig(
        vec![
            tool_calls(&[(
                "c1",
                "add_task",
                r#"{"title":"milk\u0000","due":"-0001-06-01"}"#,
            )]),
            answer("That title can't be used."),
        ],
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "add milk")
        .await
        .unwrap();
    assert!(turn.error.is_none(), "{:?}", turn.error);
    assert_eq!(turn.tool_calls.len(), 1);
    assert!(turn.tool_calls[0].is_error, "{:?}", turn.tool_calls[0]);
    assert!(
        turn.tool_calls[0].result["error"]["message"].is_string(),
        "the error is read: {}",
        turn.tool_calls[0].result
    );
    assert!(rig.titles().await.is_empty(), "nothing was created");
    let stored = rig
        .store
        .conversations()
        .recent_messages(rig.user, turn.conversation_id, 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2, "the reply and its tool calls were stored");
}

/// Receives the next event, or fails the test after a generous bound (never a timing check:
/// a healthy run gets each event within milliseconds).
async fn next(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<todo_chat::TurnEvent>,
    what: &str,
) -> Option<todo_chat::TurnEvent> {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no event in 20 s while waiting for {what}"))
}

fn request<'a>(rig: &'a Rig, message: &'a str) -> todo_chat::TurnRequest<'a> {
    todo_chat::TurnRequest {
        user: rig.user,
        token: &rig.token,
        conversation: None,
        message,
        client_message_id: Some(uuid::Uuid::new_v4()),
        zone: "UTC",
    }
}

#[tokio::test]
async fn a_streamed_answer_arrives_piece_by_piece_with_its_tool_calls_before_it_ends() {
    use scripted_llm::{streamed_answer, streamed_tool_calls};
    use todo_chat::TurnEvent;
    let rig = rig(
        vec![
            streamed_tool_calls(&[(
                "c1",
                "add_task",
                r#"{"title":"buy milk","priority":"high"}"#,
            )]),
            streamed_answer(&["Added ", "#1 ", "“buy milk”."]),
        ],
        Duration::ZERO,
        Duration::from_secs(20),
    )
    .await;
    let (events, mut rx) = todo_chat::TurnEvents::channel();
    let turn = rig
        .service
        .turn_streamed(request(&rig, "add buy milk, important"), events);
    let watch = async {
        let mut seen = Vec::new();
        // The gate before the last piece is shut: the stream cannot have ended yet, so
        // these arrived while the model was still writing.
        for what in [
            "the start",
            "the tool call",
            "the first piece",
            "the second piece",
        ] {
            seen.push(next(&mut rx, what).await.unwrap());
        }
        rig.script.open();
        while let Some(e) = next(&mut rx, "the end").await {
            seen.push(e);
        }
        seen
    };
    let (turn, seen) = tokio::join!(turn, watch);
    let turn = turn.unwrap();
    assert!(
        matches!(&seen[0], TurnEvent::Accepted { conversation_id } if *conversation_id == turn.conversation_id),
        "{seen:?}"
    );
    match &seen[1] {
        TurnEvent::Tool(call) => {
            assert_eq!(call.tool, "add_task");
            assert_eq!(
                call.arguments,
                json!({"title": "buy milk", "priority": "high"}),
                "assembled from fragments"
            );
            assert_eq!(call.result["task"]["title"], "buy milk");
        }
        other => panic!("expected the tool call, got {other:?}"),
    }
    let pieces: Vec<&str> = seen[2..]
        .iter()
        .map(|e| match e {
            TurnEvent::Delta(t) => t.as_str(),
            other => panic!("expected text, got {other:?}"),
        })
        .collect();
    assert_eq!(
        pieces,
        ["Added ", "#1 ", "“buy milk”."],
        "in order, one event per piece"
    );
    assert_eq!(turn.response, "Added #1 “buy milk”.");
    assert!(turn.error.is_none(), "{:?}", turn.error);
    assert_eq!(turn.tool_calls.len(), 1);
    assert_eq!(rig.titles().await, ["buy milk"]);

    let requests = rig.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].0["stream"], true,
        "the answer is asked for as a stream"
    );
    let results = tool_messages(&requests[1].0);
    assert_eq!(
        results[0]["tool_call_id"], "c1",
        "the call's id went back with its result"
    );
    let stored = rig
        .store
        .conversations()
        .recent_messages(rig.user, turn.conversation_id, 10)
        .await
        .unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["add buy milk, important", "Added #1 “buy milk”."],
        "the turn is stored once, whole"
    );
    assert_eq!(
        stored[1]
            .tool_calls
            .as_ref()
            .and_then(|c| c.as_array())
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn a_stream_that_breaks_off_or_reports_an_error_ends_the_turn_with_a_clear_error() {
    use scripted_llm::{Piece, text_chunk};
    for (name, tail) in [
        ("cut off", vec![]),
        (
            "an error event",
            vec![Piece::Chunk(
                json!({"error": {"message": "overloaded", "type": "server_error"}}),
            )],
        ),
    ] {
        let mut pieces = vec![text_chunk("I'll add ")];
        pieces.extend(tail);
        let rig = rig(
            vec![Reply::Stream(pieces)],
            Duration::ZERO,
            Duration::from_secs(20),
        )
        .await;
        let (events, mut rx) = todo_chat::TurnEvents::channel();
        let turn = rig
            .service
            .turn_streamed(request(&rig, "add milk"), events)
            .await
            .unwrap();
        let error = turn
            .error
            .clone()
            .unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(error.code, "LLM_INTERRUPTED", "{name}");
        assert!(
            turn.response.contains("stopped in the middle"),
            "{name}: {}",
            turn.response
        );
        let mut texts = Vec::new();
        while let Ok(e) = rx.try_recv() {
            if let todo_chat::TurnEvent::Delta(t) = e {
                texts.push(t);
            }
        }
        assert_eq!(
            texts,
            ["I'll add "],
            "{name}: the piece before the break was sent, the error was not sent as text"
        );
        let stored = rig
            .store
            .conversations()
            .recent_messages(rig.user, turn.conversation_id, 10)
            .await
            .unwrap();
        assert_eq!(
            stored.len(),
            2,
            "{name}: the message and the error reply are stored"
        );
        assert_eq!(stored[1].content, turn.response);
    }
}

#[tokio::test]
async fn a_garbled_chunk_is_a_bad_response_not_a_hang() {
    use scripted_llm::{Piece, text_chunk};
    let rig = rig(
        vec![Reply::Stream(vec![
            text_chunk("ok"),
            Piece::Raw("data: {not json\n\n".into()),
        ])],
        Duration::ZERO,
        Duration::from_secs(20),
    )
    .await;
    let turn = rig
        .service
        .turn(rig.user, &rig.token, None, "hello")
        .await
        .unwrap();
    assert_eq!(
        turn.error.map(|e| e.code).as_deref(),
        Some("LLM_BAD_RESPONSE")
    );
}
