//! The seat events: `join room`, `select seat`, `unselect seat`, `lock seat`, `unlock seat`,
//! `sold seat`. Selections and releases are atomic storage transitions; locks and sales happen
//! over HTTP, so their socket events are relays to the sender's seat room.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::{field, logged, payload, reply};
use crate::app::AppState;
use crate::domain::ids::{AreaId, SeatId, SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::now_millis;
use crate::domain::waiting_room::Place;
use crate::http::extract::{id_of, js_text, seats_at, truthy};
use crate::http::purchase::NOT_ON_PAGE;
use crate::metrics;
use crate::realtime::{Conn, rooms};
use crate::storage::model::{SelectOutcome, UnlockOutcome, UnselectOutcome};

#[tracing::instrument(name = "socket", skip_all, fields(event = "join room", user = %conn.user()))]
pub(super) async fn on_join_room<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    Extension(conn): Extension<Conn>,
) {
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
        s.leave(rooms::seat_map(old_session, old_area));
    }
    s.join(rooms::seat_map(room.0, room.1));
}

/// A validated seat reference from a `select seat` / `unselect seat` payload.
struct SeatTarget {
    session: SessionId,
    area: AreaId,
}

/// The session and area checks shared by select and unselect, in the original's order.
async fn seat_target(state: &AppState, data: &Value) -> Result<SeatTarget, String> {
    let raw_session = field(data, "sessionId");
    if !truthy(raw_session) {
        return Err("Please provide session ID.".into());
    }
    let session = match id_of(raw_session) {
        Some(id) => state.store.catalog.session(SessionId(id)).await,
        None => Ok(None),
    };
    let session = match session {
        Ok(Some(s)) => s.id,
        Ok(None) => return Err("Please provide a valid session ID.".into()),
        Err(e) => return Err(logged(e)),
    };
    let raw_area = field(data, "areaId");
    if !truthy(raw_area) {
        return Err("Please provide an area ID.".into());
    }
    let invalid_area = || "Please provide a valid area ID.".to_string();
    let area = AreaId(id_of(raw_area).ok_or_else(invalid_area)?);
    match state.store.catalog.area_in_session(session, area).await {
        Ok(true) => Ok(SeatTarget { session, area }),
        Ok(false) => Err(invalid_area()),
        Err(e) => Err(logged(e)),
    }
}

/// Seat ids for `{row, column}` objects; the message names the first position not found.
async fn find_seats(
    state: &AppState,
    area: AreaId,
    cells: &[&Value],
) -> Result<Vec<SeatId>, String> {
    seats_at(state.store.catalog.as_ref(), area, cells)
        .await
        .map_err(logged)?
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "select seat", user = %conn.user()))]
pub(super) async fn on_select_seat<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let _timer = metrics::EventTimer::start("select seat");
    let _answering = state.seat_news.answering();
    let data = payload(data);
    let target = match seat_target(&state, &data).await {
        Ok(t) => t,
        Err(message) => return reply(&s, "self select seat", &json!({"error": message})).await,
    };
    let seat = match find_seats(&state, target.area, &[&data]).await {
        Ok(seats) => seats[0],
        Err(message) => return reply(&s, "self select seat", &json!({"error": message})).await,
    };
    let row = id_of(field(&data, "row")).unwrap_or(1);
    let column = id_of(field(&data, "column")).unwrap_or(1);
    let refuse = async |message: &str| {
        let body = json!({"error": message, "rowIndex": row - 1, "columnIndex": column - 1});
        reply(&s, "self select seat", &body).await;
    };
    let user = conn.user();
    match state.store.waiting_room.place(target.session, user).await {
        Ok(Some(Place::Page)) => {}
        Ok(_) => return refuse(NOT_ON_PAGE).await,
        Err(e) => return refuse(&logged(e)).await,
    }
    let limit = state.ticket_limit();
    match state
        .store
        .inventory
        .select(user, target.session, seat, state.hold_terms(now_millis()))
        .await
    {
        Ok(SelectOutcome::Selected) => {
            metrics::seat_transitions("select", 1);
            reply(&s, "self select seat", &data).await;
            let room = rooms::seat_map(target.session, target.area);
            state.seat_news.send(s.to(room), "other select seat", data);
        }
        Ok(SelectOutcome::LimitReached) => {
            let message = format!("一個帳號每個場次限購{}張門票（包含歷史訂單）！", limit.0);
            refuse(&message).await
        }
        Ok(SelectOutcome::Taken) => {
            metrics::seat_conflict();
            refuse("座位已經被搶走了～請重新選位!").await
        }
        Err(e) => refuse(&logged(e)).await,
    }
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "unselect seat", user = %conn.user()))]
pub(super) async fn on_unselect_seat<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let _timer = metrics::EventTimer::start("unselect seat");
    let _answering = state.seat_news.answering();
    let data = payload(data);
    match unselect(&state, &conn, &data).await {
        Ok(Some(target)) => {
            let room = rooms::seat_map(target.session, target.area);
            state.seat_news.send(s.to(room), "unselect seat", data);
        }
        Ok(None) => {}
        Err(message) => reply(&s, "unselect seat", &json!({"error": message})).await,
    }
}

/// Frees the listed selections; `None` when the list was empty (nothing to tell anyone).
async fn unselect(
    state: &AppState,
    conn: &Conn,
    data: &Value,
) -> Result<Option<SeatTarget>, String> {
    let target = seat_target(state, data).await?;
    let cells: Vec<&Value> = field(data, "tickets")
        .as_array()
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    if cells.is_empty() {
        return Ok(None);
    }
    let seats = find_seats(state, target.area, &cells).await?;
    let user = conn.user();
    match state
        .store
        .inventory
        .unselect(user, target.session, seats)
        .await
    {
        Ok(UnselectOutcome::Unselected) => {
            metrics::seat_transitions("unselect", cells.len());
            Ok(Some(target))
        }
        Ok(UnselectOutcome::NotSelectedBy(seat)) => {
            Err(format!("Seat ID({seat}) is not selected by User ID {user}"))
        }
        Err(e) => Err(logged(e)),
    }
}

/// `lock seat` and `sold seat` are relays: the database changed through HTTP already. Only a
/// visitor on the buying page of the watched session may relay, only to that seat room, and
/// only the seats the database shows it holding in the relayed state (locked, or sold): a
/// relay cannot paint states on other people's maps that the database does not have.
async fn relay<A: Adapter>(
    s: &SocketRef<A>,
    state: &AppState,
    conn: &Conn,
    event: &'static str,
    data: Value,
) {
    let Some((session, area)) = conn.seat_room() else {
        return;
    };
    if !data.is_array() {
        return;
    }
    match state.store.waiting_room.place(session, conn.user()).await {
        Ok(Some(Place::Page)) => {}
        _ => return,
    }
    let status = if event == "sold seat" {
        SeatStatus::Sold
    } else {
        SeatStatus::Locked
    };
    let Some(data) = vouched(state, conn.user(), (session, area), status, data).await else {
        return;
    };
    let room = rooms::seat_map(session, area);
    state.seat_news.send(s.to(room), event, data);
}

/// Most seat objects one relay may carry (the ticket limit is a handful).
const MOST_RELAYED: usize = 100;

/// The relayed seat objects whose seat `user` holds in `status`, found by the 0-based
/// `rowIndex`/`columnIndex` that every relay payload carries; `None` when none is.
async fn vouched(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
    status: SeatStatus,
    data: Value,
) -> Option<Value> {
    let Value::Array(items) = data else {
        return None;
    };
    if items.len() > MOST_RELAYED {
        return None;
    }
    let positions = items
        .iter()
        .map(|item| {
            let at = |k| item.get(k).and_then(Value::as_i64).map_or(0, |i| i + 1);
            (at("rowIndex"), at("columnIndex"))
        })
        .collect();
    let seats = match state.store.catalog.find_seats(area, positions).await {
        Ok(seats) => seats,
        Err(e) => {
            tracing::error!(error = %e, "looking up relayed seats failed");
            return None;
        }
    };
    let asked = seats.iter().flatten().copied().collect();
    let held = match state
        .store
        .inventory
        .held_in(user, session, status, asked)
        .await
    {
        Ok(held) => held,
        Err(e) => {
            tracing::error!(error = %e, "checking relayed seats failed");
            return None;
        }
    };
    let kept: Vec<Value> = items
        .into_iter()
        .zip(seats)
        .filter(|(_, seat)| seat.is_some_and(|s| held.contains(&s)))
        .map(|(item, _)| item)
        .collect();
    (!kept.is_empty()).then_some(Value::Array(kept))
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "lock seat", user = %conn.user()))]
pub(super) async fn on_lock_seat<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let _timer = metrics::EventTimer::start("lock seat");
    relay(&s, &state, &conn, "lock seat", payload(data)).await;
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "sold seat", user = %conn.user()))]
pub(super) async fn on_sold_seat<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let _timer = metrics::EventTimer::start("sold seat");
    relay(&s, &state, &conn, "sold seat", payload(data)).await;
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "unlock seat", user = %conn.user()))]
pub(super) async fn on_unlock_seat<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let _timer = metrics::EventTimer::start("unlock seat");
    let _answering = state.seat_news.answering();
    let data = payload(data);
    match unlock(&state, &conn, &data).await {
        Ok(()) => {
            if let Some((session, area)) = conn.seat_room() {
                let room = rooms::seat_map(session, area);
                state.seat_news.send(s.to(room), "unlock seat", data);
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
    let mut seats = Vec::new();
    for ticket in &tickets {
        let raw = field(ticket, "seatId");
        seats.push(SeatId(id_of(raw).ok_or_else(|| not_locked(raw))?));
    }
    let session = SessionId(id_of(raw_session).unwrap_or(0));
    match state.store.inventory.unlock(user, session, seats).await {
        Ok(UnlockOutcome::Unlocked) => {
            metrics::seat_transitions("unlock", tickets.len());
            Ok(())
        }
        Ok(UnlockOutcome::NotLockedBy(seat)) => Err(not_locked(&json!(seat))),
        Ok(UnlockOutcome::NotLocked(seat)) => {
            Err(format!("Seat ID({seat}) does not have a lock status"))
        }
        Err(e) => {
            tracing::error!(error = %e, "unlock failed");
            Err("MySQL Error.".into())
        }
    }
}
