//! `/api/tasks`: list (filters, sort, paging), create, read, partial update, delete,
//! complete and reopen. Every handler works on the caller's tasks only; another user's task
//! is a 404, indistinguishable from a task that does not exist.
//!
//! Dates are the caller's: a due date without an offset and the `due=` day filters are read
//! in the user's time zone (`todo_wire::zone` has the rules); `due_at` answers are UTC.

use crate::errors::{from_store, task_not_found};
use crate::json::JsonBody;
use crate::state::AppState;
use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use service_kit::ApiError;
use todo_auth::AuthUser;
use todo_store::query::LIMIT_DEFAULT;
use todo_store::validate::{NewTask, TaskPatch, normalise_tag, parse_due_in, search_rule};
use todo_store::{Cursor, Paging, TaskQuery, TaskRef};
use todo_wire::{CreateTask, ListQuery, Patch, Task, TaskPage, UpdateTask, UserZone};

pub async fn list(
    State(state): State<AppState>,
    auth: AuthUser,
    RawQuery(raw): RawQuery,
) -> Result<Json<TaskPage>, ApiError> {
    let query = read_list_query(raw.as_deref().unwrap_or(""))?;
    let zone = if query.due.is_some() || query.due_before.is_some() || query.due_after.is_some() {
        zone_of(&state, &auth).await?
    } else {
        UserZone::utc()
    };
    let query = task_query(query, &zone)?;
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
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let due_at = match req.due_at.as_deref() {
        Some(raw) => {
            Some(parse_due_in("due_at", raw, &zone_of(&state, &auth).await?).map_err(validation)?)
        }
        None => None,
    };
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
    TaskId(id): TaskId,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .store
        .tasks()
        .get(auth.id, id)
        .await
        .map_err(from_store)?;
    task.map(Json).ok_or_else(task_not_found)
}

pub async fn update(
    State(state): State<AppState>,
    auth: AuthUser,
    TaskId(task): TaskId,
    JsonBody(req): JsonBody<UpdateTask>,
) -> Result<Json<Task>, ApiError> {
    let never_null =
        |field: &str, hint: &str| ApiError::validation(field, format!("cannot be null; {hint}"));
    let patch = TaskPatch {
        title: match req.title {
            Patch::Clear => return Err(never_null("title", "every task has a title")),
            other => other.into_option().flatten(),
        },
        description: req.description.into_option(),
        priority: match req.priority {
            Patch::Clear => return Err(never_null("priority", "use low, medium or high")),
            other => other.into_option().flatten(),
        },
        due_at: match req.due_at {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(raw) => {
                let zone = zone_of(&state, &auth).await?;
                Some(Some(
                    parse_due_in("due_at", &raw, &zone).map_err(validation)?,
                ))
            }
        },
        tags: req.tags.into_option().map(Option::unwrap_or_default),
        completed: match req.completed {
            Patch::Clear => return Err(never_null("completed", "use true or false")),
            other => other.into_option().flatten(),
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
    TaskId(id): TaskId,
) -> Result<StatusCode, ApiError> {
    match state
        .store
        .tasks()
        .delete(auth.id, id)
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
    id: TaskId,
) -> Result<Json<Task>, ApiError> {
    set_completed(state, auth, id, true).await
}

pub async fn reopen(
    state: State<AppState>,
    auth: AuthUser,
    id: TaskId,
) -> Result<Json<Task>, ApiError> {
    set_completed(state, auth, id, false).await
}

async fn set_completed(
    State(state): State<AppState>,
    auth: AuthUser,
    TaskId(id): TaskId,
    done: bool,
) -> Result<Json<Task>, ApiError> {
    let task = state
        .store
        .tasks()
        .set_completed(auth.id, id, done)
        .await
        .map_err(from_store)?;
    task.map(Json).ok_or_else(task_not_found)
}

/// The `{id}` path segment: a task number (`3`, `#3`) or a task UUID (hyphenated), exactly the
/// shapes the `TaskKey` schema allows; anything else is a 422 naming `id`.
pub struct TaskId(pub TaskRef);

impl<S: Send + Sync> FromRequestParts<S> for TaskId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let raw = path_segment(parts, state).await?;
        task_ref(&raw).map(TaskId)
    }
}

/// The single path parameter, decoded; a 422 naming `id` when it cannot be.
pub async fn path_segment<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<String, ApiError> {
    Path::<String>::from_request_parts(parts, state)
        .await
        .map(|Path(raw)| raw)
        .map_err(|_| ApiError::validation("id", "is not valid URL-encoded UTF-8 text"))
}

fn task_ref(raw: &str) -> Result<TaskRef, ApiError> {
    // The integer form of the TaskKey schema arrives as digits (up to i32::MAX); the string
    // forms as the schema's patterns.
    TaskRef::number_text(raw)
        .or_else(|| TaskRef::parse(raw))
        .ok_or_else(|| ApiError::validation("id", format!("must be {}", TaskRef::HELP)))
}

/// The caller's time zone, which dates without an offset and the day filters are read in.
/// Loaded only by requests that carry such a date.
async fn zone_of(state: &AppState, auth: &AuthUser) -> Result<UserZone, ApiError> {
    state
        .store
        .users()
        .zone_of(auth.id)
        .await
        .map_err(from_store)
}

fn validation(e: todo_store::ValidationError) -> ApiError {
    ApiError::validation(e.field, e.message)
}

/// Parses the list query string into [`ListQuery`] (the wire type the document describes),
/// then into a validated store query for a user in `zone`. Unknown parameters are a 400 (a
/// typo like `stauts=` would otherwise silently return everything); a repeated or invalid one
/// is a 422. Either way `field` names the parameter.
pub fn parse_list_query(raw: &str, zone: &UserZone) -> Result<TaskQuery, ApiError> {
    task_query(read_list_query(raw)?, zone)
}

/// The query string as the wire type, checked for shape only.
fn read_list_query(raw: &str) -> Result<ListQuery, ApiError> {
    utf8_query(raw)?;
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    let query: ListQuery = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let quoted = |prefix: &str| {
            let rest = message.strip_prefix(prefix)?;
            rest.split('`').next().map(str::to_owned)
        };
        if let Some(name) = quoted("unknown field `") {
            return ApiError::bad_request(
                "UNKNOWN_PARAMETER",
                format!(
                    "unknown query parameter {name:?}; known: status, priority, tag, q, due, due_before, due_after, sort, order, limit, offset, cursor, count"
                ),
            )
            .with_field(name);
        }
        if let Some(name) = quoted("duplicate field `") {
            return ApiError::validation(name, "given more than once");
        }
        let field = if path == "." { "query".to_owned() } else { path };
        ApiError::validation(field, message)
    })?;
    Ok(query)
}

/// `form_urlencoded` decodes bytes that are not UTF-8 (`tag=%ff`) to U+FFFD, silently
/// searching for something nobody sent; such a parameter is a 422 naming it instead.
fn utf8_query(raw: &str) -> Result<(), ApiError> {
    /// Percent-decodes; a `%` not followed by two hex digits stays as is (as form_urlencoded
    /// reads it).
    fn decode(s: &str) -> Vec<u8> {
        let hex = |b: u8| char::from(b).to_digit(16);
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let pair = b
                .get(i + 1)
                .copied()
                .and_then(hex)
                .zip(b.get(i + 2).copied().and_then(hex));
            match (b[i], pair) {
                (b'%', Some((hi, lo))) => {
                    // Two hex digits are at most 0xff.
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }
    for pair in raw.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = String::from_utf8(decode(name))
            .map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        let problem = match &name {
            Err(_) => Some("parameter name is not valid URL-encoded UTF-8 text"),
            Ok(_) if std::str::from_utf8(&decode(value)).is_err() => Some(
                "is not valid URL-encoded UTF-8 text (percent-encode the UTF-8 bytes of each character)",
            ),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            let field = name.unwrap_or_else(|lossy| lossy);
            return Err(ApiError::validation(field, problem));
        }
    }
    Ok(())
}

fn task_query(q: ListQuery, zone: &UserZone) -> Result<TaskQuery, ApiError> {
    let due = |field: &str, raw: Option<String>| {
        raw.map(|raw| parse_due_in(field, &raw, zone))
            .transpose()
            .map_err(validation)
    };
    let text = |field: &str, raw: Option<String>| {
        raw.map(|raw| search_rule(field, &raw))
            .transpose()
            .map(Option::flatten)
            .map_err(validation)
    };
    let paging = match (q.cursor, q.offset) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "cursor",
                "use either cursor or offset, not both",
            ));
        }
        (Some(c), None) => Paging::Cursor(Cursor::decode(&c).map_err(validation)?),
        (None, o) => Paging::Offset(o.unwrap_or(0)),
    };
    TaskQuery {
        status: q.status.unwrap_or_default(),
        priority: q.priority,
        tag: text("tag", q.tag)?
            .map(|t| normalise_tag(&t))
            .filter(|t| !t.is_empty()),
        search: text("q", q.q)?,
        due_before: due("due_before", q.due_before)?,
        due_after: due("due_after", q.due_after)?,
        due: q.due,
        zone: zone.clone(),
        now: None,
        sort: q.sort.unwrap_or_default(),
        order: q.order.unwrap_or_default(),
        limit: q.limit.unwrap_or(LIMIT_DEFAULT),
        paging,
        count: q.count.unwrap_or_default(),
    }
    .validated()
    .map_err(validation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use todo_store::{Order, SortKey, StatusFilter};

    fn field(raw: &str) -> Option<String> {
        parse_list_query(raw, &UserZone::utc())
            .err()
            .and_then(|e| e.field)
    }

    #[test]
    fn list_query_parses_and_names_bad_parameters() {
        let q = parse_list_query("status=pending&priority=high&tag=%23Work&q=milk&sort=due_at&order=asc&limit=10&offset=20", &UserZone::utc()).ok();
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
        assert_eq!(field("offset=-1").as_deref(), Some("offset"));
        assert_eq!(field("priority=High").as_deref(), Some("priority"));
        assert_eq!(field("q=a%00b").as_deref(), Some("q"));
        assert_eq!(field("tag=a%00b").as_deref(), Some("tag"));
        assert_eq!(
            field("due_before=-0001-01-01").as_deref(),
            Some("due_before")
        );
        assert_eq!(
            parse_list_query("stauts=x", &UserZone::utc())
                .err()
                .map(|e| (e.status.as_u16(), e.code)),
            Some((400, "UNKNOWN_PARAMETER"))
        );
        assert_eq!(field("tag=%ff").as_deref(), Some("tag"));
        assert_eq!(field("q=a%C0%80").as_deref(), Some("q"), "overlong NUL");
        assert_eq!(field("q=%ED%A0%80").as_deref(), Some("q"), "a surrogate");
        assert!(parse_list_query("q=%E2%9C%93+100%25&tag=caf%C3%A9", &UserZone::utc()).is_ok());
        assert!(
            parse_list_query("q=100%", &UserZone::utc()).is_ok(),
            "a bare % is text"
        );
        assert!(parse_list_query("", &UserZone::utc()).is_ok());
        assert!(parse_list_query("q=&tag=", &UserZone::utc()).is_ok());
        assert_eq!(
            parse_list_query("count=exact", &UserZone::utc())
                .ok()
                .map(|q| q.count),
            Some(todo_store::query::CountMode::Exact)
        );
        assert_eq!(
            parse_list_query("", &UserZone::utc()).ok().map(|q| q.count),
            Some(todo_store::query::CountMode::Capped),
            "capped unless asked"
        );
        assert_eq!(field("count=all").as_deref(), Some("count"));
    }

    #[test]
    fn tasks_are_named_by_uuid_or_number() {
        assert_eq!(task_ref("3").ok(), Some(TaskRef::Number(3)));
        assert!(matches!(
            task_ref("6f1e0d1c-1a2b-4c3d-8e9f-000000000000"),
            Ok(TaskRef::Id(_))
        ));
        assert_eq!(task_ref("#4").ok(), Some(TaskRef::Number(4)));
        assert_eq!(task_ref("2147483647").ok(), Some(TaskRef::Number(i32::MAX)));
        for bad in [
            "0",
            "-1",
            "+1",
            "01",
            " 1",
            "abc",
            "99999999999",
            "2147483648",
            "",
            "#1234567890",
            "6f1e0d1c1a2b4c3d8e9f000000000000",
        ] {
            assert_eq!(
                task_ref(bad).err().and_then(|e| e.field).as_deref(),
                Some("id"),
                "{bad}"
            );
        }
    }
}
