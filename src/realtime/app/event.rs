//! `/event-{sessionId}`: the buying page of one session, for visitors admitted from its line.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::{
    Refused, authenticate, bad_request, fail, id_field, ok, reply, status_name, window_ends_at,
};
use crate::domain::ids::{AreaId, SessionId};
use crate::domain::time::now_millis;
use crate::realtime::order::{Turn, Turnstile};
use crate::realtime::seat_news::SeatNews;
use crate::realtime::tap::Ack;
use crate::realtime::{Conn, new_holder, rooms};
use crate::service::seats::{self, Position};
use crate::service::{ServiceError, visit};
use crate::state::AppState;

/// The wire name of a stored seat status id. An id the schema does not know (a hand-edited or
/// corrupt row) shows as `sold`: a seat that cannot be bought must never look free.
fn stored_status_name(id: i64) -> &'static str {
    match crate::domain::seats::SeatStatus::from_id(id) {
        Some(status) => status_name(status),
        None => {
            tracing::warn!(
                status_id = id,
                "a seat has an unknown status id; shown as sold"
            );
            "sold"
        }
    }
}

/// The session of a namespace path `/event-{id}`.
fn session_of(ns: &str) -> Option<SessionId> {
    let id: i64 = ns.strip_prefix("/event-")?.parse().ok()?;
    (id > 0).then_some(SessionId(id))
}

/// Connect middleware: a valid token and a place on this session's buying page.
pub(crate) async fn on_connecting<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
    State(sockets): State<crate::realtime::quota::SocketQuota>,
) -> Result<(), Refused> {
    let user = authenticate(&s, auth.as_ref().ok(), &state).await?;
    crate::realtime::quota::claim(&s, &sockets, user)
        .map_err(|_| Refused("too_many_connections"))?;
    let session = session_of(s.ns()).ok_or(Refused("unknown_session"))?;
    match visit::require_page(&state, session, user).await {
        Ok(()) => {}
        Err(ServiceError::NotAdmitted) => {
            let known = seats::known_session(&state, session).await;
            return Err(match known {
                Err(ServiceError::UnknownSession) => Refused("unknown_session"),
                _ => Refused("not_admitted"),
            });
        }
        Err(e) => return Err(Refused(super::code_of(&e))),
    }
    let conn = Conn::new(user, new_holder());
    conn.set_entered(session);
    s.extensions.insert(conn);
    s.extensions.insert(Turnstile::default());
    crate::realtime::intake::install(
        &s,
        &state.settings.limits,
        crate::realtime::intake::Protocol::App,
    );
    rooms::join(&s, rooms::user(user));
    s.on("watch", on_watch::<A>);
    s.on("select", on_select::<A>);
    s.on("unselect", on_unselect::<A>);
    s.on("lock", on_lock::<A>);
    s.on("unlock", on_unlock::<A>);
    s.on("order", on_order::<A>);
    s.on("leave", on_leave::<A>);
    crate::realtime::tap::attach(&s, &state, user);
    Ok(())
}

/// On connect the visitor hears when the window ends.
pub(crate) async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    let Some(session) = conn.entered() else {
        return;
    };
    let ends = window_ends_at(&state, session, conn.user()).await;
    let body = json!({"endsAt": ends, "serverNow": now_millis()});
    if let Some(tap) = crate::realtime::tap::of(&s) {
        tap.emitted("window", &[&body]);
    }
    if let Err(e) = s.emit("window", &body) {
        tracing::debug!(error = %e, "sending window failed");
    }
}

/// The session and the payload's area, or a `bad_request` message.
fn target(conn: &Conn, data: &Value) -> Result<(SessionId, AreaId), &'static str> {
    let area = id_field(data, "areaId").ok_or("areaId must be a positive integer")?;
    let session = conn.entered().ok_or("no session")?;
    Ok((session, AreaId(area)))
}

/// `{row, column}` of an object, both positive integers.
fn position(v: &Value) -> Option<Position> {
    Some((id_field(v, "row")?, id_field(v, "column")?))
}

/// The `seats` list of a payload, without repeats, or a `bad_request` message. A list longer
/// than `most` (the ticket limit: nobody can hold more) is refused unread, so a long list costs
/// the sender nothing but the refusal.
fn positions(data: &Value, most: usize) -> Result<Vec<Position>, &'static str> {
    let list = data
        .get("seats")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or("seats must be a non-empty array of {row, column}")?;
    if list.len() > most {
        return Err("more seats than the ticket limit allows");
    }
    let mut at = Vec::with_capacity(list.len());
    for item in list {
        let p = position(item).ok_or("each seat needs positive integer row and column")?;
        if !at.contains(&p) {
            at.push(p);
        }
    }
    Ok(at)
}

fn cell_json((row, column): Position) -> Value {
    json!({"row": row, "column": column})
}

async fn on_watch<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let data = data.unwrap_or(Value::Null);
    let (session, area) = match target(&conn, &data) {
        Ok(t) => t,
        Err(message) => return bad_request(ack, message),
    };
    // Join first: a change published while the map is read then arrives after the snapshot,
    // with a version above it.
    let previous = conn.set_seat_room((session, area));
    if let Some((_, old)) = previous.filter(|(_, old)| *old != area) {
        rooms::leave(&s, rooms::area(old));
    }
    rooms::join(&s, rooms::area(area));
    let version = match state.store.seat_versions.current(session, area).await {
        Ok(v) => v,
        Err(e) => return fail(ack, &ServiceError::from(e)),
    };
    match seats::area_map(&state, conn.user(), (session, area)).await {
        Ok(map) => {
            let seats: Vec<Value> = map
                .iter()
                .map(|m| {
                    let status = stored_status_name(m.cell.status);
                    json!({"row": m.cell.row, "column": m.cell.column, "status": status, "mine": m.mine})
                })
                .collect();
            ok(
                ack,
                json!({"areaId": area, "version": version, "seats": seats}),
            );
        }
        Err(e) => {
            rooms::leave(&s, rooms::area(area));
            fail(ack, &e)
        }
    }
}

/// Seat events hold [`SeatNews::answering`] while they are answered: in a rush the room news
/// then gives way to the answers, as on the legacy protocol.
async fn on_select<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _answering = news.answering();
    let data = data.unwrap_or(Value::Null);
    let (target, at) = match seat_at(&conn, &data) {
        Ok(t) => t,
        Err(message) => return bad_request(ack, message),
    };
    let selected = seats::select(&state, conn.user(), target, at, false).await;
    reply(ack, selected.map(|_| json!({"seat": cell_json(at)})));
}

async fn on_unselect<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _answering = news.answering();
    let data = data.unwrap_or(Value::Null);
    let (target, at) = match seat_at(&conn, &data) {
        Ok(t) => t,
        Err(message) => return bad_request(ack, message),
    };
    let unselected = seats::unselect(&state, conn.user(), target, &[at], false).await;
    reply(ack, unselected.map(|_| json!({})));
}

/// The target and position of a `select` or `unselect`, or a `bad_request` message.
fn seat_at(conn: &Conn, data: &Value) -> Result<((SessionId, AreaId), Position), &'static str> {
    let target = target(conn, data)?;
    let at = position(data).ok_or("row and column must be positive integers")?;
    Ok((target, at))
}

/// The seat ids of `at` in a known area (`unknown_area` before `unknown_seat`).
async fn located(
    state: &AppState,
    (session, area): (SessionId, AreaId),
    at: &[Position],
) -> Result<Vec<crate::domain::ids::SeatId>, ServiceError> {
    seats::known_area(state, session, area).await?;
    seats::find(state, area, at).await
}

/// The target and positions of a `lock`, `unlock` or `order`, or a `bad_request` message.
fn seat_request(
    state: &AppState,
    conn: &Conn,
    data: &Value,
) -> Result<((SessionId, AreaId), Vec<Position>), &'static str> {
    let most = state.most_tickets() as usize;
    Ok((target(conn, data)?, positions(data, most)?))
}

async fn on_lock<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _answering = news.answering();
    let data = data.unwrap_or(Value::Null);
    let (target, at) = match seat_request(&state, &conn, &data) {
        Ok(r) => r,
        Err(message) => return bad_request(ack, message),
    };
    let locked = async {
        seats::known_area(&state, target.0, target.1).await?;
        seats::lock(&state, conn.user(), target, &at, false).await
    };
    reply(
        ack,
        locked.await.map(|lines| {
            let total: i64 = lines.iter().map(|l| l.price).sum();
            let seats: Vec<Value> = at.iter().copied().map(cell_json).collect();
            json!({"seats": seats, "total": total})
        }),
    );
}

async fn on_unlock<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _answering = news.answering();
    let data = data.unwrap_or(Value::Null);
    let (target, at) = match seat_request(&state, &conn, &data) {
        Ok(r) => r,
        Err(message) => return bad_request(ack, message),
    };
    let unlocked = async {
        let ids = located(&state, target, &at).await?;
        seats::unlock(&state, conn.user(), target.0, ids, false).await
    };
    reply(ack, unlocked.await.map(|()| json!({})));
}

async fn on_order<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(news): State<SeatNews>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _answering = news.answering();
    let data = data.unwrap_or(Value::Null);
    let (target, at) = match seat_request(&state, &conn, &data) {
        Ok(r) => r,
        Err(message) => return bad_request(ack, message),
    };
    let placed = async {
        let ids = located(&state, target, &at).await?;
        seats::order(&state, conn.user(), target.0, ids, false).await
    };
    reply(
        ack,
        placed
            .await
            .map(|p| json!({"orderId": p.order, "total": p.total})),
    );
}

async fn on_leave<A: Adapter>(
    mut turn: Turn,
    ack: Ack<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let Some(session) = conn.entered() else {
        return ok(ack, json!({}));
    };
    let left = visit::leave(&state, session, conn.user(), None, now_millis()).await;
    reply(ack, left.map(|_| json!({})));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stored_status_never_shows_a_seat_as_free() {
        assert_eq!(stored_status_name(1), "empty");
        assert_eq!(stored_status_name(3), "sold");
        assert_eq!(stored_status_name(4), "sold");
        assert_eq!(stored_status_name(99), "sold");
    }

    #[test]
    fn the_session_comes_from_the_namespace_path() {
        assert_eq!(session_of("/event-12"), Some(SessionId(12)));
        assert_eq!(session_of("/event-0"), None);
        assert_eq!(session_of("/event-x"), None);
        assert_eq!(session_of("/queue"), None);
    }

    #[test]
    fn seat_lists_must_be_short_arrays_of_positions() {
        assert_eq!(
            positions(
                &json!({"seats": [{"row": 1, "column": 2}, {"row": 1, "column": 2}]}),
                4
            ),
            Ok(vec![(1, 2)])
        );
        assert!(positions(&json!({"seats": []}), 4).is_err());
        assert!(positions(&json!({"seats": [{"row": "1", "column": 2}]}), 4).is_err());
        let five: Vec<Value> = (0..5).map(|i| json!({"row": 1, "column": i + 1})).collect();
        assert!(positions(&json!({ "seats": five }), 4).is_err());
    }
}
