//! The rows, as the rest of the system sees them: the wire types from todo-wire (one
//! definition for the database, the APIs and their schemas), plus what never leaves the store.

pub use todo_wire::{Conversation, DueFilter, Message, Priority, Role, Task, User, UserZone};

/// A user with the password hash, for login only; never serialised.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    pub user: User,
    pub password_hash: String,
}

/// How callers name a task: its UUID or the user's task number.
pub type TaskRef = todo_wire::TaskKey;
