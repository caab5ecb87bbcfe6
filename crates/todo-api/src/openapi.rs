//! The API's operations, declared once: each entry names its method, path, handler, request
//! and response types (the todo-wire types) and the statuses it can answer with. The same
//! table builds the axum router ([`crate::app`]) and the OpenAPI 3.1 document served at
//! `/api/openapi.json`, so a route cannot exist undocumented, nor a documented one unrouted.
//!
//! Schemas come from the wire types through schemars (JSON Schema 2020-12, OpenAPI 3.1's
//! dialect), made portable by [`todo_wire::schema::Portable`] (no `type` arrays), with every
//! named definition under `components/schemas`.
//!
//! Statuses follow from what an operation does, so none is forgotten:
//! - every operation: 500 `INTERNAL` (the JSON error shape, with the request id);
//! - bearer-secured: 401; database-backed: 503 `UNAVAILABLE`;
//! - a JSON body: 400 (malformed JSON), 413, 415, 422 (the field is named);
//! - a query string: 400 (unknown parameter), 422; a path id: 422 naming `id`;
//! - and what the operation adds itself (404, 409, 429, 503 when chat is off).

use crate::state::AppState;
use crate::{auth, chat, tasks};
use axum::Json;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};
use schemars::generate::SchemaSettings;
use schemars::transform::Transform;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use todo_wire::schema::Portable;
use todo_wire::{
    ChatTurn, ConversationDetail, ConversationList, CreateTask, ErrorBody, ListQuery, LoginRequest,
    Me, RegisterRequest, Session, Task, TaskKey, TaskPage, UpdateTask,
};
use uuid::Uuid;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The inline object schema of `T` (for query parameters, which OpenAPI lists one by one).
fn object_of<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// A response: status, description, body schema (none for 204).
struct Reply {
    status: u16,
    description: String,
    schema: Option<SchemaFn>,
    headers: &'static [(&'static str, &'static str)],
}

/// One operation of the API.
pub struct Operation {
    pub method: Method,
    /// The path in axum's syntax, which is also OpenAPI's (`/api/tasks/{id}`).
    pub path: &'static str,
    pub id: &'static str,
    summary: &'static str,
    tag: &'static str,
    secured: bool,
    database: bool,
    body: Option<SchemaFn>,
    query: Option<SchemaFn>,
    path_id: Option<(SchemaFn, &'static str)>,
    replies: Vec<Reply>,
    /// `None` for routes another crate mounts (service-kit's health routes).
    handler: Option<MethodRouter<AppState>>,
    /// The 200 answer is `text/event-stream` (its events described in words), not JSON.
    event_stream: bool,
}

fn filter(method: &Method) -> MethodFilter {
    match *method {
        Method::POST => MethodFilter::POST,
        Method::PATCH => MethodFilter::PATCH,
        Method::DELETE => MethodFilter::DELETE,
        Method::PUT => MethodFilter::PUT,
        _ => MethodFilter::GET,
    }
}

impl Operation {
    fn new<H, T>(
        method: Method,
        path: &'static str,
        id: &'static str,
        summary: &'static str,
        handler: H,
    ) -> Operation
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let mut op = Operation::mounted_elsewhere(method, path, id, summary);
        op.handler = Some(on(filter(&op.method), handler));
        op.tag = tag_of(path);
        op
    }

    fn mounted_elsewhere(
        method: Method,
        path: &'static str,
        id: &'static str,
        summary: &'static str,
    ) -> Operation {
        Operation {
            method,
            path,
            id,
            summary,
            tag: "health",
            secured: false,
            database: false,
            body: None,
            query: None,
            path_id: None,
            replies: Vec::new(),
            handler: None,
            event_stream: false,
        }
    }

    /// Needs `Authorization: Bearer <token>` (401 without a valid one).
    fn secured(mut self) -> Operation {
        self.secured = true;
        self
    }

    /// Reads or writes the database (503 UNAVAILABLE while it is down).
    fn database(mut self) -> Operation {
        self.database = true;
        self
    }

    fn json_body<T: JsonSchema>(mut self) -> Operation {
        self.body = Some(schema_of::<T>);
        self
    }

    fn query<T: JsonSchema>(mut self) -> Operation {
        self.query = Some(object_of::<T>);
        self
    }

    /// The `{id}` path segment, of type `T`.
    fn path_id<T: JsonSchema>(mut self, description: &'static str) -> Operation {
        self.path_id = Some((schema_of::<T>, description));
        self
    }

    fn reply<T: JsonSchema>(mut self, status: u16, description: &str) -> Operation {
        self.replies.push(Reply {
            status,
            description: description.to_owned(),
            schema: Some(schema_of::<T>),
            headers: &[],
        });
        self
    }

    fn reply_with(mut self, status: u16, description: &str, schema: SchemaFn) -> Operation {
        self.replies.push(Reply {
            status,
            description: description.to_owned(),
            schema: Some(schema),
            headers: &[],
        });
        self
    }

    /// A 200 answer of server-sent events; `description` names them and their data.
    fn event_stream(mut self, description: &str) -> Operation {
        self.event_stream = true;
        self.replies.push(Reply {
            status: 200,
            description: description.to_owned(),
            schema: Some(todo_wire::chat::ChatStreamEvent::event_schema),
            headers: &[],
        });
        self
    }

    fn no_content(mut self, description: &str) -> Operation {
        self.replies.push(Reply {
            status: 204,
            description: description.to_owned(),
            schema: None,
            headers: &[],
        });
        self
    }

    /// An error this operation answers with, in the API's error shape.
    fn error(mut self, status: u16, description: &str) -> Operation {
        self.replies.push(error_reply(status, description));
        self
    }

    /// Every response, the implied ones included, by status.
    fn all_replies(&self) -> BTreeMap<u16, Reply> {
        let mut implied = Vec::new();
        if self.body.is_some() {
            implied.push(error_reply(
                400,
                "The body is not valid JSON (or has data after the JSON value): MALFORMED_JSON",
            ));
            implied.push(error_reply(
                413,
                "The body is over 64 KiB: PAYLOAD_TOO_LARGE",
            ));
            implied.push(error_reply(
                415,
                "The body is not sent as `application/json`: UNSUPPORTED_MEDIA_TYPE",
            ));
            implied.push(error_reply(
                422,
                "A value breaks a rule, or a field is missing, unknown or of the wrong type: VALIDATION_ERROR; `field` names it",
            ));
        }
        if self.query.is_some() {
            implied.push(error_reply(
                400,
                "An unknown query parameter: UNKNOWN_PARAMETER; `field` names it",
            ));
            implied.push(error_reply(
                422,
                "A query parameter is invalid or given twice: VALIDATION_ERROR; `field` names it",
            ));
        }
        if self.path_id.is_some() {
            implied.push(error_reply(
                422,
                "The `id` path segment is not a valid id: VALIDATION_ERROR with field `id`",
            ));
        }
        if self.secured {
            let mut r = error_reply(
                401,
                "Missing, malformed, invalid or expired bearer token: UNAUTHORIZED",
            );
            r.headers = &[("WWW-Authenticate", "Always `Bearer`")];
            implied.push(r);
        }
        if self.database {
            implied.push(error_reply(
                503,
                "The database is unavailable: UNAVAILABLE; try again shortly",
            ));
        }
        implied.push(error_reply(
            500,
            "Internal error: INTERNAL; `request_id` identifies it in the logs",
        ));
        let mut out: BTreeMap<u16, Reply> = BTreeMap::new();
        for reply in self.replies_cloned().into_iter().chain(implied) {
            match out.get_mut(&reply.status) {
                Some(existing) => {
                    if !existing.description.contains(&reply.description) {
                        existing.description =
                            format!("{}. Or: {}", existing.description, reply.description);
                    }
                }
                None => {
                    out.insert(reply.status, reply);
                }
            }
        }
        out
    }

    fn replies_cloned(&self) -> Vec<Reply> {
        self.replies
            .iter()
            .map(|r| Reply {
                status: r.status,
                description: r.description.clone(),
                schema: r.schema,
                headers: r.headers,
            })
            .collect()
    }

    /// The statuses this operation is documented to answer with.
    pub fn statuses(&self) -> Vec<u16> {
        self.all_replies().into_keys().collect()
    }

    pub fn handler(&self) -> Option<MethodRouter<AppState>> {
        self.handler.clone()
    }

    fn document(&self, g: &mut SchemaGenerator) -> Value {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(self.id));
        op.insert("summary".into(), json!(self.summary));
        op.insert("tags".into(), json!([self.tag]));
        op.insert(
            "security".into(),
            if self.secured {
                json!([{ "bearer": [] }])
            } else {
                json!([])
            },
        );
        let mut parameters = Vec::new();
        if let Some((schema, description)) = self.path_id {
            parameters.push(json!({
                "name": "id", "in": "path", "required": true, "description": description,
                "schema": portable(schema(g)),
            }));
        }
        if let Some(schema) = self.query {
            parameters.extend(query_parameters(portable(schema(g))));
        }
        if !parameters.is_empty() {
            op.insert("parameters".into(), Value::Array(parameters));
        }
        if let Some(schema) = self.body {
            op.insert(
                "requestBody".into(),
                json!({ "required": true, "content": { "application/json": { "schema": portable(schema(g)) } } }),
            );
        }
        let mut responses = Map::new();
        for (status, reply) in self.all_replies() {
            let mut r = Map::new();
            r.insert("description".into(), json!(reply.description));
            if let Some(schema) = reply.schema {
                r.insert(
                    "content".into(),
                    if self.event_stream && status == 200 {
                        json!({ "text/event-stream": { "schema": portable(schema(g)) } })
                    } else {
                        json!({ "application/json": { "schema": portable(schema(g)) } })
                    },
                );
            }
            if !reply.headers.is_empty() {
                let headers: Map<String, Value> = reply
                    .headers
                    .iter()
                    .map(|(name, description)| {
                        (
                            (*name).to_owned(),
                            json!({ "description": description, "required": true, "schema": { "type": "string" } }),
                        )
                    })
                    .collect();
                r.insert("headers".into(), Value::Object(headers));
            }
            responses.insert(status.to_string(), Value::Object(r));
        }
        op.insert("responses".into(), Value::Object(responses));
        Value::Object(op)
    }
}

fn error_reply(status: u16, description: &str) -> Reply {
    let mut reply = Reply {
        status,
        description: description.to_owned(),
        schema: Some(schema_of::<ErrorBody>),
        headers: &[],
    };
    if status == 429 {
        reply.headers = &[("Retry-After", "Seconds to wait before trying again")];
    }
    reply
}

fn tag_of(path: &str) -> &'static str {
    if path.starts_with("/api/auth") {
        "auth"
    } else if path.starts_with("/api/tasks") {
        "tasks"
    } else if path.starts_with("/api/chat") || path.starts_with("/api/conversations") {
        "chat"
    } else {
        "meta"
    }
}

fn portable(mut schema: Schema) -> Value {
    Portable.transform(&mut schema);
    schema.to_value()
}

/// One OpenAPI parameter per property of a query object (never `null`: a query string has no
/// such value, leaving a parameter out is how it is omitted).
fn query_parameters(object: Value) -> Vec<Value> {
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = without_null(schema.clone());
            let description = schema.as_object_mut().and_then(|s| s.remove("description"));
            let mut p = json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if let (Some(d), Some(p)) = (description, p.as_object_mut()) {
                p.insert("description".into(), d);
            }
            p
        })
        .collect()
}

/// Drops the `{"type": "null"}` branch of an `anyOf` (folding a single remaining branch in).
fn without_null(mut schema: Value) -> Value {
    let Some(obj) = schema.as_object_mut() else {
        return schema;
    };
    if let Some(Value::Array(branches)) = obj.get_mut("anyOf") {
        branches.retain(|b| b != &json!({ "type": "null" }));
        if branches.len() == 1 {
            let only = branches.remove(0);
            obj.remove("anyOf");
            if let Value::Object(only) = only {
                for (k, v) in only {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    obj.remove("default");
    schema
}

fn health_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["status", "service", "version", "timestamp", "checks"],
        "properties": {
            "status": { "type": "string", "enum": ["healthy", "unhealthy"] },
            "service": { "type": "string" },
            "version": { "type": "string" },
            "timestamp": { "type": "string", "format": "date-time" },
            "checks": { "type": "object", "additionalProperties": { "type": "string", "enum": ["ok", "failed"] } }
        }
    })
}

fn live_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["status", "service"],
        "properties": { "status": { "type": "string", "const": "ok" }, "service": { "type": "string" } }
    })
}

fn ready_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "required": ["status", "service"],
        "properties": {
            "status": { "type": "string", "enum": ["ready", "not_ready", "shutting_down"] },
            "service": { "type": "string" },
            "failed": { "type": "object", "additionalProperties": { "type": "string" },
                        "description": "The failed checks and why (when not ready)" }
        }
    })
}

fn document_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "required": ["openapi", "info", "paths"],
                   "description": "An OpenAPI 3.1 document" })
}

/// Every operation of the API.
pub fn operations() -> Vec<Operation> {
    use Method as M;
    vec![
        Operation::new(
            M::POST,
            "/api/auth/register",
            "register",
            "Create an account",
            auth::register,
        )
        .json_body::<RegisterRequest>()
        .database()
        .reply::<Session>(201, "Account created; a session for it")
        .error(
            409,
            "The email is already registered: CONFLICT with field `email`",
        )
        .error(
            422,
            "A field breaks a rule, or the password is too easy to guess: VALIDATION_ERROR \
             with field `password` and a message saying why",
        )
        .error(
            429,
            "Too many registrations from this client address: RATE_LIMITED",
        )
        .error(
            503,
            "Too many passwords being hashed: UNAVAILABLE; retry after `Retry-After` seconds",
        ),
        Operation::new(M::POST, "/api/auth/login", "login", "Log in", auth::login)
            .json_body::<LoginRequest>()
            .database()
            .reply::<Session>(200, "Logged in")
            .error(401, "Wrong email or password: UNAUTHORIZED")
            .error(
                429,
                "Too many login attempts from this client address, or too many failed logins \
                 for this email (whether or not it has an account): RATE_LIMITED",
            )
            .error(
                503,
                "Too many passwords being checked: UNAVAILABLE; retry after `Retry-After` seconds",
            ),
        Operation::new(
            M::POST,
            "/api/auth/refresh",
            "refresh",
            "Trade a refresh token for a new access token and refresh token",
            auth::refresh,
        )
        .json_body::<todo_wire::user::RefreshRequest>()
        .database()
        .reply::<Session>(
            200,
            "A new session answer; the presented refresh token is used up",
        )
        .error(
            401,
            "Unknown, expired or signed-out refresh token, or one used before (which signs \
             the session out): UNAUTHORIZED",
        ),
        Operation::new(
            M::POST,
            "/api/auth/logout",
            "logout",
            "Sign out: revoke this token's session (its access and refresh tokens)",
            auth::logout,
        )
        .secured()
        .database()
        .no_content("Signed out; the token is refused from now on"),
        Operation::new(
            M::GET,
            "/api/auth/me",
            "me",
            "The caller's account",
            auth::me,
        )
        .secured()
        .database()
        .reply::<Me>(200, "The account"),
        Operation::new(
            M::PATCH,
            "/api/auth/me",
            "updateMe",
            "Change the caller's account settings: name, time zone",
            auth::update_me,
        )
        .secured()
        .database()
        .json_body::<todo_wire::UpdateMe>()
        .reply::<Me>(200, "The account, changed"),
        Operation::new(
            M::POST,
            "/api/auth/password",
            "changePassword",
            "Change the password: every token of the account is revoked (sign-in sessions, connected apps, access tokens); answers a new session",
            auth::change_password,
        )
        .secured()
        .database()
        .json_body::<auth::ChangePassword>()
        .reply::<Session>(
            200,
            "A new session; every other token of the account is refused from now on",
        )
        .error(
            403,
            "`current_password` is not the account's password: WRONG_PASSWORD (nothing changed)",
        )
        .error(
            429,
            "Too many wrong current passwords for this account: RATE_LIMITED",
        ),
        Operation::new(
            M::GET,
            "/api/oauth/grants",
            "listConnectedApps",
            "The apps (MCP hosts, OAuth clients) the caller has connected",
            crate::oauth::list_grants,
        )
        .secured()
        .database()
        .reply::<todo_oauth::apps::ConnectedApps>(200, "Connected apps, most recently used first"),
        Operation::new(
            M::DELETE,
            "/api/oauth/grants/{id}",
            "disconnectApp",
            "Disconnect an app: revoke every grant it holds from the caller (its access and refresh tokens stop working)",
            crate::oauth::disconnect,
        )
        .secured()
        .database()
        .path_id::<String>("The app's client_id (percent-encoded when it is a URL)")
        .no_content("Disconnected")
        .error(
            404,
            "No app with this client_id is connected to the caller's account: GRANT_NOT_FOUND",
        ),
        Operation::new(
            M::GET,
            "/api/tasks",
            "listTasks",
            "List tasks (filters, sort, offset or cursor paging)",
            tasks::list,
        )
        .secured()
        .database()
        .query::<ListQuery>()
        .reply::<TaskPage>(200, "A page of tasks"),
        Operation::new(
            M::POST,
            "/api/tasks",
            "createTask",
            "Create a task",
            tasks::create,
        )
        .secured()
        .database()
        .json_body::<CreateTask>()
        .reply::<Task>(201, "The task, as stored"),
        Operation::new(
            M::GET,
            "/api/tasks/{id}",
            "getTask",
            "Get a task",
            tasks::get,
        )
        .secured()
        .database()
        .path_id::<TaskKey>(TASK_ID)
        .reply::<Task>(200, "The task")
        .error(404, NO_TASK),
        Operation::new(
            M::PATCH,
            "/api/tasks/{id}",
            "updateTask",
            "Change a task (partial update)",
            tasks::update,
        )
        .secured()
        .database()
        .path_id::<TaskKey>(TASK_ID)
        .json_body::<UpdateTask>()
        .reply::<Task>(200, "The task, changed")
        .error(404, NO_TASK),
        Operation::new(
            M::DELETE,
            "/api/tasks/{id}",
            "deleteTask",
            "Delete a task",
            tasks::delete,
        )
        .secured()
        .database()
        .path_id::<TaskKey>(TASK_ID)
        .no_content("Deleted")
        .error(404, NO_TASK),
        Operation::new(
            M::POST,
            "/api/tasks/{id}/complete",
            "completeTask",
            "Mark a task done",
            tasks::complete,
        )
        .secured()
        .database()
        .path_id::<TaskKey>(TASK_ID)
        .reply::<Task>(200, "The task, completed")
        .error(404, NO_TASK),
        Operation::new(
            M::POST,
            "/api/tasks/{id}/reopen",
            "reopenTask",
            "Mark a task not done",
            tasks::reopen,
        )
        .secured()
        .database()
        .path_id::<TaskKey>(TASK_ID)
        .reply::<Task>(200, "The task, reopened")
        .error(404, NO_TASK),
        Operation::new(
            M::POST,
            "/api/chat",
            "chat",
            "Say something to the chatbot",
            chat::chat,
        )
        .secured()
        .database()
        .json_body::<todo_wire::chat::ChatTurnRequest>()
        .reply::<ChatTurn>(
            200,
            "The chatbot's answer (with `error` when the engine or its tools failed; `replayed` when it is the stored answer to an earlier send of the same `client_message_id`)",
        )
        .error(
            404,
            "No such conversation (or not yours): CONVERSATION_NOT_FOUND",
        )
        .error(
            409,
            "The first send of this `client_message_id` is still being answered: TURN_IN_PROGRESS (retry after `Retry-After` seconds); or it was used for a different message: CLIENT_MESSAGE_ID_REUSED",
        )
        .error(503, "Chat is not configured on this server: UNAVAILABLE"),
        Operation::new(
            M::POST,
            "/api/chat/stream",
            "chatStream",
            "Say something to the chatbot; the answer streams as server-sent events while it is written",
            chat::chat_stream,
        )
        .secured()
        .database()
        .json_body::<todo_wire::chat::ChatTurnRequest>()
        .event_stream(
            "Server-sent events, each `data` one JSON value: `start` {conversation_id} once the message is stored; `delta` {text}, the next piece of the reply, in order (the built-in engine's answer and a replayed one come as one piece); `tool` (a ToolCall) as each tool call returns; `error` {code, message} when the turn failed; `done` (a ChatTurn, as POST /api/chat answers) last, once the turn is stored. A client that disconnects loses the events, not the turn: it is stored once, and a retry with the same `client_message_id` gets it",
        )
        .error(
            404,
            "No such conversation (or not yours): CONVERSATION_NOT_FOUND",
        )
        .error(
            409,
            "The first send of this `client_message_id` is still being answered: TURN_IN_PROGRESS (retry after `Retry-After` seconds); or it was used for a different message: CLIENT_MESSAGE_ID_REUSED",
        )
        .error(503, "Chat is not configured on this server: UNAVAILABLE"),
        Operation::new(
            M::GET,
            "/api/conversations",
            "listConversations",
            "The caller's conversations, newest first",
            chat::list,
        )
        .secured()
        .database()
        .reply::<ConversationList>(200, "Up to 100 conversations"),
        Operation::new(
            M::GET,
            "/api/conversations/{id}",
            "getConversation",
            "A conversation and its messages",
            chat::get,
        )
        .secured()
        .database()
        .path_id::<Uuid>("The conversation's UUID")
        .reply::<ConversationDetail>(200, "The conversation")
        .error(
            404,
            "No such conversation (or not yours): CONVERSATION_NOT_FOUND",
        ),
        Operation::new(
            M::GET,
            "/api/openapi.json",
            "openapi",
            "This document",
            serve,
        )
        .reply_with(200, "The OpenAPI 3.1 document", document_schema),
        Operation::mounted_elsewhere(M::GET, "/health", "health", "Detailed health")
            .database()
            .reply_with(200, "Healthy", health_schema)
            .reply_with(503, "Unhealthy (a dependency check failed)", health_schema),
        Operation::mounted_elsewhere(M::GET, "/livez", "livez", "Liveness (the process only)")
            .reply_with(200, "Alive", live_schema),
        Operation::mounted_elsewhere(
            M::GET,
            "/readyz",
            "readyz",
            "Readiness (database reachable, migrations applied, not shutting down)",
        )
        .reply_with(200, "Ready", ready_schema)
        .reply_with(503, "Not ready", ready_schema),
    ]
}

const TASK_ID: &str = "The task's number as shown in lists (e.g. 3) or its UUID";
const NO_TASK: &str = "No such task (or not yours): TASK_NOT_FOUND";

/// The routes of [`operations`] that this crate serves.
pub fn router() -> axum::Router<AppState> {
    operations()
        .into_iter()
        .fold(axum::Router::new(), |router, op| match op.handler {
            Some(handler) => router.route(op.path, handler),
            None => router,
        })
}

/// The OpenAPI 3.1 document, built from [`operations`].
pub fn build() -> Value {
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        })
        .with_transform(Portable)
        .into_generator();
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for op in operations() {
        let item = op.document(&mut g);
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.as_str().to_lowercase(), item);
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "todo-chatbot API",
            "version": crate::VERSION,
            "description": "Tasks, accounts and the chatbot of todo-chatbot. Every error has the shape {\"error\":{\"code\",\"message\",\"field\"?,\"request_id\"?}}; `field` names the request field at fault.",
        },
        "servers": [{ "url": "/" }],
        "tags": [
            { "name": "auth", "description": "Accounts and sessions" },
            { "name": "tasks", "description": "The caller's tasks" },
            { "name": "chat", "description": "The chatbot and its conversations" },
            { "name": "meta", "description": "This document" },
            { "name": "health", "description": "Probes" },
        ],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": schemas,
        },
    })
}

/// The document, built once per process.
pub fn spec() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

pub async fn serve() -> Json<Value> {
    Json(spec().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_wire::schema::has_type_array;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_document_is_complete_and_portable() {
        let doc = build();
        assert!(!has_type_array(&doc), "no type arrays");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r}"));
            assert!(schemas.contains_key(name), "{r} is not defined");
        }
        for op in operations() {
            let item = &doc["paths"][op.path][op.method.as_str().to_lowercase()];
            let responses = item["responses"].as_object().unwrap();
            let has = |s: &str| responses.contains_key(s);
            assert!(has("500"), "{} {}", op.method, op.path);
            if op.secured {
                assert!(has("401"), "{} {}", op.method, op.path);
            }
            if op.database {
                assert!(has("503"), "{} {}", op.method, op.path);
            }
            if op.body.is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(has(s), "{s} on {} {}", op.method, op.path);
                }
            }
            if op.path.contains("{id}") {
                assert!(has("404") && has("422"), "{} {}", op.method, op.path);
            }
            for (status, response) in responses {
                if status.starts_with('4') || status == "500" {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{status} on {} {}",
                        op.method,
                        op.path
                    );
                }
            }
        }
        let register = &doc["paths"]["/api/auth/register"]["post"]["responses"];
        assert!(register.get("409").is_some());
        let login = &doc["paths"]["/api/auth/login"]["post"]["responses"];
        assert!(login.get("429").is_some());
        assert_eq!(
            doc["paths"]["/api/tasks/{id}"]["get"]["parameters"][0]["schema"]["$ref"],
            "#/components/schemas/TaskKey"
        );
        let list = doc["paths"]["/api/tasks"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = list.iter().filter_map(|p| p["name"].as_str()).collect();
        for name in [
            "status",
            "priority",
            "tag",
            "q",
            "due_before",
            "due_after",
            "sort",
            "order",
            "limit",
            "offset",
            "cursor",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        assert!(
            !doc.to_string().contains(r#"{"type":"null"}"#)
                || list
                    .iter()
                    .all(|p| !p["schema"].to_string().contains("null")),
            "query parameters are never null"
        );
    }

    #[test]
    fn each_route_is_declared_once() {
        let ops = operations();
        let mut seen = std::collections::HashSet::new();
        for op in &ops {
            assert!(
                seen.insert((op.method.clone(), op.path)),
                "{} {} declared twice",
                op.method,
                op.path
            );
        }
        let ids: std::collections::HashSet<_> = ops.iter().map(|o| o.id).collect();
        assert_eq!(ids.len(), ops.len(), "operation ids are unique");
    }
}
