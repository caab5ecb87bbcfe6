//! The connected-apps view on the wire: what `GET /api/oauth/grants` answers (todo-api) and
//! todo-web's connected-apps page reads, defined once for both.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An app (OAuth client, e.g. an MCP host) the user has authorised, with live grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectedApp {
    /// The client's id: a UUID from registration, or the URL of its metadata document.
    pub client_id: String,
    /// The name the app gave (its metadata document's host when it gave none).
    pub client_name: String,
    /// What the app may do, e.g. `tasks:read`.
    pub scopes: Vec<String>,
    /// When the user first authorised it (of its live grants).
    #[serde(with = "todo_wire::timestamp")]
    #[schemars(schema_with = "todo_wire::timestamp::schema")]
    pub granted_at: OffsetDateTime,
    /// When it last renewed its access (an app in use does so at least every 10 minutes).
    #[serde(with = "todo_wire::timestamp")]
    #[schemars(schema_with = "todo_wire::timestamp::schema")]
    pub last_used_at: OffsetDateTime,
}

/// The caller's connected apps, most recently used first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectedApps {
    pub apps: Vec<ConnectedApp>,
}
