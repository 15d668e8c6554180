//! Operator endpoints: liveness, readiness and metrics.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;
use crate::storage::{StorageError, StorageResult};

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health))
        .route("/readyz", get(readiness))
        .route("/metrics", get(render_metrics))
}

/// The process is up and serving.
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready for traffic: the database answers with a current schema and the waiting room answers.
/// 503 names what is not ready (what a load balancer or CodeDeploy's ValidateService checks).
/// Each engine gets [`READY_WITHIN`] (checked at once), so a stalled engine makes a 503 within
/// a second rather than a probe that hangs.
async fn readiness(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, room) = tokio::join!(
        within(READY_WITHIN, state.store.catalog.ready()),
        within(READY_WITHIN, state.store.waiting_room.ready()),
    );
    let mut problems = Vec::new();
    if let Err(e) = database {
        problems.push(format!("database: {e}"));
    }
    if let Err(e) = room {
        problems.push(format!("waiting room: {e}"));
    }
    if problems.is_empty() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        tracing::warn!(?problems, "not ready");
        let body = json!({"status": "unavailable", "reasons": problems});
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    }
}

/// How long readiness waits for each engine: under a second in all, as probes expect.
const READY_WITHIN: Duration = Duration::from_millis(800);

/// `check`'s answer, or an error once `limit` passes.
async fn within(
    limit: Duration,
    check: impl Future<Output = StorageResult<()>>,
) -> StorageResult<()> {
    tokio::time::timeout(limit, check)
        .await
        .unwrap_or_else(|_| {
            Err(StorageError::Unavailable(format!(
                "no answer within {limit:?}"
            )))
        })
}

/// Prometheus text exposition.
async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
