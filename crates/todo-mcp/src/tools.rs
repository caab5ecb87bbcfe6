//! The task tools: their JSON Schemas and what they do.
//!
//! Arguments are read strictly (unknown keys and wrong types are errors naming the field), so
//! a model gets a message it can act on instead of a silent no-op. The caller is always the
//! authenticated user; no tool takes a user argument.

use rmcp::model::{CallToolResult, ContentBlock, JsonObject, Tool};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use time::OffsetDateTime;
use todo_store::query::LIMIT_MAX;
use todo_store::validate::{NewTask, TaskPatch, normalise_tag, parse_due};
use todo_store::{
    Order, Priority, SortKey, StatusFilter, Store, StoreError, Task, TaskQuery, TaskRef,
};
use uuid::Uuid;

/// A tool failure with a stable code a model (or program) can branch on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ToolError {
    fn validation(field: &str, message: impl Into<String>) -> ToolError {
        ToolError {
            code: "VALIDATION_ERROR",
            message: format!("{field}: {}", message.into()),
            field: Some(field.to_owned()),
        }
    }

    fn not_found(task: TaskRef) -> ToolError {
        let name = match task {
            TaskRef::Number(n) => format!("task {n}"),
            TaskRef::Id(id) => format!("task {id}"),
        };
        ToolError {
            code: "TASK_NOT_FOUND",
            message: format!(
                "{name} does not exist; call list_tasks to see the user's tasks and their numbers"
            ),
            field: Some("task_id".into()),
        }
    }

    pub fn into_result(self) -> CallToolResult {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = &self.field {
            error["field"] = Value::String(field.clone());
        }
        let body = json!({ "error": error });
        let mut result = CallToolResult::error(vec![ContentBlock::text(body.to_string())]);
        result.structured_content = Some(body);
        result
    }
}

impl From<StoreError> for ToolError {
    fn from(err: StoreError) -> ToolError {
        match err {
            StoreError::Validation(v) => ToolError::validation(&v.field, v.message),
            StoreError::Conflict { field, message } => ToolError {
                code: "CONFLICT",
                message,
                field: Some(field),
            },
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                ToolError {
                    code: "UNAVAILABLE",
                    message: "the task database is unavailable; try again shortly".into(),
                    field: None,
                }
            }
            e => {
                tracing::error!(error = %e, "store error in a tool");
                ToolError {
                    code: "INTERNAL",
                    message: "internal error".into(),
                    field: None,
                }
            }
        }
    }
}

/// A successful result: the JSON as structured content, and as text for older clients.
pub fn ok(value: Value) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
    result.structured_content = Some(value);
    result
}

fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(Map::new()),
    }
}

fn task_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "number": { "type": "integer", "description": "The user's task number, as shown in lists" },
            "title": { "type": "string" },
            "description": { "type": ["string", "null"] },
            "completed": { "type": "boolean" },
            "completed_at": { "type": ["string", "null"], "format": "date-time" },
            "priority": { "enum": ["low", "medium", "high"] },
            "due_at": { "type": ["string", "null"], "format": "date-time" },
            "tags": { "type": "array", "items": { "type": "string" } },
            "created_at": { "type": "string", "format": "date-time" },
            "updated_at": { "type": "string", "format": "date-time" }
        },
        "required": ["id", "number", "title", "completed", "priority", "tags"]
    })
}

const TASK_ID: &str = "The task's number as shown in lists (e.g. 3), or its UUID";
const DUE: &str = "Due date: ISO 8601 date (2026-11-25) or date-time (2026-11-25T17:00:00Z)";

/// Every tool this server offers.
pub fn definitions() -> Vec<Tool> {
    let single_task = || {
        schema(
            json!({ "type": "object", "properties": { "task": task_schema() }, "required": ["task"] }),
        )
    };
    let task_id = json!({ "type": ["integer", "string"], "description": TASK_ID });
    vec![
        Tool::new(
            "add_task",
            "Create a task for the user. Returns the new task with its number.",
            schema(json!({
                "type": "object",
                "properties": {
                    "title": { "type": "string", "minLength": 1, "maxLength": 200, "description": "What to do" },
                    "description": { "type": "string", "maxLength": 1000 },
                    "priority": { "enum": ["low", "medium", "high"], "description": "Defaults to medium" },
                    "due": { "type": "string", "description": DUE },
                    "tags": { "type": "array", "maxItems": 10, "items": { "type": "string", "minLength": 1, "maxLength": 32 } }
                },
                "required": ["title"],
                "additionalProperties": false
            })),
        )
        .with_raw_output_schema(single_task()),
        Tool::new(
            "list_tasks",
            "List the user's tasks, oldest first (so numbers read in order). Filters combine.",
            schema(json!({
                "type": "object",
                "properties": {
                    "status": { "enum": ["all", "pending", "completed"], "description": "Defaults to all" },
                    "priority": { "enum": ["low", "medium", "high"] },
                    "tag": { "type": "string" },
                    "query": { "type": "string", "description": "Words to find in the title or description" },
                    "due_before": { "type": "string", "description": "Only tasks due strictly before this ISO 8601 date or date-time" },
                    "limit": { "type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "description": "Defaults to 50" }
                },
                "additionalProperties": false
            })),
        )
        .with_raw_output_schema(schema(json!({
            "type": "object",
            "properties": { "tasks": { "type": "array", "items": task_schema() }, "total": { "type": "integer" } },
            "required": ["tasks", "total"]
        }))),
        Tool::new(
            "get_task",
            "Get one task by its number or UUID.",
            schema(json!({ "type": "object", "properties": { "task_id": task_id }, "required": ["task_id"], "additionalProperties": false })),
        )
        .with_raw_output_schema(single_task()),
        Tool::new(
            "update_task",
            "Change a task's title, description, priority, due date or tags. Give at least one field; null clears description, due or tags.",
            schema(json!({
                "type": "object",
                "properties": {
                    "task_id": task_id,
                    "title": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "description": { "type": ["string", "null"], "maxLength": 1000 },
                    "priority": { "enum": ["low", "medium", "high"] },
                    "due": { "type": ["string", "null"], "description": DUE },
                    "tags": { "type": ["array", "null"], "maxItems": 10, "items": { "type": "string" } }
                },
                "required": ["task_id"],
                "additionalProperties": false
            })),
        )
        .with_raw_output_schema(single_task()),
        Tool::new(
            "complete_task",
            "Mark a task done (or, with completed=false, not done).",
            schema(json!({
                "type": "object",
                "properties": { "task_id": task_id, "completed": { "type": "boolean", "default": true } },
                "required": ["task_id"],
                "additionalProperties": false
            })),
        )
        .with_raw_output_schema(single_task()),
        Tool::new(
            "delete_task",
            "Delete a task for good. Returns the deleted task.",
            schema(json!({ "type": "object", "properties": { "task_id": task_id }, "required": ["task_id"], "additionalProperties": false })),
        )
        .with_raw_output_schema(single_task()),
    ]
}

/// Runs tool `name` for `user`. `None` when no such tool exists.
pub async fn call(
    store: &Store,
    user: Uuid,
    name: &str,
    args: &Map<String, Value>,
) -> Option<Result<Value, ToolError>> {
    let result = match name {
        "add_task" => add_task(store, user, args).await,
        "list_tasks" => list_tasks(store, user, args).await,
        "get_task" => get_task(store, user, args).await,
        "update_task" => update_task(store, user, args).await,
        "complete_task" => complete_task(store, user, args).await,
        "delete_task" => delete_task(store, user, args).await,
        _ => return None,
    };
    Some(result)
}

fn only(args: &Map<String, Value>, allowed: &[&str]) -> Result<(), ToolError> {
    match args.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ToolError::validation(
            k,
            format!("unknown argument; this tool takes {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `None` when absent; `Some(None)` for an explicit null.
fn field<'a>(args: &'a Map<String, Value>, name: &str) -> Option<Option<&'a Value>> {
    args.get(name)
        .map(|v| if v.is_null() { None } else { Some(v) })
}

fn string(args: &Map<String, Value>, name: &str) -> Result<Option<Option<String>>, ToolError> {
    match field(args, name) {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(Value::String(s))) => Ok(Some(Some(s.clone()))),
        Some(Some(_)) => Err(ToolError::validation(name, "must be a string")),
    }
}

fn required_string(args: &Map<String, Value>, name: &str) -> Result<String, ToolError> {
    string(args, name)?
        .flatten()
        .ok_or_else(|| ToolError::validation(name, "is required"))
}

fn priority(args: &Map<String, Value>) -> Result<Option<Priority>, ToolError> {
    match string(args, "priority")? {
        None | Some(None) => Ok(None),
        Some(Some(p)) => Priority::parse(&p).map(Some).ok_or_else(|| {
            ToolError::validation("priority", format!("{p:?} is not one of low, medium, high"))
        }),
    }
}

fn due(args: &Map<String, Value>, name: &str) -> Result<Option<Option<OffsetDateTime>>, ToolError> {
    match string(args, name)? {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(raw)) => parse_due(name, &raw)
            .map(|d| Some(Some(d)))
            .map_err(|e| ToolError::validation(name, e.message)),
    }
}

fn tags(args: &Map<String, Value>) -> Result<Option<Option<Vec<String>>>, ToolError> {
    match field(args, "tags") {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(Value::Array(items))) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ToolError::validation("tags", "must be a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Some(Some(v))),
        Some(Some(_)) => Err(ToolError::validation("tags", "must be a list of strings")),
    }
}

fn task_ref(args: &Map<String, Value>) -> Result<TaskRef, ToolError> {
    match args.get("task_id") {
        None | Some(Value::Null) => Err(ToolError::validation(
            "task_id",
            "is required (the task's number, e.g. 3)",
        )),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(TaskRef::Number)
            .ok_or_else(|| ToolError::validation("task_id", "must be a positive task number")),
        Some(Value::String(s)) => {
            let s = s.trim().trim_start_matches('#');
            if let Ok(n) = s.parse::<i32>()
                && n > 0
            {
                return Ok(TaskRef::Number(n));
            }
            Uuid::parse_str(s).map(TaskRef::Id).map_err(|_| {
                ToolError::validation("task_id", format!("{s:?} is not a task number or UUID"))
            })
        }
        Some(_) => Err(ToolError::validation(
            "task_id",
            "must be a task number or UUID",
        )),
    }
}

fn task_json(task: &Task) -> Value {
    json!({ "task": task })
}

async fn add_task(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(args, &["title", "description", "priority", "due", "tags"])?;
    let title = required_string(args, "title")?;
    let description = string(args, "description")?.flatten();
    let due_at = due(args, "due")?.flatten();
    let tags = tags(args)?.flatten().unwrap_or_default();
    let task = NewTask::new(
        &title,
        description.as_deref(),
        priority(args)?,
        due_at,
        &tags,
    )
    .map_err(|e| ToolError::validation(&e.field, e.message))?;
    let task = store.tasks().create(user, &task).await?;
    Ok(task_json(&task))
}

async fn list_tasks(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(
        args,
        &["status", "priority", "tag", "query", "due_before", "limit"],
    )?;
    let mut query = TaskQuery {
        sort: SortKey::CreatedAt,
        order: Order::Asc,
        ..TaskQuery::default()
    };
    if let Some(Some(status)) = string(args, "status")? {
        query.status = StatusFilter::parse(&status).ok_or_else(|| {
            ToolError::validation(
                "status",
                format!("{status:?} is not one of all, pending, completed"),
            )
        })?;
    }
    query.priority = priority(args)?;
    query.tag = string(args, "tag")?
        .flatten()
        .map(|t| normalise_tag(&t))
        .filter(|t| !t.is_empty());
    query.search = string(args, "query")?
        .flatten()
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    query.due_before = due(args, "due_before")?.flatten();
    match field(args, "limit") {
        None | Some(None) => {}
        Some(Some(v)) => {
            query.limit = v
                .as_u64()
                .and_then(|l| u32::try_from(l).ok())
                .filter(|l| (1..=LIMIT_MAX).contains(l))
                .ok_or_else(|| {
                    ToolError::validation(
                        "limit",
                        format!("must be a whole number from 1 to {LIMIT_MAX}"),
                    )
                })?;
        }
    }
    let page = store.tasks().list(user, &query).await?;
    Ok(json!({ "tasks": page.items, "total": page.total }))
}

async fn get_task(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(args, &["task_id"])?;
    let task = task_ref(args)?;
    store
        .tasks()
        .get(user, task)
        .await?
        .map(|t| task_json(&t))
        .ok_or_else(|| ToolError::not_found(task))
}

async fn update_task(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(
        args,
        &["task_id", "title", "description", "priority", "due", "tags"],
    )?;
    let task = task_ref(args)?;
    let title = match string(args, "title")? {
        Some(None) => {
            return Err(ToolError::validation(
                "title",
                "cannot be null; every task has a title",
            ));
        }
        other => other.flatten(),
    };
    if matches!(field(args, "priority"), Some(None)) {
        return Err(ToolError::validation(
            "priority",
            "cannot be null; use low, medium or high",
        ));
    }
    let patch = TaskPatch {
        title,
        description: string(args, "description")?,
        priority: priority(args)?,
        due_at: due(args, "due")?,
        tags: tags(args)?.map(Option::unwrap_or_default),
        completed: None,
    };
    if patch.is_empty() {
        return Err(ToolError::validation(
            "task_id",
            "give at least one field to change: title, description, priority, due or tags",
        ));
    }
    let patch = patch
        .normalised()
        .map_err(|e| ToolError::validation(&e.field, e.message))?;
    store
        .tasks()
        .update(user, task, &patch)
        .await?
        .map(|t| task_json(&t))
        .ok_or_else(|| ToolError::not_found(task))
}

async fn complete_task(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(args, &["task_id", "completed"])?;
    let task = task_ref(args)?;
    let completed = match field(args, "completed") {
        None | Some(None) => true,
        Some(Some(Value::Bool(b))) => *b,
        Some(Some(_)) => return Err(ToolError::validation("completed", "must be true or false")),
    };
    store
        .tasks()
        .set_completed(user, task, completed)
        .await?
        .map(|t| task_json(&t))
        .ok_or_else(|| ToolError::not_found(task))
}

async fn delete_task(
    store: &Store,
    user: Uuid,
    args: &Map<String, Value>,
) -> Result<Value, ToolError> {
    only(args, &["task_id"])?;
    let task = task_ref(args)?;
    store
        .tasks()
        .delete(user, task)
        .await?
        .map(|t| task_json(&t))
        .ok_or_else(|| ToolError::not_found(task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn task_ids_are_numbers_or_uuids() {
        assert_eq!(
            task_ref(&args(json!({"task_id": 3}))),
            Ok(TaskRef::Number(3))
        );
        assert_eq!(
            task_ref(&args(json!({"task_id": "#4"}))),
            Ok(TaskRef::Number(4))
        );
        assert!(matches!(
            task_ref(&args(
                json!({"task_id": "6f1e0d1c-1a2b-4c3d-8e9f-000000000000"})
            )),
            Ok(TaskRef::Id(_))
        ));
        for bad in [
            json!({}),
            json!({"task_id": 0}),
            json!({"task_id": -2}),
            json!({"task_id": 1.5}),
            json!({"task_id": "milk"}),
            json!({"task_id": [1]}),
        ] {
            assert_eq!(
                task_ref(&args(bad.clone())).map_err(|e| e.field),
                Err(Some("task_id".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_tool_has_an_object_input_schema_and_an_output_schema() {
        let tools = definitions();
        let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "add_task",
                "list_tasks",
                "get_task",
                "update_task",
                "complete_task",
                "delete_task"
            ]
        );
        for tool in &tools {
            assert_eq!(
                tool.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                tool.name
            );
            assert_eq!(
                tool.input_schema.get("additionalProperties"),
                Some(&json!(false)),
                "{}",
                tool.name
            );
            assert!(tool.output_schema.is_some(), "{}", tool.name);
            assert!(tool.description.as_ref().is_some_and(|d| d.len() > 10));
        }
    }

    #[test]
    fn errors_carry_stable_codes() {
        let r = ToolError::not_found(TaskRef::Number(9)).into_result();
        assert_eq!(r.is_error, Some(true));
        assert_eq!(
            r.structured_content
                .as_ref()
                .map(|v| v["error"]["code"].clone()),
            Some(json!("TASK_NOT_FOUND"))
        );
    }
}
