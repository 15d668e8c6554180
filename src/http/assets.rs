//! Event pictures and the seat map, compiled into the binary so it runs from any folder.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../assets/", $name)) as &[u8])),*]
    };
}

/// Every file under `assets/` (made by `scripts/make_assets.py`).
const FILES: &[(&str, &[u8])] = assets![
    "1.png",
    "2.png",
    "3.png",
    "4.png",
    "5.png",
    "6.png",
    "7.png",
    "8.png",
    "1-1.png",
    "2-1.png",
    "3-1.png",
    "4-1.png",
    "5-1.png",
    "6-1.png",
    "7-1.png",
    "8-1.png",
    "1-seat.png",
];

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/assets/{file}", get(get_asset))
}

async fn get_asset(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _)| *name == file) {
        Some((_, bytes)) => (
            [
                (CONTENT_TYPE, "image/png"),
                (CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => ApiError::not_found().into_response(),
    }
}
