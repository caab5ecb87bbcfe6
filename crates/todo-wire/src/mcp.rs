//! The MCP tools' arguments and results: todo-mcp derives its tool schemas from these, and
//! todo-chat builds its calls with them.
//!
//! Argument types deny unknown keys so a model that misspells one is told, instead of the
//! call silently doing less than asked.

use crate::patch::Patch;
use crate::query::{DueFilter, StatusFilter};
use crate::task::{Priority, Task, TaskKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `add_task`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddTaskArgs {
    /// What to do.
    #[schemars(schema_with = "crate::task::title_schema")]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::description_schema_option")]
    pub description: Option<String>,
    /// Defaults to medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// A date (that day in the user's time zone), a local date-time (the user's zone) or an
    /// RFC 3339 instant with `Z` or an offset. The result names the zone assumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::due_schema_option")]
    pub due: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::tags_schema_option")]
    pub tags: Option<Vec<String>>,
}

/// `list_tasks`. Filters combine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTasksArgs {
    /// Defaults to all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::text_schema_option")]
    pub tag: Option<String>,
    /// Words to find in the title or description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::text_schema_option")]
    pub query: Option<String>,
    /// Due today, tomorrow, overdue (pending and past due) or this week (today to the end of
    /// Sunday), on the user's calendar in their time zone (the result names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DueFilter>,
    /// Only tasks due strictly before this ISO 8601 date or date-time (a date, or a time
    /// without an offset, is in the user's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::due_schema_option")]
    pub due_before: Option<String>,
    /// Defaults to 50.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::query::lenient_u32::deserialize"
    )]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

/// `get_task`, `delete_task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIdArgs {
    pub task_id: TaskKey,
}

/// `update_task`: give at least one field; `null` clears description, due or tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskArgs {
    pub task_id: TaskKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::title_schema")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::description_schema_option")]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::due_schema_option")]
    pub due: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::tags_schema_option")]
    pub tags: Patch<Vec<String>>,
}

/// `complete_task`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskArgs {
    pub task_id: TaskKey,
    /// false marks the task not done again. Defaults to true.
    #[serde(default = "yes")]
    #[schemars(default = "yes")]
    pub completed: bool,
}

fn yes() -> bool {
    true
}

/// What every single-task tool returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskResult {
    pub task: Task,
    /// The user's IANA time zone, in which a date or a time without an offset was read.
    /// (`due_at` is always an instant in UTC.) Absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::mcp::zone_schema")]
    pub time_zone: Option<String>,
}

/// What `list_tasks` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskListResult {
    pub tasks: Vec<Task>,
    /// Tasks matching the filters (may exceed `tasks` when limited), counted up to 1,000.
    pub total: i64,
    /// True when more than `total` tasks match (counting stopped at 1,000).
    #[serde(default)]
    pub total_is_lower_bound: bool,
    /// The user's IANA time zone, whose days `due` and dates without an offset meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::mcp::zone_schema")]
    pub time_zone: Option<String>,
}

fn zone_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::zone::stored_schema(g)
}
