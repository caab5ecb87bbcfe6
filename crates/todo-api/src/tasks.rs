//! `/api/tasks`: list (filters, sort, paging), create, read, partial update, delete,
//! complete and reopen. Every handler works on the caller's tasks only; another user's task
//! is a 404, indistinguishable from a task that does not exist.

use crate::errors::{from_store, task_not_found};
use crate::json::{JsonBody, nullable};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_store::query::LIMIT_MAX;
use todo_store::validate::{NewTask, TaskPatch, normalise_tag, parse_due};
use todo_store::{Cursor, Order, Paging, Priority, SortKey, StatusFilter, TaskQuery, TaskRef};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    due_at: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// PATCH body: absent keeps a field; `null` clears description, due_at and tags.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    #[serde(default, deserialize_with = "nullable")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    priority: Option<Option<Priority>>,
    #[serde(default, deserialize_with = "nullable")]
    due_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    completed: Option<Option<bool>>,
}

pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = parse_list_query(raw.as_deref().unwrap_or(""))?;
    let page = state
        .store
        .tasks()
        .list(auth.id, &query)
        .await
        .map_err(from_store)?;
    Ok(Json(page))
}

pub async fn create(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<CreateTask>,
) -> Result<impl IntoResponse, ApiError> {
    let due_at = req
        .due_at
        .as_deref()
        .map(|d| parse_due("due_at", d))
        .transpose()
        .map_err(validation)?;
    let task = NewTask::new(
        &req.title,
        req.description.as_deref(),
        req.priority,
        due_at,
        req.tags.as_deref().unwrap_or(&[]),
    )
    .map_err(validation)?;
    let task = state
        .store
        .tasks()
        .create(auth.id, &task)
        .await
        .map_err(from_store)?;
    Ok((StatusCode::CREATED, Json(task)))
}

pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let task = state
        .store
        .tasks()
        .get(auth.id, task_ref(&id)?)
        .await
        .map_err(from_store)?;
    task.map(Json).ok_or_else(task_not_found)
}

pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateTask>,
) -> Result<impl IntoResponse, ApiError> {
    let task = task_ref(&id)?;
    let patch = TaskPatch {
        title: match req.title {
            Some(None) => {
                return Err(ApiError::validation(
                    "title",
                    "cannot be null; every task has a title",
                ));
            }
            other => other.flatten(),
        },
        description: req.description,
        priority: match req.priority {
            Some(None) => {
                return Err(ApiError::validation(
                    "priority",
                    "cannot be null; use low, medium or high",
                ));
            }
            other => other.flatten(),
        },
        due_at: match req.due_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(raw)) => Some(Some(parse_due("due_at", &raw).map_err(validation)?)),
        },
        tags: req.tags.map(Option::unwrap_or_default),
        completed: match req.completed {
            Some(None) => {
                return Err(ApiError::validation(
                    "completed",
                    "cannot be null; use true or false",
                ));
            }
            other => other.flatten(),
        },
    };
    if patch.is_empty() {
        return Err(ApiError::validation(
            "body",
            "send at least one field to change",
        ));
    }
    let patch = patch.normalised().map_err(validation)?;
    let task = state
        .store
        .tasks()
        .update(auth.id, task, &patch)
        .await
        .map_err(from_store)?;
    task.map(Json).ok_or_else(task_not_found)
}

pub async fn delete(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    match state
        .store
        .tasks()
        .delete(auth.id, task_ref(&id)?)
        .await
        .map_err(from_store)?
    {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(task_not_found()),
    }
}

pub async fn complete(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_completed(state, auth, id, true).await
}

pub async fn reopen(
    state: State<AppState>,
    auth: AuthUser,
    id: Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    set_completed(state, auth, id, false).await
}

async fn set_completed(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
    done: bool,
) -> Result<impl IntoResponse, ApiError> {
    let task = state
        .store
        .tasks()
        .set_completed(auth.id, task_ref(&id)?, done)
        .await
        .map_err(from_store)?;
    task.map(Json).ok_or_else(task_not_found)
}

/// A task is named by its UUID or by the user's task number (`/api/tasks/3`).
fn task_ref(raw: &str) -> Result<TaskRef, ApiError> {
    if let Ok(id) = uuid::Uuid::parse_str(raw) {
        return Ok(TaskRef::Id(id));
    }
    match raw.parse::<i32>() {
        Ok(n) if n > 0 => Ok(TaskRef::Number(n)),
        _ => Err(ApiError::validation(
            "id",
            "must be a task UUID or a task number such as 3",
        )),
    }
}

fn validation(e: todo_store::ValidationError) -> ApiError {
    ApiError::validation(e.field, e.message)
}

/// Parses the list query string. Unknown parameters are refused (a typo like `stauts=` would
/// otherwise silently return everything).
pub fn parse_list_query(raw: &str) -> Result<TaskQuery, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).map_err(|_| {
        ApiError::bad_request("BAD_QUERY", "the query string is not valid URL encoding")
    })?;
    let mut q = TaskQuery::default();
    let mut cursor = None;
    let mut offset = None;
    let mut seen: Vec<&str> = Vec::new();
    for (key, value) in &pairs {
        if seen.contains(&key.as_str()) {
            return Err(ApiError::validation(key.clone(), "given more than once"));
        }
        seen.push(key);
        let invalid = |msg: String| ApiError::validation(key.clone(), msg);
        match key.as_str() {
            "status" => {
                q.status = StatusFilter::parse(value).ok_or_else(|| {
                    invalid(format!("{value:?} is not one of all, pending, completed"))
                })?
            }
            "priority" => {
                q.priority =
                    Some(Priority::parse(value).ok_or_else(|| {
                        invalid(format!("{value:?} is not one of low, medium, high"))
                    })?)
            }
            "tag" => q.tag = Some(normalise_tag(value)).filter(|t| !t.is_empty()),
            "q" => q.search = Some(value.trim().to_owned()).filter(|s| !s.is_empty()),
            "due_before" => {
                q.due_before = Some(parse_due("due_before", value).map_err(validation)?)
            }
            "due_after" => q.due_after = Some(parse_due("due_after", value).map_err(validation)?),
            "sort" => {
                q.sort = SortKey::parse(value).ok_or_else(|| {
                    invalid(format!(
                        "{value:?} is not a sort key; use one of {}",
                        SortKey::NAMES
                    ))
                })?
            }
            "order" => {
                q.order = Order::parse(value)
                    .ok_or_else(|| invalid(format!("{value:?} is not asc or desc")))?
            }
            "limit" => {
                q.limit = value
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=LIMIT_MAX).contains(l))
                    .ok_or_else(|| {
                        invalid(format!("must be a whole number from 1 to {LIMIT_MAX}"))
                    })?
            }
            "offset" => {
                offset = Some(
                    value
                        .parse::<u32>()
                        .map_err(|_| invalid("must be a whole number, 0 or more".into()))?,
                )
            }
            "cursor" => cursor = Some(Cursor::decode(value).map_err(validation)?),
            other => {
                return Err(ApiError::bad_request(
                    "UNKNOWN_PARAMETER",
                    format!("unknown query parameter {other:?}; known: status, priority, tag, q, due_before, due_after, sort, order, limit, offset, cursor"),
                )
                .with_field(other));
            }
        }
    }
    q.paging = match (cursor, offset) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "cursor",
                "use either cursor or offset, not both",
            ));
        }
        (Some(c), None) => Paging::Cursor(c),
        (None, o) => Paging::Offset(o.unwrap_or(0)),
    };
    q.validated().map_err(validation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(raw: &str) -> Option<String> {
        parse_list_query(raw).err().and_then(|e| e.field)
    }

    #[test]
    fn list_query_parses_and_names_bad_parameters() {
        let q = parse_list_query("status=pending&priority=high&tag=%23Work&q=milk&sort=due_at&order=asc&limit=10&offset=20").ok();
        let q = q.as_ref();
        assert_eq!(q.map(|q| q.status), Some(StatusFilter::Pending));
        assert_eq!(q.and_then(|q| q.tag.clone()).as_deref(), Some("work"));
        assert_eq!(
            q.map(|q| (q.sort, q.order, q.limit)),
            Some((SortKey::DueAt, Order::Asc, 10))
        );
        assert_eq!(q.map(|q| q.paging.clone()), Some(Paging::Offset(20)));
        assert_eq!(field("sort=colour").as_deref(), Some("sort"));
        assert_eq!(field("status=done").as_deref(), Some("status"));
        assert_eq!(field("limit=201").as_deref(), Some("limit"));
        assert_eq!(field("limit=0").as_deref(), Some("limit"));
        assert_eq!(field("order=up").as_deref(), Some("order"));
        assert_eq!(field("due_before=soon").as_deref(), Some("due_before"));
        assert_eq!(field("stauts=pending").as_deref(), Some("stauts"));
        assert_eq!(field("cursor=zz").as_deref(), Some("cursor"));
        assert_eq!(field("limit=1&limit=2").as_deref(), Some("limit"));
    }

    #[test]
    fn tasks_are_named_by_uuid_or_number() {
        assert_eq!(task_ref("3").ok(), Some(TaskRef::Number(3)));
        assert!(matches!(
            task_ref("6f1e0d1c-1a2b-4c3d-8e9f-000000000000"),
            Ok(TaskRef::Id(_))
        ));
        for bad in ["0", "-1", "abc", "99999999999"] {
            assert_eq!(
                task_ref(bad).err().and_then(|e| e.field).as_deref(),
                Some("id"),
                "{bad}"
            );
        }
    }
}
