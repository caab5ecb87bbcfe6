//! Accounts and sessions.

use crate::timestamp;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub const EMAIL_MAX: usize = 254;
pub const NAME_MAX: usize = 100;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    /// IANA time zone: date-only due dates and the date filters (today, overdue, ...) are
    /// the user's days in it. `UTC` until the user sets one.
    #[schemars(schema_with = "crate::zone::stored_schema")]
    pub time_zone: String,
    #[serde(with = "timestamp")]
    #[schemars(schema_with = "timestamp::schema")]
    pub created_at: OffsetDateTime,
}

/// What register and login answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    pub user: User,
    /// A JWT: send it as `Authorization: Bearer <token>`.
    pub token: String,
    #[schemars(schema_with = "crate::user::bearer_schema")]
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// Opaque; trade it for a new session at `POST /api/auth/refresh` before or after the
    /// token expires. It works once (each use returns a new one), and presenting a used one
    /// again signs the session out.
    #[schemars(length(min = 1))]
    pub refresh_token: String,
    /// Seconds until the refresh token expires unused.
    pub refresh_expires_in: u64,
}

/// `POST /api/auth/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The `refresh_token` of the last session answer.
    #[schemars(length(min = 1, max = 256))]
    pub refresh_token: String,
}

/// `GET /api/auth/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub user: User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schemars(schema_with = "crate::user::email_schema")]
    pub email: String,
    #[schemars(length(min = 8, max = 1024))]
    pub password: String,
    #[schemars(schema_with = "crate::user::name_schema")]
    pub name: String,
    /// IANA time zone (the browser's `Intl.DateTimeFormat().resolvedOptions().timeZone`);
    /// defaults to UTC. An unknown name is refused (422 naming `time_zone`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[schemars(schema_with = "crate::zone::schema")]
    pub time_zone: Option<String>,
}

/// An optional key whose schema has no `null`: absent is `None` (with `#[serde(default)]`),
/// `null` is refused naming the key, as the schema says.
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `PATCH /api/auth/me`: change the account's settings. Give at least one field; absent
/// keeps it. Answers the updated [`Me`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct UpdateMe {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[schemars(schema_with = "crate::user::name_schema")]
    pub name: Option<String>,
    /// IANA time zone, e.g. `Pacific/Auckland`. An unknown name is refused (422 naming
    /// `time_zone`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "not_null"
    )]
    #[schemars(schema_with = "crate::zone::schema")]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schemars(schema_with = "crate::user::email_schema")]
    pub email: String,
    #[schemars(length(min = 1, max = 1024))]
    pub password: String,
}

/// `local@domain`, no spaces or control characters (checked loosely, as mail servers differ).
pub const EMAIL_PATTERN: &str =
    r"^[^\s@\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f]+(\.[^\s@.\x00-\x1f\x7f-\x9f]+)*$";

pub fn email_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 3, "maxLength": EMAIL_MAX, "pattern": EMAIL_PATTERN, "examples": ["ann@example.com"] })
}

pub fn name_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": crate::task::TITLE_PATTERN })
}

fn bearer_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "const": "Bearer" })
}
