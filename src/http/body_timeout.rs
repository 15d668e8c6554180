//! A deadline on reading a request body.
//!
//! hyper's header timeout (see `server.rs`) ends once the headers are in; the body that follows
//! had no bound, so a client announcing 90 KB and trickling a byte every few seconds held its
//! connection, a task and the buffered bytes for as long as it liked, a thousand times over.
//! Here every request that has a body gets a deadline, counted from when its headers arrived:
//! reading past it fails with [`BodyTimedOut`], which the body extractor answers with 408; the
//! unread remainder then makes hyper close the connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

/// The body was not received within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received in time")]
pub(crate) struct BodyTimedOut;

/// Gives `request`'s body a deadline `timeout` from now; bodiless requests (most GETs, and the
/// websocket upgrades that stay open for hours) are left as they are.
pub(crate) fn bound(request: Request, timeout: Duration) -> Request {
    if http_body::Body::is_end_stream(request.body()) {
        return request;
    }
    request.map(|inner| {
        Body::new(Deadline {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        })
    })
}

/// Whether `error` (an extractor's rejection, say) comes from a body that ran out of time.
pub(crate) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A body that fails once its deadline has passed.
struct Deadline {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        // The deadline first: a client that keeps the next byte just in reach must not win.
        if self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
