//! The one error shape every service answers with:
//! `{"error": {"code": "VALIDATION_ERROR", "message": "...", "field": "title"}}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable, for programs and models to branch on (`VALIDATION_ERROR`, `TASK_NOT_FOUND`...).
    pub code: String,
    /// For people: what is wrong and what to do.
    pub message: String,
    /// The request field the error is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id (also in the `x-request-id` header), for finding the log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}
