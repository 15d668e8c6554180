//! Socket.IO: the service, connection authentication and per-connection state.
//!
//! The default namespace speaks the original protocol ([`legacy`]). Each connection must carry a
//! valid token (`handshake.auth.token`, with or without `Bearer `); it joins its account's room so
//! targeted messages find it on any instance.

pub mod legacy;
pub mod notify;
pub mod rooms;
pub mod sweeper;

use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, SocketIoBuilder};

use crate::app::AppState;
use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::waiting_room::Holder;

/// What the server knows about one connection, kept in the socket's extensions.
#[derive(Clone)]
pub struct Conn(Arc<ConnInner>);

struct ConnInner {
    user: UserId,
    holder: Holder,
    seat_room: Mutex<Option<(SessionId, AreaId)>>,
    entered: Mutex<Option<SessionId>>,
}

impl Conn {
    fn new(user: UserId, holder: Holder) -> Self {
        Self(Arc::new(ConnInner {
            user,
            holder,
            seat_room: Mutex::new(None),
            entered: Mutex::new(None),
        }))
    }

    /// The signed-in account.
    pub fn user(&self) -> UserId {
        self.0.user
    }

    /// This connection's token for waiting-room places.
    pub fn holder(&self) -> Holder {
        self.0.holder.clone()
    }

    /// The seat map this connection watches, if any.
    pub fn seat_room(&self) -> Option<(SessionId, AreaId)> {
        *self.0.seat_room.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches another seat map; returns the previous one.
    pub fn set_seat_room(&self, room: (SessionId, AreaId)) -> Option<(SessionId, AreaId)> {
        self.0
            .seat_room
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(room)
    }

    /// The session whose waiting room this connection entered, if any.
    pub fn entered(&self) -> Option<SessionId> {
        *self.0.entered.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the entered session; returns the previous one.
    pub fn set_entered(&self, session: SessionId) -> Option<SessionId> {
        self.0
            .entered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(session)
    }
}

/// Why a connection was refused; the client sees only the original's message.
#[derive(Debug, thiserror::Error)]
#[error("登入錯誤！")]
pub struct AuthRefused;

/// The Socket.IO builder with the server's limits and state.
pub fn builder(state: AppState) -> SocketIoBuilder {
    // The JS server's default `maxHttpBufferSize` is 1 MB; socketioxide's is 100 kB. 100 kB is
    // ample for every event of the protocol and keeps oversized payloads cheap to refuse.
    SocketIo::builder().with_state(state).max_payload(100_000)
}

/// Registers the namespaces on `io` (in-process adapter).
pub fn register(io: &SocketIo) {
    io.ns("/", legacy::on_connect.with(authenticate::<LocalAdapter>));
}

/// Connect middleware: the original's `socketIsAuth`.
async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), AuthRefused> {
    let token = auth
        .ok()
        .and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let token = token.replace("Bearer ", "");
    if token.is_empty() || token == "null" {
        return Err(AuthRefused);
    }
    let user = state.auth.verify(&token).ok_or(AuthRefused)?;
    match state.store.accounts.user_exists(user).await {
        Ok(true) => {}
        Ok(false) => return Err(AuthRefused),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed during connect");
            return Err(AuthRefused);
        }
    }
    s.extensions.insert(Conn::new(user, new_holder()));
    Ok(())
}

/// A random connection token (never the socket id, which a client could learn and replay).
fn new_holder() -> Holder {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what a holder needs; fall back to the clock.
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
    }
    Holder(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
