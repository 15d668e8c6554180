//! A minimal Socket.IO v5 / Engine.IO v4 client over WebSocket only, light enough for thousands
//! of connections in one process.
//!
//! It speaks what the original frontend speaks on the default namespace: the Engine.IO open
//! packet (`0{…}`), heartbeats (`2` answered with `3`), connect with auth
//! (`40{"token":"Bearer …"}` → `40{…}` or the connect error `44{…}`), events (`42[…]`) and
//! disconnect (`41`). No polling, no binary packets.
//!
//! For the app protocol (`protocol-v2.md`) it also connects other namespaces on the same
//! WebSocket (`40/queue,{…}`, as socket.io-client's Manager multiplexes them) and sends events
//! with an ack id (`42/queue,7["join",{…}]`), reading up to the matching ack (`43/queue,7[{…}]`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

/// Why a connection failed or ended.
#[derive(Debug)]
pub enum SioError {
    /// TCP or WebSocket failure.
    Transport(String),
    /// The server refused the namespace connection (`44`), with its message.
    Refused(String),
    /// The server disconnected us (`41`, Engine.IO close, or the stream ended).
    Closed,
    /// Something that is not Socket.IO arrived.
    Protocol(String),
    /// No answer in time.
    Timeout,
}

impl std::fmt::Display for SioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SioError::Transport(e) => write!(f, "transport: {e}"),
            SioError::Refused(m) => write!(f, "connect refused: {m}"),
            SioError::Closed => write!(f, "closed by the server"),
            SioError::Protocol(m) => write!(f, "protocol: {m}"),
            SioError::Timeout => write!(f, "timed out"),
        }
    }
}

impl std::error::Error for SioError {}

fn transport(e: impl std::fmt::Display) -> SioError {
    SioError::Transport(e.to_string())
}

/// An event received from the server: its name and arguments.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event name (`check limit`, `minus waiting people`, …).
    pub name: String,
    /// The arguments (usually zero or one).
    pub args: Vec<Value>,
}

impl Event {
    /// The first argument, `null` when there is none.
    pub fn arg(&self) -> &Value {
        self.args.first().unwrap_or(&Value::Null)
    }
}

/// Small buffers: every connection allocates its read buffer eagerly, and messages here are
/// tiny. Writes go out at once (no write batching) so latencies are not hidden in a buffer.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(Some(1024 * 1024))
        .max_frame_size(Some(1024 * 1024))
}

/// One Socket.IO connection (one WebSocket) on the default namespace or on the app protocol's
/// namespaces.
pub struct SioClient {
    ws: WebSocketStream<TcpStream>,
    /// The last ack id used by [`Self::request`].
    next_ack: u64,
    /// The namespaces connected, each told goodbye on [`Self::close`].
    namespaces: Vec<String>,
}

impl SioClient {
    /// Opens the WebSocket, reads the open packet and connects the namespace `ns` (`/`, the
    /// default one, for the original frontend's protocol) with
    /// `auth: {token: "Bearer <token>"}`, as the original frontend does.
    pub async fn connect_to(
        addr: SocketAddr,
        ns: &str,
        token: &str,
        limit: Duration,
    ) -> Result<Self, SioError> {
        let auth = json!({"token": format!("Bearer {token}")});
        Self::connect_with(addr, ns, auth, limit).await
    }

    /// [`Self::connect_to`] with a whole CONNECT `auth` payload (the app protocol's resume
    /// reconnect sends `{token, resume}`).
    pub async fn connect_with(
        addr: SocketAddr,
        ns: &str,
        auth: Value,
        limit: Duration,
    ) -> Result<Self, SioError> {
        tokio::time::timeout(limit, Self::connect_inner(addr, ns, auth))
            .await
            .map_err(|_| SioError::Timeout)?
    }

    async fn connect_inner(addr: SocketAddr, ns: &str, auth: Value) -> Result<Self, SioError> {
        let stream = TcpStream::connect(addr).await.map_err(transport)?;
        stream.set_nodelay(true).map_err(transport)?;
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = client_async_with_config(url, stream, Some(ws_config()))
            .await
            .map_err(transport)?;
        let mut client = Self {
            ws,
            next_ack: 0,
            namespaces: Vec::new(),
        };
        let open = client.next_text().await?;
        if !open.starts_with('0') {
            return Err(SioError::Protocol(format!(
                "expected an open packet, got {open:?}"
            )));
        }
        client.join_namespace_with(ns, &auth).await?;
        Ok(client)
    }

    /// Connects the namespace `ns` on this WebSocket with the token as auth; waits for its
    /// CONNECT (events of other namespaces arriving meanwhile are skipped).
    pub async fn join_namespace(&mut self, ns: &str, token: &str) -> Result<(), SioError> {
        let auth = json!({"token": format!("Bearer {token}")});
        self.join_namespace_with(ns, &auth).await
    }

    /// [`Self::join_namespace`] with a whole CONNECT `auth` payload.
    pub async fn join_namespace_with(&mut self, ns: &str, auth: &Value) -> Result<(), SioError> {
        self.send_text(format!("40{}{auth}", ns_prefix(ns))).await?;
        loop {
            let text = self.next_text().await?;
            match text.as_bytes() {
                [b'2'] => self.send_text("3".into()).await?,
                [b'4', kind @ (b'0' | b'4'), ..] => {
                    let (packet_ns, _, data) = split_packet(&text[2..]);
                    if packet_ns != ns {
                        continue;
                    }
                    if *kind == b'0' {
                        self.namespaces.push(ns.to_string());
                        return Ok(());
                    }
                    let body: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                    let message = match body["code"].as_str() {
                        Some(code) => format!("{code}: {}", body["message"].as_str().unwrap_or("")),
                        None => body["message"].as_str().unwrap_or_default().to_string(),
                    };
                    return Err(SioError::Refused(message));
                }
                [b'4', b'2' | b'3', ..] | [b'3', ..] | [b'6'] => continue,
                _ => return Err(SioError::Protocol(format!("before connect: {text:?}"))),
            }
        }
    }

    /// Emits `event` on `ns` with an ack id and waits for the ack (its first argument),
    /// answering heartbeats; every event `noted` that arrives on the way (on any namespace) is
    /// handed to `on_noted` with its arrival time. Run it under a timeout.
    pub async fn request(
        &mut self,
        ns: &str,
        event: &str,
        payload: &Value,
        noted: &str,
        on_noted: &mut (dyn FnMut(Instant, &str) + Send),
    ) -> Result<Value, SioError> {
        self.next_ack += 1;
        let id = self.next_ack;
        let packet = json!([event, payload]);
        self.send_text(format!("42{}{id}{packet}", ns_prefix(ns)))
            .await?;
        loop {
            let text = self.next_text().await?;
            match text.as_bytes() {
                [b'2'] => self.send_text("3".into()).await?,
                [b'4', b'3', ..] => {
                    let (packet_ns, ack, data) = split_packet(&text[2..]);
                    if packet_ns == ns && ack == Some(id) {
                        let mut args: Vec<Value> = serde_json::from_str(data)
                            .map_err(|e| SioError::Protocol(format!("ack {data:?}: {e}")))?;
                        return Ok(if args.is_empty() {
                            Value::Null
                        } else {
                            args.swap_remove(0)
                        });
                    }
                }
                [b'4', b'2', ..] => {
                    let (_, _, data) = split_packet(&text[2..]);
                    if is_event_named(data, noted) {
                        on_noted(Instant::now(), data);
                    }
                }
                [b'4', b'1', ..] => {
                    if split_packet(&text[2..]).0 == ns {
                        return Err(SioError::Closed);
                    }
                }
                [b'1', ..] => return Err(SioError::Closed),
                [b'3', ..] | [b'6'] | [b'4', b'0' | b'4', ..] => {}
                _ => return Err(SioError::Protocol(format!("unexpected packet {text:?}"))),
            }
        }
    }

    /// Reads until the connection fails (run it under a timeout), handing every event `noted`
    /// (on any namespace) to `on_noted` with its arrival time; returns why it stopped.
    pub async fn note_app_events(
        &mut self,
        noted: &str,
        on_noted: &mut (dyn FnMut(Instant, &str) + Send),
    ) -> SioError {
        loop {
            let text = match self.next_text().await {
                Ok(t) => t,
                Err(e) => return e,
            };
            match text.as_bytes() {
                [b'2'] => {
                    if let Err(e) = self.send_text("3".into()).await {
                        return e;
                    }
                }
                [b'4', b'2', ..] => {
                    let (_, _, data) = split_packet(&text[2..]);
                    if is_event_named(data, noted) {
                        on_noted(Instant::now(), data);
                    }
                }
                [b'1', ..] => return SioError::Closed,
                _ => {}
            }
        }
    }

    /// Emits `42["event", payload]`.
    pub async fn emit(&mut self, event: &str, payload: &Value) -> Result<(), SioError> {
        let packet = json!([event, payload]);
        self.send_text(format!("42{packet}")).await
    }

    /// The next event, answering heartbeats on the way. Cancel-safe between frames, so it can
    /// sit in a `select!` with a phase signal.
    pub async fn next_event(&mut self) -> Result<Event, SioError> {
        loop {
            let text = self.next_text().await?;
            if let Some(event) = self.handle(&text).await? {
                return Ok(event);
            }
        }
    }

    /// The next event called `name`, answering heartbeats and skipping other events without
    /// parsing their JSON: a client watching a busy seat room reads dozens of broadcasts before
    /// its own reply, and the generator's CPU is shared with the server under test.
    pub async fn next_event_named(&mut self, name: &str) -> Result<Event, SioError> {
        self.read(Some(name), &mut None).await
    }

    /// [`Self::next_event_named`], noting in `seen` when each `noted` event skipped on the way
    /// arrived.
    pub async fn next_event_named_noting(
        &mut self,
        name: &str,
        noted: &str,
        seen: &mut Vec<Instant>,
    ) -> Result<Event, SioError> {
        self.read(Some(name), &mut Some((noted, seen))).await
    }

    /// Reads until the connection fails (run it under a timeout), noting in `seen` when each
    /// `noted` event arrived; returns why it stopped.
    pub async fn note_events(&mut self, noted: &str, seen: &mut Vec<Instant>) -> SioError {
        loop {
            if let Err(e) = self.read(None, &mut Some((noted, &mut *seen))).await {
                return e;
            }
        }
    }

    /// Reads up to the event called `wanted` (none: every event is skipped), answering heartbeats
    /// and noting the arrivals of the `noted` event without parsing any JSON it skips.
    async fn read(
        &mut self,
        wanted: Option<&str>,
        noted: &mut Option<(&str, &mut Vec<Instant>)>,
    ) -> Result<Event, SioError> {
        loop {
            let text = self.next_text().await?;
            if let Some(body) = text.strip_prefix("42") {
                let body = split_packet(body).2;
                if let Some((name, seen)) = noted.as_mut()
                    && is_event_named(body, name)
                {
                    seen.push(Instant::now());
                }
                if !wanted.is_some_and(|w| is_event_named(body, w)) {
                    continue;
                }
            }
            if let Some(event) = self.handle(&text).await? {
                return Ok(event);
            }
        }
    }

    /// Handles one Engine.IO packet: `Some` for an event, `None` for a heartbeat or noise.
    async fn handle(&mut self, text: &str) -> Result<Option<Event>, SioError> {
        match text.as_bytes() {
            [b'2'] => self.send_text("3".into()).await.map(|_| None),
            [b'4', b'2', ..] => parse_event(split_packet(&text[2..]).2).map(Some),
            [b'4', b'1', ..] | [b'1', ..] => Err(SioError::Closed),
            // Acks nobody waits for (an app client idling between requests).
            [b'6'] | [b'3', ..] | [b'4', b'3', ..] => Ok(None),
            _ => Err(SioError::Protocol(format!("unexpected packet {text:?}"))),
        }
    }

    /// Leaves like `socket.disconnect()`: a Socket.IO disconnect packet for each namespace (a
    /// goodbye: the app protocol then frees the place at once), then the WebSocket close frame.
    /// Does not wait for the server's answer.
    pub async fn close(mut self) {
        for ns in std::mem::take(&mut self.namespaces) {
            let _ = self.send_text(format!("41{}", ns_prefix(&ns))).await;
        }
        let _ = self.ws.close(None).await;
    }

    async fn send_text(&mut self, text: String) -> Result<(), SioError> {
        self.ws.send(Message::text(text)).await.map_err(transport)
    }

    async fn next_text(&mut self) -> Result<String, SioError> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
                Some(Ok(Message::Close(_))) | None => return Err(SioError::Closed),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(transport(e)),
            }
        }
    }
}

/// The `nsp,` prefix of a packet to the namespace `ns` (none for the default namespace).
fn ns_prefix(ns: &str) -> String {
    match ns {
        "/" | "" => String::new(),
        ns => format!("{ns},"),
    }
}

/// Splits the part of a Socket.IO packet after its type into its namespace (`/` when none is
/// given), its ack id and its JSON data.
fn split_packet(body: &str) -> (&str, Option<u64>, &str) {
    let (ns, rest) = match body.strip_prefix('/') {
        Some(_) => match body.find(',') {
            Some(comma) => (&body[..comma], &body[comma + 1..]),
            None => (body, ""),
        },
        None => ("/", body),
    };
    let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (ns, rest[..digits].parse().ok(), &rest[digits..])
}

/// Whether the part after `42` is an event called `name`, read from its first bytes only.
fn is_event_named(body: &str, name: &str) -> bool {
    body.trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("[\"")
        .and_then(|rest| rest.strip_prefix(name))
        .is_some_and(|rest| rest.starts_with('"'))
}

/// Parses the part after `42`: an optional ack id, then `["name", args…]`.
fn parse_event(body: &str) -> Result<Event, SioError> {
    let body = body.trim_start_matches(|c: char| c.is_ascii_digit());
    let mut items: Vec<Value> = serde_json::from_str(body)
        .map_err(|e| SioError::Protocol(format!("event {body:?}: {e}")))?;
    if items.is_empty() {
        return Err(SioError::Protocol("empty event".into()));
    }
    let name = match items.remove(0) {
        Value::String(s) => s,
        other => return Err(SioError::Protocol(format!("event name {other}"))),
    };
    Ok(Event { name, args: items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_with_and_without_arguments_are_parsed() {
        let e = parse_event(r#"["check limit",{"pass":true}]"#).expect("event");
        assert_eq!(e.name, "check limit");
        assert_eq!(e.arg()["pass"], true);
        let e = parse_event(r#"["ready to go"]"#).expect("event");
        assert_eq!(e.name, "ready to go");
        assert!(e.arg().is_null());
        let e = parse_event(r#"12["x",1,2]"#).expect("event with ack id");
        assert_eq!(e.args.len(), 2);
    }

    #[test]
    fn events_are_told_apart_by_name_without_parsing() {
        assert!(is_event_named(
            r#"["self select seat",{"row":1}]"#,
            "self select seat"
        ));
        assert!(is_event_named(r#"7["check limit"]"#, "check limit"));
        assert!(!is_event_named(
            r#"["other select seat",{}]"#,
            "self select seat"
        ));
        assert!(!is_event_named(r#"["check limits"]"#, "check limit"));
        assert!(!is_event_named("garbage", "check limit"));
    }

    #[test]
    fn packets_are_split_into_namespace_ack_id_and_data() {
        assert_eq!(split_packet(r#"["x"]"#), ("/", None, r#"["x"]"#));
        assert_eq!(split_packet(r#"12["x"]"#), ("/", Some(12), r#"["x"]"#));
        assert_eq!(
            split_packet(r#"/queue,7[{"ok":true}]"#),
            ("/queue", Some(7), r#"[{"ok":true}]"#)
        );
        assert_eq!(
            split_packet(r#"/event-3,["seats",{}]"#),
            ("/event-3", None, r#"["seats",{}]"#)
        );
        assert_eq!(split_packet("/queue,"), ("/queue", None, ""));
        assert_eq!(ns_prefix("/"), "");
        assert_eq!(ns_prefix("/queue"), "/queue,");
        let e = parse_event(split_packet(r#"/queue,["position",{"ahead":3}]"#).2).expect("event");
        assert_eq!(e.name, "position");
        assert_eq!(e.arg()["ahead"], 3);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        assert!(parse_event("[]").is_err());
        assert!(parse_event("{").is_err());
        assert!(parse_event("[1]").is_err());
    }
}
