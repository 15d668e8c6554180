//! Operator endpoints: liveness, readiness and metrics.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
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
async fn readiness(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut problems = Vec::new();
    if let Err(e) = state.store.catalog.ready().await {
        problems.push(format!("database: {e}"));
    }
    if let Err(e) = state.store.waiting_room.ready().await {
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

/// Prometheus text exposition.
async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
