//! The HTTP hook: a middleware that copies each exchange of a signed-in person (a request with
//! a token, or a sign-in / sign-up) to the recorder, unless the sampling leaves the token's
//! person out (then the call is not even copied). JSON bodies are kept (the request's
//! within the API's body limit); other bodies (pictures, pages) only by status.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Item, Recorder, now_epoch};
use crate::error::ApiError;
use crate::http::extract::BODY_LIMIT;

/// The largest response body kept (a profile with many orders stays well under it).
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// One exchange as the middleware saw it; redaction is the writer's.
pub(crate) struct Exchange {
    /// When it started, seconds since the epoch.
    pub started: f64,
    /// How long it took, in milliseconds.
    pub millis: f64,
    /// The method.
    pub method: String,
    /// The `Host` header (the origin the recording names).
    pub host: String,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, if any (redacted when written).
    pub authorization: Option<String>,
    /// The request's content type.
    pub content_type: Option<String>,
    /// The request body.
    pub request_body: Bytes,
    /// The status.
    pub status: u16,
    /// The response's content type.
    pub response_type: Option<String>,
    /// The response body, when JSON.
    pub response_body: Option<Bytes>,
}

fn header_text(request: &Request, name: header::HeaderName) -> Option<String> {
    request
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn is_sign_in(path: &str) -> bool {
    path.ends_with("/user/signin") || path.ends_with("/user/signup")
}

fn is_json(content_type: Option<&String>) -> bool {
    content_type.is_some_and(|t| t.starts_with("application/json"))
}

/// Records the exchange when it belongs to a person; passes everything else through untouched.
pub(crate) async fn record_exchange(
    State(recorder): State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = header_text(&request, header::AUTHORIZATION);
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
    let wanted = match &authorization {
        Some(authorization) => recorder.may_record_call(authorization),
        None => is_sign_in(request.uri().path()),
    };
    if !wanted {
        return next.run(request).await;
    }
    let (started, clock) = (now_epoch(), std::time::Instant::now());
    let method = request.method().to_string();
    let host = header_text(&request, header::HOST).unwrap_or_default();
    let content_type = header_text(&request, header::CONTENT_TYPE);
    let (parts, body) = request.into_parts();
    let Ok(request_body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        // Too long, or too slow (the body deadline): what the API's own extractor answers.
        return ApiError::malformed_body().into_response();
    };
    let request = Request::from_parts(parts, Body::from(request_body.clone()));
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let response_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (response, response_body) = if is_json(response_type.as_ref()) {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, RESPONSE_LIMIT).await {
            Ok(bytes) => (
                Response::from_parts(parts, Body::from(bytes.clone())),
                Some(bytes),
            ),
            Err(_) => (Response::from_parts(parts, Body::empty()), None),
        }
    } else {
        (response, None)
    };
    recorder.record(Item::Http(Box::new(Exchange {
        started,
        millis: clock.elapsed().as_secs_f64() * 1000.0,
        method,
        host,
        path,
        authorization,
        content_type,
        request_body,
        status,
        response_type,
        response_body,
    })));
    response
}
