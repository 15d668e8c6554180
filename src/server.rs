//! Serving HTTP/1.1 connections: the header timeout, websocket upgrades, graceful shutdown.
//!
//! `axum::serve` gives hyper no timer, and without one hyper has no header timeout: a
//! connection that never sends a request, trickles its headers a byte at a time, or sits idle
//! between keep-alive requests was held open for ever, each with its buffers and one of the
//! process's file descriptors. Here every connection gets hyper's header-read timeout, which
//! runs whenever a request's headers are awaited, between keep-alive requests too. An
//! upgraded connection (Socket.IO's websocket) leaves hyper once its handshake has been read,
//! so the timeout does not reach it: Engine.IO's heartbeat looks after those.

pub(crate) mod capacity;

/// How long a reserve connection (past the connection limit) may take to send its request.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

use std::future::Future;
use std::time::Duration;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tower::Layer;

use crate::config::limits::ConnectionLimit;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets every
/// open connection finish its current request, and returns once all of them have closed.
/// Connections past `connection_limit` are served only the reserved routes, and those past its
/// reserve are closed at once ([`capacity`]).
pub(crate) async fn serve<L>(
    mut listener: L,
    router: Router,
    (header_timeout, connection_limit): (Duration, Option<ConnectionLimit>),
    shutdown: impl Future<Output = ()>,
) where
    L: Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    let router = router.layer(axum::middleware::from_fn(capacity::gate));
    let open_connections = capacity::OpenConnections::default();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    // A reserve connection is for a health check or an operator: it sends its request at once.
    let mut reserve_http = http.clone();
    reserve_http.header_read_timeout(header_timeout.min(RESERVE_HEADER_TIMEOUT));
    // Each connection holds a receiver of `finish` (shutdown has begun) and of `open`, whose
    // sender learns when the last receiver is gone.
    let (finish_tx, finish) = watch::channel(false);
    let (open_tx, open) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (io, capacity) = open_connections.count(io, connection_limit);
        let http = match capacity {
            capacity::Capacity::Full => &http,
            capacity::Capacity::Reserve => &reserve_http,
            capacity::Capacity::Over => {
                tracing::debug!(%peer, "past the connection reserve: closed at once");
                continue;
            }
        };
        // A handle to the shared router: serving the `Router` itself would deep-clone its
        // route table for every connection (about 5 KB here). The peer address goes with
        // every request, for per-address limits (`ConnectInfo`, as `axum::serve` provides).
        let service = Extension(ConnectInfo(peer)).layer(router.clone());
        let service = Extension(capacity).layer(service);
        let service = TowerToHyperService::new(service);
        let connection = http.serve_connection(TokioIo::new(io), service);
        tokio::spawn(serve_connection(
            connection.with_upgrades(),
            finish.clone(),
            open.clone(),
        ));
    }
    drop(listener);
    let _ = finish_tx.send(true);
    drop(open);
    open_tx.closed().await;
}

/// One connection: served until it closes, or until shutdown asks it to finish its current
/// request and close.
async fn serve_connection<I, S>(
    connection: http1::UpgradeableConnection<TokioIo<I>, S>,
    mut finish: watch::Receiver<bool>,
    _open: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<hyper::body::Incoming>,
    S::ResBody: 'static,
    <S::ResBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => return log_end(served),
        _ = finish.wait_for(|finishing| *finishing) => {}
    }
    connection.as_mut().graceful_shutdown();
    log_end(connection.await);
}

fn log_end(served: hyper::Result<()>) {
    if let Err(e) = served {
        // Timeouts, resets and malformed requests are the client's business; hyper has
        // already answered what deserved an answer (a 431 or 400, say).
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
