//! The HTTP hook: a layer on the routes that copies each exchange of a signed-in person (a
//! request with a token, or a sign-in / sign-up) to the recorder, unless the sampling leaves the token's
//! person out (then the call is not even copied). JSON bodies are kept (the request's
//! within the API's body limit); other bodies (pictures, pages) only by status.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use super::{Item, Recorder, now_epoch};
use crate::error::ApiError;
use crate::http::extract::BODY_LIMIT;

/// The largest response body kept (a profile with many orders stays well under it).
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// One exchange as the middleware saw it, in the parts hyper parsed, copied out of the
/// connection's read buffer in one piece ([`own`]); turning them into text, and redaction,
/// are the writer's.
pub(crate) struct Exchange {
    /// When it started, seconds since the epoch.
    pub started: f64,
    /// How long it took, in milliseconds.
    pub millis: f64,
    /// The method.
    pub method: Method,
    /// The `Host` header (the origin the recording names).
    pub host: Option<HeaderValue>,
    /// Path and query.
    pub path: Option<PathAndQuery>,
    /// The `Authorization` header, if any (redacted when written).
    pub authorization: Option<HeaderValue>,
    /// The request's content type.
    pub content_type: Option<HeaderValue>,
    /// The request body.
    pub request_body: Bytes,
    /// The status.
    pub status: u16,
    /// The response's content type.
    pub response_type: Option<HeaderValue>,
    /// The response body, when JSON.
    pub response_body: Option<Bytes>,
}

/// A header's value as text (`None` when absent or not visible ASCII).
pub(crate) fn header_text(value: Option<&HeaderValue>) -> Option<&str> {
    value.and_then(|v| v.to_str().ok())
}

fn header(request: &Request, name: header::HeaderName) -> Option<HeaderValue> {
    request.headers().get(name).cloned()
}

/// Copies of `parts` in one allocation, each a slice of it. What hyper parsed (header values,
/// the path, a small body) are slices of the connection's read buffer; an item that holds one
/// keeps the whole buffer alive in the recorder's channel, so hyper cannot reuse it and
/// allocates a fresh one (8 KB) for the connection's next request. In a join burst that was a
/// fresh 8 KB, its page faults and glibc's slow path, for every recorded request: the request
/// path's CPU per join was about a quarter higher with recording on. The copy is a few hundred
/// bytes, in one allocation rather than one per part.
fn own<const N: usize>(parts: [&[u8]; N]) -> [Bytes; N] {
    let mut copy = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    let mut bounds = [(0, 0); N];
    for (bound, part) in bounds.iter_mut().zip(parts) {
        *bound = (copy.len(), copy.len() + part.len());
        copy.extend_from_slice(part);
    }
    let copy = Bytes::from(copy);
    bounds.map(|(from, to)| copy.slice(from..to))
}

/// A header's bytes (none when absent).
fn bytes_of(value: &Option<HeaderValue>) -> &[u8] {
    value.as_ref().map_or(&[], HeaderValue::as_bytes)
}

/// `copy` as the header value `original` was, if there was one.
fn copied(original: &Option<HeaderValue>, copy: Bytes) -> Option<HeaderValue> {
    original
        .as_ref()
        .and_then(|_| HeaderValue::from_maybe_shared(copy).ok())
}

fn is_sign_in(path: &str) -> bool {
    path.ends_with("/user/signin") || path.ends_with("/user/signup")
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    header_text(content_type).is_some_and(|t| t.starts_with("application/json"))
}

/// The hook as a tower layer on the routes ([`crate::http::router`]). Written by hand rather
/// than with `axum::middleware::from_fn`: a call that is not recorded goes straight to the
/// route (no boxed future, no copy of the route), and a recorded one pays one boxed future.
#[derive(Clone)]
pub(crate) struct RecordLayer(Arc<Recorder>);

impl RecordLayer {
    /// Records through `recorder`.
    pub(crate) fn new(recorder: Arc<Recorder>) -> Self {
        Self(recorder)
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = RecordExchange<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RecordExchange {
            inner,
            recorder: self.0.clone(),
        }
    }
}

/// A route with the hook in front of it.
#[derive(Clone)]
pub(crate) struct RecordExchange<S> {
    inner: S,
    recorder: Arc<Recorder>,
}

impl<S> Service<Request> for RecordExchange<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // A value that is not text counts as none, as the API's own token check reads it.
        let authorization = header(&request, header::AUTHORIZATION).filter(|v| v.to_str().is_ok());
        let wanted = match header_text(authorization.as_ref()) {
            Some(authorization) => self.recorder.may_record_call(authorization),
            None => is_sign_in(request.uri().path()),
        };
        if !wanted {
            return Either::Left(self.inner.call(request));
        }
        // The one that was made ready runs this call; the clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let recorder = self.recorder.clone();
        Either::Right(Box::pin(record_exchange(
            recorder,
            authorization,
            request,
            inner,
        )))
    }
}

/// Runs the call through `inner` and hands what it saw to the recorder.
async fn record_exchange<S>(
    recorder: Arc<Recorder>,
    authorization: Option<HeaderValue>,
    request: Request,
    mut inner: S,
) -> Result<Response, Infallible>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let (started, clock) = (now_epoch(), std::time::Instant::now());
    let method = request.method().clone();
    let path = request.uri().path_and_query().cloned();
    let host = header(&request, header::HOST);
    let content_type = header(&request, header::CONTENT_TYPE);
    let (parts, body) = request.into_parts();
    let Ok(request_body) = axum::body::to_bytes(body, BODY_LIMIT).await else {
        // Too long, or too slow (the body deadline): what the API's own extractor answers.
        return Ok(ApiError::malformed_body().into_response());
    };
    let request = Request::from_parts(parts, Body::from(request_body.clone()));
    let response = inner.call(request).await?;
    let status = response.status().as_u16();
    let response_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let (response, response_body) = if is_json(response_type.as_ref()) {
        let (parts, body) = response.into_parts();
        match axum::body::to_bytes(body, RESPONSE_LIMIT).await {
            Ok(bytes) => (
                Response::from_parts(parts, Body::from(bytes.clone())),
                Some(bytes),
            ),
            Err(_) => (Response::from_parts(parts, Body::empty()), None),
        }
    } else {
        (response, None)
    };
    let [
        host_copy,
        authorization_copy,
        content_type_copy,
        path_copy,
        request_body,
    ] = own([
        bytes_of(&host),
        bytes_of(&authorization),
        bytes_of(&content_type),
        path.as_ref().map_or(&[], |p| p.as_str().as_bytes()),
        &request_body,
    ]);
    recorder.record(Item::Http(Box::new(Exchange {
        started,
        millis: clock.elapsed().as_secs_f64() * 1000.0,
        method,
        host: copied(&host, host_copy),
        path: path.and_then(|_| PathAndQuery::from_maybe_shared(path_copy).ok()),
        authorization: copied(&authorization, authorization_copy),
        content_type: copied(&content_type, content_type_copy),
        request_body,
        status,
        response_type,
        response_body,
    })));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Uri;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn a_recorded_exchange_keeps_nothing_of_the_connections_read_buffer() {
        // hyper hands the routes slices of the connection's read buffer: stand one in.
        let text =
            "example.orgBearer abc.def.ghiapplication/json/api/session/validation{\"sessionId\":1}";
        let buffer = Bytes::from(text.as_bytes().to_vec());
        let part = |from: &str| {
            let at = text.find(from).expect("in the buffer");
            buffer.slice(at..at + from.len())
        };
        let value = |from: &str| HeaderValue::from_maybe_shared(part(from)).expect("a value");
        let request = Request::builder()
            .method(Method::POST)
            .uri(Uri::from_maybe_shared(part("/api/session/validation")).expect("a path"))
            .header(header::HOST, value("example.org"))
            .header(header::AUTHORIZATION, value("Bearer abc.def.ghi"))
            .header(header::CONTENT_TYPE, value("application/json"))
            .body(Body::from(part("{\"sessionId\":1}")))
            .expect("a request");
        let (items, mut recorded) = mpsc::channel(4);
        let auth = Arc::new(crate::auth::Auth::new(Some("http-test"), "7d", 4).expect("auth"));
        let recorder = Arc::new(Recorder::for_tests(items, auth, 1.0));
        let authorization = header(&request, header::AUTHORIZATION);
        let route = tower::service_fn(|_request: Request| async {
            Ok::<_, Infallible>(Response::new(Body::from("{}")))
        });
        let response = record_exchange(recorder, authorization, request, route).await;
        drop(response);

        let Some(Item::Http(exchange)) = recorded.recv().await else {
            panic!("the exchange is recorded");
        };
        assert_eq!(exchange.request_body.as_ref(), b"{\"sessionId\":1}");
        assert_eq!(
            exchange.path.as_ref().map(PathAndQuery::as_str),
            Some("/api/session/validation")
        );
        assert_eq!(header_text(exchange.host.as_ref()), Some("example.org"));
        assert!(
            buffer.is_unique(),
            "the recorded exchange holds copies, so the read buffer can be reused"
        );
    }
}
