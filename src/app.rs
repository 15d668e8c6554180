//! Building and running one server instance.
//!
//! `build` opens the engines and binds the listener (port 0 allowed, for tests); `run_until_stopped`
//! serves until the given shutdown future resolves. Shutdown, in one place: stop accepting, tell
//! every socket (disconnect), stop the sweeper, let in-flight requests finish within a bound.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::HeaderValue;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::{TcpListener, TcpSocket};
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

use crate::auth::Auth;
use crate::config::Settings;
use crate::domain::seats::TicketLimit;
use crate::domain::time::{Millis, now_millis};
use crate::domain::waiting_room::Rules;
use crate::http;
use crate::realtime::Realtime;
use crate::realtime::announcer::Announcer;
use crate::realtime::seat_news::SeatNews;
use crate::storage::model::HoldTerms;
use crate::storage::{Store, room_rules};

/// What every handler can reach: settings, engines, token keys.
#[derive(Clone)]
pub struct AppState {
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The storage engines.
    pub store: Store,
    /// Token and password handling.
    pub auth: Arc<Auth>,
    /// Renders the process's metrics.
    pub metrics: PrometheusHandle,
    /// Delivers queue news (admissions, positions) in batches.
    pub announcer: Announcer,
    /// Sends seat-map broadcasts in order, after the direct answers.
    pub seat_news: SeatNews,
    image_base: Arc<str>,
}

impl AppState {
    /// The waiting-room rules in force.
    pub fn rules(&self) -> Rules {
        room_rules(&self.settings)
    }

    /// Tickets per account per session.
    pub fn ticket_limit(&self) -> TicketLimit {
        TicketLimit(self.settings.ticket_limit)
    }

    /// Terms of a new seat hold taken at `now`: the ticket limit, and a deadline one visit long
    /// (the backstop that frees seats even if the visit's end goes unnoticed).
    pub fn hold_terms(&self, now: Millis) -> HoldTerms {
        HoldTerms {
            limit: self.ticket_limit(),
            until: now + self.settings.window_with_grace().as_millis() as Millis,
        }
    }

    /// The public URL of an image file name stored in the catalog.
    pub fn image_url(&self, file: &str) -> String {
        format!("{}/{file}", self.image_base)
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    io: Realtime,
    state: AppState,
}

impl Application {
    /// Opens the engines, binds the listener and assembles HTTP and Socket.IO.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let auth = Auth::new(
            settings.jwt_secret.as_deref(),
            &settings.jwt_expires,
            settings.bcrypt_cost,
        )?;
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
        let state = AppState {
            image_base: settings.image_base_for(address).into(),
            settings: Arc::new(settings),
            store,
            auth: Arc::new(auth),
            metrics: crate::metrics::install(),
            announcer: Announcer::default(),
            seat_news: SeatNews::default(),
        };
        let redis = state
            .settings
            .redis_url
            .as_deref()
            .map(|url| (url, state.settings.redis_prefix.as_str()));
        let (socket_route, io) = Realtime::build(state.clone(), redis).await?;
        let socket_route = socket_route
            .layer::<_, std::convert::Infallible>(tower::util::MapRequestLayer::new(
                crate::realtime::detach_request,
            ))
            .layer(socket_cors(&state.settings.cors_origins));
        let router = http::router(state.clone()).route("/socket.io/", socket_route);
        Ok(Self {
            listener,
            address,
            router,
            io,
            state,
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.address.port()
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
        } = self;
        let stop = CancellationToken::new();
        let sweeper = io.spawn_sweeper(state.clone(), stop.clone());
        let warmer = tokio::spawn(crate::warmup::run_scheduler(state.clone(), stop.clone()));
        let grace = Duration::from_secs(state.settings.shutdown_grace);
        tracing::info!(%address, "TicketClub listening");
        let stopping = stop.clone();
        let rooms = state.store.waiting_room.clone();
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
        let served = crate::server::serve(listener, router, header_timeout, signal);
        tokio::select! {
            () = served => {}
            () = async { stop.cancelled().await; tokio::time::sleep(grace * 2).await } => {
                tracing::warn!("in-flight requests did not finish within the grace period");
            }
        }
        sweeper.abort();
        warmer.abort();
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
