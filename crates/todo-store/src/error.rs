//! Store errors. Validation errors name the field, so every front end can tell the user (or
//! the model) exactly what to fix.

use serde::Serialize;

/// Input that breaks a rule; `field` is the JSON field name the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ValidationError {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("migrations: {0}")]
    Migration(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when the database could not be reached or did not answer in time (a 503, not a 500).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
            )
        )
    }
}
