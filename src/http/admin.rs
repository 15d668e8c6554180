//! Operator routes under `/admin`, behind `TICKETCLUB_ADMIN_TOKEN` (unset: they do not exist).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use crate::domain::ids::SessionId;
use crate::error::{ApiError, ApiResult};
use crate::js::id_of;
use crate::service::warmup::{self, WarmupReport};
use crate::state::AppState;

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/admin/warmup/{session}", post(warm_up_session))
}

/// Checks `Authorization: Bearer <admin token>`; without a configured token the route is absent.
fn authorize(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(expected) = state.settings.admin_token.as_deref() else {
        return Err(ApiError::not_found());
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Operator token required.",
        ))
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn warm_up_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(session): Path<String>,
) -> ApiResult<Json<WarmupReport>> {
    authorize(&state, &headers)?;
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "No such session.");
    let session = SessionId(id_of(&Value::String(session)).ok_or_else(unknown)?);
    let report = warmup::warm_up(&state, session).await?;
    report.map(Json).ok_or_else(unknown)
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
