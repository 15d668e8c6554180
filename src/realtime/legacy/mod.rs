//! The default namespace, byte-compatible with the original server (contract §2).
//!
//! Handlers translate the original events into use-case calls (`service/`) and back. The old client's quirks
//! (bare values, bare arrays, echoed payloads, errors as `{error}` under the request's event name)
//! stay in this module. Fixed on the way: broadcasts reach the sender's own seat room only, seats are
//! claimed atomically, and only visitors on the buying page may claim seats.

mod queue;
mod seats;

use std::time::Duration;

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::socket::DisconnectReason;

use super::{Conn, rooms};
use crate::domain::ids::SessionId;
use crate::domain::time::now_millis;
use crate::error::SYSTEM_ERROR;
use crate::metrics;
use crate::service::visit;
use crate::state::AppState;

/// Registers the original events on a new authenticated connection. Called from the connect
/// middleware, which runs before the client is told it is connected: a connect handler runs
/// only after that, so an event the client sends at once could otherwise find no handler.
pub(crate) fn register<A: Adapter>(s: &SocketRef<A>, conn: &Conn) {
    rooms::join(s, rooms::user(conn.user()));
    s.on("check limit", queue::on_check_limit::<A>);
    s.on("join room", seats::on_join_room::<A>);
    s.on("select seat", seats::on_select_seat::<A>);
    s.on("unselect seat", seats::on_unselect_seat::<A>);
    s.on("lock seat", seats::on_lock_seat::<A>);
    s.on("unlock seat", seats::on_unlock_seat::<A>);
    s.on("sold seat", seats::on_sold_seat::<A>);
    s.on_disconnect(on_disconnect::<A>);
}

/// The namespace's connect handler: events are registered already (see [`register`]).
pub(crate) async fn on_connect<A: Adapter>(
    s: SocketRef<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    conn.announce_connected();
    tracing::debug!(user = %conn.user(), "socket connected");
    metrics::socket_connected(1.0);
    resume(&s, &state, &conn).await;
}

/// A returning account (reconnected after its instance stopped, or after a network blip)
/// takes its waiting-room places back on this connection: it hears `ready to go` and queue
/// positions again, and the old connection can no longer give the place away.
async fn resume<A: Adapter>(s: &SocketRef<A>, state: &AppState, conn: &Conn) {
    let user = conn.user();
    match visit::resume(state, user, conn.holder(), now_millis()).await {
        Ok(sessions) => {
            for session in sessions {
                rooms::join(s, rooms::entrant(session, user));
                conn.set_entered(session);
            }
        }
        Err(e) => tracing::warn!(error = %e, %user, "resuming waiting-room places failed"),
    }
}

/// Waits until socketioxide counts the socket as connected. It sends CONNECT first and sets
/// the flag just after, so on a busy machine the client's first event (sent the moment it
/// reads CONNECT) can reach its handler in between, and the reply would be refused as if the
/// socket were closed (`emit` checks the flag; broadcasts and acks do not). Returns at once
/// otherwise; else [`on_connect`] wakes it. Gives up after a second (the socket is then really
/// gone, and the reply fails as it should).
async fn until_connected<A: Adapter>(s: &SocketRef<A>) {
    if s.connected() {
        return;
    }
    if let Some(conn) = s.extensions.get::<Conn>() {
        conn.until_connected(|| s.connected(), Duration::from_secs(1))
            .await;
    }
}

/// The payload of an event, `null` when absent or unparsable.
pub(crate) fn payload(data: TryData<Value>) -> Value {
    data.0.unwrap_or(Value::Null)
}

pub(crate) fn field<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.get(name).unwrap_or(&Value::Null)
}

pub(crate) async fn reply<A: Adapter>(s: &SocketRef<A>, event: &str, body: &Value) {
    until_connected(s).await;
    if let Some(tap) = super::tap::of(s) {
        tap.emitted(event, &[body]);
    }
    if let Err(e) = s.emit(event, body) {
        tracing::debug!(error = %e, event, "reply not sent (socket gone)");
    }
}

pub(crate) fn logged(e: impl std::fmt::Display) -> String {
    tracing::error!(error = %e, "storage failed in a socket handler");
    SYSTEM_ERROR.to_string()
}

/// The only exit in the original protocol: free the place and the seats, admit the next.
/// Not when this instance is shutting down: the client reconnects through another instance
/// and resumes its place there (see [`resume`]); the lease reaps it if it never comes back.
/// Nor while another tab of the account on this instance still waits on the same session:
/// the place passes to it (the old frontend's waiting page has no message that could tell it
/// its place is gone, so it would wait for ever).
#[tracing::instrument(name = "socket", skip_all, fields(event = "disconnect", user = %conn.user()))]
async fn on_disconnect<A: Adapter>(
    s: SocketRef<A>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
    reason: DisconnectReason,
) {
    metrics::socket_connected(-1.0);
    if reason == DisconnectReason::ClosingServer {
        return;
    }
    let Some(session) = conn.gone() else {
        return;
    };
    let (user, now) = (conn.user(), now_millis());
    if let Some(heir) = other_tab(&s, &conn, session) {
        match visit::hand_over(&state, session, user, heir.holder(), now).await {
            Ok(_) => return,
            Err(e) => tracing::error!(error = %e, %session, "handing a place over failed"),
        }
    }
    if let Err(e) = visit::leave(&state, session, user, Some(conn.holder()), now).await {
        tracing::error!(error = %e, %session, "leaving the waiting room failed");
    }
}

/// Another open connection of this instance on which the same account entered `session`.
fn other_tab<A: Adapter>(s: &SocketRef<A>, conn: &Conn, session: SessionId) -> Option<Conn> {
    s.within(rooms::entrant(session, conn.user()))
        .sockets()
        .into_iter()
        .filter(|other| other.id != s.id && other.connected())
        .filter_map(|other| other.extensions.get::<Conn>())
        .find(|other| other.entered() == Some(session))
}
