//! The visit recorder's hook on sockets (`src/record/`): a [`Tap`] rides in the extensions of
//! each socket of a recorded server and copies what the socket receives (at the intake door)
//! and what it is sent (replies, acks and room pushes) as Socket.IO packet text. Without
//! recording no socket carries one, and each hook is one extension lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::FromMessageParts;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Socket;
use socketioxide_core::Value as RawValue;

use crate::domain::ids::UserId;
use crate::har::Direction;
use crate::record::{Item, Recorder, now_epoch};
use crate::state::AppState;

/// Recorded sockets alive in the process: room pushes look for taps only while there are some
/// (walking a seat room's watchers for each push would cost a rush for nothing).
static TAPPED: AtomicUsize = AtomicUsize::new(0);

/// A recorded socket's link to the recorder.
#[derive(Clone)]
pub(crate) struct Tap(Arc<TapInner>);

struct TapInner {
    recorder: Recorder,
    conn: String,
    /// `""` on the default namespace, `"/queue,"` elsewhere.
    prefix: String,
}

impl Drop for TapInner {
    /// The socket is gone (its extensions are dropped with it): its connection closes.
    fn drop(&mut self) {
        TAPPED.fetch_sub(1, Ordering::Relaxed);
        let conn = std::mem::take(&mut self.conn);
        self.recorder.record(Item::Close {
            conn,
            at: now_epoch(),
        });
    }
}

impl Tap {
    fn frame(&self, direction: Direction, text: String) {
        self.0.recorder.record(Item::Frame {
            conn: self.0.conn.clone(),
            direction,
            text,
            at: now_epoch(),
        });
    }

    /// The socket was sent `event` with `args` (none, or one body).
    pub(crate) fn emitted(&self, event: &str, args: &[&Value]) {
        let mut packet = vec![Value::from(event)];
        packet.extend(args.iter().map(|&a| a.clone()));
        let packet = Value::Array(packet);
        self.frame(Direction::Receive, format!("2{}{packet}", self.0.prefix));
    }
}

/// Starts recording an accepted connection of `user`, when the server records: its CONNECT
/// (the token is redacted anyway) and the server's answer.
pub(crate) fn attach<A: Adapter>(s: &SocketRef<A>, state: &AppState, user: UserId) {
    let Some(recorder) = state.recorder.clone() else {
        return;
    };
    let ns = s.ns().to_string();
    let prefix = if ns == "/" {
        String::new()
    } else {
        format!("{ns},")
    };
    let host = s
        .req_parts()
        .headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let conn = format!("{ns}#{}", s.id);
    recorder.record(Item::Open {
        conn: conn.clone(),
        user,
        ns: ns.clone(),
        host,
        at: now_epoch(),
    });
    TAPPED.fetch_add(1, Ordering::Relaxed);
    let tap = Tap(Arc::new(TapInner {
        recorder,
        conn,
        prefix,
    }));
    tap.frame(
        Direction::Send,
        format!("0{}{{\"token\":\"[redacted]\"}}", tap.0.prefix),
    );
    let answer = serde_json::json!({"sid": s.id.to_string()});
    tap.frame(Direction::Receive, format!("0{}{answer}", tap.0.prefix));
    s.extensions.insert(tap);
}

/// The socket's tap, if it is recorded.
pub(crate) fn of<A: Adapter>(s: &Socket<A>) -> Option<Tap> {
    s.extensions.get::<Tap>()
}

/// An event arrived (called at the intake door, before anything is done for it).
pub(crate) fn received<A: Adapter>(s: &Socket<A>, raw: &RawValue, ack: Option<i64>) {
    let Some(tap) = of(s) else { return };
    let Some(text) = raw.as_str() else { return };
    let ack = ack.map(|a| a.to_string()).unwrap_or_default();
    tap.frame(
        Direction::Send,
        format!("2{}{ack}{}", tap.0.prefix, &**text),
    );
}

/// A push to a room: recorded for each recorded socket of this instance in it.
pub(crate) fn pushed<A: Adapter>(to: &BroadcastOperators<A>, event: &str, args: &[&Value]) {
    if TAPPED.load(Ordering::Relaxed) == 0 {
        return;
    }
    for socket in to.clone().sockets() {
        if let Some(tap) = socket.extensions.get::<Tap>() {
            tap.emitted(event, args);
        }
    }
}

/// The app protocol's ack sender, which also records the answer on a recorded socket.
pub(crate) struct Ack<A: Adapter> {
    sender: AckSender<A>,
    tap: Option<(Tap, i64)>,
}

impl<A: Adapter> FromMessageParts<A> for Ack<A> {
    type Error = std::convert::Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let sender = AckSender::from_message_parts(s, v, ack_id)?;
        let tap = of(s).zip(*ack_id);
        Ok(Self { sender, tap })
    }
}

impl<A: Adapter> Ack<A> {
    /// Sends the ack (recording it first on a recorded socket).
    pub(crate) fn send(self, body: &Value) -> Result<(), socketioxide::SendError> {
        if let Some((tap, id)) = &self.tap {
            tap.frame(
                Direction::Receive,
                format!("3{}{id}{}", tap.0.prefix, Value::Array(vec![body.clone()])),
            );
        }
        self.sender.send(body)
    }
}
