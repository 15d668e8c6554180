//! Buying: `/session/validation` (before the waiting room), `/seat/lock`, `/order`.
//!
//! The wire checks (missing fields, list sizes) run here in the original's order with its
//! messages; the rules are the service layer's. Unlike the original, locking and ordering need a
//! place on the session's buying page, and each seat transition is atomic.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{AuthUser, Body};
use crate::domain::ids::{AreaId, SeatId, SessionId, UserId};
use crate::domain::seats::TicketLimit;
use crate::domain::time::now_millis;
use crate::error::{ApiError, ApiResult, NOT_ON_PAGE};
use crate::js::{id_of, js_text, truthy};
use crate::service::seats::{self, Position};
use crate::service::{ServiceError, visit};
use crate::state::AppState;
use crate::storage::model::{SessionInfo, TicketLine};

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/session/validation", post(validate_session))
        .route("/seat/lock", post(lock_seats))
        .route("/order", post(place_order))
}

/// Storage faults become the generic 500; other refusals are mapped by each route.
fn unexpected(e: ServiceError) -> ApiError {
    match e {
        ServiceError::Unavailable(e) => e.into(),
        ServiceError::NotAdmitted => ApiError::bad_request(NOT_ON_PAGE),
        other => ApiError::internal("an unexpected refusal", other),
    }
}

async fn validate_session(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let raw = body.field("sessionId");
    if !truthy(raw) {
        return Err(ApiError::bad_request("Please provide session ID."));
    }
    let session = SessionId(id_of(raw).unwrap_or(0));
    let limit = state.ticket_limit(session).0;
    let sold = match visit::check_visit(&state, session, user, now_millis()).await {
        Ok(sold) => sold,
        Err(ServiceError::UnknownSession) => {
            return Err(ApiError::bad_request("請提供正確的場次資訊"));
        }
        Err(ServiceError::SaleEnded) => return Err(ApiError::bad_request("活動已結束！")),
        Err(ServiceError::SaleNotOpen) => return Err(ApiError::bad_request("活動尚未開賣！")),
        Err(ServiceError::Blocked) => {
            return Err(ApiError::bad_request("此帳號無法參加此場次！"));
        }
        Err(ServiceError::AlreadyInside) => {
            return Err(ApiError::bad_request("此帳號已在購票頁面 / 隊伍中！"));
        }
        Err(ServiceError::LimitReached { .. }) => {
            return Err(ApiError::bad_request(format!(
                "此帳號已購買{limit}張，達到單場次上限！"
            )));
        }
        Err(e) => return Err(unexpected(e)),
    };
    if sold > 0 {
        return Err(ApiError::warning(format!(
            "一個帳號每個場次限購{limit}張門票（包含歷史訂單）。此帳號已購買{sold}張，確定要用此帳號繼續購買嗎？"
        )));
    }
    Ok(Json(json!({"ok": true})))
}

/// The body's `sessionId`, present (`Please provide session ID.`) and known (`invalid`).
async fn required_session<'b>(
    state: &AppState,
    body: &'b Body,
    invalid: &str,
) -> ApiResult<(&'b Value, SessionInfo)> {
    let raw = body.field("sessionId");
    if !truthy(raw) {
        return Err(ApiError::bad_request("Please provide session ID."));
    }
    let Some(id) = id_of(raw) else {
        return Err(ApiError::bad_request(invalid));
    };
    match seats::known_session(state, SessionId(id)).await {
        Ok(info) => Ok((raw, info)),
        Err(ServiceError::UnknownSession) => Err(ApiError::bad_request(invalid)),
        Err(e) => Err(unexpected(e)),
    }
}

/// The seats a lock or order names: at most the ticket limit, at least one (`empty`).
fn seat_list(body: &Body, field: &str, limit: TicketLimit, empty: &str) -> ApiResult<Vec<Value>> {
    let seats = body.field(field).as_array().cloned().unwrap_or_default();
    if seats.len() > limit.0 as usize {
        return Err(ApiError::bad_request(format!(
            "You can only buy {} tickets per session.",
            limit.0
        )));
    }
    if seats.is_empty() {
        return Err(ApiError::bad_request(empty));
    }
    Ok(seats)
}

async fn lock_seats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (raw_session, session) =
        required_session(&state, &body, "Please provide a valid session ID.").await?;
    let area = checked_area(&state, &body, session.id).await?;
    let limit = state.ticket_limit(session.id);
    let tickets = seat_list(
        &body,
        "tickets",
        limit,
        "Please provide at least one seat to lock.",
    )?;
    let mut at: Vec<Position> = Vec::new();
    for t in &tickets {
        let p = (cell(t, "row"), cell(t, "column"));
        if !at.contains(&p) {
            at.push(p);
        }
    }
    // The legacy client relays its own `lock seat` to the seat map's watchers.
    match seats::lock(&state, user, (session.id, area), &at, true).await {
        Ok(lines) => Ok(Json(lock_summary(raw_session, &lines))),
        Err(ServiceError::UnknownSeat { index, .. }) => {
            let t = tickets
                .iter()
                .find(|t| (cell(t, "row"), cell(t, "column")) == at[index]);
            let raw = |name| t.and_then(|t| t.get(name)).unwrap_or(&Value::Null);
            Err(ApiError::bad_request(format!(
                "Can not find row {}, column {} in area {area}",
                js_text(raw("row")),
                js_text(raw("column"))
            )))
        }
        Err(ServiceError::LimitReached { more: 0 }) => Err(ApiError::bad_request(format!(
            "此帳號已購買{}張門票！",
            limit.0
        ))),
        Err(ServiceError::LimitReached { more }) => Err(ApiError::bad_request(format!(
            "此帳號只能再購買{more}張門票！"
        ))),
        Err(ServiceError::NotYours(seat)) => Err(ApiError::bad_request(format!(
            "Seat ID({seat}) is not selected by User ID {user}"
        ))),
        Err(e) => Err(unexpected(e)),
    }
}

/// A 1-based row or column of a client's seat object (0 when missing or malformed).
fn cell(t: &Value, name: &str) -> i64 {
    id_of(t.get(name).unwrap_or(&Value::Null)).unwrap_or(0)
}

/// The area of a lock request: present and in the session's venue.
async fn checked_area(state: &AppState, body: &Body, session: SessionId) -> ApiResult<AreaId> {
    let raw = body.field("areaId");
    if !truthy(raw) {
        return Err(ApiError::bad_request("Please provide an area ID."));
    }
    let invalid = || ApiError::bad_request("Please provide a valid area ID.");
    let area = AreaId(id_of(raw).ok_or_else(invalid)?);
    match seats::known_area(state, session, area).await {
        Ok(()) => Ok(area),
        Err(ServiceError::UnknownArea) => Err(invalid()),
        Err(e) => Err(unexpected(e)),
    }
}

fn lock_summary(raw_session: &Value, lines: &[TicketLine]) -> Value {
    let total: i64 = lines.iter().map(|l| l.price).sum();
    let tickets: Vec<Value> = lines
        .iter()
        .map(|l| {
            json!({
                "title": l.title, "time": l.time, "venue": l.venue, "area": l.area,
                "seatId": l.seat, "row": l.row, "column": l.column, "price": l.price,
            })
        })
        .collect();
    json!({"total": total, "sessionId": raw_session, "tickets": tickets})
}

async fn place_order(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (raw_session, session) =
        required_session(&state, &body, "Please provide valid session ID.").await?;
    let limit = state.ticket_limit(session.id);
    let raw_seats = seat_list(&body, "seatIds", limit, "Please provide seat IDs.")?;
    let mut seats: Vec<SeatId> = Vec::new();
    for raw in &raw_seats {
        let seat = id_of(raw).map(SeatId).ok_or_else(|| {
            ApiError::bad_request(format!("Seat ID({}) is not existed.", js_text(raw)))
        })?;
        if !seats.contains(&seat) {
            seats.push(seat);
        }
    }
    // The legacy client relays its own `sold seat` to the seat map's watchers.
    let refused = match seats::order(&state, user, session.id, seats, true).await {
        Ok(_) => return Ok(Json(json!({"ok": true}))),
        Err(e) => e,
    };
    Err(order_refusal(refused, user, limit, &raw_seats, raw_session))
}

/// The original's message for a refused order.
fn order_refusal(
    e: ServiceError,
    user: UserId,
    limit: TicketLimit,
    raw_seats: &[Value],
    raw_session: &Value,
) -> ApiError {
    let message = match e {
        ServiceError::NoSuchSeat(seat) => format!("Seat ID({seat}) is not existed."),
        ServiceError::NotYours(seat) => format!("{seat} is not locked by user ID({user})."),
        ServiceError::LimitReached { more: 0 } => format!("此帳號已購買{}張門票！", limit.0),
        ServiceError::LimitReached { more } => format!("此帳號只能再購買{more}張門票！"),
        ServiceError::Unpriced => format!(
            "Can not find corresponding seat IDs({}) by session ID({}).",
            js_text(&Value::Array(raw_seats.to_vec())),
            js_text(raw_session)
        ),
        other => return unexpected(other),
    };
    ApiError::bad_request(message)
}
