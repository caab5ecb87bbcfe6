//! The task list: its query (`GET /api/tasks?...`) and its page.

use crate::task::{DUE_HELP, DUE_PATTERN, Priority, Task};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub const LIMIT_DEFAULT: u32 = 50;
pub const LIMIT_MAX: u32 = 200;
/// How far a list counts its matching tasks unless asked for an exact count: a count that
/// stops here costs the same for a user with 1,000 tasks as for one with 100,000.
pub const TOTAL_CAP: i64 = 1000;

/// How a list counts the tasks matching its filters (`total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CountMode {
    /// Count up to 1,000 (`TOTAL_CAP`); past that `total` is 1,000 and
    /// `total_is_lower_bound` is true. Costs the same at any list size.
    #[default]
    Capped,
    /// Count every matching task. Costs time in proportion to the matches: ask for it when
    /// the number matters, not on every page.
    Exact,
}

impl CountMode {
    pub const NAMES: &'static str = "capped, exact";

    pub fn as_str(self) -> &'static str {
        match self {
            CountMode::Capped => "capped",
            CountMode::Exact => "exact",
        }
    }

    pub fn parse(s: &str) -> Option<CountMode> {
        match s {
            "capped" => Some(CountMode::Capped),
            "exact" => Some(CountMode::Exact),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl StatusFilter {
    pub const NAMES: &'static str = "all, pending, completed";

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Pending => "pending",
            StatusFilter::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<StatusFilter> {
        match s {
            "all" => Some(StatusFilter::All),
            "pending" => Some(StatusFilter::Pending),
            "completed" => Some(StatusFilter::Completed),
            _ => None,
        }
    }
}

/// Due-date filters on the user's calendar (their time zone; see [`crate::zone`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueFilter {
    /// Due today (midnight to midnight in the user's zone).
    Today,
    /// Due tomorrow.
    Tomorrow,
    /// Pending and past due: due before today, or today at a time that has passed.
    Overdue,
    /// Due from today to the end of Sunday (weeks start on Monday).
    ThisWeek,
}

impl DueFilter {
    pub const ALL: [DueFilter; 4] = [
        DueFilter::Today,
        DueFilter::Tomorrow,
        DueFilter::Overdue,
        DueFilter::ThisWeek,
    ];
    pub const NAMES: &'static str = "today, tomorrow, overdue, this_week";

    pub fn as_str(self) -> &'static str {
        match self {
            DueFilter::Today => "today",
            DueFilter::Tomorrow => "tomorrow",
            DueFilter::Overdue => "overdue",
            DueFilter::ThisWeek => "this_week",
        }
    }

    pub fn parse(s: &str) -> Option<DueFilter> {
        DueFilter::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    CreatedAt,
    UpdatedAt,
    DueAt,
    Priority,
    Title,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::CreatedAt,
        SortKey::UpdatedAt,
        SortKey::DueAt,
        SortKey::Priority,
        SortKey::Title,
    ];
    pub const NAMES: &'static str = "created_at, updated_at, due_at, priority, title";

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::CreatedAt => "created_at",
            SortKey::UpdatedAt => "updated_at",
            SortKey::DueAt => "due_at",
            SortKey::Priority => "priority",
            SortKey::Title => "title",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }

    pub fn parse(s: &str) -> Option<Order> {
        match s {
            "asc" => Some(Order::Asc),
            "desc" => Some(Order::Desc),
            _ => None,
        }
    }
}

/// `GET /api/tasks` query parameters. Unknown parameters are refused: a typo such as
/// `stauts=` would otherwise silently return everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Completion filter (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Only tasks with this tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::text_schema")]
    pub tag: Option<String>,
    /// Words to find in the title or description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::text_schema")]
    pub q: Option<String>,
    /// Due today, tomorrow, overdue or this week, on the user's calendar (their time zone).
    /// Combines with the other filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DueFilter>,
    /// Due strictly before this date or date-time (a date, or a time without an offset, is
    /// in the user's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::due_schema")]
    pub due_before: Option<String>,
    /// Due at or after this date or date-time (a date, or a time without an offset, is in
    /// the user's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::due_schema")]
    pub due_after: Option<String>,
    /// Sort key (default created_at).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortKey>,
    /// Sort order (default desc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// Page size, 1 to 200 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
    /// Rows to skip (or use cursor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// `next_cursor` from the previous page, with the same sort and order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::query::cursor_schema")]
    pub cursor: Option<String>,
    /// How to count `total`: `capped` (default, stops at 1,000, the same cost at any list
    /// size) or `exact` (counts every match; slower the more tasks match).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<CountMode>,
}

/// A search text or tag filter: at most 200 characters, no control characters.
pub fn text_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "maxLength": 200, "pattern": r"^[^\x00-\x1f\x7f-\x9f]*$" })
}

fn due_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": DUE_PATTERN, "description": DUE_HELP })
}

fn cursor_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": "^([0-9a-f]{2})+$", "maxLength": 2048 })
}

/// One page of tasks with what the client needs to fetch the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Tasks matching the filters, across all pages. Counted up to 1,000 unless the query
    /// asked for `count=exact`: when more match, this is 1,000 and `total_is_lower_bound` is
    /// true.
    pub total: i64,
    /// True when counting stopped at the cap: more than `total` tasks match (ask with
    /// `count=exact` for the number). Always false for an exact count.
    #[serde(default)]
    pub total_is_lower_bound: bool,
    pub limit: u32,
    /// The offset of this page (null when paging by cursor).
    pub offset: Option<u32>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// The same, optional (`null` or absent: no filter).
pub fn text_schema_option(g: &mut SchemaGenerator) -> Schema {
    let text = text_schema(g);
    json_schema!({ "anyOf": [text, { "type": "null" }] })
}

/// An optional whole number that also reads an integral float (`5.0`, `5e0`): JSON Schema's
/// `integer` is any number without a fraction, so a validator passes those (and Python's
/// `json.dumps` writes a float that way); refusing them would refuse schema-valid input.
/// Used with `#[serde(default, deserialize_with = ...)]`: absent is `None`.
pub mod lenient_u32 {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Other(serde::de::IgnoredAny),
        }
        let Some(raw) = Option::<Raw>::deserialize(d)? else {
            return Ok(None);
        };
        let n = match raw {
            Raw::Int(n) => u32::try_from(n).ok(),
            Raw::Other(_) => None,
            Raw::Float(f) => {
                (f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f)).then_some(f as u32)
            }
        };
        n.map(Some).ok_or_else(|| {
            serde::de::Error::custom("must be a whole number from 1 to 200 (e.g. 20)")
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize)]
    struct L {
        #[serde(default, deserialize_with = "super::lenient_u32::deserialize")]
        limit: Option<u32>,
    }

    #[test]
    fn whole_numbers_read_as_json_schema_integers() {
        let limit = |v| serde_json::from_value::<L>(v).map(|l| l.limit).ok();
        assert_eq!(limit(json!({})), Some(None));
        assert_eq!(limit(json!({"limit": null})), Some(None));
        assert_eq!(limit(json!({"limit": 5})), Some(Some(5)));
        assert_eq!(limit(json!({"limit": 5.0})), Some(Some(5)));
        for bad in [
            json!(5.5),
            json!(-1),
            json!("5"),
            json!(true),
            json!(1e12),
            json!([5]),
        ] {
            assert_eq!(limit(json!({ "limit": bad })), None, "{bad}");
        }
    }
}
