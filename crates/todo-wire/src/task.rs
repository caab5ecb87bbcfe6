//! Tasks: the stored shape, what creating and changing one takes, and how callers name one.

use crate::patch::Patch;
use crate::timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use time::OffsetDateTime;
use uuid::Uuid;

/// Input limits, enforced by todo-store's validation and stated in every schema.
pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 1000;
pub const TAG_MAX: usize = 32;
pub const TAGS_MAX: usize = 10;

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[cfg_attr(feature = "sqlx", derive(sqlx::Type))]
#[cfg_attr(
    feature = "sqlx",
    sqlx(type_name = "task_priority", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];
    pub const NAMES: &'static str = "low, medium, high";

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    /// Lenient reading for people and models ("High", "normal").
    pub fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "medium" | "normal" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Task {
    pub id: Uuid,
    /// The user's own task number (1, 2, 3, ... never reused): what people and the chatbot say.
    pub number: i32,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(with = "timestamp::option")]
    #[schemars(schema_with = "timestamp::option::schema")]
    pub completed_at: Option<OffsetDateTime>,
    pub priority: Priority,
    #[serde(with = "timestamp::option")]
    #[schemars(schema_with = "timestamp::option::schema")]
    pub due_at: Option<OffsetDateTime>,
    pub tags: Vec<String>,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub created_at: OffsetDateTime,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// What to do.
    #[schemars(schema_with = "crate::task::title_schema")]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::description_schema_option")]
    pub description: Option<String>,
    /// Defaults to medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// ISO 8601 date (2026-11-25: that day in the user's time zone, stored as its local
    /// midnight), local date-time (2026-11-25T17:00, the user's zone) or RFC 3339 instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::due_schema_option")]
    pub due_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::task::tags_schema_option")]
    pub tags: Option<Vec<String>>,
}

/// `PATCH /api/tasks/{id}`: absent keeps a field, `null` clears description, due_at and tags.
/// `null` for title, priority or completed is refused (they always have a value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct UpdateTask {
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::title_schema")]
    pub title: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::description_schema_option")]
    pub description: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::priority_schema")]
    pub priority: Patch<Priority>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::due_schema_option")]
    pub due_at: Patch<String>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::tags_schema_option")]
    pub tags: Patch<Vec<String>>,
    #[serde(default, skip_serializing_if = "Patch::is_keep")]
    #[schemars(schema_with = "crate::task::bool_schema")]
    pub completed: Patch<bool>,
}

impl UpdateTask {
    pub fn is_empty(&self) -> bool {
        self == &UpdateTask::default()
    }
}

pub fn priority_schema(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<Priority>()
}

pub fn bool_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "boolean" })
}

/// How a client names a task: its number (`3`, `"3"`, `"#3"`) or its UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskKey {
    Number(i32),
    Id(Uuid),
}

impl TaskKey {
    pub const HELP: &'static str = "a task number such as 3 (as shown in lists) or a task UUID";

    /// Exactly the string shapes the schema allows: `#?[1-9][0-9]{0,8}` (a number, as shown in
    /// lists) or a hyphenated UUID. Nothing is trimmed or guessed (`" 3"`, `"03"`, `"+3"`,
    /// `{uuid}` and `urn:uuid:` forms are refused), so what a schema validator passes the
    /// server takes, and the other way round.
    pub fn parse(raw: &str) -> Option<TaskKey> {
        if raw.len() == 36 {
            return Uuid::try_parse(raw).ok().map(TaskKey::Id);
        }
        let digits = raw.strip_prefix('#').unwrap_or(raw);
        if digits.len() > 9 {
            return None;
        }
        TaskKey::number_text(digits)
    }

    /// A task number written as decimal digits, as the integer form arrives in a URL path:
    /// no sign, no leading zero, 1..=i32::MAX.
    pub fn number_text(digits: &str) -> Option<TaskKey> {
        if digits.is_empty()
            || digits.starts_with('0')
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        digits
            .parse::<i32>()
            .ok()
            .filter(|n| *n > 0)
            .map(TaskKey::Number)
    }
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskKey::Number(n) => write!(f, "task {n}"),
            TaskKey::Id(id) => write!(f, "task {id}"),
        }
    }
}

impl Serialize for TaskKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TaskKey::Number(n) => s.serialize_i32(*n),
            TaskKey::Id(id) => id.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TaskKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TaskKey, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            // JSON Schema's `integer` is any number with no fraction: 3.0 and 1e0 are 3 and 1
            // to a validator (and to Python's json.dumps of a float), so they are here too.
            Float(f64),
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        let bad = || serde::de::Error::custom(format!("must be {}", TaskKey::HELP));
        match Raw::deserialize(d)? {
            Raw::Int(n) => i32::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(TaskKey::Number)
                .ok_or_else(bad),
            Raw::Float(f) => (f.fract() == 0.0 && f >= 1.0 && f <= f64::from(i32::MAX))
                .then_some(TaskKey::Number(f as i32))
                .ok_or_else(bad),
            Raw::Text(s) => TaskKey::parse(&s).ok_or_else(bad),
            Raw::Other(_) => Err(bad()),
        }
    }
}

impl JsonSchema for TaskKey {
    fn schema_name() -> Cow<'static, str> {
        "TaskKey".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The task's number as shown in lists (e.g. 3), or its UUID",
            "anyOf": [
                { "type": "integer", "minimum": 1, "maximum": i32::MAX },
                { "type": "string", "pattern": "^#?[1-9][0-9]{0,8}$" },
                { "type": "string", "format": "uuid" }
            ]
        })
    }
}

/// A due date as clients send it, exactly the forms the server reads: a calendar date in year
/// 1..=9999 (leap days included), optionally with a time: `T` and `HH:MM` or `HH:MM:SS` (a
/// wall-clock time in the user's zone), or RFC 3339 (`HH:MM:SS`, up to 9 fraction digits, then `Z` or `+HH:MM`). The server still
/// checks that the instant, in UTC, falls in year 1..=9999, and names the field when it refuses.
pub const DUE_PATTERN: &str = concat!(
    "^(?:",
    // Any year 0001..=9999, with months of 31, 30 and 28 days ...
    "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-",
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))",
    // ... or 29 February of a leap year.
    "|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29",
    ")(?:",
    "T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?",
    "|[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:[.][0-9]{1,9})?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
    ")?$"
);
pub const DUE_HELP: &str = "Due date: ISO 8601 date (2026-11-25: that day in the user's time zone), local date-time (2026-11-25T17:00, in the user's time zone) or RFC 3339 instant (2026-11-25T17:00:00Z, 2026-11-25T17:00:00+13:00), year 1 to 9999";

pub fn due_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": DUE_PATTERN, "description": DUE_HELP })
}

pub fn due_schema_option(g: &mut SchemaGenerator) -> Schema {
    let due = due_schema(g);
    json_schema!({ "anyOf": [due, { "type": "null" }], "description": DUE_HELP })
}

/// A tag: 1..=32 characters, no spaces or commas (a leading `#` is dropped).
/// No control characters either (C0, DEL, C1).
pub const TAG_PATTERN: &str = r"^#?[^\s,#\x00-\x1f\x7f-\x9f][^\s,\x00-\x1f\x7f-\x9f]{0,31}$";

pub fn tags_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "maxItems": TAGS_MAX,
        "items": {
            "type": "string", "minLength": 1, "maxLength": TAG_MAX + 1, "pattern": TAG_PATTERN,
            "allOf": [{ "type": "string", "pattern": VISIBLE_PATTERN }]
        },
        "description": "Up to 10 tags; each is lower-cased and a leading # dropped"
    })
}

pub fn tags_schema_option(g: &mut SchemaGenerator) -> Schema {
    let tags = tags_schema(g);
    json_schema!({ "anyOf": [tags, { "type": "null" }] })
}

/// One visible character, as a regular expression class: not a space, a control (C0, DEL,
/// C1), nor a zero-width, bidi or other format character (the Basic Multilingual Plane ones
/// of todo-store's `is_invisible`; the server refuses the few others too).
macro_rules! visible_class {
    () => {
        concat!(
            r"[^\s\x00-\x1f\x7f-\x9f",
            r"\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u115f\u1160\u17b4\u17b5",
            r"\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff",
            r"\uffa0\ufff9-\ufffb",
            r"]"
        )
    };
}

/// Text with no control characters (C0, DEL, C1) and at least one visible character.
pub const TITLE_PATTERN: &str = concat!(
    r"^[^\x00-\x1f\x7f-\x9f]*",
    visible_class!(),
    r"[^\x00-\x1f\x7f-\x9f]*$"
);
/// Contains a visible character somewhere (unanchored): the second pattern of a tag, since
/// `TAG_PATTERN` cannot also say it without look-ahead, which not every validator has.
pub const VISIBLE_PATTERN: &str = visible_class!();
/// Text with no control characters other than tab and line breaks.
pub const DESCRIPTION_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";

pub fn title_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": TITLE_MAX, "pattern": TITLE_PATTERN })
}

pub fn description_schema_option(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "anyOf": [
        { "type": "string", "maxLength": DESCRIPTION_MAX, "pattern": DESCRIPTION_PATTERN },
        { "type": "null" }
    ] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn task_keys_read_numbers_and_uuids_and_refuse_the_rest() {
        let key = |v| serde_json::from_value::<TaskKey>(v).ok();
        assert_eq!(key(json!(3)), Some(TaskKey::Number(3)));
        assert_eq!(key(json!("#4")), Some(TaskKey::Number(4)));
        assert_eq!(key(json!(3.0)), Some(TaskKey::Number(3)));
        assert_eq!(key(json!(2e0)), Some(TaskKey::Number(2)));
        assert_eq!(key(json!("123456789")), Some(TaskKey::Number(123456789)));
        assert!(matches!(
            key(json!("6f1e0d1c-1a2b-4c3d-8e9f-000000000000")),
            Some(TaskKey::Id(_))
        ));
        for bad in [
            json!(0),
            json!(-2),
            json!(1.5),
            json!("milk"),
            json!([1]),
            json!(null),
            json!(99999999999i64),
            json!(" 5 "),
            json!("05"),
            json!("+5"),
            json!("#0"),
            json!("1234567890"),
            json!(2147483648.0),
            json!(-0.0),
            json!(true),
            json!("{6f1e0d1c-1a2b-4c3d-8e9f-000000000000}"),
            json!("urn:uuid:6f1e0d1c-1a2b-4c3d-8e9f-000000000000"),
            json!("6f1e0d1c1a2b4c3d8e9f000000000000"),
        ] {
            assert_eq!(key(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn update_distinguishes_absent_null_and_value() {
        let u: UpdateTask =
            serde_json::from_value(json!({"description": null, "due_at": "2026-01-01"}))
                .unwrap_or_default();
        assert_eq!(u.description, Patch::Clear);
        assert_eq!(u.due_at, Patch::Set("2026-01-01".into()));
        assert_eq!(u.tags, Patch::Keep);
        assert_eq!(
            serde_json::to_value(&u).ok(),
            Some(json!({"description": null, "due_at": "2026-01-01"}))
        );
    }

    /// A tag of only zero-width characters matches `TAG_PATTERN`, which the server refuses; the
    /// tag schema says so with a second pattern (the title's visible class).
    #[test]
    fn tag_items_require_a_visible_character() {
        let schema = tags_schema(&mut crate::schema::generator());
        let items = &schema.as_value()["items"];
        assert_eq!(items["allOf"][0]["pattern"], VISIBLE_PATTERN);
        assert_eq!(items["allOf"][0]["type"], "string");
        assert!(TITLE_PATTERN.contains(VISIBLE_PATTERN));
    }
}
