//! Building and running one server instance.
//!
//! `build` opens the engines and binds the listener (port 0 allowed, for tests); `run_until_stopped`
//! serves until the given shutdown future resolves.
//!
//! Shutdown, in one place and in this order:
//! 1. stop looking for new work (the sweeper and the warm-up scheduler end);
//! 2. keep this instance's waiting-room places for the hand-over (Redis);
//! 3. send the news queued so far (seat maps, queue news, held-back positions) while the sockets
//!    it is for are still connected;
//! 4. disconnect every socket (its clients reconnect elsewhere and resume);
//! 5. stop accepting and let in-flight requests finish, within the grace;
//! 6. drain the news queues of what the closing produced (through Redis it still reaches the
//!    other instances' sockets) and end them; the visit recorder writes what it holds;
//! 7. wait for every tracked background task, within the grace.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::config::Settings;
use crate::domain::time::{Millis, now_millis};
use crate::http;
use crate::realtime::quota::PeerAddress;
use crate::realtime::{Background, Realtime};
use crate::state::AppState;
use crate::storage::Store;

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    io: Realtime,
    state: AppState,
    background: Background,
}

impl Application {
    /// Opens the engines, binds the listener and assembles HTTP and Socket.IO.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::config::production::check(&settings)?;
        let auth = Auth::new(
            settings.jwt_secret.as_deref(),
            &settings.jwt_expires,
            settings.bcrypt_cost,
        )?
        .with_bcrypt_concurrency(settings.limits.bcrypt_permits());
        if settings.jwt_secret.is_none() {
            tracing::warn!(
                "TICKETCLUB_JWT_SECRET is unset: using a random secret; tokens die on restart"
            );
        }
        let listener = bind(settings.addr).with_context(|| format!("binding {}", settings.addr))?;
        let address = listener.local_addr()?;
        let store = Store::from_settings(&settings, &auth)
            .await
            .context("opening storage")?;
        tracing::info!(engines = %store.description, "storage ready");
        let image_base = settings.image_base_for(address);
        let mut state = AppState::new(settings, store, auth, image_base);
        let background = Background {
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            drain: CancellationToken::new(),
        };
        // The recorder's writer drains with the news queues: what the closing sockets said
        // is still written.
        state.recorder = crate::record::Recorder::start(
            &state.settings.record,
            state.auth.clone(),
            &background.tasks,
            background.drain.clone(),
        )?
        .map(std::sync::Arc::new);
        let redis = state
            .settings
            .redis_url
            .as_deref()
            .map(|url| (url, state.settings.redis_prefix.as_str()));
        let (socket_route, io) = Realtime::build(state.clone(), redis, &background).await?;
        let body_timeout = state.settings.limits.body_timeout();
        let trusted = state.settings.limits.trusted_proxies.clone();
        let socket_route = socket_route
            .layer::<_, std::convert::Infallible>(tower::util::MapRequestLayer::new(
                crate::realtime::detach_request,
            ))
            // The connection quotas per address need the client's address on the handshake.
            .layer::<_, std::convert::Infallible>(tower::util::MapRequestLayer::new(
                move |request| with_peer_address(request, &trusted),
            ))
            // Polling clients POST their packets: the same deadline on those bodies.
            .layer::<_, std::convert::Infallible>(tower::util::MapRequestLayer::new(
                move |request| http::body_timeout::bound(request, body_timeout),
            ))
            .layer::<_, std::convert::Infallible>(socket_cors(&state.settings.cors_origins))
            .layer::<_, std::convert::Infallible>(tower::util::MapResponseLayer::new(
                http::preflight_no_content,
            ));
        let router = http::router(state.clone()).route("/socket.io/", socket_route);
        Ok(Self {
            listener,
            address,
            router,
            io,
            state,
            background,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` resolves, then shuts down in order.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            address,
            router,
            io,
            state,
            background,
        } = self;
        let Background { tasks, stop, drain } = background;
        tasks.spawn(crate::service::sweeper::run(state.clone(), stop.clone()));
        tasks.spawn(crate::service::admin::keep_settings_current(
            state.clone(),
            stop.clone(),
        ));
        tasks.spawn(crate::service::warmup::run_scheduler(
            state.clone(),
            stop.clone(),
        ));
        let grace = Duration::from_secs(state.settings.shutdown_grace);
        crate::telemetry::log_listening(address, state.store.demo_seeded);
        let stopping = stop.clone();
        let rooms = state.store.waiting_room.clone();
        let graces = state.graces.clone();
        let handover = Duration::from_secs(state.settings.handover_grace).as_millis() as Millis;
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: disconnecting sockets");
            stopping.cancel();
            // Our visitors reconnect through other instances and resume their places there;
            // the lease outlives us long enough for that, then the survivors reap the rest.
            if let Err(e) = rooms.hand_over(now_millis(), handover).await {
                tracing::warn!(error = %e, "extending the lease for the hand-over failed");
            }
            if tokio::time::timeout(grace, io.settle()).await.is_err() {
                tracing::warn!("queued news was not sent within the grace period");
            }
            // Places waiting out a resume grace stay too: they are handed over like the rest.
            graces.cancel_all().await;
            if tokio::time::timeout(grace, io.close()).await.is_err() {
                tracing::warn!("sockets did not close within the grace period");
            }
        };
        // Socket.IO writes small frames back to back (a reply, then a room broadcast); with
        // Nagle's algorithm the second waits for the client's delayed ACK, about 40 ms.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "setting TCP_NODELAY failed");
            }
        });
        let header_timeout = Duration::from_secs(state.settings.header_timeout);
        let connection_limit = state.settings.limits.connection_limit();
        let limits = (header_timeout, connection_limit);
        let served = crate::server::serve(listener, router, limits, signal);
        tokio::select! {
            () = served => {}
            () = async { stop.cancelled().await; tokio::time::sleep(grace * 2).await } => {
                tracing::warn!("in-flight requests did not finish within the grace period");
            }
        }
        drain.cancel();
        tasks.close();
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!("background tasks did not finish within the grace period");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Binds with a deep accept backlog: an on-sale opens thousands of connections at once, and the
/// default backlog of 128 drops SYNs that the client retries only after a second.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// Origins allowed to open Socket.IO connections from a browser (`*` for any).
fn socket_cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers(tower_http::cors::AllowHeaders::mirror_request());
    if origins.iter().any(|o| o == "*") {
        return base.allow_origin(Any);
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    base.allow_origin(AllowOrigin::list(list))
}

/// Names the client of a Socket.IO request for the realtime adapter ([`PeerAddress`]), as the
/// HTTP edge reads it (the peer, or `X-Forwarded-For` behind a trusted proxy).
fn with_peer_address(
    mut request: axum::extract::Request,
    trusted: &[ipnet::IpNet],
) -> axum::extract::Request {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = http::client_ip::client_ip(peer, request.headers(), trusted);
        request.extensions_mut().insert(PeerAddress(client));
    }
    request
}
