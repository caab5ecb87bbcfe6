//! The HTTP client for todo-api: one `reqwest::Client` per process (connection pool, timeouts),
//! typed calls, and failures sorted into what a page can show: the API is unavailable, the
//! session is no longer valid, or the API refused the input (with the field it concerns).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;

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

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    code: String,
    message: String,
    #[serde(default)]
    field: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// What register and login answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub user: User,
    pub token: String,
    pub expires_in: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Task {
    pub id: String,
    pub number: i64,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    pub completed: bool,
    pub priority: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
    pub limit: u32,
    #[serde(default)]
    pub offset: Option<u32>,
    #[serde(default)]
    pub has_more: bool,
}

/// The body of `POST /api/tasks` and `PATCH /api/tasks/{id}`: `None` fields are sent as
/// JSON null (PATCH clears them); `skip_absent` leaves them out (POST).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskInput {
    pub title: String,
    pub description: Option<String>,
    pub priority: String,
    pub due_at: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ToolCall {
    pub tool: String,
    #[serde(default)]
    pub arguments: Value,
    #[serde(default)]
    pub result: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChatReply {
    pub conversation_id: String,
    pub response: String,
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Deserialize)]
struct ConversationList {
    items: Vec<Conversation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Message {
    pub id: Value,
    pub role: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCall>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub messages: Vec<Message>,
}

/// The API client. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

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
        })
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
            .get(self.url("/livez"))
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

    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: &str,
    ) -> Result<Session, ApiFailure> {
        let body = serde_json::json!({"email": email, "password": password, "name": name});
        self.send(self.client.post(self.url("/api/auth/register")).json(&body))
            .await
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_ip: Option<&str>,
    ) -> Result<Session, ApiFailure> {
        let body = serde_json::json!({"email": email, "password": password});
        let mut req = self.client.post(self.url("/api/auth/login")).json(&body);
        // The API rate-limits logins per client; tell it who the client is (it trusts this
        // header only as far as its own configuration allows).
        if let Some(ip) = client_ip {
            req = req.header("x-forwarded-for", ip);
        }
        self.send(req).await
    }

    /// `query` is an already-encoded query string built from known parameters only.
    pub async fn list_tasks(&self, token: &str, query: &str) -> Result<TaskPage, ApiFailure> {
        self.send(
            self.client
                .get(self.url(&format!("/api/tasks?{query}")))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn get_task(&self, token: &str, id: &str) -> Result<Task, ApiFailure> {
        self.send(
            self.client
                .get(self.url(&format!("/api/tasks/{}", path_segment(id))))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn create_task(&self, token: &str, input: &TaskInput) -> Result<Task, ApiFailure> {
        let mut body = serde_json::Map::new();
        body.insert("title".into(), input.title.clone().into());
        body.insert("priority".into(), input.priority.clone().into());
        if let Some(d) = &input.description {
            body.insert("description".into(), d.clone().into());
        }
        if let Some(d) = &input.due_at {
            body.insert("due_at".into(), d.clone().into());
        }
        if let Some(t) = &input.tags {
            body.insert("tags".into(), t.clone().into());
        }
        self.send(
            self.client
                .post(self.url("/api/tasks"))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// Replaces every editable field (empty optional fields are cleared).
    pub async fn update_task(
        &self,
        token: &str,
        id: &str,
        input: &TaskInput,
        completed: Option<bool>,
    ) -> Result<Task, ApiFailure> {
        let mut body =
            serde_json::to_value(input).map_err(|e| ApiFailure::Unavailable(e.to_string()))?;
        if let (Some(done), Some(obj)) = (completed, body.as_object_mut()) {
            obj.insert("completed".into(), done.into());
        }
        self.send(
            self.client
                .patch(self.url(&format!("/api/tasks/{}", path_segment(id))))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// `action` is `complete` or `reopen`.
    pub async fn set_completed(
        &self,
        token: &str,
        id: &str,
        done: bool,
    ) -> Result<Task, ApiFailure> {
        let action = if done { "complete" } else { "reopen" };
        self.send(
            self.client
                .post(self.url(&format!("/api/tasks/{}/{action}", path_segment(id))))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn delete_task(&self, token: &str, id: &str) -> Result<(), ApiFailure> {
        let response = self
            .client
            .delete(self.url(&format!("/api/tasks/{}", path_segment(id))))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(failure(response).await)
    }

    pub async fn chat(
        &self,
        token: &str,
        conversation_id: Option<&str>,
        message: &str,
    ) -> Result<ChatReply, ApiFailure> {
        let mut body = serde_json::json!({ "message": message });
        if let (Some(id), Some(obj)) = (conversation_id, body.as_object_mut()) {
            obj.insert("conversation_id".into(), id.into());
        }
        self.send(
            self.client
                .post(self.url("/api/chat"))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn conversations(&self, token: &str) -> Result<Vec<Conversation>, ApiFailure> {
        let list: ConversationList = self
            .send(
                self.client
                    .get(self.url("/api/conversations"))
                    .bearer_auth(token),
            )
            .await?;
        Ok(list.items)
    }

    pub async fn conversation(
        &self,
        token: &str,
        id: &str,
    ) -> Result<ConversationDetail, ApiFailure> {
        self.send(
            self.client
                .get(self.url(&format!("/api/conversations/{}", path_segment(id))))
                .bearer_auth(token),
        )
        .await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ApiFailure> {
        let response = request
            .send()
            .await
            .map_err(|e| ApiFailure::Unavailable(describe(&e)))?;
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

/// Sorts a non-2xx answer.
async fn failure(response: reqwest::Response) -> ApiFailure {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    let parsed = serde_json::from_slice::<ErrorBody>(&body).ok();
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
    fn path_segments_cannot_escape() {
        assert_eq!(path_segment("../../admin?x=1"), "adminx1");
        assert_eq!(
            path_segment("6f1e0d1c-1a2b-4c3d-8e9f-000000000000"),
            "6f1e0d1c-1a2b-4c3d-8e9f-000000000000"
        );
    }
}
