//! How many connections are served fully, and what a connection past that gets.
//!
//! One account opened some 20,000 sockets until the process ran out of file descriptors, and
//! then `/healthz` could not be answered either (issue 15, item 8). Every accepted connection
//! is counted for as long as its TCP stream lives (a websocket leaves hyper after its
//! upgrade, but its stream still carries the count). Past the limit a connection is still
//! accepted, but it is served only the health, metrics and admin routes; anything else gets
//! 503, every answer closes it, and it has a short time to send its request. Past the reserve
//! too, a connection is closed as soon as it is accepted. So the descriptors kept in reserve
//! stay free for the operator and the balancer's health checks, however many connections a
//! client opens.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::config::limits::ConnectionLimit;
use crate::error::SYSTEM_ERROR;

/// Routes a connection past the limit is still served.
const RESERVED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics", "/admin/"];

/// Open connections, shared by the accept loop and every counted stream.
#[derive(Clone, Default)]
pub(crate) struct OpenConnections(Arc<AtomicUsize>);

impl OpenConnections {
    /// Counts a new stream for as long as it lives; says where it stands against `limit`.
    pub(crate) fn count<I>(&self, io: I, limit: Option<ConnectionLimit>) -> (Counted<I>, Capacity) {
        let open = self.0.fetch_add(1, Ordering::AcqRel) + 1;
        let capacity = match limit {
            Some(limit) if open > limit.served + limit.reserve => Capacity::Over,
            Some(limit) if open > limit.served => Capacity::Reserve,
            _ => Capacity::Full,
        };
        let counted = Counted {
            io,
            _open: Open(self.0.clone()),
        };
        (counted, capacity)
    }

    /// Connections open now.
    #[cfg(test)]
    fn now(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

/// Whether a connection is served fully, or only the reserved routes; a request extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Capacity {
    /// Within the limit.
    Full,
    /// Past the limit: health, metrics and admin only, then closed.
    Reserve,
    /// Past the reserve too: closed at once.
    Over,
}

/// Middleware: a connection past the limit gets 503 (and is closed) on everything but the
/// reserved routes.
pub(crate) async fn gate(request: Request, next: Next) -> Response {
    let reserve = request.extensions().get::<Capacity>() == Some(&Capacity::Reserve);
    let path = request.uri().path();
    if !reserve || RESERVED_PATHS.iter().any(|p| path.starts_with(p)) {
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"error": SYSTEM_ERROR})),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// Decrements the count when the stream is dropped.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A stream that counts as one open connection while it lives.
pub(crate) struct Counted<I> {
    io: I,
    _open: Open,
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_counts_while_it_lives_and_those_past_the_limit_are_reserve_then_over() {
        let open = OpenConnections::default();
        let limit = Some(ConnectionLimit {
            served: 1,
            reserve: 1,
        });
        let (a, first) = open.count((), limit);
        let (b, second) = open.count((), limit);
        let (c, third) = open.count((), limit);
        assert_eq!(
            (first, second, third),
            (Capacity::Full, Capacity::Reserve, Capacity::Over)
        );
        assert_eq!(open.now(), 3);
        drop((a, b, c));
        assert_eq!(open.now(), 0);
        let (_d, fourth) = open.count((), limit);
        assert_eq!(fourth, Capacity::Full);
    }
}
