//! Operator endpoints: liveness.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

/// The process is up and serving.
async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
