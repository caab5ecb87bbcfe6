//! `POST /api/chat/stream` over real HTTP: the reply of the LLM engine (a scripted
//! OpenAI-compatible server that streams) arrives piece by piece and in order before the
//! turn ends, tool calls come as they run, a client that disconnects mid-stream loses neither
//! the turn nor gets it twice, an error mid-stream is an `error` event, the built-in engine
//! answers in one piece, and what is refused before the turn starts is a plain JSON error.
//! Real todo-mcp and PostgreSQL behind it.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../todo-chat/tests/support/scripted_llm.rs"]
mod scripted_llm;

use common::*;
use scripted_llm::{Piece, Reply, Script, streamed_answer, streamed_tool_calls, text_chunk};
use serde_json::{Value, json};
use std::time::Duration;

/// A generous bound for one event (a healthy run takes milliseconds); never a timing check.
const PATIENCE: Duration = Duration::from_secs(20);

async fn api_with_llm(replies: Vec<Reply>) -> (TestApi, Script) {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    let (llm, script) = scripted_llm::serve(replies, Duration::ZERO).await;
    let mut c = config(&db);
    c.chat.mcp_url = Some(mcp);
    c.chat.mcp_timeout = Duration::from_secs(5);
    c.chat.llm_base_url = Some(llm);
    c.chat.llm_model = Some("scripted".into());
    c.chat.llm_timeout = PATIENCE;
    (TestApi::start_with(c).await, script)
}

/// The events of one streamed answer, read as they come.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(api: &TestApi, token: &str, body: Value) -> Events {
        let response = api
            .client
            .post(api.url("/api/chat/stream"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/event-stream");
        assert_eq!(
            headers["x-accel-buffering"], "no",
            "proxies must not buffer it"
        );
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (name, data), or `None` at the end of the stream.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("no event within the bound")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn expect(&mut self, name: &str) -> Value {
        let (got, data) = self
            .next()
            .await
            .unwrap_or_else(|| panic!("the stream ended before `{name}`"));
        assert_eq!(got, name, "{data}");
        data
    }

    async fn rest(&mut self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            out.push(e);
        }
        out
    }
}

async fn messages(api: &TestApi, token: &str, conversation: &str) -> Vec<Value> {
    let (status, detail) = api
        .get(&format!("/api/conversations/{conversation}"), token)
        .await;
    assert_eq!(status, 200, "{detail}");
    detail["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_reply_streams_in_order_before_the_end_with_its_tool_calls_and_is_stored_once() {
    let (api, script) = api_with_llm(vec![
        streamed_tool_calls(&[(
            "c1",
            "add_task",
            r#"{"title":"buy milk","priority":"high"}"#,
        )]),
        streamed_answer(&["Added ", "#1 ", "“buy milk”."]),
    ])
    .await;
    let (token, _) = api.register("stream@x.io").await;
    let id = uuid::Uuid::new_v4();
    let mut events = Events::open(
        &api,
        &token,
        json!({"message": "add buy milk, important", "client_message_id": id}),
    )
    .await;
    let start = events.expect("start").await;
    let conversation = start["conversation_id"].as_str().unwrap().to_owned();
    let tool = events.expect("tool").await;
    assert_eq!(tool["tool"], "add_task");
    assert_eq!(
        tool["arguments"],
        json!({"title": "buy milk", "priority": "high"})
    );
    assert_eq!(tool["result"]["task"]["title"], "buy milk");
    assert_eq!(events.expect("delta").await["text"], "Added ");
    assert_eq!(events.expect("delta").await["text"], "#1 ");
    // The model is held before its last piece: what came so far came while it was writing.
    script.open();
    assert_eq!(events.expect("delta").await["text"], "“buy milk”.");
    let done = events.expect("done").await;
    assert_eq!(done["conversation_id"], conversation.as_str());
    assert_eq!(done["response"], "Added #1 “buy milk”.");
    assert_eq!(done["engine"], "llm");
    assert_eq!(done["tool_calls"].as_array().unwrap().len(), 1);
    assert!(done.get("error").is_none(), "{done}");
    assert!(events.rest().await.is_empty(), "done is the last event");

    let stored = messages(&api, &token, &conversation).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored[1]["content"], "Added #1 “buy milk”.");
    let (_, page) = api.get("/api/tasks", &token).await;
    assert_eq!(page["total"], 1);
    assert_eq!(script.requests()[0].0["stream"], true);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_neither_loses_the_turn_nor_gets_it_twice() {
    let (api, script) = api_with_llm(vec![streamed_answer(&["Let me ", "think."])]).await;
    let (token, _) = api.register("gone@x.io").await;
    let id = uuid::Uuid::new_v4();
    let body = json!({"message": "what's up?", "client_message_id": id});
    let mut events = Events::open(&api, &token, body.clone()).await;
    let conversation = events.expect("start").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(events.expect("delta").await["text"], "Let me ");
    drop(events); // the browser tab closes mid-answer
    script.open();

    // The turn goes on without its client and is stored (bounded wait, polled).
    let mut stored = Vec::new();
    for _ in 0..400 {
        stored = messages(&api, &token, &conversation).await;
        if stored.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored.len(),
        2,
        "the message and its whole reply: {stored:?}"
    );
    assert_eq!(stored[1]["content"], "Let me think.");

    // Sending it again (the same client id) gets the stored answer, in one piece; the model
    // is not asked again.
    let mut again = Events::open(&api, &token, body.clone()).await;
    assert_eq!(again.expect("delta").await["text"], "Let me think.");
    let done = again.expect("done").await;
    assert_eq!(done["replayed"], true);
    let (status, plain) = api.post("/api/chat", &token, body).await;
    assert_eq!((status, &plain["response"]), (200, &json!("Let me think.")));
    assert_eq!(script.requests().len(), 1, "one turn, one model call");
    assert_eq!(
        messages(&api, &token, &conversation).await.len(),
        2,
        "stored once"
    );
}

#[tokio::test]
async fn an_error_in_the_middle_of_the_stream_is_an_error_event() {
    let (api, _script) = api_with_llm(vec![Reply::Stream(vec![
        text_chunk("I'll add "),
        Piece::Chunk(json!({"error": {"message": "overloaded", "type": "server_error"}})),
    ])])
    .await;
    let (token, _) = api.register("broken@x.io").await;
    let mut events = Events::open(&api, &token, json!({"message": "add milk"})).await;
    let conversation = events.expect("start").await["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(events.expect("delta").await["text"], "I'll add ");
    let error = events.expect("error").await;
    assert_eq!(error["code"], "LLM_INTERRUPTED");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("stopped in the middle"),
        "{error}"
    );
    let done = events.expect("done").await;
    assert_eq!(done["error"]["code"], "LLM_INTERRUPTED");
    assert!(events.rest().await.is_empty());
    let stored = messages(&api, &token, &conversation).await;
    assert_eq!(stored.len(), 2, "the error reply is stored like any other");
    assert_eq!(stored[1]["content"], done["response"]);
}

#[tokio::test]
async fn the_built_in_engine_answers_in_one_piece_and_refusals_are_plain_json_errors() {
    let db = throwaway_postgres::fresh_database().unwrap();
    let mcp = format!("http://{}/mcp", start_mcp(&db).await);
    let mut c = config(&db);
    c.chat.mcp_url = Some(mcp);
    let api = TestApi::start_with(c).await;
    let (token, _) = api.register("builtin@x.io").await;
    let mut events = Events::open(&api, &token, json!({"message": "add call mom friday"})).await;
    events.expect("start").await;
    assert_eq!(events.expect("tool").await["tool"], "add_task");
    let text = events.expect("delta").await["text"].clone();
    let done = events.expect("done").await;
    assert_eq!(done["engine"], "builtin");
    assert_eq!(done["response"], text, "the whole answer in one piece");
    assert!(events.rest().await.is_empty());

    let post = |body: Value, token: Option<&str>| {
        let mut r = api.client.post(api.url("/api/chat/stream")).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
            (status, kind, r.json::<Value>().await.unwrap())
        }
    };
    let (status, kind, body) = post(json!({"message": " "}), Some(&token)).await;
    assert_eq!((status, kind.as_str()), (422, "application/json"), "{body}");
    assert_eq!(body["error"]["field"], "message");
    let (status, _, body) = post(
        json!({"message": "hi", "conversation_id": uuid::Uuid::new_v4()}),
        Some(&token),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("CONVERSATION_NOT_FOUND"))
    );
    let (status, _, _) = post(json!({"message": "hi"}), None).await;
    assert_eq!(status, 401);

    let off = TestApi::start().await;
    let (token, _) = off.register("off@x.io").await;
    let r = off
        .client
        .post(off.url("/api/chat/stream"))
        .bearer_auth(&token)
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "chat not configured");
}
