//! Socket.IO: the service, connection authentication and per-connection state.
//!
//! The default namespace speaks the original protocol ([`legacy`]). Each connection must carry a
//! valid token (`handshake.auth.token`, with or without `Bearer `); it joins its account's room so
//! targeted messages find it on any instance.

pub(crate) mod announcer;
pub(crate) mod app;
pub(crate) mod delivery;
pub(crate) mod intake;
pub(crate) mod legacy;
pub(crate) mod order;
pub(crate) mod quota;
pub(crate) mod resubscribe;
pub(crate) mod rooms;
pub(crate) mod seat_news;
pub(crate) mod tap;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use socketioxide::adapter::{Adapter, Emitter, LocalAdapter};
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::{SocketIo, SocketIoBuilder};
use socketioxide_redis::{FredAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::waiting_room::Holder;
use crate::state::AppState;
use announcer::Announcer;
use app::admissions::Admissions;
use app::positions::Positions;
use delivery::Delivery;
use order::Turnstile;
use seat_news::SeatNews;

/// What the server knows about one connection, kept in the socket's extensions.
#[derive(Clone)]
pub(crate) struct Conn(Arc<ConnInner>);

struct ConnInner {
    user: UserId,
    holder: Holder,
    seat_room: Mutex<Option<(SessionId, AreaId)>>,
    /// The entered session and whether the socket is gone, under one lock: see [`Conn::gone`].
    visit: Mutex<Visit>,
    /// Woken by the connect handler; see [`Conn::until_connected`].
    connected: tokio::sync::Notify,
}

impl Conn {
    pub(crate) fn new(user: UserId, holder: Holder) -> Self {
        Self(Arc::new(ConnInner {
            user,
            holder,
            seat_room: Mutex::new(None),
            visit: Mutex::new(Visit::default()),
            connected: tokio::sync::Notify::new(),
        }))
    }

    /// The signed-in account.
    pub(crate) fn user(&self) -> UserId {
        self.0.user
    }

    /// This connection's token for waiting-room places.
    pub(crate) fn holder(&self) -> Holder {
        self.0.holder.clone()
    }

    /// The seat map this connection watches, if any.
    pub(crate) fn seat_room(&self) -> Option<(SessionId, AreaId)> {
        *self.0.seat_room.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches another seat map; returns the previous one.
    pub(crate) fn set_seat_room(&self, room: (SessionId, AreaId)) -> Option<(SessionId, AreaId)> {
        self.0
            .seat_room
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(room)
    }

    /// The session whose waiting room this connection entered, if any.
    pub(crate) fn entered(&self) -> Option<SessionId> {
        self.visit().entered
    }

    /// Called first by a disconnect handler: from now on the connection is gone. Returns the
    /// session it had entered, which the handler then leaves. An arrival still being handled
    /// finds [`Conn::is_gone`] true once it has its place and gives it back: the place is read
    /// and the flag set under one lock, so either the disconnect sees the session or the
    /// arrival sees the flag, and a place can never outlive its socket.
    pub(crate) fn gone(&self) -> Option<SessionId> {
        let mut visit = self.visit();
        visit.gone = true;
        visit.entered
    }

    /// [`Conn::gone`] for a client that disconnected on purpose (a namespace DISCONNECT), not
    /// by a dropped connection: the app protocol ends its place at once instead of keeping it
    /// for the resume grace.
    pub(crate) fn said_goodbye(&self) -> Option<SessionId> {
        let mut visit = self.visit();
        visit.gone = true;
        visit.said_goodbye = true;
        visit.entered
    }

    /// True once the disconnect handler ran ([`Conn::gone`]).
    pub(crate) fn is_gone(&self) -> bool {
        self.visit().gone
    }

    /// True when the client disconnected on purpose ([`Conn::said_goodbye`]).
    pub(crate) fn has_said_goodbye(&self) -> bool {
        self.visit().said_goodbye
    }

    fn visit(&self) -> std::sync::MutexGuard<'_, Visit> {
        self.0.visit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the namespace's connect handler, which socketioxide runs just after it sets
    /// the socket's connected flag: wakes every [`Conn::until_connected`] waiter.
    pub(crate) fn announce_connected(&self) {
        self.0.connected.notify_waiters();
    }

    /// Resolves once `is_connected` holds, woken by [`Conn::announce_connected`] rather than
    /// by polling; gives up after `bound`.
    pub(crate) async fn until_connected(
        &self,
        is_connected: impl Fn() -> bool,
        bound: std::time::Duration,
    ) {
        let woken = self.0.connected.notified();
        let mut woken = std::pin::pin!(woken);
        // Registered before the flag is read, so an announcement in between is not lost.
        woken.as_mut().enable();
        if is_connected() {
            return;
        }
        let _ = tokio::time::timeout(bound, woken).await;
    }

    /// Records the entered session; returns the previous one.
    pub(crate) fn set_entered(&self, session: SessionId) -> Option<SessionId> {
        self.visit().entered.replace(session)
    }
}

/// A connection's waiting-room state, read and written together (see [`Conn::gone`]).
#[derive(Default)]
struct Visit {
    entered: Option<SessionId>,
    gone: bool,
    /// The client said goodbye (a namespace DISCONNECT), rather than its connection dropping.
    said_goodbye: bool,
}

/// Gives back the place `conn` took in `session` if its socket went away while the arrival
/// was being handled: nobody can be told or use it, and the next person is admitted at once.
/// Returns true when the connection is gone (the caller then sends no reply).
pub(crate) async fn give_back_if_gone(state: &AppState, conn: &Conn, session: SessionId) -> bool {
    if !conn.is_gone() {
        return false;
    }
    let (user, now) = (conn.user(), crate::domain::time::now_millis());
    match crate::service::visit::leave(state, session, user, Some(conn.holder()), now).await {
        Ok(left) => {
            tracing::info!(%session, %user, freed = left.is_some(), "an arrival outlived its socket: place given back")
        }
        Err(e) => {
            tracing::error!(error = %e, %session, "giving back the place of a gone socket failed")
        }
    }
    true
}

/// Why a connection to the default namespace was refused; the CONNECT_ERROR message (the
/// original frontend shows its own words for any of them).
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthRefused {
    /// No valid token, or an unknown account: the original's message.
    #[error("登入錯誤！")]
    Unauthorized,
    /// The account or the address holds as many connections as it may.
    #[error("連線數過多，請稍後再試！")]
    TooManyConnections,
}

/// The Socket.IO builder with the server's limits and state.
pub(crate) fn builder(state: AppState, news: SeatNews, positions: Positions) -> SocketIoBuilder {
    // The JS server's default `maxHttpBufferSize` is 1 MB; socketioxide's is 100 kB. 100 kB is
    // ample for every event of the protocol and keeps oversized payloads cheap to refuse.
    // Messages of this protocol are small, so a 1 KB websocket read buffer keeps idle
    // connections cheap (a longer frame still gets a buffer of its own length). The outgoing
    // buffer keeps its default of 128 packets: a seat rush broadcasts hundreds of seat changes
    // to every watcher within milliseconds, and a full buffer drops packets (a 32-packet
    // buffer lost `self select seat` replies in seat-rush).
    // The same cap holds for a websocket message and each of its frames: tungstenite's
    // defaults (64 MB messages, 16 MB frames) let one socket make the server read and parse
    // megabytes per event (issue 15, item 7). A frame over the cap is refused from its header,
    // before its payload is read, and the connection is closed.
    let quota = quota::SocketQuota::from_limits(&state.settings.limits);
    let ping_interval = Duration::from_millis(state.settings.ping_interval_ms);
    let ping_timeout = Duration::from_millis(state.settings.ping_timeout_ms);
    SocketIo::builder()
        .ping_interval(ping_interval)
        .ping_timeout(ping_timeout)
        .with_state(state)
        .with_state(news)
        .with_state(positions)
        .with_state(quota)
        .max_payload(MAX_PAYLOAD as u64)
        .ws_max_message_size(MAX_PAYLOAD)
        .ws_max_frame_size(MAX_PAYLOAD)
        .ws_read_buffer_size(1024)
        .with_parser(
            // Binary attachments are refused by `intake` with a clear error; these bounds only
            // keep what a socket may make the server buffer before that within the same cap.
            socketioxide::ParserConfig::common()
                .max_incoming_binary_buf_size(MAX_PAYLOAD)
                .max_incoming_binaries(MOST_ATTACHMENTS),
        )
}

/// Binary attachments one event may announce; more closes the connection.
const MOST_ATTACHMENTS: usize = 16;

/// Adapter messages (pushes and requests between instances) an instance can fall behind by
/// before it drops some: both the pub/sub client's buffer and the adapter's stream. Past it a
/// message is lost, not delayed, so it is sized for a fleet's bursts (tests/api
/// `multi_instance`, benches `fleet`), at a few MB of memory per instance.
const ADAPTER_BUFFER: usize = 1 << 15;

/// The largest Engine.IO payload read: a polling request's body, a websocket message or frame.
pub(crate) const MAX_PAYLOAD: usize = 100_000;

/// Rebuilds the handshake request out of owned copies of its URI and headers. Socket.IO keeps
/// the request parts for the connection's whole life, and hyper's zero-copy header values
/// would otherwise pin hyper's read buffer (8 to 16 KB) for as long as the socket is open.
pub(crate) fn detach_request(request: axum::extract::Request) -> axum::extract::Request {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
    let (mut parts, body) = request.into_parts();
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let name =
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone());
        let value = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        headers.append(name, value);
    }
    parts.headers = headers;
    if let Ok(uri) = Uri::try_from(parts.uri.to_string()) {
        parts.uri = uri;
    }
    // axum's router keeps the URI it routed on, a second zero-copy view of the same buffer.
    if let Some(original) = parts.extensions.get_mut::<axum::extract::OriginalUri>() {
        original.0 = parts.uri.clone();
    }
    axum::extract::Request::from_parts(parts, body)
}

/// The Socket.IO adapter of a multi-instance deployment: rooms shared through Redis pub/sub.
pub(crate) type SharedAdapter = FredAdapter<Emitter>;

/// The Socket.IO server handle, whichever adapter it runs on, and its news queues.
pub(crate) struct Realtime {
    io: Io,
    queues: Queues,
}

/// The Socket.IO server handle, whichever adapter it runs on.
enum Io {
    /// One instance: rooms live in this process.
    Local(SocketIo<LocalAdapter>),
    /// Several instances: room broadcasts travel through Redis.
    Shared(SocketIo<SharedAdapter>),
}

/// Where news waits before it is sent: the ordered seat-map queue, the queue-news batches and
/// the rate-limited `position` pushes (fed in that order).
struct Queues {
    seat_news: SeatNews,
    announcer: Announcer,
    positions: Positions,
}

/// The background work of the realtime adapter: where its tasks run, and the two moments of
/// shutdown they obey (`stop`: no new work is looked for; `drain`: send what is queued, end).
#[derive(Clone)]
pub(crate) struct Background {
    /// Every task of the adapter, awaited at shutdown.
    pub tasks: TaskTracker,
    /// Cancelled when the instance stops serving.
    pub stop: CancellationToken,
    /// Cancelled once every socket is closed: delivery queues empty out and end.
    pub drain: CancellationToken,
}

impl Realtime {
    /// Builds the Socket.IO service (for `/socket.io/`) and its handle, with the news delivery
    /// attached to `state`. With a Redis URL, rooms are shared with every other instance
    /// through Redis (channels under `prefix`).
    pub(crate) async fn build(
        state: AppState,
        redis: Option<(&str, &str)>,
        background: &Background,
    ) -> anyhow::Result<(axum::routing::MethodRouter, Realtime)> {
        let news = SeatNews::default();
        news.start(&background.tasks, background.drain.clone());
        let positions = Positions::new(
            state.estimator.clone(),
            state.store.controls.clone(),
            state.store.waiting_room.clone(),
        );
        let builder = builder(state.clone(), news.clone(), positions.clone());
        let Some((url, prefix)) = redis else {
            let (service, io) = builder.build_svc();
            let admissions = Admissions::Local;
            let queues = deliver_through(&io, &state, news, positions, admissions, background);
            io.ns(
                "/",
                legacy::on_connect::<LocalAdapter>.with(authenticate::<LocalAdapter>),
            );
            io.ns(
                rooms::QUEUE_NAMESPACE,
                app::queue::on_connect::<LocalAdapter>
                    .with(app::queue::on_connecting::<LocalAdapter>),
            );
            io.dyn_ns(
                "/event-{session}",
                app::event::on_connect::<LocalAdapter>
                    .with(app::event::on_connecting::<LocalAdapter>),
            )?;
            let realtime = Realtime {
                io: Io::Local(io),
                queues,
            };
            return Ok((axum::routing::any_service(service), realtime));
        };
        // The same fault handling as the waiting room's clients (timeouts, reconnect forever);
        // `resubscribe` subscribes the adapter's channels again after each reconnect.
        let mut redis = crate::storage::redis::builder(url, state.settings.storage_timeout())?;
        // socketioxide-redis speaks RESP3; fred does not read the protocol from the URL.
        redis.with_config(|c| c.version = fred::types::RespVersion::RESP3);
        // Pushes between instances are pub/sub messages; a burst bigger than the client's
        // buffers (32 by default) is dropped, not delayed (`pubsub channel lagged`), and the
        // visitors it was for never hear of it (issue 14's fleet lost `admitted` pushes).
        redis.with_performance_config(|p| p.broadcast_channel_capacity = ADAPTER_BUFFER);
        let subscriber = redis.build_subscriber_client()?;
        background.tasks.spawn(resubscribe::run(
            subscriber.clone(),
            background.drain.clone(),
        ));
        let adapter_config = RedisAdapterConfig::new()
            .with_prefix(format!("{prefix}socket.io"))
            .with_stream_buffer(ADAPTER_BUFFER);
        let adapter = RedisAdapterCtr::new_with_fred_config(subscriber, adapter_config).await?;
        let (service, io) = builder.with_adapter::<SharedAdapter>(adapter).build_svc();
        // Admissions travel on a channel of their own, heard by our code rather than the
        // adapter's, so that `admitted` and `position` share one ordered path (`admissions`).
        let admissions = Admissions::shared(redis.build()?, prefix).await?;
        let listener = redis.build_subscriber_client()?;
        background
            .tasks
            .spawn(resubscribe::run(listener.clone(), background.drain.clone()));
        background.tasks.spawn(app::admissions::listen(
            listener,
            prefix.to_owned(),
            admissions.clone(),
            io.clone(),
            positions.clone(),
            background.drain.clone(),
        ));
        let queues = deliver_through(&io, &state, news, positions, admissions, background);
        io.ns(
            "/",
            legacy::on_connect::<SharedAdapter>.with(authenticate::<SharedAdapter>),
        )
        .await
        .map_err(|e| anyhow::anyhow!("registering the default namespace: {e}"))?;
        io.ns(
            rooms::QUEUE_NAMESPACE,
            app::queue::on_connect::<SharedAdapter>
                .with(app::queue::on_connecting::<SharedAdapter>),
        )
        .await
        .map_err(|e| anyhow::anyhow!("registering the queue namespace: {e}"))?;
        io.dyn_ns(
            "/event-{session}",
            app::event::on_connect::<SharedAdapter>
                .with(app::event::on_connecting::<SharedAdapter>),
        )?;
        open_pages(&io, &state).await?;
        let realtime = Realtime {
            io: Io::Shared(io),
            queues,
        };
        Ok((axum::routing::any_service(service), realtime))
    }

    /// Sends everything queued so far: the seat-map queue first (it feeds the other two), then
    /// the queue news, then every held-back `position` push, rate limit or not. Shutdown calls
    /// it before closing the sockets, so no notice queued for a connected client is lost.
    pub(crate) async fn settle(&self) {
        self.queues.seat_news.settled().await;
        self.queues.announcer.settled().await;
        match &self.io {
            Io::Local(io) => self.queues.positions.send_pending(io),
            Io::Shared(io) => self.queues.positions.send_pending(io),
        }
    }

    /// Disconnects every socket of this instance.
    pub(crate) async fn close(&self) {
        match &self.io {
            Io::Local(io) => io.close().await,
            Io::Shared(io) => io.close().await,
        }
    }
}

/// Starts the delivery tasks on `io` and attaches the deliverer to the state's newsroom.
fn deliver_through<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    news: SeatNews,
    positions: Positions,
    admissions: Admissions,
    background: &Background,
) -> Queues {
    let announcer = Announcer::default();
    announcer.start(
        io.clone(),
        state.recorder.clone(),
        &background.tasks,
        background.drain.clone(),
    );
    background.tasks.spawn(
        positions
            .clone()
            .flush(io.clone(), background.drain.clone()),
    );
    let delivery = Delivery::new(
        io.clone(),
        state.clone(),
        news.clone(),
        announcer.clone(),
        positions.clone(),
        admissions,
    );
    state.news.attach(delivery);
    Queues {
        seat_news: news,
        announcer,
        positions,
    }
}

/// Connect middleware: the original's `socketIsAuth`.
async fn authenticate<A: Adapter>(
    s: SocketRef<A>,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
    State(sockets): State<quota::SocketQuota>,
) -> Result<(), AuthRefused> {
    let token = auth
        .ok()
        .and_then(|a| a.get("token").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let token = token.replace("Bearer ", "");
    if token.is_empty() || token == "null" {
        return Err(AuthRefused::Unauthorized);
    }
    let user = state.auth.verify(&token).ok_or(AuthRefused::Unauthorized)?;
    match state.store.accounts.user_exists(user).await {
        Ok(true) => {}
        Ok(false) => return Err(AuthRefused::Unauthorized),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed during connect");
            return Err(AuthRefused::Unauthorized);
        }
    }
    quota::claim(&s, &sockets, user).map_err(|e| {
        tracing::info!(%user, refused = %e, "socket refused");
        AuthRefused::TooManyConnections
    })?;
    let conn = Conn::new(user, new_holder());
    s.extensions.insert(conn.clone());
    s.extensions.insert(Turnstile::default());
    intake::install(&s, &state.settings.limits, intake::Protocol::Legacy);
    tap::attach(&s, &state, user);
    legacy::register(&s, &conn);
    Ok(())
}

/// A random connection token (never the socket id, which a client could learn and replay).
pub(crate) fn new_holder() -> Holder {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Uniqueness, not secrecy, is what a holder needs; fall back to the clock.
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
    }
    Holder(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Opens every session's buying-page namespace (`/event-{id}`) on this instance before it
/// serves. A dynamic namespace exists on an instance only once a client connects to it there,
/// and news for a namespace an instance lacks has nowhere to go: a legacy click on an instance
/// where no app visitor had opened the page never reached the app watchers on the others.
/// Opened up front, each one is also subscribed to the other instances' news for it. A session
/// added while the server runs is still served (by the dynamic namespace), and opened
/// everywhere at the next start.
async fn open_pages(io: &SocketIo<SharedAdapter>, state: &AppState) -> anyhow::Result<()> {
    let sessions = state
        .store
        .catalog
        .session_ids()
        .await
        .map_err(|e| anyhow::anyhow!("listing the sessions for their buying pages: {e}"))?;
    for session in sessions {
        io.ns(
            rooms::event_namespace(session),
            app::event::on_connect::<SharedAdapter>
                .with(app::event::on_connecting::<SharedAdapter>),
        )
        .await
        .map_err(|e| anyhow::anyhow!("opening the buying page of session {session}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Conn, detach_request};
    use crate::domain::ids::UserId;
    use crate::domain::waiting_room::Holder;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_reply_waiting_for_the_connected_flag_is_woken_by_the_announcement_not_a_timer() {
        let conn = Conn::new(UserId(1), Holder("h".into()));
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = tokio::spawn({
            let (conn, flag) = (conn.clone(), flag.clone());
            async move {
                let started = tokio::time::Instant::now();
                conn.until_connected(|| flag.load(Ordering::SeqCst), Duration::from_secs(1))
                    .await;
                started.elapsed()
            }
        });
        tokio::task::yield_now().await;
        // As socketioxide does it: the flag first, then the connect handler's announcement.
        flag.store(true, Ordering::SeqCst);
        conn.announce_connected();
        let waited = waiter.await.expect("waiter");
        assert_eq!(
            waited,
            Duration::ZERO,
            "woken at once, without a timer tick"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_that_never_connects_stops_the_wait_after_the_bound() {
        let conn = Conn::new(UserId(1), Holder("h".into()));
        let started = tokio::time::Instant::now();
        conn.until_connected(|| false, Duration::from_secs(1)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
    use axum::body::Body;
    use axum::extract::{OriginalUri, Request};
    use axum::http::{HeaderValue, Uri};
    use bytes::Bytes;

    /// True when `part` lies inside `whole`'s memory.
    fn inside(whole: &Bytes, part: &[u8]) -> bool {
        let range = whole.as_ptr_range();
        range.contains(&part.as_ptr())
    }

    #[test]
    fn the_detached_request_owns_its_uri_and_headers() {
        // A request whose parts point into one buffer, as hyper's parser builds them.
        let buffer = Bytes::from_static(b"/socket.io/?EIO=4&transport=websocket|Bearer abc");
        let uri = Uri::from_maybe_shared(buffer.slice(0..37)).expect("uri");
        let token = HeaderValue::from_maybe_shared(buffer.slice(38..)).expect("header");
        let mut request = Request::new(Body::empty());
        *request.uri_mut() = uri.clone();
        request.headers_mut().insert("authorization", token);
        request.extensions_mut().insert(OriginalUri(uri));
        assert!(inside(
            &buffer,
            request.headers()["authorization"].as_bytes()
        ));

        let detached = detach_request(request);

        assert_eq!(detached.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(detached.headers()["authorization"], "Bearer abc");
        assert!(!inside(
            &buffer,
            detached.headers()["authorization"].as_bytes()
        ));
        assert!(!inside(
            &buffer,
            detached.uri().query().expect("query").as_bytes()
        ));
        let original = detached
            .extensions()
            .get::<OriginalUri>()
            .expect("original uri");
        assert!(!inside(
            &buffer,
            original.0.query().expect("query").as_bytes()
        ));
    }
}
