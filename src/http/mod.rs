//! The HTTP edge: every resource router, served at `/` and again under `/api/` (the old nginx
//! setup and the load tests used the prefix), with the original's CORS and 404 behaviour.

pub mod assets;
pub mod demo;
pub mod events;
pub mod extract;
pub mod ops;
pub mod purchase;
pub mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::ApiError;

/// The API routes (without prefix).
fn api() -> Router<AppState> {
    Router::new()
        .merge(events::router())
        .merge(users::router())
        .merge(purchase::router())
}

/// The whole HTTP application: API at `/` and `/api`, assets, health, JSON 404s.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api())
        .nest("/api", api())
        .merge(assets::router())
        .merge(demo::router())
        .merge(ops::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(api_cors())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The `cors` package's defaults: any origin, the common methods, requested headers mirrored.
fn api_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::PUT,
            Method::PATCH,
            Method::POST,
            Method::DELETE,
        ])
        .allow_headers(AllowHeaders::mirror_request())
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}
