//! The seat events: `join room`, `select seat`, `unselect seat`, `lock seat`, `unlock seat`,
//! `sold seat`. Selections and releases are the service layer's atomic transitions; locks and
//! sales happen over HTTP, so their socket events are relays to the sender's seat room.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::{field, logged, payload, reply};
use crate::domain::ids::{AreaId, SeatId, SessionId};
use crate::domain::seats::SeatStatus;
use crate::error::NOT_ON_PAGE;
use crate::js::{id_of, js_text, truthy};
use crate::metrics;
use crate::realtime::order::Turn;
use crate::realtime::seat_news::SeatNews;
use crate::realtime::{Conn, rooms, tap};
use crate::service::ServiceError;
use crate::service::seats::{self, Position};
use crate::state::AppState;

#[tracing::instrument(name = "socket", skip_all, fields(event = "join room", user = %conn.user()))]
pub(super) async fn on_join_room<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("join room");
    let data = payload(data);
    let (Some(session), Some(area)) = (
        id_of(field(&data, "sessionId")),
        id_of(field(&data, "areaId")),
    ) else {
        return;
    };
    let room = (SessionId(session), AreaId(area));
    // The client applies seat updates by row and column without checking the area, so a
    // socket must hear one area at a time.
    if let Some((old_session, old_area)) = conn.set_seat_room(room) {
        rooms::leave(&s, rooms::seat_map(old_session, old_area));
    }
    rooms::join(&s, rooms::seat_map(room.0, room.1));
}

/// The session and area of a seat event: the session present and known, then the area present,
/// in the original's order and words (the service checks the area).
async fn seat_target(state: &AppState, data: &Value) -> Result<(SessionId, AreaId), String> {
    let raw_session = field(data, "sessionId");
    if !truthy(raw_session) {
        return Err("Please provide session ID.".into());
    }
    let session = SessionId(id_of(raw_session).unwrap_or(0));
    if let Err(e) = seats::known_session(state, session).await {
        return Err(shared_refusal(e, AreaId(0), &[]));
    }
    let raw_area = field(data, "areaId");
    if !truthy(raw_area) {
        return Err("Please provide an area ID.".into());
    }
    Ok((session, AreaId(id_of(raw_area).unwrap_or(0))))
}

/// The original's words for the refusals every seat event shares; `cells` are the request's
/// raw seat objects (for the message naming a missing seat).
fn shared_refusal(e: ServiceError, area: AreaId, cells: &[&Value]) -> String {
    match e {
        ServiceError::UnknownSession => "Please provide a valid session ID.".into(),
        ServiceError::UnknownArea => "Please provide a valid area ID.".into(),
        ServiceError::UnknownSeat { index, .. } => {
            let raw = |name| cells.get(index).map_or(&Value::Null, |c| field(c, name));
            format!(
                "Can not find row {}, column {} in area {area}",
                js_text(raw("row")),
                js_text(raw("column"))
            )
        }
        ServiceError::Unavailable(e) => logged(e),
        other => logged(other),
    }
}

/// The 1-based position of a raw seat object (0 where missing or malformed).
fn position_of(cell: &Value) -> Position {
    let at = |name| id_of(field(cell, name)).unwrap_or(0);
    (at("row"), at("column"))
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "select seat", user = %conn.user()))]
pub(super) async fn on_select_seat<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("select seat");
    let _answering = news.answering();
    let data = payload(data);
    let target = match seat_target(&state, &data).await {
        Ok(t) => t,
        Err(message) => return reply(&s, "self select seat", &json!({"error": message})).await,
    };
    let at = position_of(&data);
    let (row, column) = (at.0.max(1), at.1.max(1));
    let message = match seats::select(&state, conn.user(), target, at, true).await {
        Ok(_) => {
            reply(&s, "self select seat", &data).await;
            return tell_room(&s, (&state, &news), target, "other select seat", data);
        }
        Err(ServiceError::NotAdmitted) => NOT_ON_PAGE.to_string(),
        Err(ServiceError::LimitReached { .. }) => format!(
            "一個帳號每個場次限購{}張門票（包含歷史訂單）！",
            state.ticket_limit(target.0).0
        ),
        Err(ServiceError::SeatTaken) => "座位已經被搶走了～請重新選位!".to_string(),
        Err(e @ ServiceError::Unavailable(_)) => logged(e),
        Err(e) => {
            let message = shared_refusal(e, target.1, &[&data]);
            return reply(&s, "self select seat", &json!({"error": message})).await;
        }
    };
    let body = json!({"error": message, "rowIndex": row - 1, "columnIndex": column - 1});
    reply(&s, "self select seat", &body).await;
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "unselect seat", user = %conn.user()))]
pub(super) async fn on_unselect_seat<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("unselect seat");
    let _answering = news.answering();
    let data = payload(data);
    if let Err(message) = within_limit(&state, field(&data, "tickets")) {
        return reply(&s, "unselect seat", &json!({"error": message})).await;
    }
    let target = match seat_target(&state, &data).await {
        Ok(t) => t,
        Err(message) => return reply(&s, "unselect seat", &json!({"error": message})).await,
    };
    let cells: Vec<&Value> = field(&data, "tickets")
        .as_array()
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    let at: Vec<Position> = cells.iter().map(|c| position_of(c)).collect();
    let user = conn.user();
    let message = match seats::unselect(&state, user, target, &at, true).await {
        Ok(0) => return,
        Ok(_) => {
            return tell_room(&s, (&state, &news), target, "unselect seat", data);
        }
        Err(ServiceError::NotYours(seat)) => {
            format!("Seat ID({seat}) is not selected by User ID {user}")
        }
        Err(e) => shared_refusal(e, target.1, &cells),
    };
    reply(&s, "unselect seat", &json!({"error": message})).await;
}

/// Refuses a seat list longer than the ticket limit (nobody can hold more seats), before any
/// lookup: a list of thousands would otherwise cost a query per seat (issue 15, item 6). In the
/// words `POST /seat/lock` uses for the same case.
fn within_limit(state: &AppState, seats: &Value) -> Result<(), String> {
    let limit = state.most_tickets();
    match seats.as_array() {
        Some(list) if list.len() > limit as usize => {
            Err(format!("You can only buy {limit} tickets per session."))
        }
        _ => Ok(()),
    }
}

/// `lock seat` and `sold seat` are relays: the database changed through HTTP already. Only a
/// visitor on the buying page of the watched session may relay, only to that seat room, and
/// only the seats storage shows it holding in the relayed state (locked, or sold): a relay
/// cannot paint states on other people's maps that the database does not have.
async fn relay<A: Adapter>(
    s: &SocketRef<A>,
    (state, news): (&AppState, &SeatNews),
    conn: &Conn,
    (event, status): (&'static str, SeatStatus),
    data: Value,
) {
    let Some(target) = conn.seat_room() else {
        return;
    };
    let Value::Array(items) = data else {
        return;
    };
    if items.len() > state.ticket_limit(target.0).0 as usize {
        return;
    }
    let at: Vec<Position> = items
        .iter()
        .map(|item| {
            let at = |k| item.get(k).and_then(Value::as_i64).map_or(0, |i| i + 1);
            (at("rowIndex"), at("columnIndex"))
        })
        .collect();
    let held = match seats::holding(state, conn.user(), target, status, &at).await {
        Ok(held) => held,
        Err(ServiceError::NotAdmitted) => return,
        Err(e) => return tracing::error!(error = %e, "checking relayed seats failed"),
    };
    let kept: Vec<Value> = items
        .into_iter()
        .zip(held)
        .filter_map(|(item, held)| held.then_some(item))
        .collect();
    if !kept.is_empty() {
        tell_room(s, (state, news), target, event, Value::Array(kept));
    }
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "lock seat", user = %conn.user()))]
pub(super) async fn on_lock_seat<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("lock seat");
    let kind = ("lock seat", SeatStatus::Locked);
    relay(&s, (&state, &news), &conn, kind, payload(data)).await;
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "sold seat", user = %conn.user()))]
pub(super) async fn on_sold_seat<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("sold seat");
    let kind = ("sold seat", SeatStatus::Sold);
    relay(&s, (&state, &news), &conn, kind, payload(data)).await;
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "unlock seat", user = %conn.user()))]
pub(super) async fn on_unlock_seat<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("unlock seat");
    let _answering = news.answering();
    let data = payload(data);
    match unlock(&state, &conn, &data).await {
        Ok(()) => {
            if let Some(room) = conn.seat_room() {
                tell_room(&s, (&state, &news), room, "unlock seat", data);
            }
        }
        Err(message) => reply(&s, "unlock seat", &json!({"error": message})).await,
    }
}

/// Frees the seats of an order summary the caller locked (back from the order page).
async fn unlock(state: &AppState, conn: &Conn, data: &Value) -> Result<(), String> {
    let Some(tickets) = data.get("tickets") else {
        return Err("No tickets received.".into());
    };
    within_limit(state, tickets)?;
    let raw_session = field(data, "sessionId");
    if !truthy(raw_session) {
        return Err("Please provide session ID.".into());
    }
    let tickets = tickets.as_array().cloned().unwrap_or_default();
    if tickets.is_empty() {
        return Err("Please provide at least one seat to unlock.".into());
    }
    let user = conn.user();
    let not_locked =
        |raw: &Value| format!("Seat ID({}) is not locked by User ID {user}", js_text(raw));
    let mut ids = Vec::new();
    for ticket in &tickets {
        let raw = field(ticket, "seatId");
        ids.push(SeatId(id_of(raw).ok_or_else(|| not_locked(raw))?));
    }
    let session = SessionId(id_of(raw_session).unwrap_or(0));
    match seats::unlock(state, user, session, ids, true).await {
        Ok(()) => Ok(()),
        Err(ServiceError::NotYours(seat)) => Err(not_locked(&json!(seat))),
        Err(ServiceError::NotLocked(seat)) => {
            Err(format!("Seat ID({seat}) does not have a lock status"))
        }
        Err(e) => {
            tracing::error!(error = %e, "unlock failed");
            Err("MySQL Error.".into())
        }
    }
}

/// `event` with `data` for everyone in the sender's seat room `(session, area)` but the
/// sender, after the answers being given (through the seat news).
fn tell_room<A: Adapter>(
    s: &SocketRef<A>,
    (state, news): (&AppState, &SeatNews),
    (session, area): (SessionId, AreaId),
    event: &'static str,
    data: Value,
) {
    let room = rooms::seat_map(session, area);
    let heard = tap::audience(state.recorder.as_ref(), "/", &room).map(|a| a.except_socket(s.id));
    news.send(s.to(room), heard, event, data);
}
