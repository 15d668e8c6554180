//! The one error type of the HTTP edge: a status and the contract's `{"error": "..."}` body.
//!
//! Expected rejections carry the original's exact message. Unexpected failures are logged with
//! their detail here, once, and answered with the original's generic message only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::storage::StorageError;

/// The original's generic failure message.
pub(crate) const SYSTEM_ERROR: &str = "系統錯誤，請稍後再試！";

/// Told to someone who tries to buy without a place on the buying page (HTTP and socket).
pub(crate) const NOT_ON_PAGE: &str = "請先排隊進入購票頁面！";

/// Told to a caller over an attempt limit (sign-in, sign-up).
pub(crate) const TOO_MANY_ATTEMPTS: &str = "嘗試次數過多，請稍後再試！";

/// Told to a socket that sends events faster than its budget allows.
pub(crate) const TOO_FAST: &str = "操作過於頻繁，請稍後再試！";

/// Told to a socket that sends an event with binary attachments (the protocols are JSON only).
pub(crate) const BINARY_REFUSED: &str = "Binary data is not accepted.";

/// An HTTP error answer.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    warning: bool,
    retry_after: Option<u64>,
}

impl ApiError {
    /// 400 with a message.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 `{"warning": true, "error": …}`: a question for the user, not a refusal.
    pub(crate) fn warning(message: impl Into<String>) -> Self {
        Self {
            warning: true,
            ..Self::bad_request(message)
        }
    }

    /// Any status with a message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            warning: false,
            retry_after: None,
        }
    }

    /// 429 with `Retry-After` (whole seconds): too many attempts, come back later.
    pub(crate) fn too_many_attempts(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_ATTEMPTS)
        }
    }

    /// 404 for unknown paths.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Page not found.")
    }

    /// What the original answered for a body it could not parse.
    pub(crate) fn malformed_body() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error.")
    }

    /// 500 with the generic message, after logging what really happened.
    pub(crate) fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "{context}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, SYSTEM_ERROR)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        Self::internal("storage failed", e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = if self.warning {
            json!({ "warning": true, "error": self.message })
        } else {
            json!({ "error": self.message })
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// Shorthand for handler results.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
