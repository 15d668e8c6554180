//! Extractors: the caller's account from a Bearer token, and request bodies read the way
//! Express's `express.json()` read them, with JavaScript's notion of a missing value.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde_json::Value;

use crate::domain::ids::UserId;
use crate::error::ApiError;
use crate::state::AppState;

/// Largest accepted body (Express's `express.json()` default, 100 KB).
pub(crate) const BODY_LIMIT: usize = 100 * 1024;

/// The signed-in account (the original's `isAuth` middleware).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // `Bearer <token>`; a logged-out frontend sends the literal `Bearer null`.
        let token = header
            .starts_with("Bearer")
            .then(|| header.split(' ').nth(1))
            .flatten()
            .filter(|t| !t.is_empty() && *t != "null");
        let Some(token) = token else {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "請先登入！"));
        };
        let refused = || ApiError::new(StatusCode::FORBIDDEN, "登入錯誤！");
        let user = state.auth.verify(token).ok_or_else(refused)?;
        match state.store.accounts.user_exists(user).await {
            Ok(true) => {
                tracing::Span::current().record("user", user.0);
                Ok(AuthUser(user))
            }
            Ok(false) => Err(refused()),
            Err(e) => {
                tracing::error!(error = %e, "account lookup failed");
                Err(ApiError::bad_request("MySQL error."))
            }
        }
    }
}

/// A JSON body as a loose value: `{}` when the request is not JSON, like `express.json()`.
#[derive(Debug)]
pub(crate) struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if super::body_timeout::timed_out(&e) {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request body timed out.")
            } else {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large.")
            }
        })?;
        if !is_json || bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Value::Object(Default::default())));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|_| ApiError::malformed_body())
    }
}

impl Body {
    /// A field of the body, `null` when absent or when the body is not an object.
    pub(crate) fn field(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }
}
