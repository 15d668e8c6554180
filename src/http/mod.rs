//! The HTTP edge: every resource router, served at `/` and again under `/api/` (the old nginx
//! setup and the load tests used the prefix), with the original's CORS and 404 behaviour.

pub(crate) mod admin;
pub(crate) mod assets;
pub(crate) mod body_timeout;
pub(crate) mod client_ip;
pub(crate) mod demo;
pub(crate) mod events;
pub(crate) mod extract;
pub(crate) mod ops;
pub(crate) mod purchase;
pub(crate) mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::util::{MapRequestLayer, MapResponseLayer};
use tower_http::cors::{AllowHeaders, Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// The API routes (without prefix).
fn api() -> Router<AppState> {
    Router::new()
        .merge(events::router())
        .merge(users::router())
        .merge(purchase::router())
}

/// The whole HTTP application: API at `/` and `/api`, assets, health, JSON 404s.
pub(crate) fn router(state: AppState) -> Router {
    let body_timeout = state.settings.limits.body_timeout();
    let mut routes = Router::new()
        .merge(api())
        .nest("/api", api())
        .merge(assets::router())
        .merge(demo::router())
        .merge(ops::router())
        .merge(admin::router())
        .fallback(not_found)
        .layer(middleware::from_fn(record_latency));
    // Inside the body deadline, so a recorded request body is read under the same bound.
    if let Some(recorder) = state.recorder.clone() {
        routes = routes.layer(crate::record::http::RecordLayer::new(recorder));
    }
    routes
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(MapRequestLayer::new(move |request| {
            body_timeout::bound(request, body_timeout)
        }))
        .layer(api_cors())
        .layer(MapResponseLayer::new(preflight_no_content))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
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

/// Turns a CORS preflight answer into 204 No Content, as the original's `cors` package (and
/// Socket.IO's) answered; tower-http answers 200. A preflight answer is the only one that
/// carries `Access-Control-Allow-Methods`, so the response alone tells it apart.
pub(crate) fn preflight_no_content<B>(
    mut response: axum::http::Response<B>,
) -> axum::http::Response<B> {
    let is_preflight = response.status() == StatusCode::OK
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS);
    if is_preflight {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

/// The span of one request: method and path (never the query string or headers, which may hold
/// tokens); `user` is filled in by [`extract::AuthUser`] once the caller is known.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!(
        "http",
        method = %request.method(),
        path = %request.uri().path(),
        user = tracing::field::Empty,
    )
}

/// Records every request's latency by route template (never the raw path: ids would explode
/// the label set).
async fn record_latency(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    crate::metrics::http_request(route, method, response.status().as_u16(), started);
    response
}
