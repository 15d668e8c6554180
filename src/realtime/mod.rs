//! Socket.IO: the service, connection authentication and per-connection state.
//!
//! The default namespace speaks the original protocol ([`legacy`]). Each connection must carry a
//! valid token (`handshake.auth.token`, with or without `Bearer `); it joins its account's room so
//! targeted messages find it on any instance.

pub mod announcer;
pub mod legacy;
pub mod notify;
pub mod rooms;
pub mod sweeper;

use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::adapter::{Adapter, Emitter, LocalAdapter};
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_redis::{FredAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio_util::sync::CancellationToken;

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
    // Messages of this protocol are small, so a small websocket read buffer keeps idle
    // connections cheap. The outgoing buffer keeps its default of 128 packets: a seat rush
    // broadcasts hundreds of seat changes to every watcher within milliseconds, and a full
    // buffer drops packets (a 32-packet buffer lost `self select seat` replies in seat-rush).
    SocketIo::builder()
        .with_state(state)
        .max_payload(100_000)
        .ws_read_buffer_size(2048)
}

/// The Socket.IO adapter of a multi-instance deployment: rooms shared through Redis pub/sub.
pub type SharedAdapter = FredAdapter<Emitter>;

/// The Socket.IO server handle, whichever adapter it runs on.
#[derive(Clone)]
pub enum Realtime {
    /// One instance: rooms live in this process.
    Local(SocketIo<LocalAdapter>),
    /// Several instances: room broadcasts travel through Redis.
    Shared(SocketIo<SharedAdapter>),
}

impl Realtime {
    /// Builds the Socket.IO service (for `/socket.io/`) and its handle. With a Redis URL, rooms
    /// are shared with every other instance through Redis (channels under `prefix`).
    pub async fn build(
        state: AppState,
        redis: Option<(&str, &str)>,
    ) -> anyhow::Result<(axum::routing::MethodRouter, Realtime)> {
        let announcer = state.announcer.clone();
        let builder = builder(state);
        let Some((url, prefix)) = redis else {
            let (service, io) = builder.build_svc();
            announcer.start(io.clone());
            io.ns(
                "/",
                legacy::on_connect::<LocalAdapter>.with(authenticate::<LocalAdapter>),
            );
            return Ok((axum::routing::any_service(service), Realtime::Local(io)));
        };
        let mut config = fred::prelude::Config::from_url(url)?;
        // socketioxide-redis speaks RESP3; fred does not read the protocol from the URL.
        config.version = fred::types::RespVersion::RESP3;
        let subscriber = fred::prelude::Builder::from_config(config).build_subscriber_client()?;
        let adapter_config = RedisAdapterConfig::new().with_prefix(format!("{prefix}socket.io"));
        let adapter = RedisAdapterCtr::new_with_fred_config(subscriber, adapter_config).await?;
        let (service, io) = builder.with_adapter::<SharedAdapter>(adapter).build_svc();
        announcer.start(io.clone());
        io.ns(
            "/",
            legacy::on_connect::<SharedAdapter>.with(authenticate::<SharedAdapter>),
        )
        .await
        .map_err(|e| anyhow::anyhow!("registering the default namespace: {e}"))?;
        Ok((axum::routing::any_service(service), Realtime::Shared(io)))
    }

    /// Starts the purchase-window sweeper.
    pub fn spawn_sweeper(
        &self,
        state: AppState,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        match self.clone() {
            Realtime::Local(io) => tokio::spawn(sweeper::run(io, state, stop)),
            Realtime::Shared(io) => tokio::spawn(sweeper::run(io, state, stop)),
        }
    }

    /// Disconnects every socket of this instance.
    pub async fn close(&self) {
        match self {
            Realtime::Local(io) => io.close().await,
            Realtime::Shared(io) => io.close().await,
        }
    }
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
    let conn = Conn::new(user, new_holder());
    s.extensions.insert(conn.clone());
    legacy::register(&s, &conn);
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
