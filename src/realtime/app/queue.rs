//! `/queue`: joining a session's line, asking where one stands, leaving it.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;

use super::{Refused, authenticate, bad_request, fail, ok, reply, session_field, window_ends_at};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::{Millis, now_millis};
use crate::domain::waiting_room::{Admission, Place};
use crate::realtime::order::{Turn, Turnstile};
use crate::realtime::{Conn, new_holder, rooms};
use crate::service::{ServiceError, visit};
use crate::state::AppState;

/// Connect middleware: a valid token; registers the events before CONNECT is sent.
pub async fn on_connecting<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
    State(sockets): State<crate::realtime::quota::SocketQuota>,
) -> Result<(), Refused> {
    let user = authenticate(&s, auth.as_ref().ok(), &state).await?;
    crate::realtime::quota::claim(&s, &sockets, user)
        .map_err(|_| Refused("too_many_connections"))?;
    s.extensions.insert(Conn::new(user, new_holder()));
    s.extensions.insert(Turnstile::default());
    crate::realtime::intake::install(
        &s,
        &state.settings.limits,
        crate::realtime::intake::Protocol::App,
    );
    s.join(rooms::user(user));
    s.on("join", on_join::<A>);
    s.on("status", on_status::<A>);
    s.on("leave", on_leave::<A>);
    s.on_disconnect(on_disconnect);
    Ok(())
}

/// The namespace's connect handler: everything is registered by the middleware.
pub async fn on_connect<A: Adapter>(_s: SocketRef<A>) {}

/// The `estimate` object: the expected wait in seconds and a range around it.
pub fn estimate(seconds: i64) -> Value {
    let seconds = seconds.max(0);
    json!({"seconds": seconds, "low": seconds, "high": seconds})
}

/// Where an account stands, as the `join` and `status` acks say it.
async fn standing(
    state: &AppState,
    session: SessionId,
    user: UserId,
    place: Option<Place>,
    seconds: i64,
) -> Result<Value, ServiceError> {
    let info = crate::service::seats::known_session(state, session).await?;
    let opens_at: Option<Millis> = info.on_sale.map(|t| t.millis());
    let (name, ahead, ends) = match place {
        Some(Place::Page) => ("admitted", 0, window_ends_at(state, session, user).await),
        Some(Place::Queue(index)) => ("queued", index, None),
        None => ("none", 0, None),
    };
    Ok(json!({
        "sessionId": session, "state": name, "ahead": ahead, "estimate": estimate(seconds),
        "opensAt": opens_at, "windowEndsAt": ends, "resume": Value::Null,
    }))
}

/// A rough wait for queue index `index`: the original formula with every page place fresh.
fn rough_seconds(state: &AppState, index: usize, now: Millis) -> i64 {
    let rules = state.rules();
    rules.seconds(now, (index / rules.limit) as i64, now)
}

async fn on_join<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
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
    let now = now_millis();
    // Join before entering, so an admission right after cannot miss this socket.
    s.join(rooms::entrant(session, user));
    let entered = visit::enter(&state, session, user, conn.holder(), now).await;
    // A connection waits in one line: a join that succeeded elsewhere gives the old place up,
    // a refused one (unknown session, ended sale) leaves it alone.
    if entered.is_ok()
        && let Some(previous) = conn.set_entered(session).filter(|p| *p != session)
    {
        s.leave(rooms::entrant(previous, user));
        if let Err(e) = visit::leave(&state, previous, user, Some(conn.holder()), now).await {
            tracing::error!(error = %e, "leaving the previous line failed");
        }
    }
    let (place, seconds) = match entered {
        Ok(Admission::Pass) => (Some(Place::Page), 0),
        Ok(Admission::Queued {
            wait_people,
            seconds,
        }) => (Some(Place::Queue(wait_people.saturating_sub(1))), seconds),
        Err(e) => {
            s.leave(rooms::entrant(session, user));
            return fail(ack, &e);
        }
    };
    reply(ack, standing(&state, session, user, place, seconds).await);
}

async fn on_status<A: Adapter>(
    mut turn: Turn,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
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
    let place = match visit::place(&state, session, user).await {
        Ok(place) => place,
        Err(e) => return fail(ack, &e),
    };
    let seconds = match place {
        Some(Place::Queue(index)) => rough_seconds(&state, index, now_millis()),
        _ => 0,
    };
    reply(ack, standing(&state, session, user, place, seconds).await);
}

async fn on_leave<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    TryData(data): TryData<Value>,
    ack: AckSender<A>,
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
            s.leave(rooms::entrant(session, user));
            ok(ack, json!({}));
        }
        Err(e) => fail(ack, &e),
    }
}

/// A dropped `/queue` connection gives its place up (resume after a drop is not built yet).
async fn on_disconnect(
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
    reason: DisconnectReason,
) {
    if reason == DisconnectReason::ClosingServer {
        return;
    }
    if let Some(session) = conn.entered() {
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
}
