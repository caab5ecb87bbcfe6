//! How store errors reach clients: validation -> 422 naming the field, conflicts -> 409,
//! an unreachable database -> 503, anything else -> 500 with details only in the log.

use service_kit::ApiError;
use todo_store::StoreError;

pub fn from_store(err: StoreError) -> ApiError {
    match err {
        StoreError::Validation(v) => ApiError::validation(v.field, v.message),
        StoreError::Conflict { field, message } => ApiError::conflict(field, message),
        ref e if e.is_unavailable() => {
            tracing::warn!(error = %e, "database unavailable");
            service_kit::metrics::db_query_error("unavailable");
            ApiError::unavailable("the database is unavailable; try again shortly")
        }
        other => {
            tracing::error!(error = %other, "store error");
            service_kit::metrics::db_query_error("internal");
            ApiError::internal()
        }
    }
}

pub fn task_not_found() -> ApiError {
    ApiError::not_found("TASK_NOT_FOUND", "no such task")
}
