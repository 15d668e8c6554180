//! Buying: `/session/validation` (before the waiting room), `/seat/lock`, `/order`.
//!
//! Checks run in the original's order with its messages. Unlike the original, locking and
//! ordering require a place on the session's buying page, and each seat transition is atomic.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{AuthUser, Body, id_of, js_text, seats_at, truthy};
use crate::app::AppState;
use crate::domain::ids::{AreaId, SeatId, SessionId, UserId};
use crate::domain::seats::TicketLimit;
use crate::domain::time::now_millis;
use crate::domain::waiting_room::Place;
use crate::error::{ApiError, ApiResult};
use crate::metrics;
use crate::storage::model::{LockOutcome, OrderOutcome, SessionInfo, TicketLine};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session/validation", post(validate_session))
        .route("/seat/lock", post(lock_seats))
        .route("/order", post(place_order))
}

/// Told to someone who tries to buy without a place on the buying page.
pub const NOT_ON_PAGE: &str = "請先排隊進入購票頁面！";

async fn validate_session(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let raw = body.field("sessionId");
    if !truthy(raw) {
        return Err(ApiError::bad_request("Please provide session ID."));
    }
    let session = find_session(&state, raw, "請提供正確的場次資訊").await?;
    let now = now_millis();
    if session.time.millis() <= now {
        return Err(ApiError::bad_request("活動已結束！"));
    }
    if session.on_sale.is_some_and(|t| t.millis() > now) {
        return Err(ApiError::bad_request("活動尚未開賣！"));
    }
    if state
        .store
        .waiting_room
        .place(session.id, user)
        .await?
        .is_some()
    {
        return Err(ApiError::bad_request("此帳號已在購票頁面 / 隊伍中！"));
    }
    let limit = state.ticket_limit().0;
    let sold = state.store.inventory.sold_count(user, session.id).await?;
    if sold >= limit {
        return Err(ApiError::bad_request(format!(
            "此帳號已購買{limit}張，達到單場次上限！"
        )));
    }
    if sold > 0 {
        return Err(ApiError::warning(format!(
            "一個帳號每個場次限購{limit}張門票（包含歷史訂單）。此帳號已購買{sold}張，確定要用此帳號繼續購買嗎？"
        )));
    }
    Ok(Json(json!({"ok": true})))
}

/// Looks a session up by a client-sent id; unknown or malformed ids get `message`.
async fn find_session(state: &AppState, raw: &Value, message: &str) -> ApiResult<SessionInfo> {
    let found = match id_of(raw) {
        Some(id) => state.store.catalog.session(SessionId(id)).await?,
        None => None,
    };
    found.ok_or_else(|| ApiError::bad_request(message))
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
    Ok((raw, find_session(state, raw, invalid).await?))
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

/// Refuses callers who are not on the session's buying page.
async fn require_page(state: &AppState, session: SessionId, user: UserId) -> ApiResult<()> {
    match state.store.waiting_room.place(session, user).await? {
        Some(Place::Page) => Ok(()),
        _ => Err(ApiError::bad_request(NOT_ON_PAGE)),
    }
}

async fn lock_seats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (raw_session, session) =
        required_session(&state, &body, "Please provide a valid session ID.").await?;
    let area = checked_area(&state, &body, session.id).await?;
    let limit = state.ticket_limit();
    let tickets = seat_list(
        &body,
        "tickets",
        limit,
        "Please provide at least one seat to lock.",
    )?;
    let seats = resolve_seats(&state, area, &tickets).await?;
    require_page(&state, session.id, user).await?;
    match state
        .store
        .inventory
        .lock(
            user,
            session.id,
            seats.clone(),
            state.hold_terms(now_millis()),
        )
        .await?
    {
        LockOutcome::Locked => metrics::seat_transitions("lock", seats.len()),
        LockOutcome::AllBought => {
            return Err(ApiError::bad_request(format!(
                "此帳號已購買{}張門票！",
                limit.0
            )));
        }
        LockOutcome::OnlyMore(n) => {
            return Err(ApiError::bad_request(format!(
                "此帳號只能再購買{n}張門票！"
            )));
        }
        LockOutcome::NotSelectedBy(seat) => {
            return Err(ApiError::bad_request(format!(
                "Seat ID({seat}) is not selected by User ID {user}"
            )));
        }
    }
    let lines = state.store.catalog.ticket_lines(session.id, seats).await?;
    Ok(Json(lock_summary(raw_session, &lines)))
}

/// The area of a lock request: present and in the session's venue.
async fn checked_area(state: &AppState, body: &Body, session: SessionId) -> ApiResult<AreaId> {
    let raw = body.field("areaId");
    if !truthy(raw) {
        return Err(ApiError::bad_request("Please provide an area ID."));
    }
    let invalid = || ApiError::bad_request("Please provide a valid area ID.");
    let area = AreaId(id_of(raw).ok_or_else(invalid)?);
    if !state.store.catalog.area_in_session(session, area).await? {
        return Err(invalid());
    }
    Ok(area)
}

/// Seat ids for the `{row, column}` objects the client sent, without duplicates.
async fn resolve_seats(
    state: &AppState,
    area: AreaId,
    tickets: &[Value],
) -> ApiResult<Vec<SeatId>> {
    let cells: Vec<&Value> = tickets.iter().collect();
    let found = seats_at(state.store.catalog.as_ref(), area, &cells).await?;
    let mut seats = Vec::new();
    for seat in found.map_err(ApiError::bad_request)? {
        if !seats.contains(&seat) {
            seats.push(seat);
        }
    }
    Ok(seats)
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
    let limit = state.ticket_limit();
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
    require_page(&state, session.id, user).await?;
    let outcome = state
        .store
        .inventory
        .place_order(user, session.id, seats.clone(), limit)
        .await?;
    let message = match outcome {
        OrderOutcome::Placed(order) => {
            metrics::order_placed(seats.len());
            metrics::seat_transitions("sell", seats.len());
            tracing::info!(%order, %user, session = %session.id, seats = seats.len(), "order placed");
            return Ok(Json(json!({"ok": true})));
        }
        OrderOutcome::NoSuchSeat(seat) => format!("Seat ID({seat}) is not existed."),
        OrderOutcome::NotLockedBy(seat) => format!("{seat} is not locked by user ID({user})."),
        OrderOutcome::OnlyMore(0) => format!("此帳號已購買{}張門票！", limit.0),
        OrderOutcome::OnlyMore(n) => format!("此帳號只能再購買{n}張門票！"),
        OrderOutcome::Unpriced => format!(
            "Can not find corresponding seat IDs({}) by session ID({}).",
            js_text(&Value::Array(raw_seats)),
            js_text(raw_session)
        ),
    };
    Err(ApiError::bad_request(message))
}
