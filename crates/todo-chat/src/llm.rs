//! The LLM engine: any OpenAI-compatible Chat Completions endpoint with tool calling (OpenAI,
//! Groq, Ollama, vLLM). todo-mcp's tool schemas become the function definitions; the engine
//! loops (model -> tools -> model) until the model answers in words, at most `max_rounds`
//! times, each request bounded by a timeout.
//!
//! Answers are requested as a stream (`"stream": true`, server-sent events of
//! `chat.completion.chunk`s): each piece of text goes to the turn's [`TurnEvents`] as it
//! arrives, tool calls are assembled from their fragments, and a stream that breaks off or
//! reports an error mid-way ends the turn with a clear error. A server that ignores
//! `stream` and answers one JSON body is read as before.

use crate::engine::{ChatEngine, ChatError, Engine, ToolRunner, Turn};
use crate::events::TurnEvents;
use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use std::time::Duration;
use todo_wire::Role;

#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1`, `http://ollama:11434/v1`
    pub base_url: String,
    pub model: String,
    /// From a Secret; optional for local servers such as Ollama.
    pub api_key: Option<String>,
    pub timeout: Duration,
    pub max_rounds: usize,
}

pub struct LlmEngine {
    http: reqwest::Client,
    config: LlmConfig,
}

impl LlmEngine {
    pub fn new(config: LlmConfig) -> Result<LlmEngine, ChatError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| {
                ChatError::new(
                    "LLM_UNAVAILABLE",
                    format!("cannot create the LLM client: {e}"),
                )
            })?;
        Ok(LlmEngine { http, config })
    }
}

/// The system prompt: the user's zone and local date-time, and the rules (the same ones the
/// built-in engine follows: never report what was not done, ask when unsure).
pub fn system_prompt(clock: &crate::clock::UserClock) -> String {
    let now = clock.local_now();
    let zone = clock.zone();
    let weekday = now.weekday();
    let offset = clock.rfc3339(clock.now());
    let offset = offset.get(19..).unwrap_or("Z");
    format!(
        "You are the assistant of a todo app. You manage the user's tasks only through the tools.\n\
         The user's time zone is {zone}. Their local date and time now is {weekday} {date} {hh:02}:{mm:02} (UTC offset {offset}).\n\
         Tasks have numbers (1, 2, 3...) shown by list_tasks: use them as task_id.\n\
         Rules:\n\
         - After changing anything, confirm exactly what you did, with the task number and title.\n\
         - When the user names a task by words instead of a number, call list_tasks first to find it.\n\
         - If several tasks match, do not guess: list the matches and ask which one.\n\
         - Resolve words like \"tomorrow\", \"friday\" or \"at 5pm\" on the user's local calendar. Send due dates as RFC 3339 with the user's offset: a time as that local time (e.g. {date}T17:00:00{offset}), a date alone as the start of that local day ({date}T00:00:00{offset}).\n\
         - Never say you did something unless a tool call did it and succeeded. When unsure what the user means, ask, offering the candidates. Confirm before completing a task the user only mentioned having done (\"I bought the milk\") and before changing several tasks at once; say how many.\n\
         - If nothing matches, say so briefly.\n\
         - If a tool returns an error, explain it briefly and say what the user can do.\n\
         - Be brief.",
        date = now.date(),
        hh = now.hour(),
        mm = now.minute(),
    )
}

impl ChatEngine for LlmEngine {
    fn engine(&self) -> Engine {
        Engine::Llm
    }

    fn respond<'a>(&'a self, turn: Turn<'a>) -> BoxFuture<'a, Result<String, ChatError>> {
        Box::pin(async move {
            let tools = turn.tools.mcp().tools(turn.tools.token()).await?;
            let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
            let functions: Vec<Value> = tools
                .iter()
                .map(|t| {
                    json!({"type": "function", "function": {
                        "name": t.name, "description": t.description.clone().unwrap_or_default(), "parameters": Value::Object((*t.input_schema).clone())
                    }})
                })
                .collect();
            let mut messages =
                vec![json!({"role": "system", "content": system_prompt(turn.clock)})];
            for m in turn.history {
                let role = match m.role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                    Role::Tool => continue,
                };
                messages.push(json!({"role": role, "content": m.content}));
            }
            messages.push(json!({"role": "user", "content": turn.message}));

            for _round in 0..self.config.max_rounds {
                let reply = service_kit::metrics::llm_call(
                    "llm",
                    self.complete(&messages, &functions, turn.tools.events()),
                )
                .await?;
                let message = reply["choices"][0]["message"].clone();
                let calls = message["tool_calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if calls.is_empty() {
                    let text = message["content"]
                        .as_str()
                        .map(str::trim)
                        .unwrap_or_default();
                    if text.is_empty() {
                        return Err(ChatError::new(
                            "LLM_BAD_RESPONSE",
                            "The assistant gave an empty answer. Please try again.",
                        ));
                    }
                    return Ok(text.to_owned());
                }
                messages.push(json!({"role": "assistant", "content": message["content"].clone(), "tool_calls": calls}));
                // Parallel tool calls run concurrently; answers go back in the model's order.
                let results = futures::future::join_all(
                    calls.iter().map(|call| run_call(call, &names, turn.tools)),
                )
                .await;
                for (call, result) in calls.iter().zip(results) {
                    let content = compact_result(&result?);
                    messages.push(json!({"role": "tool", "tool_call_id": call["id"].clone(), "content": content.to_string()}));
                }
            }
            Err(ChatError::new(
                "TOOL_ROUND_LIMIT",
                format!(
                    "I stopped after {} rounds of tool calls without finishing. The changes listed were made; please rephrase or split the request.",
                    self.config.max_rounds
                ),
            ))
        })
    }
}

/// A tool result as the model needs it: tasks cut to their number, title, state, due date,
/// priority and tags (no ids, timestamps or long descriptions), so each round of a turn costs
/// little and long lists do not crowd out the conversation.
pub fn compact_result(value: &Value) -> Value {
    fn task(t: &Value) -> Value {
        let mut out = serde_json::Map::new();
        for key in ["number", "title", "completed", "due_at", "priority", "tags"] {
            match t.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Array(a)) if a.is_empty() => {}
                Some(v) => {
                    out.insert(key.to_owned(), v.clone());
                }
            }
        }
        if let Some(d) = t["description"].as_str().filter(|d| !d.is_empty()) {
            let short: String = d.chars().take(80).collect();
            out.insert("description".to_owned(), Value::String(short));
        }
        Value::Object(out)
    }
    let mut out = value.clone();
    if let Some(obj) = out.as_object_mut() {
        if let Some(Value::Array(tasks)) = obj.get_mut("tasks") {
            *tasks = tasks.iter().map(task).collect();
        }
        if let Some(t) = obj.get_mut("task").filter(|t| t.is_object()) {
            *t = task(t);
        }
    }
    out
}

impl LlmEngine {
    /// One round: the model's message (`choices[0].message`, with `usage` when reported),
    /// its text streamed to `events` as it comes.
    async fn complete(
        &self,
        messages: &[Value],
        functions: &[Value],
        events: &TurnEvents,
    ) -> Result<Value, ChatError> {
        let url = format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        );
        let mut request = self.http.post(url).json(&json!({
            "model": self.config.model,
            "messages": messages,
            "tools": functions,
            "tool_choice": "auto",
            "parallel_tool_calls": true,
            "stream": true,
            // The token counts come in a last chunk (for the LLM metrics).
            "stream_options": {"include_usage": true},
        }));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                timed_out()
            } else {
                tracing::warn!(error = %e, "LLM request failed");
                ChatError::new(
                    "LLM_UNAVAILABLE",
                    "The assistant is unavailable right now. Please try again in a moment.",
                )
            }
        })?;
        let status = response.status();
        let streamed = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if status.is_success() && streamed {
            return read_stream(response, events).await;
        }
        let body: Value = response.json().await.map_err(|e| {
            if e.is_timeout() {
                timed_out()
            } else {
                ChatError::new(
                    "LLM_BAD_RESPONSE",
                    "The assistant sent an answer I could not read.",
                )
            }
        })?;
        if !status.is_success() {
            tracing::warn!(status = status.as_u16(), error = %body["error"]["message"], "LLM endpoint refused the request");
            let message = match status.as_u16() {
                401 | 403 => {
                    "The assistant's API key was refused; ask the operator to check LLM_API_KEY."
                }
                429 => "The assistant is rate limited right now. Please try again shortly.",
                _ => "The assistant is unavailable right now. Please try again in a moment.",
            };
            return Err(ChatError::new("LLM_UNAVAILABLE", message));
        }
        if !body["choices"][0]["message"].is_object() {
            return Err(ChatError::new(
                "LLM_BAD_RESPONSE",
                "The assistant sent an answer I could not read.",
            ));
        }
        Ok(body)
    }
}

fn timed_out() -> ChatError {
    ChatError::new(
        "LLM_TIMEOUT",
        "The assistant took too long to answer. Nothing more was changed; please try again.",
    )
}

/// A stream that stopped before its end, or said it failed.
fn interrupted() -> ChatError {
    ChatError::new(
        "LLM_INTERRUPTED",
        "The assistant stopped in the middle of its answer. Anything listed under tool calls was done; please try again.",
    )
}

/// Reads a streamed answer (server-sent events, one `chat.completion.chunk` per `data:`
/// line, `data: [DONE]` at the end) into the shape of a non-streamed one, sending each
/// piece of text to `events` as it arrives.
async fn read_stream(
    mut response: reqwest::Response,
    events: &TurnEvents,
) -> Result<Value, ChatError> {
    let mut answer = StreamedAnswer::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut data = String::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                timed_out()
            } else {
                tracing::warn!(error = %e, "the LLM stream broke off");
                interrupted()
            }
        })?;
        let Some(chunk) = chunk else { break };
        pending.extend_from_slice(&chunk);
        // Whole lines only: a piece of UTF-8 or JSON may be split across chunks.
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                // The end of an event: its data lines, joined, are one chunk.
                if !data.is_empty() && answer.take(&std::mem::take(&mut data), events)? {
                    return Ok(answer.into_message());
                }
            } else if let Some(value) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
            // Comments (`: keep-alive`), `event:`, `id:` and `retry:` lines carry nothing here.
        }
    }
    if !data.is_empty() && answer.take(&data, events)? {
        return Ok(answer.into_message());
    }
    // No `[DONE]`: a stream that said how it finished is whole; one that did not was cut.
    if answer.finished {
        Ok(answer.into_message())
    } else {
        Err(interrupted())
    }
}

/// A streamed answer so far.
#[derive(Default)]
struct StreamedAnswer {
    content: String,
    /// Tool calls by their `index`, assembled from fragments.
    calls: Vec<(Value, String, String)>,
    usage: Value,
    finished: bool,
}

impl StreamedAnswer {
    /// Takes one event's data; `true` at `[DONE]`.
    fn take(&mut self, data: &str, events: &TurnEvents) -> Result<bool, ChatError> {
        if data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|_| {
            ChatError::new(
                "LLM_BAD_RESPONSE",
                "The assistant sent an answer I could not read.",
            )
        })?;
        if let Some(error) = chunk.get("error") {
            tracing::warn!(error = %error, "the LLM reported an error mid-stream");
            return Err(interrupted());
        }
        if chunk["usage"].is_object() {
            self.usage = chunk["usage"].clone();
        }
        let choice = &chunk["choices"][0];
        if let Some(text) = choice["delta"]["content"].as_str() {
            self.content.push_str(text);
            events.delta(text);
        }
        if let Some(fragments) = choice["delta"]["tool_calls"].as_array() {
            for (n, fragment) in fragments.iter().enumerate() {
                let index = fragment["index"]
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .unwrap_or(n);
                // An index far past the calls so far is not a real call: refuse the answer
                // rather than allocate for it.
                if index > self.calls.len() + 64 {
                    return Err(ChatError::new(
                        "LLM_BAD_RESPONSE",
                        "The assistant sent an answer I could not read.",
                    ));
                }
                while self.calls.len() <= index {
                    self.calls.push((Value::Null, String::new(), String::new()));
                }
                let call = &mut self.calls[index];
                if !fragment["id"].is_null() {
                    call.0 = fragment["id"].clone();
                }
                if let Some(name) = fragment["function"]["name"].as_str() {
                    call.1.push_str(name);
                }
                if let Some(arguments) = fragment["function"]["arguments"].as_str() {
                    call.2.push_str(arguments);
                }
            }
        }
        if !choice["finish_reason"].is_null() {
            self.finished = true;
        }
        Ok(false)
    }

    /// As a non-streamed answer: `choices[0].message` and `usage`.
    fn into_message(self) -> Value {
        // No text is `null`, as in a non-streamed answer with only tool calls.
        let content = Some(self.content).filter(|c| !c.is_empty());
        let mut message = json!({"role": "assistant", "content": content});
        if !self.calls.is_empty() {
            message["tool_calls"] = self
                .calls
                .into_iter()
                .map(|(id, name, arguments)| {
                    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
                })
                .collect();
        }
        json!({"choices": [{"message": message}], "usage": self.usage})
    }
}

/// Runs one tool call from the model; problems the model can fix go back to it as results.
async fn run_call(
    call: &Value,
    names: &[String],
    tools: &ToolRunner<'_>,
) -> Result<Value, ChatError> {
    let name = call["function"]["name"].as_str().unwrap_or_default();
    let raw = call["function"]["arguments"].as_str().unwrap_or("{}");
    if !names.iter().any(|n| n == name) {
        let result = json!({"error": {"code": "UNKNOWN_TOOL", "message": format!("there is no tool {name:?}; use one of {}", names.join(", "))}});
        tools.record_refused(name, Value::String(raw.to_owned()), result.clone());
        return Ok(result);
    }
    let arguments: Map<String, Value> = match serde_json::from_str::<Value>(
        if raw.trim().is_empty() { "{}" } else { raw },
    ) {
        Ok(Value::Object(m)) => m,
        _ => {
            let result = json!({"error": {"code": "INVALID_ARGUMENTS", "message": "the arguments were not a JSON object; send them again as valid JSON"}});
            tools.record_refused(name, Value::String(raw.to_owned()), result.clone());
            return Ok(result);
        }
    };
    Ok(tools.call(name, arguments).await?.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::UserClock;
    use time::macros::datetime;

    #[test]
    fn the_prompt_names_the_zone_the_local_time_and_the_rules() {
        let clock =
            UserClock::new("Asia/Kolkata", datetime!(2026-11-24 18:45 UTC)).expect("a zone");
        let prompt = system_prompt(&clock);
        assert!(prompt.contains("time zone is Asia/Kolkata"), "{prompt}");
        assert!(
            prompt.contains("Wednesday 2026-11-25 00:15 (UTC offset +05:30)"),
            "{prompt}"
        );
        assert!(prompt.contains("2026-11-25T17:00:00+05:30"), "{prompt}");
        assert!(prompt.contains("Never say you did something unless a tool call did it"));
        assert!(prompt.contains("Confirm before completing a task the user only mentioned"));
    }

    #[test]
    fn tool_results_are_compact() {
        let full = json!({"tasks": [{"id": "0b5d", "number": 3, "title": "buy milk", "completed": false,
            "description": "x".repeat(500), "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z",
            "due_at": null, "priority": "medium", "tags": []}], "total": 1, "next_cursor": null});
        let small = compact_result(&full);
        assert_eq!(small["tasks"][0]["number"], 3);
        assert_eq!(small["tasks"][0]["title"], "buy milk");
        assert!(
            small["tasks"][0].get("id").is_none() && small["tasks"][0].get("created_at").is_none()
        );
        assert_eq!(
            small["tasks"][0]["description"].as_str().map(str::len),
            Some(80)
        );
        assert_eq!(small["total"], 1);
        assert!(small.to_string().len() < full.to_string().len() / 3);
        let one =
            compact_result(&json!({"task": {"id": "x", "number": 1, "title": "t", "tags": ["a"]}}));
        assert_eq!(
            one,
            json!({"task": {"number": 1, "title": "t", "tags": ["a"]}})
        );
    }
}
