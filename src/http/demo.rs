//! The browser demo (`client-demo/`): plain HTML, CSS and JS compiled into the binary, so
//! `cargo run` serves a working front end with no npm at run time. `/` is the page; every other
//! file lives under `/demo/`. The app routes with URL hashes, so no other path needs a fallback.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

macro_rules! demo_files {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../client-demo/", $name)) as &[u8])),*]
    };
}

/// The page itself, served at `/`.
const INDEX: &[u8] = include_bytes!("../../client-demo/index.html");
/// The operator dashboard, served at `/admin` (by the admin routes, which hide it without a
/// configured operator token).
const ADMIN: &[u8] = include_bytes!("../../client-demo/admin.html");

/// Every other file the page loads, served at `/demo/<name>`. Only these are reachable: the
/// browser tests, screenshots and anything else in the folder stay private.
const FILES: &[(&str, &[u8])] = demo_files![
    "style.css",
    "admin.css",
    "js/admin.js",
    "js/api.js",
    "js/app.js",
    "js/buying.js",
    "js/pages.js",
    "js/seatmap.js",
    "js/session.js",
    "js/ui.js",
    "vendor/socket.io.min.js",
    "vendor/LICENSE",
];

/// Routes of the demo.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/demo/{*path}", get(demo_file))
}

async fn index() -> Response {
    file_response("index.html", INDEX)
}

/// The operator dashboard page.
pub(crate) fn admin_page() -> Response {
    file_response("admin.html", ADMIN)
}

async fn demo_file(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, _)| *name == path) {
        Some((name, bytes)) => file_response(name, bytes),
        None => ApiError::not_found().into_response(),
    }
}

fn file_response(name: &str, bytes: &'static [u8]) -> Response {
    (
        [
            (CONTENT_TYPE, content_type(name)),
            // Small files that change with the binary: revalidate rather than serve stale code.
            (CACHE_CONTROL, "no-cache"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

/// The media type for a file name, by extension (files without one are licence texts).
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("vendor/LICENSE"), "text/plain; charset=utf-8");
    }

    #[test]
    fn every_listed_file_is_non_empty() {
        assert!(!INDEX.is_empty() && !ADMIN.is_empty());
        for (name, bytes) in FILES {
            assert!(!bytes.is_empty(), "{name} is empty");
        }
    }
}
