//! A scripted OpenAI-compatible `/v1/chat/completions` server on loopback (real HTTP): the
//! n-th request gets the n-th reply (the last one repeats), and every request is recorded.
//! A reply is one JSON body, or a stream of server-sent events written piece by piece, with
//! gates where it waits until the test lets it go on (so a test can see text arrive before
//! the answer is finished without timing anything).
//!
//! The one fake LLM of the workspace's tests: todo-chat's tests use it as `mod`, todo-api's
//! and todo-web's through `#[path = ".../todo-chat/tests/support/scripted_llm.rs"]`.
#![allow(dead_code, clippy::unwrap_used)]

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Each request the scripted server got: its JSON body and its Authorization header.
pub type Recorded = Arc<Mutex<Vec<(Value, Option<String>)>>>;

#[derive(Clone, Debug)]
pub enum Reply {
    /// One JSON body, as a server that does not stream answers.
    Json(Value),
    /// `text/event-stream`, written piece by piece.
    Stream(Vec<Piece>),
}

#[derive(Clone, Debug)]
pub enum Piece {
    /// One event: `data: <chunk>`.
    Chunk(Value),
    /// Bytes as they are (`data: [DONE]`, or something broken).
    Raw(String),
    /// Waits for [`Script::open`] before writing on.
    Gate,
}

/// Answers the n-th request with `replies[n]` (the last one repeats) and records requests.
#[derive(Clone)]
pub struct Script {
    pub replies: Arc<Vec<Reply>>,
    pub requests: Recorded,
    pub delay: Duration,
    gate: Arc<Semaphore>,
}

impl Script {
    pub fn requests(&self) -> Vec<(Value, Option<String>)> {
        self.requests.lock().unwrap().clone()
    }

    /// Lets one waiting [`Piece::Gate`] (now or later) go on.
    pub fn open(&self) {
        self.gate.add_permits(1);
    }
}

/// Serves `replies` on a random loopback port; the base URL ends in `/v1`.
pub async fn serve(replies: Vec<Reply>, delay: Duration) -> (String, Script) {
    let script = Script {
        replies: Arc::new(replies),
        requests: Arc::default(),
        delay,
        gate: Arc::new(Semaphore::new(0)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(script.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, script)
}

async fn completions(
    State(script): State<Script>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let n = {
        let mut requests = script.requests.lock().unwrap();
        requests.push((
            body.0.clone(),
            headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned()),
        ));
        requests.len() - 1
    };
    tokio::time::sleep(script.delay).await;
    let reply = script
        .replies
        .get(n)
        .or(script.replies.last())
        .cloned()
        .unwrap();
    match reply {
        Reply::Json(v) => axum::Json(v).into_response(),
        Reply::Stream(pieces) => {
            let (tx, rx) = mpsc::channel::<String>(1);
            let gate = script.gate.clone();
            tokio::spawn(async move {
                for piece in pieces {
                    let bytes = match piece {
                        Piece::Chunk(v) => format!("data: {v}\n\n"),
                        Piece::Raw(s) => s,
                        Piece::Gate => {
                            gate.acquire().await.unwrap().forget();
                            continue;
                        }
                    };
                    if tx.send(bytes).await.is_err() {
                        return;
                    }
                }
            });
            let body = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|s| (Ok::<_, std::convert::Infallible>(s), rx))
            });
            (
                [(header::CONTENT_TYPE, "text/event-stream")],
                axum::body::Body::from_stream(body),
            )
                .into_response()
        }
    }
}

/// A non-streamed answer that calls tools: `(id, name, arguments)`.
pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
    let calls: Vec<Value> = calls.iter().map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})).collect();
    Reply::Json(
        json!({"choices": [{"message": {"role": "assistant", "content": null, "tool_calls": calls}, "finish_reason": "tool_calls"}]}),
    )
}

/// A non-streamed answer in words.
pub fn answer(text: &str) -> Reply {
    Reply::Json(
        json!({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}),
    )
}

/// A chunk carrying a piece of text.
pub fn text_chunk(text: &str) -> Piece {
    Piece::Chunk(
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}),
    )
}

/// The end of a stream as OpenAI writes it: the finish reason, the usage, `[DONE]`.
pub fn stream_end(finish_reason: &str) -> Vec<Piece> {
    vec![
        Piece::Chunk(
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish_reason}]}),
        ),
        Piece::Chunk(
            json!({"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 5}}),
        ),
        Piece::Raw("data: [DONE]\n\n".into()),
    ]
}

/// A streamed answer in words, `pieces` one chunk each, with a gate before the last piece.
pub fn streamed_answer(pieces: &[&str]) -> Reply {
    let mut out: Vec<Piece> = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if i + 1 == pieces.len() && pieces.len() > 1 {
            out.push(Piece::Gate);
        }
        out.push(text_chunk(p));
    }
    out.extend(stream_end("stop"));
    Reply::Stream(out)
}

/// A streamed answer in words without gates.
pub fn streamed_answer_at_once(pieces: &[&str]) -> Reply {
    let mut out: Vec<Piece> = pieces.iter().map(|p| text_chunk(p)).collect();
    out.extend(stream_end("stop"));
    Reply::Stream(out)
}

/// Streamed tool calls `(id, name, arguments)`, each call's arguments split in two
/// fragments as real servers send them.
pub fn streamed_tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
    let mut out = Vec::new();
    for (index, (id, name, args)) in calls.iter().enumerate() {
        let (a, b) = args.split_at(args.len() / 2);
        out.push(Piece::Chunk(json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {
            "tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": a}}]
        }, "finish_reason": null}]})));
        out.push(Piece::Chunk(
            json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {
            "tool_calls": [{"index": index, "function": {"arguments": b}}]
        }, "finish_reason": null}]}),
        ));
    }
    out.extend(stream_end("tool_calls"));
    Reply::Stream(out)
}
