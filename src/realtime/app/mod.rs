//! The app protocol (`../shared/protocol-v2.md`): the `/queue` and `/event-{sessionId}`
//! namespaces. Every request carries an ack answered `{ok: true, …}` or
//! `{ok: false, error: {code, message}}`; pushes carry whole values (seat changes carry a
//! per-area version). The rules are the service layer's; this module only translates.

pub(crate) mod admissions;
pub(crate) mod event;
pub(crate) mod positions;
pub(crate) mod queue;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::rooms;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::Millis;
use crate::realtime::tap::Ack;
use crate::service::ServiceError;
use crate::state::AppState;

/// A refused app connection, named by its protocol code.
///
/// Its text is the CONNECT_ERROR data (the vendored parser sends a JSON object as it is, see
/// vendor/socketioxide-parser-common/PATCHES.md): `{"code", "message"}` as protocol-v2 says,
/// with `message` the code too (what clients matched on before, and what socket.io-client puts
/// in `err.message`), and `data: {code, message}` with the text for people (socket.io-client's
/// `err.data`).
#[derive(Debug)]
pub(crate) struct Refused(pub &'static str);

impl Refused {
    /// Words for people, per code.
    fn text(&self) -> &'static str {
        match self.0 {
            "unauthorized" => "the token is missing, malformed, forged or expired",
            "unknown_session" => "no such session",
            "not_admitted" => "this needs a place on the session's buying page; join /queue first",
            "too_many_connections" => "this account or address holds as many connections as it may",
            _ => "a server fault; try again",
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = json!({
            "code": self.0, "message": self.0,
            "data": {"code": self.0, "message": self.text()},
        });
        write!(f, "{data}")
    }
}

impl std::error::Error for Refused {}

/// The wire name of a seat state.
pub(crate) fn status_name(status: SeatStatus) -> &'static str {
    match status {
        SeatStatus::Empty => "empty",
        SeatStatus::Selected => "selected",
        SeatStatus::Locked => "locked",
        SeatStatus::Sold => "sold",
    }
}

/// The code and message of a refusal.
fn error_body(code: &str, message: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

/// The protocol's code for a use-case error (storage faults are logged here, once).
pub(crate) fn code_of(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::UnknownSession => "unknown_session",
        ServiceError::UnknownArea => "unknown_area",
        ServiceError::UnknownSeat { .. } | ServiceError::NoSuchSeat(_) | ServiceError::Unpriced => {
            "unknown_seat"
        }
        ServiceError::SaleEnded | ServiceError::SaleNotOpen => "sale_not_open",
        ServiceError::AlreadyInside | ServiceError::NotInside | ServiceError::Invalid(_) => {
            "bad_request"
        }
        ServiceError::Blocked => "blocked",
        ServiceError::NotAdmitted => "not_admitted",
        ServiceError::SeatTaken => "seat_taken",
        ServiceError::NotYours(_) | ServiceError::NotLocked(_) => "not_yours",
        ServiceError::LimitReached { .. } => "limit_reached",
        ServiceError::Unavailable(detail) => {
            tracing::error!(error = %detail, "storage failed in an app handler");
            "internal"
        }
    }
}

/// Answers an ack; a client that asked for none gets nothing.
pub(crate) fn answer<A: Adapter>(ack: Ack<A>, body: Value) {
    if let Err(e) = ack.send(&body) {
        tracing::debug!(error = %e, "ack not sent (socket gone)");
    }
}

/// Answers `{ok: true, …fields}`.
pub(crate) fn ok<A: Adapter>(ack: Ack<A>, fields: Value) {
    let mut body = json!({"ok": true});
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    answer(ack, body);
}

/// Answers a use-case error with its code.
pub(crate) fn fail<A: Adapter>(ack: Ack<A>, e: &ServiceError) {
    let message = match e {
        ServiceError::Unavailable(_) => "a server fault; try again".to_string(),
        other => other.to_string(),
    };
    answer(ack, error_body(code_of(e), &message));
}

/// Answers a use-case result: its fields on success, its code on failure.
pub(crate) fn reply<A: Adapter>(ack: Ack<A>, result: Result<Value, ServiceError>) {
    match result {
        Ok(fields) => ok(ack, fields),
        Err(e) => fail(ack, &e),
    }
}

/// Answers `bad_request` naming what was wrong with the payload.
pub(crate) fn bad_request<A: Adapter>(ack: Ack<A>, message: &str) {
    answer(ack, error_body("bad_request", message));
}

/// A positive integer id field of an object payload.
pub(crate) fn id_field(payload: &Value, name: &str) -> Option<i64> {
    payload
        .get(name)
        .and_then(Value::as_i64)
        .filter(|id| *id > 0)
}

/// The session id of an app payload, or the `bad_request` message.
pub(crate) fn session_field(payload: &Value) -> Result<SessionId, &'static str> {
    id_field(payload, "sessionId")
        .map(SessionId)
        .ok_or("sessionId must be a positive integer")
}

/// The signed-in account of a connection: `auth.token` (with or without `Bearer `), else the
/// handshake's `Authorization: Bearer` header.
pub(crate) async fn authenticate<A: Adapter>(
    s: &SocketRef<A>,
    auth: Option<&Value>,
    state: &AppState,
) -> Result<UserId, Refused> {
    let from_auth = auth
        .and_then(|a| a.get("token"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let from_header = || {
        s.req_parts()
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let token = from_auth.or_else(from_header).unwrap_or_default();
    let token = token.strip_prefix("Bearer ").unwrap_or(&token);
    let user = state.auth.verify(token).ok_or(Refused("unauthorized"))?;
    match state.store.accounts.user_exists(user).await {
        Ok(true) => Ok(user),
        Ok(false) => Err(Refused("unauthorized")),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed during an app connect");
            Err(Refused("internal"))
        }
    }
}

/// When the visitor's purchase window ends (the client-visible one, without the grace).
pub(crate) async fn window_ends_at(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> Option<Millis> {
    let since = state
        .store
        .waiting_room
        .admitted_at(session, user)
        .await
        .ok()
        .flatten()?;
    Some(since + state.window_ms(session))
}

/// Tells every buying-page connection of `session` to this instance its deadline, which an
/// operator moved: `window` with the deadline from the stored admission time.
pub(crate) async fn windows_moved<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    session: SessionId,
) {
    let ns = rooms::event_namespace(session);
    let sockets = io.of(&ns).map(|ns| ns.sockets()).unwrap_or_default();
    for s in sockets {
        let Some(user) = s.extensions.get::<super::Conn>().map(|c| c.user()) else {
            continue;
        };
        let Some(ends) = window_ends_at(state, session, user).await else {
            continue;
        };
        let body = json!({"endsAt": ends, "serverNow": crate::domain::time::now_millis()});
        if let Err(e) = s.emit("window", &body) {
            tracing::debug!(error = %e, "sending window failed");
        }
    }
}

/// The server ended a visit (`reason`: `window_expired`, `instance_lost`): the queue hears
/// `removed`, the buying page `expired`, and the buying page's connections close.
pub(crate) async fn visit_ended<A: Adapter>(
    io: &SocketIo<A>,
    recorder: Option<&std::sync::Arc<crate::record::Recorder>>,
    session: SessionId,
    user: UserId,
    reason: &str,
) {
    let body = json!({"sessionId": session, "reason": reason});
    let entrant = rooms::entrant(session, user);
    if let Some(heard) = super::tap::audience(recorder, rooms::QUEUE_NAMESPACE, &entrant) {
        heard.pushed("removed", &[&body]);
    }
    if let Some(queue) = rooms::to_in(io, rooms::QUEUE_NAMESPACE, entrant)
        && let Err(e) = queue.emit("removed", &body).await
    {
        tracing::debug!(error = %e, "sending removed failed");
    }
    let ns = rooms::event_namespace(session);
    let own = rooms::user(user);
    if let Some(heard) = super::tap::audience(recorder, &ns, &own) {
        heard.pushed("expired", &[&json!({})]);
    }
    let Some(page) = rooms::to_in(io, &ns, own) else {
        return;
    };
    if let Err(e) = page.emit("expired", &json!({})).await {
        tracing::debug!(error = %e, "sending expired failed");
    }
    if let Some(page) = rooms::to_in(io, &ns, rooms::user(user))
        && let Err(e) = page.disconnect().await
    {
        tracing::warn!(error = %e, "disconnecting an expired app visitor failed");
    }
}
