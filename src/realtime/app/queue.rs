//! `/queue`: joining a session's line, asking where one stands, leaving it.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;

use super::positions::Positions;
use super::{Refused, authenticate, bad_request, fail, ok, reply, session_field, window_ends_at};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::{Millis, now_millis};
use crate::domain::waiting_room::{Admission, Place};
use crate::realtime::order::{Turn, Turnstile};
use crate::realtime::tap::Ack;
use crate::realtime::{Conn, give_back_if_gone, new_holder, rooms};
use crate::service::estimate::Estimate;
use crate::service::fair::{self, Joined};
use crate::service::{ServiceError, resume, visit};
use crate::state::AppState;

/// Connect middleware: a valid token; registers the events before CONNECT is sent.
pub(crate) async fn on_connecting<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
    State(sockets): State<crate::realtime::quota::SocketQuota>,
    State(positions): State<Positions>,
) -> Result<(), Refused> {
    let auth = auth.ok();
    let user = authenticate(&s, auth.as_ref(), &state).await?;
    crate::realtime::quota::claim(&s, &sockets, user)
        .map_err(|_| Refused("too_many_connections"))?;
    let conn = Conn::new(user, new_holder());
    // A resume token takes a place kept after a dropped connection onto this one, before any
    // event can arrive; a token that resumes nothing is ignored (the client can `join`).
    if let Some(token) = auth
        .as_ref()
        .and_then(|a| a.get("resume"))
        .and_then(Value::as_str)
    {
        match resume::claim(&state, token, user, conn.holder(), now_millis()).await {
            Ok(session) => {
                conn.set_entered(session);
                rooms::join(&s, rooms::entrant(session, user));
                // Their place is asked within a second (dropped if it is on the page).
                positions.watch(session, user, None, false);
            }
            Err(ServiceError::Unavailable(e)) => {
                tracing::error!(error = %e, "resuming a place failed");
                return Err(Refused("internal"));
            }
            Err(_) => tracing::debug!(%user, "a resume token resumed nothing"),
        }
    }
    s.extensions.insert(conn);
    s.extensions.insert(Turnstile::default());
    crate::realtime::intake::install(
        &s,
        &state.settings.limits,
        crate::realtime::intake::Protocol::App,
    );
    rooms::join(&s, rooms::user(user));
    s.on("join", on_join::<A>);
    s.on("status", on_status::<A>);
    s.on("leave", on_leave::<A>);
    s.on_disconnect(on_disconnect);
    crate::realtime::tap::attach(&s, &state, user);
    Ok(())
}

/// The namespace's connect handler: everything is registered by the middleware.
pub(crate) async fn on_connect<A: Adapter>(_s: SocketRef<A>) {}

/// The `estimate` object: the expected wait in seconds and its range, and whether an operator
/// paused admissions (the wait then lasts at least until they resume).
pub(crate) fn estimate(e: Estimate, paused: bool) -> Value {
    json!({"seconds": e.seconds, "low": e.low, "high": e.high, "paused": paused})
}

/// Where an account stands in one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stand {
    /// Not in line.
    Out,
    /// Joined before the on-sale time: waiting for the draw.
    Early,
    /// On the page or in the queue.
    In(Place),
}

/// Where an account stands, as the `join` and `status` acks say it.
async fn standing(
    state: &AppState,
    session: SessionId,
    user: UserId,
    stand: Stand,
    seconds: i64,
) -> Result<Value, ServiceError> {
    let info = crate::service::seats::known_session(state, session).await?;
    let now = now_millis();
    let opens_at: Option<Millis> = info.on_sale.map(|t| t.millis());
    // Someone queued waits by the line's observed pace (the original formula until it is
    // known); an early entrant at least until the on-sale time.
    let wait = match stand {
        Stand::In(Place::Queue(index)) => state.estimator.estimate(session, index, seconds),
        Stand::Early => Estimate::exactly(opens_at.map_or(0, |t| (t - now) / 1000)),
        _ => Estimate::exactly(0),
    };
    let (name, ahead, ends) = match stand {
        Stand::In(Place::Page) => ("admitted", 0, window_ends_at(state, session, user).await),
        Stand::In(Place::Queue(index)) => ("queued", index, None),
        Stand::Early => ("waiting_for_sale", 0, None),
        Stand::Out => ("none", 0, None),
    };
    let mut body = json!({
        "sessionId": session, "state": name, "ahead": ahead,
        "estimate": estimate(wait, state.store.controls.effective(session).paused),
        "opensAt": opens_at, "windowEndsAt": ends,
        "resume": (stand != Stand::Out).then(|| resume::token(state, session, user, now)).flatten(),
    });
    // After a fair start, each entrant's place in the draw (the draw is looked up only for
    // sessions that have an on-sale time behind them).
    if opens_at.is_some_and(|t| t <= now)
        && stand != Stand::Out
        && let Some(position) = fair::draw_position(state, session, user).await?
        && let Some(fields) = body.as_object_mut()
    {
        fields.insert("drawPosition".into(), json!(position));
    }
    Ok(body)
}

/// A rough wait for queue index `index`: the original formula with every page place fresh.
fn rough_seconds(state: &AppState, session: SessionId, index: usize, now: Millis) -> i64 {
    let rules = state.rules(session);
    rules.seconds(now, (index / rules.limit) as i64, now)
}

async fn on_join<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(positions): State<Positions>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let data = data.unwrap_or(Value::Null);
    let session = match session_field(&data) {
        Ok(session) => session,
        Err(message) => return bad_request(ack, message),
    };
    let user = conn.user();
    let now = now_millis();
    let mark = positions.mark();
    // Join before entering, so an admission right after cannot miss this socket.
    rooms::join(&s, rooms::entrant(session, user));
    let entered = fair::join(&state, session, user, conn.holder(), now).await;
    // A fault (a Redis reply that timed out, say) leaves the outcome unknown: the arrival may
    // have taken its place after all. The connection counts that line as its own, as the
    // legacy protocol does, so a retried join or `status` finds the place and a disconnect
    // gives it back; a place nobody holds would stand in line until the session ended.
    let maybe_placed = matches!(entered, Err(ServiceError::Unavailable(_)));
    // A connection waits in one line: a join that succeeded elsewhere (or may have, after a
    // fault) gives the old place up, a refused one (unknown session, ended sale) leaves it
    // alone.
    if (entered.is_ok() || maybe_placed)
        && let Some(previous) = conn.set_entered(session).filter(|p| *p != session)
    {
        rooms::leave(&s, rooms::entrant(previous, user));
        if let Err(e) = visit::leave(&state, previous, user, Some(conn.holder()), now).await {
            tracing::error!(error = %e, "leaving the previous line failed");
        }
    }
    // The socket went away while the join was handled: a goodbye gives the place back at
    // once; a dropped connection keeps it for the resume grace, like any other drop.
    if (entered.is_ok() || maybe_placed) && conn.is_gone() {
        if conn.has_said_goodbye() {
            give_back_if_gone(&state, &conn, session).await;
        } else {
            resume::defer_departure(&state, session, user, conn.holder());
        }
        return;
    }
    let (stand, seconds) = match entered {
        Ok(Joined::Early) => (Stand::Early, 0),
        Ok(Joined::Placed(Admission::Pass)) => (Stand::In(Place::Page), 0),
        Ok(Joined::Placed(Admission::Queued {
            wait_people,
            seconds,
        })) => (
            Stand::In(Place::Queue(wait_people.saturating_sub(1))),
            seconds,
        ),
        Err(e) => {
            if !maybe_placed {
                rooms::leave(&s, rooms::entrant(session, user));
            }
            return fail(ack, &e);
        }
    };
    watch(&positions, session, user, stand);
    let body = standing(&state, session, user, stand, seconds).await;
    said_if_admitted(&positions, session, user, &body);
    reply_fresh(&state, &positions, (session, user), mark, body, ack).await;
}

async fn on_status<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    State(positions): State<Positions>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let data = data.unwrap_or(Value::Null);
    let session = match session_field(&data) {
        Ok(session) => session,
        Err(message) => return bad_request(ack, message),
    };
    let user = conn.user();
    let mark = positions.mark();
    let (stand, seconds) = match read_stand(&state, session, user).await {
        Ok(read) => read,
        Err(e) => return fail(ack, &e),
    };
    // Asking is watching only for a connection in that line (a status of another line's
    // place gets its answer, not pushes).
    if conn.entered() == Some(session) {
        watch(&positions, session, user, stand);
    }
    let body = standing(&state, session, user, stand, seconds).await;
    if conn.entered() == Some(session) {
        said_if_admitted(&positions, session, user, &body);
    }
    reply_fresh(&state, &positions, (session, user), mark, body, ack).await;
}

/// Where `user` stands in `session`'s line now, and the rough wait of a queued place.
async fn read_stand(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> Result<(Stand, i64), ServiceError> {
    let stand = match visit::place(state, session, user).await? {
        Some(place) => Stand::In(place),
        None if fair::is_early(state, session, user).await? => Stand::Early,
        None => Stand::Out,
    };
    let seconds = match stand {
        Stand::In(Place::Queue(index)) => rough_seconds(state, session, index, now_millis()),
        _ => 0,
    };
    Ok((stand, seconds))
}

/// Acks `body`, where `user` stands in `session`'s line as read after `mark`, unless it says
/// they wait and `admitted` was said to them here since: then where they stand is read again
/// and acked. The ack is sent under the lock `admitted` is said under, so it cannot overtake
/// the push that makes it stale either.
async fn reply_fresh<A: Adapter>(
    state: &AppState,
    positions: &Positions,
    (session, user): (SessionId, UserId),
    mark: u64,
    body: Result<Value, ServiceError>,
    ack: Ack<A>,
) {
    let on_page = body.as_ref().is_ok_and(|b| b["state"] == "admitted");
    if on_page || body.is_err() {
        return reply(ack, body);
    }
    if let Some(_held) = positions.unless_admitted_since(session, user, mark) {
        return reply(ack, body);
    }
    tracing::debug!(%session, %user, "admitted while the ack was read; reading it again");
    let (fresh, seconds) = match read_stand(state, session, user).await {
        Ok(read) => read,
        Err(e) => return fail(ack, &e),
    };
    let body = standing(state, session, user, fresh, seconds).await;
    said_if_admitted(positions, session, user, &body);
    reply(ack, body);
}

/// An ack that tells its person they are on the page says their admission: it is not pushed
/// to them again (an admission made while they were offline, whose news reaches the instance
/// they resumed through after the ack, or never).
fn said_if_admitted(
    positions: &Positions,
    session: SessionId,
    user: UserId,
    body: &Result<Value, ServiceError>,
) {
    let Ok(body) = body else { return };
    if body["state"] != "admitted" {
        return;
    }
    if let Some(ends) = body["windowEndsAt"].as_i64() {
        positions.acked_on_page(session, user, ends);
    }
}

/// Watches a queued or early person's place on a shared waiting room (see [`Positions`]).
fn watch(positions: &Positions, session: SessionId, user: UserId, stand: Stand) {
    match stand {
        Stand::In(Place::Queue(index)) => positions.watch(session, user, Some(index), false),
        Stand::Early => positions.watch(session, user, None, true),
        Stand::In(Place::Page) | Stand::Out => {}
    }
}

async fn on_leave<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: Ack<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let data = data.unwrap_or(Value::Null);
    let session = match session_field(&data) {
        Ok(session) => session,
        Err(message) => return bad_request(ack, message),
    };
    let user = conn.user();
    match visit::leave(&state, session, user, None, now_millis()).await {
        Ok(_) => {
            rooms::leave(&s, rooms::entrant(session, user));
            ok(ack, json!({}));
        }
        Err(e) => fail(ack, &e),
    }
}

/// A dropped `/queue` connection keeps its place for the resume grace (protocol-v2 "Resume");
/// `leave` is how a client gives a place up at once. A stopping server hands places over.
async fn on_disconnect(
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
    reason: DisconnectReason,
) {
    if reason == DisconnectReason::ClosingServer {
        return;
    }
    // A client that disconnects on purpose is done with its place; a dropped connection
    // keeps it for the resume grace. Either way the connection is marked gone first, so a join
    // still being handled acts on its own place the same way.
    if reason == DisconnectReason::ClientNSDisconnect {
        if let Some(session) = conn.said_goodbye() {
            let left = visit::leave(
                &state,
                session,
                conn.user(),
                Some(conn.holder()),
                now_millis(),
            );
            if let Err(e) = left.await {
                tracing::error!(error = %e, %session, "leaving the line on disconnect failed");
            }
        }
    } else if let Some(session) = conn.gone() {
        tracing::debug!(%session, ?reason, "queue connection dropped: place kept for the resume grace");
        resume::defer_departure(&state, session, conn.user(), conn.holder());
    }
}
