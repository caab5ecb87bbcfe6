//! The chat reply as it is written, through todo-web: `POST /chat/stream` relays todo-api's
//! event stream to the page's script (text pieces in order and before the end, each tool
//! call as the chat log's HTML, an error mid-stream in words, `done` with the page to load),
//! remembers the conversation, survives the browser going away, and refuses what the form
//! post would explain. Without JavaScript the form post still works with a streaming model.
//! The real stack, with the scripted OpenAI-compatible server of todo-chat's tests.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../todo-chat/tests/support/scripted_llm.rs"]
mod scripted_llm;

use common::*;
use scripted_llm::{
    Piece, Reply, streamed_answer, streamed_answer_at_once, streamed_tool_calls, text_chunk,
};
use serde_json::json;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

/// The browser's side of `/chat/stream`: (event, the JSON string it carries), as they come.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let name = block.lines().find_map(|l| l.strip_prefix("event: "));
                let data = block.lines().find_map(|l| l.strip_prefix("data: "));
                if let (Some(name), Some(data)) = (name, data) {
                    let text: String = serde_json::from_str(data).unwrap();
                    return Some((name.to_owned(), text));
                }
                continue;
            }
            let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
                .await
                .expect("no event within the bound")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn expect(&mut self, name: &str) -> String {
        let (got, data) = self
            .next()
            .await
            .unwrap_or_else(|| panic!("the stream ended before `{name}`"));
        assert_eq!(got, name, "{data}");
        data
    }
}

/// Posts a message to `/chat/stream`: the conversation the response remembers (its
/// `todo_conv` cookie) and the events.
async fn open(b: &Browser, message: &str, client_id: &str) -> (String, Events) {
    let r = b
        .post_request(
            "/chat/stream",
            &[
                ("message", message),
                ("conversation_id", ""),
                ("client_message_id", client_id),
                ("back", ""),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    let conversation = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("todo_conv="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .next()
        .expect("the conversation is remembered");
    (
        conversation,
        Events {
            response: r,
            buffer: String::new(),
        },
    )
}

fn chat_log(page: &Page) -> String {
    page.text_of("chat-log").unwrap()
}

#[tokio::test]
async fn the_reply_arrives_as_it_is_written_and_the_page_has_it_after() {
    let (llm, script) = scripted_llm::serve(
        vec![
            streamed_tool_calls(&[("c1", "add_task", r#"{"title":"buy <milk>"}"#)]),
            streamed_answer(&["Added ", "#1 ", "“buy <milk>”."]),
        ],
        Duration::ZERO,
    )
    .await;
    let stack = Stack::start_with_llm(&llm).await;
    let mut b = stack.browser();
    b.sign_up("stream@example.com").await;
    let client_id = uuid::Uuid::new_v4().to_string();
    let (conversation, mut events) = open(&b, "add buy <milk>", &client_id).await;

    let tool = events.expect("tool").await;
    assert!(tool.starts_with("<ul class=\"tools\"><li>"), "{tool}");
    assert!(tool.contains("Added #1"), "in plain words: {tool}");
    assert!(
        tool.contains("&#60;milk&#62;") && !tool.contains("<milk>"),
        "escaped: {tool}"
    );
    assert_eq!(events.expect("text").await, "Added ");
    assert_eq!(events.expect("text").await, "#1 ");
    // The model is held before its last piece: these came while it was still writing.
    script.open();
    assert_eq!(events.expect("text").await, "“buy <milk>”.");
    let page = events.expect("done").await;
    assert_eq!(page, format!("/tasks?c={conversation}"));
    assert!(events.next().await.is_none(), "done is the last event");

    let page = b.get(&page).await;
    assert_eq!(page.status, 200);
    let log = chat_log(&page);
    assert!(
        log.contains("Added #1 “buy &#60;milk&#62;”."),
        "stored and escaped: {log}"
    );
    assert_eq!(page.task_rows().len(), 1, "the tool call added the task");
}

#[tokio::test]
async fn the_turn_is_kept_once_when_the_browser_goes_away_mid_stream() {
    let (llm, script) = scripted_llm::serve(
        vec![streamed_answer(&["Let me ", "think."])],
        Duration::ZERO,
    )
    .await;
    let stack = Stack::start_with_llm(&llm).await;
    let mut b = stack.browser();
    b.sign_up("gone@example.com").await;
    let client_id = uuid::Uuid::new_v4().to_string();
    let (conversation, mut events) = open(&b, "what's up?", &client_id).await;
    assert_eq!(events.expect("text").await, "Let me ");
    drop(events); // the tab closes
    script.open();
    let mut log = String::new();
    for _ in 0..400 {
        log = chat_log(&b.get(&format!("/tasks?c={conversation}")).await);
        if log.contains("Let me think.") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        log.contains("Let me think."),
        "the whole reply is stored: {log}"
    );
    // The same message sent again (the form post the script falls back to) is answered
    // from what is stored: one reply, one model call.
    let r = b
        .post(
            "/chat",
            &[
                ("message", "what's up?"),
                ("conversation_id", ""),
                ("client_message_id", &client_id),
                ("back", ""),
            ],
        )
        .await;
    let page = b.follow(&r).await;
    assert_eq!(page.body.matches("class=\"msg assistant\"").count(), 1);
    assert_eq!(script.requests().len(), 1);
}

#[tokio::test]
async fn without_javascript_the_form_post_works_with_a_streaming_model() {
    let (llm, _script) = scripted_llm::serve(
        vec![streamed_answer_at_once(&["Hi ", "there."])],
        Duration::ZERO,
    )
    .await;
    let stack = Stack::start_with_llm(&llm).await;
    let mut b = stack.browser();
    b.sign_up("nojs@example.com").await;
    let r = b
        .post(
            "/chat",
            &[("message", "hello"), ("conversation_id", ""), ("back", "")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.follow(&r).await;
    assert!(chat_log(&page).contains("Hi there."), "{}", chat_log(&page));
    assert!(
        page.body.contains("action=\"/chat\""),
        "the form posts to /chat"
    );
}

#[tokio::test]
async fn errors_mid_stream_are_said_and_refusals_are_not_streamed() {
    let (llm, _script) = scripted_llm::serve(
        vec![Reply::Stream(vec![
            text_chunk("I'll "),
            Piece::Chunk(json!({"error": {"message": "overloaded"}})),
        ])],
        Duration::ZERO,
    )
    .await;
    let stack = Stack::start_with_llm(&llm).await;
    let mut b = stack.browser();
    b.sign_up("errors@example.com").await;
    let (_, mut events) = open(&b, "add milk", &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(events.expect("text").await, "I'll ");
    let error = events.expect("error").await;
    assert!(error.contains("stopped in the middle"), "{error}");
    assert!(events.expect("done").await.starts_with("/tasks?c="));

    // Refused before a turn starts: a status without a stream (the script then posts the
    // form, which explains it).
    let r = b
        .post_request("/chat/stream", &[("message", "  "), ("back", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_ne!(r.headers()["content-type"], "text/event-stream");
    let r = b
        .post_request(
            "/chat/stream",
            &[
                ("message", "hi"),
                ("conversation_id", &uuid::Uuid::new_v4().to_string()),
                ("back", ""),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an unknown conversation");
    let mut forged = b.post_request("/chat/stream", &[("message", "hi")]);
    forged = forged.body("message=hi&csrf=00");
    assert_eq!(
        forged.send().await.unwrap().status(),
        403,
        "CSRF is checked"
    );
    let signed_out = Browser::new(&stack.web);
    let r = signed_out
        .post_request("/chat/stream", &[("message", "hi")])
        .send()
        .await
        .unwrap();
    assert!(r.status() == 303 || r.status() == 403, "{}", r.status());
}
