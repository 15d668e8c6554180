//! A minimal Socket.IO v5 / Engine.IO v4 client over WebSocket only, light enough for thousands
//! of connections in one process.
//!
//! It speaks what the original frontend speaks on the default namespace: the Engine.IO open
//! packet (`0{…}`), heartbeats (`2` answered with `3`), connect with auth
//! (`40{"token":"Bearer …"}` → `40{…}` or the connect error `44{…}`), events (`42[…]`) and
//! disconnect (`41`). No polling, no binary packets, no acknowledgements (the protocol uses none).

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

/// One Socket.IO connection on the default namespace.
pub struct SioClient {
    ws: WebSocketStream<TcpStream>,
}

impl SioClient {
    /// Opens the WebSocket, reads the open packet and connects the default namespace with
    /// `auth: {token: "Bearer <token>"}`, as the original frontend does.
    pub async fn connect(addr: SocketAddr, token: &str, limit: Duration) -> Result<Self, SioError> {
        tokio::time::timeout(limit, Self::connect_inner(addr, token))
            .await
            .map_err(|_| SioError::Timeout)?
    }

    async fn connect_inner(addr: SocketAddr, token: &str) -> Result<Self, SioError> {
        let stream = TcpStream::connect(addr).await.map_err(transport)?;
        stream.set_nodelay(true).map_err(transport)?;
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = client_async_with_config(url, stream, Some(ws_config()))
            .await
            .map_err(transport)?;
        let mut client = Self { ws };
        let open = client.next_text().await?;
        if !open.starts_with('0') {
            return Err(SioError::Protocol(format!(
                "expected an open packet, got {open:?}"
            )));
        }
        let auth = json!({"token": format!("Bearer {token}")});
        client.send_text(format!("40{auth}")).await?;
        loop {
            let text = client.next_text().await?;
            match text.as_bytes() {
                [b'2', ..] if text.len() == 1 => client.send_text("3".into()).await?,
                [b'4', b'0', ..] => return Ok(client),
                [b'4', b'4', ..] => {
                    let body: Value = serde_json::from_str(&text[2..]).unwrap_or(Value::Null);
                    let message = body["message"].as_str().unwrap_or_default().to_string();
                    return Err(SioError::Refused(message));
                }
                _ => return Err(SioError::Protocol(format!("before connect: {text:?}"))),
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
            [b'4', b'2', ..] => parse_event(&text[2..]).map(Some),
            [b'4', b'1', ..] | [b'1', ..] => Err(SioError::Closed),
            [b'6'] | [b'3', ..] => Ok(None),
            _ => Err(SioError::Protocol(format!("unexpected packet {text:?}"))),
        }
    }

    /// Leaves like `socket.disconnect()`: a Socket.IO disconnect packet, then the WebSocket
    /// close frame. Does not wait for the server's answer.
    pub async fn close(mut self) {
        let _ = self.send_text("41".into()).await;
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
    fn garbage_is_a_protocol_error() {
        assert!(parse_event("[]").is_err());
        assert!(parse_event("{").is_err());
        assert!(parse_event("[1]").is_err());
    }
}
