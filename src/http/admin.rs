//! Operator routes under `/admin`, behind `TICKETCLUB_ADMIN_TOKEN` (unset: they do not exist):
//! warm-up, and running a sale (issue 13) — a session's figures, its page size, pause and
//! resume, more time, taking a visitor off, closing the sale, and the audit trail. The rules
//! are [`crate::service::admin`]'s; this module only translates.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::domain::ids::{SessionId, UserId};
use crate::domain::waiting_room::Place;
use crate::error::{ApiError, ApiResult};
use crate::js::id_of;
use crate::service::ServiceError;
use crate::service::admin::{self, Change, Operator, SessionReport};
use crate::service::warmup::{self, WarmupReport};
use crate::state::AppState;

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/warmup/{session}", post(warm_up_session))
        .route("/admin/sessions/{session}", get(get_session))
        .route("/admin/sessions/{session}/limit", put(set_limit))
        .route("/admin/sessions/{session}/settings", put(set_terms))
        .route("/admin/sessions/{session}/pause", post(pause))
        .route("/admin/sessions/{session}/resume", post(resume))
        .route("/admin/sessions/{session}/extend", post(extend))
        .route("/admin/sessions/{session}/visitors/{user}", delete(remove))
        .route("/admin/sessions/{session}/close", post(close))
        .route("/admin/audit", get(get_audit))
}

/// Checks `Authorization: Bearer <admin token>`; without a configured token the route is absent.
fn authorize(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(expected) = state.settings.admin_token.as_deref() else {
        return Err(ApiError::not_found());
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Operator token required.",
        ))
    }
}

/// Compares without stopping at the first difference, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An authorized operator, named by the configured label (the token is never kept).
struct Admin(Operator);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(state, &parts.headers)?;
        Ok(Admin(Operator(state.settings.admin_label.clone())))
    }
}

fn unknown_session() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "No such session.")
}

/// A session id from the path (a positive integer).
fn session_of(raw: String) -> ApiResult<SessionId> {
    id_of(&Value::String(raw))
        .map(SessionId)
        .ok_or_else(unknown_session)
}

/// A use-case refusal in HTTP terms.
fn refused(e: ServiceError) -> ApiError {
    match e {
        ServiceError::UnknownSession => unknown_session(),
        ServiceError::NotInside => ApiError::new(
            StatusCode::NOT_FOUND,
            "That account has no place in this session's waiting room.",
        ),
        ServiceError::Invalid(message) => ApiError::bad_request(message),
        other => ApiError::internal("an operator action failed", other),
    }
}

/// A JSON object body, or a 400 saying what was expected.
fn object(body: &Bytes, expected: &str) -> ApiResult<Value> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::bad_request(format!("The body must be JSON: {expected}.")))
}

/// A positive whole-number field of `body`.
fn count_field(body: &Value, name: &str, expected: &str) -> ApiResult<u64> {
    body.get(name)
        .and_then(Value::as_u64)
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::bad_request(format!("{name} must be a positive integer: {expected}."))
        })
}

/// The operator dashboard (a static page; it signs in with the token itself). Absent, like
/// every admin route, without a configured token.
async fn dashboard(State(state): State<AppState>) -> ApiResult<axum::response::Response> {
    if state.settings.admin_token.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(super::demo::admin_page())
}

async fn warm_up_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(session): Path<String>,
) -> ApiResult<Json<WarmupReport>> {
    authorize(&state, &headers)?;
    let session = session_of(session)?;
    let report = warmup::warm_up(&state, session).await?;
    report.map(Json).ok_or_else(unknown_session)
}

async fn get_session(
    Admin(_): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<SessionReport>> {
    let session = session_of(session)?;
    admin::report(&state, session)
        .await
        .map(Json)
        .map_err(refused)
}

/// The settings and figures after a change.
async fn after_change(state: &AppState, session: SessionId) -> ApiResult<Json<SessionReport>> {
    get_report(state, session).await.map(Json)
}

async fn get_report(state: &AppState, session: SessionId) -> ApiResult<SessionReport> {
    admin::report(state, session).await.map_err(refused)
}

async fn set_limit(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> ApiResult<Json<SessionReport>> {
    let session = session_of(session)?;
    let expected = "{\"limit\": <people on the page at once>}";
    let limit = count_field(&object(&body, expected)?, "limit", expected)?;
    let limit = u32::try_from(limit).map_err(|_| ApiError::bad_request("limit is too large."))?;
    admin::set_limit(&state, &who, session, limit)
        .await
        .map_err(refused)?;
    after_change(&state, session).await
}

/// An optional setting of `body`: absent keeps it, `null` returns it to the default, a positive
/// integer sets it.
fn change(body: &Value, name: &str) -> ApiResult<Change<u64>> {
    match body.get(name) {
        None => Ok(Change::Keep),
        Some(Value::Null) => Ok(Change::Default),
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .map(Change::To)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{name} must be a positive integer or null."))
            }),
    }
}

async fn set_terms(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> ApiResult<Json<SessionReport>> {
    let session = session_of(session)?;
    let body = object(
        &body,
        "{\"windowSeconds\": <n or null>, \"ticketLimit\": <n or null>}",
    )?;
    let window = change(&body, "windowSeconds")?;
    let tickets = match change(&body, "ticketLimit")? {
        Change::To(n) => Change::To(u32::try_from(n).unwrap_or(u32::MAX)),
        Change::Keep => Change::Keep,
        Change::Default => Change::Default,
    };
    admin::set_terms(&state, &who, session, window, tickets)
        .await
        .map_err(refused)?;
    after_change(&state, session).await
}

async fn pause(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<SessionReport>> {
    let session = session_of(session)?;
    admin::set_paused(&state, &who, session, true)
        .await
        .map_err(refused)?;
    after_change(&state, session).await
}

async fn resume(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<SessionReport>> {
    let session = session_of(session)?;
    admin::set_paused(&state, &who, session, false)
        .await
        .map_err(refused)?;
    after_change(&state, session).await
}

async fn extend(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let session = session_of(session)?;
    let expected = "{\"seconds\": <more seconds for everyone on the page>}";
    let seconds = count_field(&object(&body, expected)?, "seconds", expected)?;
    let done = admin::extend(&state, &who, session, seconds)
        .await
        .map_err(refused)?;
    Ok(Json(json!({
        "sessionId": session, "seconds": seconds,
        "visitors": done.visitors, "holds": done.holds,
    })))
}

/// `?block=true`: the account may not come back to the session.
#[derive(Debug, Deserialize)]
struct RemoveQuery {
    #[serde(default)]
    block: Option<String>,
}

async fn remove(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path((session, user)): Path<(String, String)>,
    Query(query): Query<RemoveQuery>,
) -> ApiResult<Json<Value>> {
    let session = session_of(session)?;
    let user = id_of(&Value::String(user))
        .map(UserId)
        .ok_or_else(|| ApiError::bad_request("userId must be a positive integer."))?;
    let block = match query.block.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(ApiError::bad_request("block must be true or false.")),
    };
    let from = admin::remove(&state, &who, session, user, block)
        .await
        .map_err(refused)?;
    let from = from.map(|place| match place {
        Place::Page => "page",
        Place::Queue(_) => "queue",
    });
    Ok(Json(json!({
        "sessionId": session, "userId": user, "removedFrom": from, "blocked": block,
    })))
}

async fn close(
    Admin(who): Admin,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = session_of(session)?;
    let told = admin::close(&state, &who, session).await.map_err(refused)?;
    Ok(Json(
        json!({"sessionId": session, "closed": true, "told": told}),
    ))
}

/// `?before=<id>&limit=<n>`: the page of audit rows below `before`.
#[derive(Debug, Deserialize)]
struct AuditQuery {
    before: Option<i64>,
    limit: Option<u32>,
}

async fn get_audit(
    Admin(_): Admin,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(query) =
        query.map_err(|_| ApiError::bad_request("before and limit must be positive integers."))?;
    let limit = query.limit.unwrap_or(50);
    let rows = admin::audit_trail(&state, query.before, limit)
        .await
        .map_err(refused)?;
    let next = (rows.len() as u32 >= limit.clamp(1, 500))
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let entries: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let parse = |text: Option<String>| {
                text.and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .unwrap_or(Value::Null)
            };
            json!({
                "id": r.id, "at": r.entry.at, "who": r.entry.who, "action": r.entry.action,
                "sessionId": r.entry.session, "target": r.entry.target,
                "before": parse(r.entry.before), "after": parse(r.entry.after),
            })
        })
        .collect();
    Ok(Json(json!({"entries": entries, "nextBefore": next})))
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
