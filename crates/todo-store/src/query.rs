//! Task list queries: filters, sort, and paging by offset or by an opaque keyset cursor (stable
//! under inserts, and cheap deep into a list).

use crate::error::ValidationError;
use crate::model::{Priority, Task};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use todo_wire::query::{LIMIT_DEFAULT, LIMIT_MAX, TOTAL_CAP};
pub use todo_wire::zone::DueWindow;
pub use todo_wire::{CountMode, DueFilter, Order, SortKey, StatusFilter, TaskPage, UserZone};

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

/// A list statement as SQL text (`$1`, `$2`, ... placeholders) and the text form of each
/// parameter, in order. PostgreSQL reads each text as the type its placeholder needs. Made by
/// [`crate::TaskStore::list_statement`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListStatement {
    pub sql: String,
    pub params: Vec<String>,
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
    Time(#[serde(with = "cursor_time")] OffsetDateTime),
}

/// RFC 3339 text; a time RFC 3339 cannot write (a due date stored before the year range was
/// enforced) as integer Unix microseconds, so every row can end a page.
mod cursor_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        match t.format(&Rfc3339) {
            Ok(text) => s.serialize_str(&text),
            Err(_) => {
                s.serialize_i64(i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or_default())
            }
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Micros(i64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(text) => {
                OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
            }
            Raw::Micros(us) => OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
                .map_err(serde::de::Error::custom),
        }
    }
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
        // Lower-case hex only, as the schema's pattern says (`from_str_radix` alone would also
        // take upper case and a `+` sign).
        if !raw.len().is_multiple_of(2)
            || raw.len() > 2048
            || !raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
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
    /// A day filter on the user's calendar: `zone`'s days at `now`.
    pub due: Option<DueFilter>,
    /// The user's zone (see [`crate::UserStore::zone_of`]); only `due` reads it, since
    /// `due_before`/`due_after` are instants already.
    pub zone: UserZone,
    /// The instant "today" is taken at; `None` is the time of the call.
    pub now: Option<OffsetDateTime>,
    pub sort: SortKey,
    pub order: Order,
    pub limit: u32,
    pub paging: Paging,
    /// How `total` is counted: capped (the default; the same cost at any list size) or exact.
    pub count: CountMode,
}

impl TaskQuery {
    /// The instants `due` selects (see [`todo_wire::zone`] for the rules).
    pub fn due_window(&self) -> Option<DueWindow> {
        let now = self.now.unwrap_or_else(OffsetDateTime::now_utc);
        self.due.map(|filter| self.zone.window(filter, now))
    }
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
            due: None,
            zone: UserZone::utc(),
            now: None,
            sort: SortKey::CreatedAt,
            order: Order::Desc,
            limit: LIMIT_DEFAULT,
            paging: Paging::Offset(0),
            count: CountMode::Capped,
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
        self.check_values()?;
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

    /// The rules on the query's values that keep bad input away from the database: the
    /// search text (`q`) and tag filter (`tag`) hold no control characters and at most
    /// [`crate::validate::SEARCH_MAX`] characters, and a cursor's value has the type of its
    /// sort. [`TaskQuery::validated`] runs these; [`crate::TaskStore::list`] runs them again,
    /// so a query built without `validated` is still refused with a field, not a database
    /// error.
    pub fn check_values(&self) -> Result<(), ValidationError> {
        if let Some(search) = &self.search {
            crate::validate::search_rule("q", search)?;
        }
        if let Some(tag) = &self.tag {
            crate::validate::search_rule("tag", tag)?;
        }
        if let Paging::Cursor(c) = &self.paging {
            c.check_value()?;
        }
        Ok(())
    }
}

/// The earliest instant PostgreSQL's `timestamptz` holds: 4714-11-24 BC, 00:00 UTC.
const PG_TIMESTAMP_MIN: OffsetDateTime = time::macros::datetime!(-4713-11-24 0:00 UTC);

impl Cursor {
    /// The value must have its sort's type: created_at/updated_at a time, due_at a time or
    /// null, title a text, priority a priority name. A forged cursor is refused on `cursor`
    /// instead of reaching the database as a mistyped comparison.
    pub fn check_value(&self) -> Result<(), ValidationError> {
        // PostgreSQL's timestamptz starts at 4714 BC (astronomical year -4713); an earlier
        // time in a forged cursor was an "out of range" database error, a 500.
        let in_range = |t: &OffsetDateTime| *t >= PG_TIMESTAMP_MIN;
        let ok = match (&self.sort, &self.value) {
            (SortKey::CreatedAt | SortKey::UpdatedAt, CursorValue::Time(t)) => in_range(t),
            (SortKey::DueAt, CursorValue::Time(t)) => in_range(t),
            (SortKey::DueAt, CursorValue::Null) => true,
            (SortKey::Title, CursorValue::Text(t)) => !t.contains('\0'),
            (SortKey::Priority, CursorValue::Text(t)) => {
                Priority::ALL.iter().any(|p| p.as_str() == t)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ValidationError::new(
                "cursor",
                "is not a cursor returned by this API (use next_cursor as given)",
            ))
        }
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
        let ancient = Cursor {
            sort: SortKey::DueAt,
            order: Order::Asc,
            value: CursorValue::Time(time::macros::datetime!(-0001-06-01 0:00 UTC)),
            id: Uuid::nil(),
        };
        assert_eq!(
            Cursor::decode(&ancient.encode()).unwrap(),
            ancient,
            "a year RFC 3339 cannot write still makes a cursor"
        );
        assert_eq!(Cursor::decode("zz").unwrap_err().field, "cursor");
        assert!(Cursor::decode("abc").is_err());
        assert!(
            Cursor::decode("7b7d").is_err(),
            "valid hex of {{}} is not a cursor"
        );
        assert!(
            Cursor::decode(&t.encode().to_uppercase()).is_err(),
            "the schema's pattern is lower-case hex"
        );
    }

    /// A forged cursor with a time PostgreSQL cannot hold was a database error (a 500).
    #[test]
    fn cursor_times_must_fit_the_database() {
        let at = |t: OffsetDateTime| Cursor {
            sort: SortKey::CreatedAt,
            order: Order::Desc,
            value: CursorValue::Time(t),
            id: Uuid::nil(),
        };
        let oldest = at(PG_TIMESTAMP_MIN);
        assert!(
            Cursor::decode(&oldest.encode())
                .unwrap()
                .check_value()
                .is_ok()
        );
        let before = at(time::macros::datetime!(-4713-11-23 23:59:59 UTC));
        let err = Cursor::decode(&before.encode())
            .unwrap()
            .check_value()
            .unwrap_err();
        assert_eq!(err.field, "cursor");
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

    fn cursor(sort: SortKey, value: CursorValue) -> TaskQuery {
        TaskQuery {
            sort,
            order: Order::Desc,
            paging: Paging::Cursor(Cursor {
                sort,
                order: Order::Desc,
                value,
                id: Uuid::nil(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cursor_values_must_match_their_sort() {
        let t = CursorValue::Time(time::macros::datetime!(2026-01-02 3:04 UTC));
        let text = |s: &str| CursorValue::Text(s.to_owned());
        for (sort, value) in [
            (SortKey::CreatedAt, t.clone()),
            (SortKey::UpdatedAt, t.clone()),
            (SortKey::DueAt, t.clone()),
            (SortKey::DueAt, CursorValue::Null),
            (SortKey::Title, text("buy milk")),
            (SortKey::Priority, text("high")),
        ] {
            assert!(
                cursor(sort, value.clone()).validated().is_ok(),
                "{sort:?} {value:?}"
            );
        }
        for (sort, value) in [
            (SortKey::CreatedAt, text("2026-01-02T03:04:00Z")),
            (SortKey::CreatedAt, CursorValue::Null),
            (SortKey::UpdatedAt, text("x")),
            (SortKey::DueAt, text("x")),
            (SortKey::Title, t.clone()),
            (SortKey::Title, CursorValue::Null),
            (SortKey::Title, text("nul\0")),
            (SortKey::Priority, text("urgent")),
            (SortKey::Priority, text("High")),
            (SortKey::Priority, t.clone()),
        ] {
            let err = cursor(sort, value.clone()).validated().unwrap_err();
            assert_eq!(err.field, "cursor", "{sort:?} {value:?}");
        }
    }

    #[test]
    fn search_and_tag_filters_refuse_control_characters() {
        let q = |search: Option<&str>, tag: Option<&str>| TaskQuery {
            search: search.map(str::to_owned),
            tag: tag.map(str::to_owned),
            ..Default::default()
        };
        assert_eq!(q(Some("a\0"), None).validated().unwrap_err().field, "q");
        assert_eq!(
            q(Some("\u{1b}[2J"), None).validated().unwrap_err().field,
            "q"
        );
        assert_eq!(
            q(None, Some("x\u{85}y")).validated().unwrap_err().field,
            "tag"
        );
        assert_eq!(
            q(Some(&"x".repeat(201)), None)
                .validated()
                .unwrap_err()
                .field,
            "q"
        );
        assert!(q(Some("100%"), Some("shop")).validated().is_ok());
    }
}
