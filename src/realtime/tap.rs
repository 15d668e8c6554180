//! The visit recorder's hook on sockets (`src/record/`): a [`Tap`] rides in the extensions of
//! each socket of a recorded server and copies what the socket receives (at the intake door)
//! and what it is sent (replies, acks and room pushes) as Socket.IO packet text. Without
//! recording, or for a person the sampling leaves out, a socket carries none, and each hook is
//! one extension lookup. A room push is written out once and handed over as one item for all
//! the recorded sockets in the room, which the recorder knows from the rooms they joined
//! ([`joined`], [`left`], `record::rooms`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::{Sid, Socket};
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
    recorder: Arc<Recorder>,
    conn: Arc<str>,
    /// The socket's namespace (shared with the writer's `Open` item) and id, and the rooms the
    /// recorder lists it in.
    ns: Arc<str>,
    sid: Sid,
    rooms: Mutex<Vec<String>>,
}

impl Drop for TapInner {
    /// The socket is gone (its extensions are dropped with it): it leaves its rooms and its
    /// connection closes.
    fn drop(&mut self) {
        let rooms = std::mem::take(self.rooms.get_mut().unwrap_or_else(|e| e.into_inner()));
        for room in &rooms {
            self.recorder.rooms.leave(&self.ns, room, self.sid);
        }
        TAPPED.fetch_sub(1, Ordering::Relaxed);
        self.recorder.record(Item::Close {
            conn: self.conn.clone(),
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
        self.frame(Direction::Receive, event_packet(&self.0.ns, event, args));
    }

    /// The socket is in `room`: the recorder lists it there.
    fn enter(&self, room: &str) {
        let mut rooms = self.0.rooms.lock().unwrap_or_else(|e| e.into_inner());
        if !rooms.iter().any(|r| r == room) {
            rooms.push(room.to_owned());
        }
        self.0.recorder.rooms.join(&self.0.ns, room, self.0.sid);
    }

    /// The socket left `room`.
    fn exit(&self, room: &str) {
        let mut rooms = self.0.rooms.lock().unwrap_or_else(|e| e.into_inner());
        rooms.retain(|r| r != room);
        self.0.recorder.rooms.leave(&self.0.ns, room, self.0.sid);
    }
}

/// Writes the packet prefix of namespace `ns`: nothing on the default one, `"{ns},"`
/// elsewhere.
fn write_prefix(text: &mut Vec<u8>, ns: &str) {
    if ns != "/" {
        text.extend_from_slice(ns.as_bytes());
        text.push(b',');
    }
}

/// An EVENT packet's text on namespace `ns`, `2{prefix}["event",…args]`, written straight
/// from the borrowed values (no copy of the body is built first).
fn event_packet(ns: &str, event: &str, args: &[&Value]) -> String {
    let mut text = Vec::with_capacity(128);
    text.push(b'2');
    write_prefix(&mut text, ns);
    text.push(b'[');
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut text, event);
    for arg in args {
        text.push(b',');
        let _ = serde_json::to_writer(&mut text, arg);
    }
    text.push(b']');
    String::from_utf8(text).unwrap_or_default()
}

/// An ACK packet's text on namespace `ns`, `3{prefix}{id}[body]`, written straight from the
/// borrowed body.
fn ack_packet(ns: &str, id: i64, body: &Value) -> String {
    let mut text = Vec::with_capacity(128);
    text.push(b'3');
    write_prefix(&mut text, ns);
    text.extend_from_slice(id.to_string().as_bytes());
    text.push(b'[');
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut text, body);
    text.push(b']');
    String::from_utf8(text).unwrap_or_default()
}

/// Starts recording an accepted connection of `user`, when the server records. Its CONNECT
/// (the token redacted) and the server's answer are the writer's to write, from the
/// [`Item::Open`].
pub(crate) fn attach<A: Adapter>(s: &SocketRef<A>, state: &AppState, user: UserId) {
    let Some(recorder) = state.recorder.clone() else {
        return;
    };
    if !recorder.records(user) {
        return;
    }
    let ns: Arc<str> = Arc::from(s.ns());
    let host = s
        .req_parts()
        .headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let conn: Arc<str> = Arc::from(format!("{ns}#{}", s.id));
    recorder.record(Item::Open {
        conn: conn.clone(),
        sid: s.id,
        user,
        ns: ns.clone(),
        host,
        at: now_epoch(),
    });
    TAPPED.fetch_add(1, Ordering::Relaxed);
    let tap = Tap(Arc::new(TapInner {
        recorder,
        conn,
        ns,
        sid: s.id,
        rooms: Mutex::default(),
    }));
    // In the extensions before its rooms are read: a room joined meanwhile is listed by
    // [`joined`] or read here, if not both.
    s.extensions.insert(tap.clone());
    for room in s.rooms() {
        tap.enter(&room);
    }
}

/// Socket `s` joined `room` (through `rooms::join`): a recorded socket is listed in it.
pub(crate) fn joined<A: Adapter>(s: &Socket<A>, room: &str) {
    if let Some(tap) = of(s) {
        tap.enter(room);
    }
}

/// Socket `s` left `room` (through `rooms::leave`).
pub(crate) fn left<A: Adapter>(s: &Socket<A>, room: &str) {
    if let Some(tap) = of(s) {
        tap.exit(room);
    }
}

/// The socket's tap, if it is recorded.
pub(crate) fn of<A: Adapter>(s: &Socket<A>) -> Option<Tap> {
    // Every push and event asks; with nothing recorded (the default) the answer is known
    // without a lookup in the socket's extensions (about 1 % of a 10,000-person flush).
    if TAPPED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    s.extensions.get::<Tap>()
}

/// An event arrived (called at the intake door, before anything is done for it).
pub(crate) fn received<A: Adapter>(s: &Socket<A>, raw: &RawValue, ack: Option<i64>) {
    let Some(tap) = of(s) else { return };
    let Some(data) = raw.as_str() else { return };
    tap.0.recorder.record(Item::Received {
        conn: tap.0.conn.clone(),
        ack,
        // A copy, not a share of the received bytes: a share would keep the connection's read
        // buffer alive in the recorder's channel (see `record::http::own`).
        data: socketioxide_core::Str::from(data.as_str().to_owned()),
        at: now_epoch(),
    });
}

/// The recorded sockets a push to one room reaches, named when the push is made ready; a
/// server that records nothing, or a room without recorded sockets, has none.
pub(crate) struct Audience {
    recorder: Arc<Recorder>,
    sids: Arc<[Sid]>,
    except: Option<Sid>,
    /// The room's namespace.
    ns: String,
}

/// The recorded sockets in `room` of namespace `ns`, as the recorder lists them: one lookup,
/// where asking socketioxide resolves every socket in the room (a seat rush pushes each grant
/// to every watcher of the area: tens of thousands of sockets resolved to read their ids, half
/// the request path's cost of recording the rush).
pub(crate) fn audience(recorder: Option<&Arc<Recorder>>, ns: &str, room: &str) -> Option<Audience> {
    if TAPPED.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let recorder = recorder?;
    let sids = recorder.rooms.listeners(ns, room)?;
    Some(Audience {
        recorder: recorder.clone(),
        sids,
        except: None,
        ns: ns.to_owned(),
    })
}

impl Audience {
    /// Leaves out socket `sid` (a broadcast from a socket does not reach it).
    pub(crate) fn except_socket(mut self, sid: Sid) -> Self {
        self.except = Some(sid);
        self
    }

    /// Leaves out the sockets in `room` (of the same namespace); `None` if nobody is left.
    pub(crate) fn except_room(self, ns: &str, room: &str) -> Option<Self> {
        let Some(out) = self.recorder.rooms.listeners(ns, room) else {
            return Some(self);
        };
        let sids: Arc<[Sid]> = self
            .sids
            .iter()
            .filter(|sid| !out.contains(sid))
            .copied()
            .collect();
        (!sids.is_empty()).then_some(Self { sids, ..self })
    }

    /// The push of `event` with `args` (none, or one body) went out to the room: recorded
    /// as one item for all its recorded sockets.
    pub(crate) fn pushed(&self, event: &str, args: &[&Value]) {
        let text = event_packet(&self.ns, event, args);
        self.recorder.record(Item::Push {
            sids: self.sids.clone(),
            except: self.except,
            text: Arc::from(text),
            at: now_epoch(),
        });
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
            tap.frame(Direction::Receive, ack_packet(&tap.0.ns, *id, body));
        }
        self.sender.send(body)
    }
}

#[cfg(test)]
mod tests {
    use super::{ack_packet, event_packet};
    use serde_json::{Value, json};

    #[test]
    fn an_event_packet_is_the_event_and_its_bodies_as_one_json_array() {
        let body =
            json!({"areaId": 3, "seats": [{"id": 1, "status": "taken"}], "note": "a \"quote\""});
        let text = event_packet("/event-1", "seats", &[&body]);
        let (prefix, array) = text.split_at("2/event-1,".len());
        assert_eq!(prefix, "2/event-1,");
        assert_eq!(
            serde_json::from_str::<Value>(array).expect("JSON"),
            json!(["seats", body])
        );
        assert_eq!(event_packet("/", "ready to go", &[]), "2[\"ready to go\"]");
    }

    #[test]
    fn an_ack_packet_is_the_id_and_the_body_in_a_json_array() {
        let body = json!({"ok": true, "position": 3});
        assert_eq!(
            ack_packet("/queue", 12, &body),
            format!("3/queue,12{}", json!([body]))
        );
    }
}
