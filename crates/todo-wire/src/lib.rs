//! The wire types of todo-chatbot, defined once.
//!
//! Every service and client speaks these: todo-api (REST bodies, the list query, its OpenAPI
//! document), todo-mcp (tool arguments and results, their JSON Schemas), todo-web and
//! smoke-suite (as clients), todo-chat (tool calls). A field renamed here is a compile error
//! everywhere, not a silent drift between the document and the server.
//!
//! - serde gives the bytes; [`schemars::JsonSchema`] gives the schemas, made portable by
//!   [`schema::Portable`] (no `type` arrays, so strict validators such as ajv accept them).
//! - Timestamps go through [`timestamp`], which never fails to serialise a stored value.
//! - Users' time zones and the days the date filters mean: [`zone`].

pub mod chat;
pub mod error;
pub mod mcp;
pub mod patch;
pub mod query;
pub mod schema;
pub mod task;
pub mod timestamp;
pub mod user;
pub mod zone;

pub use chat::{
    ChatError, ChatRequest, ChatTurn, Conversation, ConversationDetail, ConversationList, Engine,
    Message, Role, ToolCall,
};
pub use error::{ErrorBody, ErrorDetail};
pub use patch::Patch;
pub use query::{CountMode, DueFilter, ListQuery, Order, SortKey, StatusFilter, TaskPage};
pub use task::{CreateTask, Priority, Task, TaskKey, UpdateTask};
pub use user::{LoginRequest, Me, RegisterRequest, Session, UpdateMe, User};
pub use zone::{UnknownZone, UserZone};
