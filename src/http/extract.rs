//! Extractors: the caller's account from a Bearer token, and request bodies read the way
//! Express's `express.json()` read them, with JavaScript's notion of a missing value.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde_json::Value;

use crate::app::AppState;
use crate::domain::ids::{AreaId, SeatId, UserId};
use crate::error::ApiError;
use crate::storage::{Catalog, StorageResult};

/// Largest accepted body (Express's `express.json()` default, 100 KB).
pub const BODY_LIMIT: usize = 100 * 1024;

/// The signed-in account (the original's `isAuth` middleware).
#[derive(Clone, Copy, Debug)]
pub struct AuthUser(pub UserId);

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
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("json"));
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Payload too large."))?;
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
    pub fn field(&self, name: &str) -> &Value {
        self.0.get(name).unwrap_or(&Value::Null)
    }
}

/// JavaScript truthiness: `null`, `false`, `0`, `""` (and absence) are falsy.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A positive integer id given as a number or a string of digits; anything else is no id.
pub fn id_of(v: &Value) -> Option<i64> {
    let id = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (id > 0).then_some(id)
}

/// A text field, `None` unless it is a string.
pub fn text_of(v: &Value) -> Option<&str> {
    v.as_str()
}

/// How JavaScript prints a value inside a template string (`${value}`), for messages that echo
/// what the client sent.
pub fn js_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(js_text).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// Seat ids for a client's `{row, column}` objects in `area`, shared by `POST /seat/lock` and
/// the seat events. The inner error is the original's message naming the first position that
/// has no seat; the outer one is a storage failure.
pub async fn seats_at(
    catalog: &dyn Catalog,
    area: AreaId,
    cells: &[&Value],
) -> StorageResult<Result<Vec<SeatId>, String>> {
    let raw: Vec<(&Value, &Value)> = cells
        .iter()
        .map(|c| {
            let at = |name| c.get(name).unwrap_or(&Value::Null);
            (at("row"), at("column"))
        })
        .collect();
    let positions = raw
        .iter()
        .map(|(r, c)| (id_of(r).unwrap_or(0), id_of(c).unwrap_or(0)))
        .collect();
    let found = catalog.find_seats(area, positions).await?;
    Ok(raw
        .iter()
        .zip(found)
        .map(|((row, column), seat)| {
            seat.ok_or_else(|| {
                format!(
                    "Can not find row {}, column {} in area {area}",
                    js_text(row),
                    js_text(column)
                )
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for t in [json!("0"), json!([]), json!({}), json!(-1), json!(true)] {
            assert!(truthy(&t), "{t} should be truthy");
        }
    }

    #[test]
    fn ids_come_from_numbers_or_digit_strings_only() {
        assert_eq!(id_of(&json!(2)), Some(2));
        assert_eq!(id_of(&json!("2")), Some(2));
        assert_eq!(id_of(&json!(2.0)), Some(2));
        assert_eq!(id_of(&json!(2.5)), None);
        assert_eq!(id_of(&json!("2abc")), None);
        assert_eq!(id_of(&json!(-3)), None);
        assert_eq!(id_of(&json!([2])), None);
    }
}
