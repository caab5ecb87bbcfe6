//! Task list queries: filters, sort, and paging by offset or by an opaque keyset cursor (stable
//! under inserts, and cheap deep into a list).

use crate::error::ValidationError;
use crate::model::{Priority, Task};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use todo_wire::query::{LIMIT_DEFAULT, LIMIT_MAX};
pub use todo_wire::{Order, SortKey, StatusFilter, TaskPage};

/// The `NULLS` clause of a key's ORDER BY. Only `due_at` can be NULL (those tasks go last
/// either way); the others say nothing, because an explicit `NULLS LAST` on a `DESC` sort
/// would no longer match the `(user_id, created_at DESC, id DESC)` index and every list would
/// sort all of the user's tasks.
pub(crate) fn nulls(key: SortKey) -> &'static str {
    match key {
        SortKey::DueAt => " NULLS LAST",
        _ => "",
    }
}

/// The column of a sort key (its wire name is the column name).
pub(crate) fn column(key: SortKey) -> &'static str {
    key.as_str()
}

pub(crate) fn sql(order: Order) -> &'static str {
    match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    Offset(u32),
    Cursor(Cursor),
}

/// The last row of the previous page, by sort value and id. Only meaningful for the sort it was
/// made with; it carries that sort so a mismatched cursor is refused instead of skipping rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    pub sort: SortKey,
    #[serde(rename = "o")]
    pub order: Order,
    #[serde(rename = "v")]
    pub value: CursorValue,
    #[serde(rename = "i")]
    pub id: Uuid,
}

/// Tagged, so a title that looks like a timestamp still decodes as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CursorValue {
    Null,
    Text(String),
    Time(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
}

impl Cursor {
    /// Encodes as URL-safe text (hex of compact JSON: no padding or escaping issues in URLs).
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        json.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(raw: &str) -> Result<Cursor, ValidationError> {
        let bad = || {
            ValidationError::new(
                "cursor",
                "is not a cursor returned by this API (use next_cursor as given)",
            )
        };
        if !raw.len().is_multiple_of(2) || raw.len() > 2048 {
            return Err(bad());
        }
        let bytes: Option<Vec<u8>> = (0..raw.len())
            .step_by(2)
            .map(|i| {
                raw.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect();
        let bytes = bytes.ok_or_else(bad)?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    pub(crate) fn after(task: &Task, sort: SortKey, order: Order) -> Cursor {
        let value = match sort {
            SortKey::CreatedAt => CursorValue::Time(task.created_at),
            SortKey::UpdatedAt => CursorValue::Time(task.updated_at),
            SortKey::DueAt => task
                .due_at
                .map(CursorValue::Time)
                .unwrap_or(CursorValue::Null),
            SortKey::Priority => CursorValue::Text(task.priority.as_str().to_owned()),
            SortKey::Title => CursorValue::Text(task.title.clone()),
        };
        Cursor {
            sort,
            order,
            value,
            id: task.id,
        }
    }
}

/// A task list request, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskQuery {
    pub status: StatusFilter,
    pub priority: Option<Priority>,
    pub tag: Option<String>,
    pub search: Option<String>,
    pub due_before: Option<OffsetDateTime>,
    pub due_after: Option<OffsetDateTime>,
    pub sort: SortKey,
    pub order: Order,
    pub limit: u32,
    pub paging: Paging,
}

impl Default for TaskQuery {
    fn default() -> Self {
        TaskQuery {
            status: StatusFilter::All,
            priority: None,
            tag: None,
            search: None,
            due_before: None,
            due_after: None,
            sort: SortKey::CreatedAt,
            order: Order::Desc,
            limit: LIMIT_DEFAULT,
            paging: Paging::Offset(0),
        }
    }
}

impl TaskQuery {
    /// Checks cross-field rules (limit range, cursor matching the sort).
    pub fn validated(self) -> Result<TaskQuery, ValidationError> {
        if self.limit == 0 || self.limit > LIMIT_MAX {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {LIMIT_MAX}"),
            ));
        }
        if let Paging::Cursor(c) = &self.paging
            && (c.sort != self.sort || c.order != self.order)
        {
            return Err(ValidationError::new(
                "cursor",
                "was made for a different sort or order; start again without a cursor",
            ));
        }
        if let (Some(before), Some(after)) = (self.due_before, self.due_after)
            && after > before
        {
            return Err(ValidationError::new(
                "due_after",
                "must not be later than due_before",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            sort: SortKey::DueAt,
            order: Order::Asc,
            value: CursorValue::Null,
            id: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let t = Cursor {
            sort: SortKey::CreatedAt,
            order: Order::Desc,
            value: CursorValue::Time(time::macros::datetime!(2026-01-02 3:04:05.123456 UTC)),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&t.encode()).unwrap(), t);
        assert_eq!(Cursor::decode("zz").unwrap_err().field, "cursor");
        assert!(Cursor::decode("abc").is_err());
        assert!(
            Cursor::decode("7b7d").is_err(),
            "valid hex of {{}} is not a cursor"
        );
    }

    #[test]
    fn query_rules() {
        assert!(
            TaskQuery {
                limit: 0,
                ..Default::default()
            }
            .validated()
            .is_err()
        );
        assert!(
            TaskQuery {
                limit: 201,
                ..Default::default()
            }
            .validated()
            .is_err()
        );
        assert!(
            TaskQuery {
                limit: 200,
                ..Default::default()
            }
            .validated()
            .is_ok()
        );
        let c = Cursor {
            sort: SortKey::Title,
            order: Order::Asc,
            value: CursorValue::Null,
            id: Uuid::nil(),
        };
        let q = TaskQuery {
            paging: Paging::Cursor(c),
            ..Default::default()
        };
        assert_eq!(q.validated().unwrap_err().field, "cursor");
    }
}
