//! The task tools, declared with rmcp's `#[tool_router]` / `#[tool]` / `#[tool_handler]`.
//!
//! - Arguments and results are todo-wire's types ([`AddTaskArgs`], [`TaskResult`], ...); the
//!   tools' input and output schemas are derived from them, made portable by
//!   [`todo_wire::schema::Portable`] (no `type` arrays: strict validators such as ajv, inside
//!   the TypeScript SDK and the Inspector, refuse those).
//! - Every failure a model can act on is a tool result with `isError: true` and one text block
//!   holding `{"error": {"code", "message", "field"}}`, including arguments that do not
//!   deserialize ([`Args`]), so the model can correct itself (MCP 2025-11-25: input validation
//!   errors are tool execution errors). An unknown tool is a JSON-RPC invalid-params error.
//! - The caller is the authenticated user from the request ([`Caller`]); no tool takes a user
//!   argument. Validation is todo-store's, shared with REST and chat.
//! - Dates are the user's: a date or a time without an offset is read in the user's time zone
//!   (rules in `todo_wire::zone`), `list_tasks`' `due` filter means the user's days, and every
//!   result names the zone (`time_zone`); `due_at` is always an RFC 3339 instant in UTC.

use crate::{Caller, SERVICE, VERSION};
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
    CustomRequest, CustomResult, Implementation, InitializeResult, IntoContents, JsonObject,
    ListToolsResult, PaginatedRequestParams, ProtocolVersion, ResultType, ServerCapabilities, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Json, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::sync::{Arc, LazyLock};
use std::time::Instant;
use todo_store::query::LIMIT_DEFAULT;
use todo_store::validate::{NewTask, TaskPatch, normalise_tag, parse_due_in};
use todo_store::{Order, SortKey, Store, StoreError, TaskQuery, TaskRef, ValidationError};
use todo_wire::mcp::{
    AddTaskArgs, CompleteTaskArgs, ListTasksArgs, TaskIdArgs, TaskListResult, TaskResult,
    UpdateTaskArgs,
};
use todo_wire::{ErrorBody, ErrorDetail, Patch, UserZone};

/// A tool failure with a stable code a model (or program) can branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ToolError {
    /// `message` is prefixed with the field, so it reads on its own ("title: must not be empty").
    pub fn validation(field: &str, message: impl std::fmt::Display) -> ToolError {
        ToolError {
            code: "VALIDATION_ERROR",
            message: format!("{field}: {message}"),
            field: Some(field.to_owned()),
        }
    }

    pub fn not_found(task: TaskRef) -> ToolError {
        ToolError {
            code: "TASK_NOT_FOUND",
            message: format!(
                "{task} does not exist; call list_tasks to see the user's tasks and their numbers"
            ),
            field: Some("task_id".into()),
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                field: self.field.clone(),
                request_id: None,
            },
        }
    }

    /// The tool result: `isError`, one text block with the JSON body, no structured content.
    pub fn into_result(self) -> CallToolResult {
        CallToolResult::error(self.into_contents())
    }
}

/// What rmcp puts into an error result (`Result<_, ToolError>` sets `isError`).
impl IntoContents for ToolError {
    fn into_contents(self) -> Vec<ContentBlock> {
        let text = serde_json::to_string(&self.body()).unwrap_or_else(|_| {
            r#"{"error":{"code":"INTERNAL","message":"internal error"}}"#.into()
        });
        vec![ContentBlock::text(text)]
    }
}

impl From<ValidationError> for ToolError {
    fn from(e: ValidationError) -> ToolError {
        ToolError::validation(&e.field, e.message)
    }
}

impl From<StoreError> for ToolError {
    fn from(err: StoreError) -> ToolError {
        match err {
            StoreError::Validation(v) => v.into(),
            StoreError::Conflict { field, message } => ToolError {
                code: "CONFLICT",
                message: format!("{field}: {message}"),
                field: Some(field),
            },
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                service_kit::metrics::db_query_error("unavailable");
                ToolError {
                    code: "UNAVAILABLE",
                    message: "the task database is unavailable; try again shortly".into(),
                    field: None,
                }
            }
            e => {
                tracing::error!(error = %e, "store error in a tool");
                service_kit::metrics::db_query_error("internal");
                ToolError {
                    code: "INTERNAL",
                    message: "internal error".into(),
                    field: None,
                }
            }
        }
    }
}

/// Tool arguments of type `T`, or the error naming the argument that did not fit.
///
/// rmcp's `Parameters<T>` fails the extraction on a deserialization error: a JSON-RPC -32602
/// error, which rmcp 3.11's router turns into an `isError` result holding serde's bare
/// message (no code, no field). This extractor never fails, so the tool answers with a
/// `VALIDATION_ERROR` body naming the field instead. Its schema is `T`'s.
pub struct Args<T>(pub Result<T, ToolError>);

impl<S, T: ToolArgs> FromContextPart<ToolCallContext<'_, S>> for Args<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        Ok(Args(parse_args(
            context.arguments.take().unwrap_or_default(),
        )))
    }
}

/// A tool's argument type.
pub trait ToolArgs: DeserializeOwned {
    /// Optional keys whose schema does not allow `null`, though serde would read `null` as
    /// "absent": refused, so the server accepts exactly what the schema says.
    const NOT_NULL: &'static [&'static str] = &[];
}

impl ToolArgs for AddTaskArgs {}
impl ToolArgs for ListTasksArgs {}
impl ToolArgs for TaskIdArgs {}
impl ToolArgs for CompleteTaskArgs {}
impl ToolArgs for UpdateTaskArgs {
    const NOT_NULL: &'static [&'static str] = &["title"];
}

impl<T: JsonSchema> JsonSchema for Args<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Deserializes tool arguments; a failure names the (top-level) argument it is about.
pub fn parse_args<T: ToolArgs>(args: JsonObject) -> Result<T, ToolError> {
    if let Some(key) = T::NOT_NULL
        .iter()
        .find(|key| args.get(**key).is_some_and(Value::is_null))
    {
        return Err(ToolError::validation(
            key,
            "must not be null (leave it out to keep the current value)",
        ));
    }
    serde_path_to_error::deserialize(Value::Object(args)).map_err(argument_error)
}

fn argument_error(err: serde_path_to_error::Error<serde_json::Error>) -> ToolError {
    use serde_path_to_error::Segment;
    let message = err.inner().to_string();
    let top = err.path().iter().find_map(|s| match s {
        Segment::Map { key } => Some(key.clone()),
        _ => None,
    });
    let nested = err.path().iter().count() > 1;
    // serde's struct errors say which key: "missing field `title`", "unknown field `x`, ...".
    if let Some(name) = quoted_after(&message, "missing field `") {
        return ToolError::validation(name, "is required");
    }
    if let Some(name) = quoted_after(&message, "unknown field `") {
        let expected = message
            .split_once("expected ")
            .map(|(_, rest)| rest.replace('`', ""))
            .unwrap_or_default();
        let hint = match expected.strip_prefix("one of ") {
            Some(list) => format!("unknown argument; this tool takes {list}"),
            None if expected.is_empty() => "unknown argument".to_owned(),
            None => format!("unknown argument; this tool takes {expected}"),
        };
        return ToolError::validation(name, hint);
    }
    match top {
        Some(field) => {
            let mut e = ToolError::validation(&field, &message);
            if nested {
                e.message = format!("{}: {message}", err.path());
            }
            e
        }
        None => ToolError::validation("arguments", message),
    }
}

/// The text between `prefix` and the next backtick.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.split_once(prefix)?.1;
    rest.split_once('`').map(|(name, _)| name)
}

/// The caller, from the HTTP request the bearer middleware verified (never from arguments).
impl<S> FromContextPart<ToolCallContext<'_, S>> for Caller {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        caller(context.request_context())
    }
}

fn caller(context: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>().copied())
        .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))
}

fn request_id(context: &RequestContext<RoleServer>) -> Option<String> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| {
            parts
                .extensions
                .get::<service_kit::request_log::RequestId>()
        })
        .map(|id| id.0.clone())
}

/// The portable 2020-12 schema of `T` as a tool schema (top-level title and description
/// dropped, as rmcp does: they are the Rust type's name and doc). `serialize`: what `T`
/// writes (output schemas) rather than what it accepts.
fn tool_schema<T: JsonSchema>(serialize: bool) -> Arc<JsonObject> {
    let mut settings = todo_wire::schema::settings();
    if serialize {
        settings = settings.for_serialize();
    }
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    object.remove("title");
    object.remove("description");
    Arc::new(object)
}

/// `inputSchema` of a tool taking `T`.
pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    tool_schema::<T>(false)
}

/// `outputSchema` of a tool returning `T`.
pub fn output_schema<T: JsonSchema>() -> Arc<JsonObject> {
    tool_schema::<T>(true)
}

type Answer<T> = Result<Json<T>, ToolError>;

fn found(task: Option<todo_store::Task>, key: TaskRef, zone: &UserZone) -> Answer<TaskResult> {
    task.map(|task| {
        Json(TaskResult {
            task,
            time_zone: Some(zone.name().to_owned()),
        })
    })
    .ok_or_else(|| ToolError::not_found(key))
}

fn due(
    field: &str,
    raw: Option<String>,
    zone: &UserZone,
) -> Result<Option<time::OffsetDateTime>, ToolError> {
    Ok(raw.map(|d| parse_due_in(field, &d, zone)).transpose()?)
}

/// The MCP server: one instance per request (stateless), sharing the pool.
#[derive(Clone)]
pub struct TaskTools {
    store: Store,
}

impl TaskTools {
    pub fn new(store: Store) -> TaskTools {
        TaskTools { store }
    }

    /// The zone the caller's dates are read in, named in every result.
    async fn zone(&self, user: uuid::Uuid) -> Result<UserZone, ToolError> {
        Ok(self.store.users().zone_of(user).await?)
    }

    /// Every tool this server offers, as `tools/list` shows them: in [`TOOLS`] order (the
    /// order a person would explain them in), not rmcp's alphabetical one.
    pub fn definitions() -> Vec<Tool> {
        let mut tools = ROUTER.list_all();
        tools.sort_by_key(|t| TOOLS.iter().position(|name| *name == t.name));
        tools
    }
}

/// The tools, in the order `tools/list` gives them.
pub const TOOLS: [&str; 6] = [
    "add_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "delete_task",
];

/// Built once: the schemas are generated when the router is.
static ROUTER: LazyLock<ToolRouter<TaskTools>> = LazyLock::new(TaskTools::tool_router);

#[tool_router]
impl TaskTools {
    #[tool(
        name = "add_task",
        title = "Add a task",
        description = "Create a task for the user. `due` may be a date (that day in the user's time zone), a local date-time (the user's zone) or an RFC 3339 instant; the result names the zone assumed. Returns the new task with its number.",
        input_schema = input_schema::<AddTaskArgs>(),
        output_schema = output_schema::<TaskResult>(),
        annotations(
            title = "Add a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn add_task(
        &self,
        Caller(user): Caller,
        Args(args): Args<AddTaskArgs>,
    ) -> Answer<TaskResult> {
        let args = args?;
        let zone = self.zone(user).await?;
        let task = NewTask::new(
            &args.title,
            args.description.as_deref(),
            args.priority,
            due("due", args.due, &zone)?,
            &args.tags.unwrap_or_default(),
        )?;
        let task = self.store.tasks().create(user, &task).await?;
        Ok(Json(TaskResult {
            task,
            time_zone: Some(zone.name().to_owned()),
        }))
    }

    #[tool(
        name = "list_tasks",
        title = "List tasks",
        description = "List the user's tasks, oldest first (so numbers read in order). Filters combine; `due` (today, tomorrow, overdue, this_week) means the user's days in their time zone, which the result names.",
        input_schema = input_schema::<ListTasksArgs>(),
        output_schema = output_schema::<TaskListResult>(),
        annotations(
            title = "List tasks",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_tasks(
        &self,
        Caller(user): Caller,
        Args(args): Args<ListTasksArgs>,
    ) -> Answer<TaskListResult> {
        let args = args?;
        let zone = self.zone(user).await?;
        let query = TaskQuery {
            status: args.status.unwrap_or_default(),
            priority: args.priority,
            tag: args
                .tag
                .map(|t| normalise_tag(&t))
                .filter(|t| !t.is_empty()),
            search: args
                .query
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
            due_before: due("due_before", args.due_before, &zone)?,
            due: args.due,
            zone: zone.clone(),
            sort: SortKey::CreatedAt,
            order: Order::Asc,
            limit: args.limit.unwrap_or(LIMIT_DEFAULT),
            ..TaskQuery::default()
        }
        .validated()?;
        let page = self.store.tasks().list(user, &query).await?;
        Ok(Json(TaskListResult {
            tasks: page.items,
            total: page.total,
            total_is_lower_bound: page.total_is_lower_bound,
            time_zone: Some(zone.name().to_owned()),
        }))
    }

    #[tool(
        name = "get_task",
        title = "Get a task",
        description = "Get one task by its number or UUID.",
        input_schema = input_schema::<TaskIdArgs>(),
        output_schema = output_schema::<TaskResult>(),
        annotations(
            title = "Get a task",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_task(
        &self,
        Caller(user): Caller,
        Args(args): Args<TaskIdArgs>,
    ) -> Answer<TaskResult> {
        let key = args?.task_id;
        let zone = self.zone(user).await?;
        found(self.store.tasks().get(user, key).await?, key, &zone)
    }

    #[tool(
        name = "update_task",
        title = "Update a task",
        description = "Change a task's title, description, priority, due date or tags. Give at least one field; null clears description, due or tags.",
        input_schema = input_schema::<UpdateTaskArgs>(),
        output_schema = output_schema::<TaskResult>(),
        annotations(
            title = "Update a task",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_task(
        &self,
        Caller(user): Caller,
        Args(args): Args<UpdateTaskArgs>,
    ) -> Answer<TaskResult> {
        let args = args?;
        let key = args.task_id;
        let zone = self.zone(user).await?;
        let patch = TaskPatch {
            title: args.title,
            description: args.description.into_option(),
            priority: args.priority,
            due_at: match args.due {
                Patch::Keep => None,
                Patch::Clear => Some(None),
                Patch::Set(raw) => Some(Some(parse_due_in("due", &raw, &zone)?)),
            },
            // `null` clears the tags.
            tags: args.tags.into_option().map(Option::unwrap_or_default),
            completed: None,
        };
        if patch.is_empty() {
            return Err(ToolError::validation(
                "task_id",
                "give at least one field to change: title, description, priority, due or tags",
            ));
        }
        let patch = patch.normalised()?;
        found(
            self.store.tasks().update(user, key, &patch).await?,
            key,
            &zone,
        )
    }

    #[tool(
        name = "complete_task",
        title = "Complete a task",
        description = "Mark a task done (or, with completed=false, not done).",
        input_schema = input_schema::<CompleteTaskArgs>(),
        output_schema = output_schema::<TaskResult>(),
        annotations(
            title = "Complete a task",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn complete_task(
        &self,
        Caller(user): Caller,
        Args(args): Args<CompleteTaskArgs>,
    ) -> Answer<TaskResult> {
        let args = args?;
        let key = args.task_id;
        let zone = self.zone(user).await?;
        found(
            self.store
                .tasks()
                .set_completed(user, key, args.completed)
                .await?,
            key,
            &zone,
        )
    }

    #[tool(
        name = "delete_task",
        title = "Delete a task",
        description = "Delete a task for good. Returns the deleted task.",
        input_schema = input_schema::<TaskIdArgs>(),
        output_schema = output_schema::<TaskResult>(),
        annotations(
            title = "Delete a task",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn delete_task(
        &self,
        Caller(user): Caller,
        Args(args): Args<TaskIdArgs>,
    ) -> Answer<TaskResult> {
        let key = args?.task_id;
        let zone = self.zone(user).await?;
        found(self.store.tasks().delete(user, key).await?, key, &zone)
    }
}

/// The code of an error result (for the log line).
fn error_code(result: &CallToolResult) -> Option<String> {
    let text = result.content.first()?.as_text()?;
    let body: ErrorBody = serde_json::from_str(&text.text).ok()?;
    Some(body.error.code)
}

#[tool_handler(router = ROUTER)]
impl ServerHandler for TaskTools {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(SERVICE, VERSION))
            .with_instructions(
                "Task tools for the signed-in user. Tasks have numbers (1, 2, 3...) shown by list_tasks; \
                 use them as task_id. Dates are ISO 8601: a date or a time without an offset is in the user's \
                 time zone, which every result names (time_zone); due_at is an instant in UTC.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // As `#[tool_handler]` writes it, with the tools in their order.
        let cache_hints = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        Ok(ListToolsResult {
            result_type: Some(ResultType::COMPLETE),
            tools: TaskTools::definitions(),
            meta: None,
            next_cursor: None,
            ttl_ms: cache_hints.then_some(0),
            cache_scope: cache_hints.then_some(CacheScope::Public),
        })
    }

    /// The router's dispatch, with a log line per call (tool, latency, error code) and a
    /// message for an unknown tool that says where the list is.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.clone();
        if !ROUTER.has_route(&tool) {
            return Err(ErrorData::invalid_params(
                format!("unknown tool {tool:?}; call tools/list for the available tools"),
                None,
            ));
        }
        let request_id = request_id(&context);
        let request_id = request_id.as_deref().unwrap_or("-");
        let user = caller(&context)
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        let started = Instant::now();
        let response = ROUTER
            .call(ToolCallContext::new(self, request, context))
            .await;
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        service_kit::metrics::mcp_tool_call(
            &tool,
            match &response {
                Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => "error",
                Ok(_) => "ok",
                Err(_) => "refused",
            },
            started.elapsed(),
        );
        match &response {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
                let code = error_code(result);
                let code = code.as_deref().unwrap_or("-");
                tracing::info!(%tool, latency_ms, code, %user, request_id, "tool call failed");
            }
            Ok(_) => tracing::info!(%tool, latency_ms, %user, request_id, "tool call"),
            Err(e) => {
                tracing::warn!(%tool, latency_ms, error = %e.message, %user, request_id, "tool call refused");
            }
        }
        response
    }

    /// rmcp hands a request whose params do not fit the method's schema (a `tools/call`
    /// with `arguments` that is not an object, say) to this fallback, which by default
    /// answers -32601 (method not found). For the methods this server has, that is -32602.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        let message = match request.method.as_str() {
            "tools/call" => Some(call_params_problem(request.params.as_ref())),
            method @ ("initialize" | "ping" | "tools/list") => Some(format!(
                "{method}: params do not fit the MCP schema of this method"
            )),
            _ => None,
        };
        Err(match message {
            Some(message) => ErrorData::invalid_params(message, None),
            None => ErrorData::new(
                rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                request.method,
                None,
            ),
        })
    }
}

/// What is wrong with `tools/call` params that did not deserialize.
fn call_params_problem(params: Option<&Value>) -> String {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    let Some(Value::Object(params)) = params else {
        return "tools/call: params must be an object with the tool's name and arguments".into();
    };
    match (params.get("name"), params.get("arguments")) {
        (Some(Value::String(_)), Some(args)) if !args.is_object() && !args.is_null() => format!(
            "tools/call: arguments must be an object of the tool's arguments by name, not {}",
            kind(args)
        ),
        (Some(Value::String(_)), _) => {
            "tools/call: params do not fit the MCP schema (name, arguments, _meta)".into()
        }
        (Some(other), _) => format!(
            "tools/call: name must be a tool name from tools/list, not {}",
            kind(other)
        ),
        (None, _) => "tools/call: name is required (a tool name from tools/list)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> JsonObject {
        v.as_object().cloned().unwrap_or_default()
    }

    fn field<T: ToolArgs>(v: Value) -> Option<String> {
        parse_args::<T>(args(v)).err().and_then(|e| e.field)
    }

    #[test]
    fn argument_errors_name_the_field() {
        assert_eq!(
            field::<AddTaskArgs>(json!({"title": 5})).as_deref(),
            Some("title")
        );
        assert_eq!(field::<AddTaskArgs>(json!({})).as_deref(), Some("title"));
        let unknown = parse_args::<AddTaskArgs>(args(json!({"title": "x", "user_id": "u"})));
        let unknown = unknown.err();
        assert_eq!(
            unknown.as_ref().and_then(|e| e.field.as_deref()),
            Some("user_id")
        );
        assert!(
            unknown.as_ref().is_some_and(|e| e
                .message
                .starts_with("user_id: unknown argument; this tool takes title, description")),
            "{unknown:?}"
        );
        assert_eq!(
            field::<AddTaskArgs>(json!({"title": "x", "tags": ["a", 3]})).as_deref(),
            Some("tags")
        );
        for bad in [
            json!({}),
            json!({"task_id": 0}),
            json!({"task_id": "milk"}),
            json!({"task_id": [1]}),
        ] {
            assert_eq!(
                field::<TaskIdArgs>(bad.clone()).as_deref(),
                Some("task_id"),
                "{bad}"
            );
        }
        assert_eq!(
            field::<CompleteTaskArgs>(json!({"task_id": 1, "completed": "yes"})).as_deref(),
            Some("completed")
        );
        assert_eq!(
            field::<ListTasksArgs>(json!({"status": "done"})).as_deref(),
            Some("status")
        );
    }

    #[test]
    fn error_results_carry_the_body_as_text_only() {
        let r = ToolError::not_found(TaskRef::Number(9)).into_result();
        assert_eq!(r.is_error, Some(true));
        assert!(r.structured_content.is_none());
        assert_eq!(r.content.len(), 1);
        let text = r
            .content
            .first()
            .and_then(|c| c.as_text())
            .map(|t| t.text.clone());
        let body: Option<ErrorBody> = text.and_then(|t| serde_json::from_str(&t).ok());
        assert_eq!(
            body.map(|b| (b.error.code, b.error.field)),
            Some(("TASK_NOT_FOUND".to_owned(), Some("task_id".to_owned())))
        );
    }

    #[test]
    fn tool_schemas_are_portable_objects_from_the_wire_types() {
        let tools = TaskTools::definitions();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, TOOLS);
        for tool in &tools {
            let input = Value::Object(tool.input_schema.as_ref().clone());
            assert_eq!(input["type"], "object", "{}", tool.name);
            assert_eq!(input["additionalProperties"], false, "{}", tool.name);
            assert!(
                input["properties"]
                    .as_object()
                    .is_some_and(|p| !p.is_empty()),
                "{}",
                tool.name
            );
            let output = tool
                .output_schema
                .as_ref()
                .map(|s| Value::Object(s.as_ref().clone()));
            let output = output.unwrap_or_default();
            assert_eq!(output["type"], "object", "{}", tool.name);
            for schema in [&input, &output] {
                assert!(
                    !todo_wire::schema::has_type_array(schema),
                    "{}: {schema}",
                    tool.name
                );
                // 2020-12 by MCP's default; draft-07 validators refuse the meta-schema URI.
                assert!(schema.get("$schema").is_none(), "{}: {schema}", tool.name);
            }
            assert!(
                tool.title.as_deref().is_some_and(|t| !t.is_empty()),
                "{}",
                tool.name
            );
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 10));
            let a = tool.annotations.as_ref();
            assert_eq!(
                a.and_then(|a| a.open_world_hint),
                Some(false),
                "{}",
                tool.name
            );
        }
        let get = tools
            .iter()
            .find(|t| t.name == "get_task")
            .map(|t| Value::Object(t.input_schema.as_ref().clone()))
            .unwrap_or_default();
        assert_eq!(get["properties"]["task_id"]["$ref"], "#/$defs/TaskKey");
        assert_eq!(get["required"], json!(["task_id"]));
        assert!(
            get["$defs"]["TaskKey"].to_string().contains("uuid"),
            "{get}"
        );
    }
}
