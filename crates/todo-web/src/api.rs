//! The HTTP client for todo-api: one `reqwest::Client` per process (connection pool, timeouts),
//! typed calls, and failures sorted into what a page can show: the API is unavailable, the
//! session is no longer valid, or the API refused the input (with the field it concerns).
//!
//! Access tokens are short-lived; the browser's refresh token renews them without the user
//! noticing. The session layer runs each request inside a [`RefreshScope`] holding the
//! refresh cookie: an authenticated call made with an expired access token, or answered 401,
//! first trades the refresh token for a new pair (once per request) and then goes out with
//! the new access token; the session layer puts the new pair into the response's cookies.
//! Handlers just pass the token they have.

use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Why a call to the API did not give the answer the page wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// Not reachable, timed out, answered 5xx or with something that is not the API's JSON.
    Unavailable(String),
    /// 401: the token is missing, expired or invalid (the user must sign in again).
    Unauthorized(String),
    /// A 4xx with the API's error shape: shown to the user, next to `field` when there is one.
    Rejected(Rejection),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFailure::Unavailable(why) => write!(f, "todo-api unavailable: {why}"),
            ApiFailure::Unauthorized(why) => write!(f, "not signed in: {why}"),
            ApiFailure::Rejected(r) => write!(f, "{} {}: {}", r.status, r.code, r.message),
        }
    }
}

pub use todo_wire::{
    ChatRequest, ChatTurn, Conversation, ConversationDetail, ConversationList, CreateTask,
    ErrorBody, ListQuery, LoginRequest, Me, Message, Priority, RegisterRequest, Role, Session,
    Task, TaskPage, ToolCall, UpdateMe, UpdateTask, User,
};

use todo_wire::chat::ChatStreamEvent;

/// The API's routes (one place, so a moved route is one change).
pub mod routes {
    pub const LIVEZ: &str = "/livez";
    pub const REGISTER: &str = "/api/auth/register";
    pub const LOGIN: &str = "/api/auth/login";
    pub const REFRESH: &str = "/api/auth/refresh";
    pub const LOGOUT: &str = "/api/auth/logout";
    pub const ME: &str = "/api/auth/me";
    pub const TASKS: &str = "/api/tasks";
    pub const CHAT: &str = "/api/chat";
    pub const CHAT_STREAM: &str = "/api/chat/stream";
    pub const CONVERSATIONS: &str = "/api/conversations";
}

/// The tool calls of a stored assistant message (stored as JSON; unreadable entries are left
/// out rather than failing the page).
pub fn message_tool_calls(m: &Message) -> Vec<ToolCall> {
    match &m.tool_calls {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// How long todo-web waits for one chat turn (`API_CHAT_TIMEOUT_SECONDS`): longer than
/// todo-api's whole-turn budget (`CHAT_TURN_TIMEOUT_SECONDS`, 45 s), so the API always
/// answers first, with its own stored error reply when the tools or the model hang.
pub const DEFAULT_CHAT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a chat message got no answer the page can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatFailure {
    /// The API answered, or could not be reached at all (then the message was not sent).
    Api(ApiFailure),
    /// The message went out but no answer came back in time (or the connection broke): the
    /// API may have stored it and may still be answering.
    NoAnswer(String),
}

pub use crate::session::refresh::{RefreshScope, Refreshed};
use crate::session::refresh::{SCOPE, ScopeState};

/// The API client. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    chat_timeout: Duration,
    recent: Arc<RecentRefreshes>,
}

/// Refreshes this process made in the last [`RECENT_REFRESH`], by the SHA-256 of the cookies
/// they came with (refresh and access token). A refresh token works once, and using it twice
/// signs the session out; but one browser may send two requests at once with the same
/// (expired) cookies. The second waits for the first's refresh and gets its answer instead of
/// presenting the token again. Only the very same pair of cookies, within seconds, shares
/// an answer: an old refresh token with any other access token is presented to the API, which
/// treats it as reuse.
#[derive(Default)]
struct RecentRefreshes {
    entries: std::sync::Mutex<HashMap<String, Slot>>,
}

/// One refresh's answer and when it came, or `None` while it is being asked for (the lock is
/// held meanwhile, so a second request waits for it).
type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Session)>>>;

/// How long a refresh answer is shared with requests that carried the same refresh token.
const RECENT_REFRESH: Duration = Duration::from_secs(10);

impl Api {
    /// `timeout` bounds each whole call; connecting gets at most 2 s of it, so a dead API is
    /// reported quickly.
    pub fn new(base: &str, timeout: Duration) -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("todo-web/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_owned(),
            chat_timeout: DEFAULT_CHAT_TIMEOUT.max(timeout),
            recent: Arc::default(),
        })
    }

    /// [`Api::refresh`], shared by concurrent requests of one browser (see [`RecentRefreshes`]).
    async fn refresh_once(
        &self,
        refresh_token: &str,
        access_token: &str,
    ) -> Result<Session, ApiFailure> {
        use sha2::Digest as _;
        let mut digest = sha2::Sha256::new();
        digest.update(refresh_token.as_bytes());
        digest.update(b"\0");
        digest.update(access_token.as_bytes());
        let key = hex::encode(digest.finalize());
        let slot = {
            let mut entries = self
                .recent
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Forget old answers (an entry in use is locked and kept).
            entries.retain(|_, slot| {
                slot.try_lock()
                    .map(|s| {
                        s.as_ref()
                            .is_some_and(|(at, _)| at.elapsed() < RECENT_REFRESH)
                    })
                    .unwrap_or(true)
            });
            entries.entry(key).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if let Some((at, session)) = slot.as_ref()
            && at.elapsed() < RECENT_REFRESH
        {
            return Ok(session.clone());
        }
        let session = self.refresh(refresh_token).await?;
        *slot = Some((Instant::now(), session.clone()));
        Ok(session)
    }

    /// Bounds chat turns separately: they run tools and maybe a language model.
    pub fn with_chat_timeout(mut self, timeout: Duration) -> Api {
        self.chat_timeout = timeout;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `/livez` of the API, for this service's readiness.
    pub async fn livez(&self, timeout: Duration) -> Result<(), String> {
        let r = self
            .client
            .get(self.url(routes::LIVEZ))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(format!("{}/livez answered {}", self.base, r.status()))
        }
    }

    pub async fn register(&self, body: &RegisterRequest) -> Result<Session, ApiFailure> {
        self.register_from(body, None).await
    }

    /// Registers on behalf of the browser at `client_ip`: the API limits registrations per
    /// client address, and without it every sign-up through this server would share one.
    pub async fn register_from(
        &self,
        body: &RegisterRequest,
        client_ip: Option<&str>,
    ) -> Result<Session, ApiFailure> {
        let mut req = self.client.post(self.url(routes::REGISTER)).json(body);
        if let Some(ip) = client_ip {
            req = req.header("x-forwarded-for", ip);
        }
        self.send(req).await
    }

    pub async fn login(
        &self,
        body: &LoginRequest,
        client_ip: Option<&str>,
    ) -> Result<Session, ApiFailure> {
        let mut req = self.client.post(self.url(routes::LOGIN)).json(body);
        // The API rate-limits logins per client; tell it who the client is. It believes this
        // header only because todo-web's pods are in its TRUSTED_PROXIES; the value is the
        // address todo-web resolved with its own TRUSTED_PROXIES, not what the browser sent.
        if let Some(ip) = client_ip {
            req = req.header("x-forwarded-for", ip);
        }
        self.send(req).await
    }

    /// The signed-in user (`GET /api/auth/me`): the name and time zone pages show.
    pub async fn me(&self, token: &str) -> Result<Me, ApiFailure> {
        self.send_authed(token, |t| {
            self.client.get(self.url(routes::ME)).bearer_auth(t)
        })
        .await
    }

    /// Changes the account's settings (`PATCH /api/auth/me`); answers the updated user.
    pub async fn update_me(&self, token: &str, body: &UpdateMe) -> Result<Me, ApiFailure> {
        self.send_authed(token, |t| {
            self.client
                .patch(self.url(routes::ME))
                .bearer_auth(t)
                .json(body)
        })
        .await
    }

    pub async fn list_tasks(&self, token: &str, query: &ListQuery) -> Result<TaskPage, ApiFailure> {
        let query = list_query_string(query)?;
        self.send_authed(token, |t| {
            self.client
                .get(self.url(&format!("{}?{query}", routes::TASKS)))
                .bearer_auth(t)
        })
        .await
    }

    pub async fn get_task(&self, token: &str, id: &str) -> Result<Task, ApiFailure> {
        self.send_authed(token, |t| {
            self.client.get(self.task_url(id, "")).bearer_auth(t)
        })
        .await
    }

    pub async fn create_task(&self, token: &str, body: &CreateTask) -> Result<Task, ApiFailure> {
        self.send_authed(token, |t| {
            self.client
                .post(self.url(routes::TASKS))
                .bearer_auth(t)
                .json(body)
        })
        .await
    }

    pub async fn update_task(
        &self,
        token: &str,
        id: &str,
        body: &UpdateTask,
    ) -> Result<Task, ApiFailure> {
        self.send_authed(token, |t| {
            self.client
                .patch(self.task_url(id, ""))
                .bearer_auth(t)
                .json(body)
        })
        .await
    }

    pub async fn set_completed(
        &self,
        token: &str,
        id: &str,
        done: bool,
    ) -> Result<Task, ApiFailure> {
        let action = if done { "/complete" } else { "/reopen" };
        self.send_authed(token, |t| {
            self.client.post(self.task_url(id, action)).bearer_auth(t)
        })
        .await
    }

    pub async fn delete_task(&self, token: &str, id: &str) -> Result<(), ApiFailure> {
        let response = self
            .authed(token, |t| {
                self.client.delete(self.task_url(id, "")).bearer_auth(t)
            })
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(failure(response).await)
    }

    /// One chat turn, named by `client_message_id` so that sending it again (a retry, a
    /// resubmitted form) gets the stored answer instead of a second turn.
    pub async fn chat(
        &self,
        token: &str,
        conversation_id: Option<Uuid>,
        message: &str,
        client_message_id: Uuid,
    ) -> Result<ChatTurn, ChatFailure> {
        let body = todo_wire::chat::ChatTurnRequest {
            conversation_id,
            message: message.to_owned(),
            client_message_id: Some(client_message_id),
        };
        // A retry after a refresh is safe: a 401 means the turn did not run, and the
        // client_message_id would find it if it had.
        let response = self
            .authed(token, |t| {
                self.client
                    .post(self.url(routes::CHAT))
                    .bearer_auth(t)
                    .timeout(self.chat_timeout)
                    .json(&body)
            })
            .await;
        let response = match response {
            Ok(r) => r,
            // Never connected: the message certainly did not arrive.
            Err(e) if e.is_connect() => {
                return Err(ChatFailure::Api(ApiFailure::Unavailable(describe(&e))));
            }
            Err(e) => return Err(ChatFailure::NoAnswer(describe(&e))),
        };
        if !response.status().is_success() {
            return Err(ChatFailure::Api(failure(response).await));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ChatFailure::NoAnswer(describe(&e)))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::error!(error = %e, "todo-api answered JSON this client does not understand");
            ChatFailure::Api(ApiFailure::Unavailable(format!(
                "unexpected answer from todo-api: {e}"
            )))
        })
    }

    /// [`Api::chat`], answered as the API's event stream (`POST /api/chat/stream`): the
    /// reply's pieces as they are written. Refusals before the turn starts are failures as
    /// in [`Api::chat`].
    pub async fn chat_stream(
        &self,
        token: &str,
        conversation_id: Option<Uuid>,
        message: &str,
        client_message_id: Uuid,
    ) -> Result<ChatEvents, ChatFailure> {
        let body = todo_wire::chat::ChatTurnRequest {
            conversation_id,
            message: message.to_owned(),
            client_message_id: Some(client_message_id),
        };
        let response = self
            .authed(token, |t| {
                self.client
                    .post(self.url(routes::CHAT_STREAM))
                    .bearer_auth(t)
                    .header(reqwest::header::ACCEPT, "text/event-stream")
                    .timeout(self.chat_timeout)
                    .json(&body)
            })
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return Err(ChatFailure::Api(ApiFailure::Unavailable(describe(&e))));
            }
            Err(e) => return Err(ChatFailure::NoAnswer(describe(&e))),
        };
        if !response.status().is_success() {
            return Err(ChatFailure::Api(failure(response).await));
        }
        Ok(ChatEvents {
            response,
            pending: Vec::new(),
        })
    }

    pub async fn conversations(&self, token: &str) -> Result<Vec<Conversation>, ApiFailure> {
        let list: ConversationList = self
            .send_authed(token, |t| {
                self.client
                    .get(self.url(routes::CONVERSATIONS))
                    .bearer_auth(t)
            })
            .await?;
        Ok(list.items)
    }

    pub async fn conversation(
        &self,
        token: &str,
        id: Uuid,
    ) -> Result<ConversationDetail, ApiFailure> {
        self.send_authed(token, |t| {
            self.client
                .get(self.url(&format!("{}/{id}", routes::CONVERSATIONS)))
                .bearer_auth(t)
        })
        .await
    }

    /// Trades a refresh token for a new session (`POST /api/auth/refresh`).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session, ApiFailure> {
        let body = todo_wire::user::RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.send(self.client.post(self.url(routes::REFRESH)).json(&body))
            .await
    }

    /// Signs the token's session out (`POST /api/auth/logout`): the API refuses the access
    /// token from now on and its refresh tokens die with it.
    pub async fn logout(&self, token: &str) -> Result<(), ApiFailure> {
        let response = self
            .authed(token, |t| {
                self.client.post(self.url(routes::LOGOUT)).bearer_auth(t)
            })
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(failure(response).await)
    }

    /// The access token to send: a refreshed one when this request already refreshed, or
    /// refreshes first when the session layer found the access token expired.
    async fn current_token(&self, token: &str) -> String {
        let Ok(scope) = SCOPE.try_with(Clone::clone) else {
            return token.to_owned();
        };
        let mut state = scope.inner.lock().await;
        if let Refreshed::To(s) = &state.outcome {
            return s.token.clone();
        }
        if state.stale {
            state.stale = false;
            if let Some(new) = self.refresh_in(&mut state, token).await {
                return new;
            }
        }
        token.to_owned()
    }

    /// Refreshes in the request's scope, once: the new access token, or `None`. `presented`
    /// is the access token the browser sent.
    async fn refresh_in(&self, state: &mut ScopeState, presented: &str) -> Option<String> {
        if state.outcome != Refreshed::No {
            return None;
        }
        let refresh_token = state.refresh_token.take()?;
        match self.refresh_once(&refresh_token, presented).await {
            Ok(session) => {
                let token = session.token.clone();
                state.outcome = Refreshed::To(Box::new(session));
                Some(token)
            }
            Err(ApiFailure::Unauthorized(why)) => {
                tracing::info!(reason = %why, "refresh token refused: the browser must sign in again");
                state.outcome = Refreshed::Refused;
                None
            }
            Err(other) => {
                // Not the token's fault: keep it for the next request.
                tracing::warn!(error = %other, "refreshing the session failed");
                state.refresh_token = Some(refresh_token);
                None
            }
        }
    }

    /// Sends the request `build` makes for a bearer token; on 401, refreshes (once per
    /// browser request) and sends it again with the new token.
    async fn authed(
        &self,
        token: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let token = self.current_token(token).await;
        let trace = service_kit::trace::headers;
        let response = build(&token).headers(trace()).send().await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Ok(scope) = SCOPE.try_with(Clone::clone) else {
            return Ok(response);
        };
        let retry = {
            let mut state = scope.inner.lock().await;
            match &state.outcome {
                // Refreshed by another call of this request after ours went out.
                Refreshed::To(s) if s.token != token => Some(s.token.clone()),
                _ => self.refresh_in(&mut state, &token).await,
            }
        };
        match retry {
            Some(new) => build(&new).headers(trace()).send().await,
            None => Ok(response),
        }
    }

    async fn send_authed<T: DeserializeOwned>(
        &self,
        token: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<T, ApiFailure> {
        let response = self
            .authed(token, build)
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        Self::read(response).await
    }

    fn task_url(&self, id: &str, action: &str) -> String {
        self.url(&format!("{}/{}{action}", routes::TASKS, path_segment(id)))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiFailure> {
        let response = request
            .headers(service_kit::trace::headers())
            .send()
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        Self::read(response).await
    }

    async fn read<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ApiFailure> {
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            tracing::error!(error = %e, "todo-api answered JSON this client does not understand");
            ApiFailure::Unavailable(format!("unexpected answer from todo-api: {e}"))
        })
    }
}

/// One event of the API's chat stream (see todo-api's `POST /api/chat/stream`).
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The message is stored; the turn runs in this conversation.
    Start(Uuid),
    /// The next piece of the reply.
    Delta(String),
    Tool(ToolCall),
    Error(todo_wire::ChatError),
    /// The stored turn: the last event.
    Done(Box<ChatTurn>),
}

/// The API's chat stream, read event by event.
pub struct ChatEvents {
    response: reqwest::Response,
    pending: Vec<u8>,
}

impl ChatEvents {
    /// The next event; `Ok(None)` at the end, `Err` when the stream broke off or sent
    /// something this client cannot read.
    pub async fn next(&mut self) -> Result<Option<ChatEvent>, String> {
        loop {
            if let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.pending.drain(..end + 2).collect();
                if let Some(event) = parse_event(&String::from_utf8_lossy(&block))? {
                    return Ok(Some(event));
                }
                continue;
            }
            match self.response.chunk().await {
                Ok(Some(bytes)) => self.pending.extend_from_slice(&bytes),
                Ok(None) => return Ok(None),
                Err(e) => return Err(describe(&e)),
            }
        }
    }
}

/// One server-sent event of the chat stream; `None` for keep-alives and unknown events.
fn parse_event(block: &str) -> Result<Option<ChatEvent>, String> {
    let (mut name, mut data) = ("", String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    let event = ChatStreamEvent::parse(name, &data)
        .map_err(|e| format!("unexpected `{name}` event from todo-api: {e}"))?;
    Ok(event.map(|event| match event {
        ChatStreamEvent::Start(start) => ChatEvent::Start(start.conversation_id),
        ChatStreamEvent::Delta(delta) => ChatEvent::Delta(delta.text),
        ChatStreamEvent::Tool(call) => ChatEvent::Tool(call),
        ChatStreamEvent::Error(error) => ChatEvent::Error(error),
        ChatStreamEvent::Done(turn) => ChatEvent::Done(turn),
    }))
}

/// Sorts a non-2xx answer.
async fn failure(response: reqwest::Response) -> ApiFailure {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
    // The wire type keeps the request id too; the page only needs code, message and field.
    match (status, parsed) {
        (401, p) => {
            ApiFailure::Unauthorized(p.map(|b| b.error.message).unwrap_or_else(|| "401".into()))
        }
        (400..=499, Some(b)) => ApiFailure::Rejected(Rejection {
            status,
            code: b.error.code,
            message: b.error.message,
            field: b.error.field,
        }),
        (_, p) => {
            let why = p
                .map(|b| format!("{status} {}: {}", b.error.code, b.error.message))
                .unwrap_or_else(|| format!("answered {status}"));
            tracing::warn!(status, error = %why, "todo-api call failed");
            ApiFailure::Unavailable(why)
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "todo-api did not answer in time".into()
    } else if e.is_connect() {
        "cannot connect to todo-api".into()
    } else {
        format!("request to todo-api failed: {e}")
    }
}

/// The list query as the API reads it (serde_urlencoded of the wire type: a renamed
/// parameter is a compile error here, not a silently ignored filter).
pub fn list_query_string(query: &ListQuery) -> Result<String, ApiFailure> {
    serde_urlencoded::to_string(query)
        .map_err(|e| ApiFailure::Unavailable(format!("cannot encode the list query: {e}")))
}

/// Task ids and conversation ids go into URL paths: only UUID/number characters pass.
fn path_segment(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_encode_as_the_api_reads_them() {
        let q = ListQuery {
            status: Some(todo_wire::StatusFilter::Pending),
            priority: Some(Priority::High),
            q: Some("milk & eggs".into()),
            sort: Some(todo_wire::SortKey::DueAt),
            order: Some(todo_wire::Order::Asc),
            limit: Some(50),
            offset: Some(0),
            ..ListQuery::default()
        };
        assert_eq!(
            list_query_string(&q).ok().as_deref(),
            Some(
                "status=pending&priority=high&q=milk+%26+eggs&sort=due_at&order=asc&limit=50&offset=0"
            )
        );
        assert_eq!(
            list_query_string(&ListQuery::default()).ok().as_deref(),
            Some("")
        );
    }

    #[test]
    fn chat_stream_events_are_read() {
        assert_eq!(
            parse_event("event: delta\ndata: {\"text\":\"Hel\"}\n\n"),
            Ok(Some(ChatEvent::Delta("Hel".into())))
        );
        assert_eq!(parse_event(": keep-alive\n\n"), Ok(None));
        assert_eq!(parse_event("event: later\ndata: 1\n\n"), Ok(None));
        assert!(parse_event("event: delta\ndata: {\n\n").is_err());
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("../../admin?x=1"), "adminx1");
        assert_eq!(
            path_segment("6f1e0d1c-1a2b-4c3d-8e9f-000000000000"),
            "6f1e0d1c-1a2b-4c3d-8e9f-000000000000"
        );
    }
}
