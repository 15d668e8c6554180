//! Engine.IO v4 and Socket.IO v5 packets as text: what a recorded frame is, and the parts of
//! a Socket.IO packet the replay compares (type, namespace, ack id, event name, payload).
//!
//! Pure parsing; the replay sends the recorded packet text itself, never a re-encoding.

use serde_json::Value;

/// An Engine.IO packet of a recording.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EnginePacket {
    /// `0{…}`: the handshake.
    Open(Value),
    /// `1`: the transport closes.
    Close,
    /// `2` / `3` (with `probe` during an upgrade): heartbeats.
    Heartbeat,
    /// `5`: the upgrade to websocket is done.
    Upgrade,
    /// `6`: a no-op (polling).
    Noop,
    /// `4…`: a Socket.IO packet.
    Message(SocketPacket),
}

/// A Socket.IO packet: its text (as sent, without the Engine.IO `4`) and its parts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SocketPacket {
    /// The packet as it went over the wire, after the Engine.IO type.
    pub text: String,
    /// 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR.
    pub kind: u8,
    /// The namespace (`/` when the packet names none).
    pub namespace: String,
    /// The ack id, when the packet asks for or answers an ack.
    pub ack: Option<u64>,
    /// The JSON payload (`null` when there is none).
    pub data: Value,
}

impl SocketPacket {
    /// An EVENT's name (the first element of its array).
    pub(crate) fn event(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (2, Value::Array(items)) => items.first().and_then(Value::as_str),
            _ => None,
        }
    }

    /// What a received packet is matched on: type, namespace and event name or ack id.
    pub(crate) fn key(&self) -> String {
        match self.kind {
            2 => format!(
                "event {} {}",
                self.namespace,
                self.event().unwrap_or_default()
            ),
            3 => format!("ack {} {}", self.namespace, self.ack.unwrap_or_default()),
            kind => format!("{} {}", kind_name(kind), self.namespace),
        }
    }

    /// A short label for reports: `check limit`, `ack 3 /queue`, `connect /queue`.
    pub(crate) fn label(&self) -> String {
        match (self.kind, self.event()) {
            (2, Some(name)) if self.namespace == "/" => name.to_string(),
            (2, Some(name)) => format!("{} {name}", self.namespace),
            _ => self.key(),
        }
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        0 => "connect",
        1 => "disconnect",
        2 => "event",
        3 => "ack",
        4 => "connect_error",
        _ => "binary",
    }
}

/// Why a frame is not one the replay can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FrameError {
    /// Not an Engine.IO v4 packet (another websocket protocol).
    #[error("not an Engine.IO v4 / Socket.IO v5 packet: {0}")]
    UnknownProtocol(String),
    /// A Socket.IO binary packet (attachments).
    #[error("a Socket.IO binary packet (attachments are not supported): {0}")]
    Binary(String),
}

/// Reads one Engine.IO packet.
pub(crate) fn engine_packet(text: &str) -> Result<EnginePacket, FrameError> {
    let unknown = || FrameError::UnknownProtocol(excerpt(text));
    let mut chars = text.chars();
    let rest = &text[1.min(text.len())..];
    match chars.next() {
        Some('0') => serde_json::from_str(rest)
            .map(EnginePacket::Open)
            .map_err(|_| unknown()),
        Some('1') if rest.is_empty() => Ok(EnginePacket::Close),
        Some('2' | '3') if rest.is_empty() || rest == "probe" => Ok(EnginePacket::Heartbeat),
        Some('4') => socket_packet(rest).map(EnginePacket::Message),
        Some('5') if rest.is_empty() => Ok(EnginePacket::Upgrade),
        Some('6') if rest.is_empty() => Ok(EnginePacket::Noop),
        _ => Err(unknown()),
    }
}

/// Reads one Socket.IO packet (the text after the Engine.IO `4`).
pub(crate) fn socket_packet(text: &str) -> Result<SocketPacket, FrameError> {
    let unknown = || FrameError::UnknownProtocol(excerpt(&format!("4{text}")));
    let kind = match text.as_bytes().first() {
        Some(b @ b'0'..=b'4') => b - b'0',
        Some(b'5' | b'6') => return Err(FrameError::Binary(excerpt(&format!("4{text}")))),
        _ => return Err(unknown()),
    };
    let mut rest = &text[1..];
    let mut namespace = "/".to_string();
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = rest[..end].to_string();
        rest = rest.get(end + 1..).unwrap_or_default();
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = if digits > 0 {
        Some(rest[..digits].parse().map_err(|_| unknown())?)
    } else {
        None
    };
    rest = &rest[digits..];
    let data = if rest.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(rest).map_err(|_| unknown())?
    };
    let shape_ok = match kind {
        2 => matches!(&data, Value::Array(items) if items.first().is_some_and(Value::is_string)),
        3 => data.is_array() && ack.is_some(),
        _ => true,
    };
    if !shape_ok {
        return Err(unknown());
    }
    Ok(SocketPacket {
        text: text.to_string(),
        kind,
        namespace,
        ack,
        data,
    })
}

/// Splits a polling body into its packets (Engine.IO v4 separates them with 0x1e).
pub(crate) fn polling_packets(body: &str) -> impl Iterator<Item = &str> {
    body.split('\u{1e}').filter(|p| !p.is_empty())
}

/// The start of a long frame, for error lines.
pub(crate) fn excerpt(text: &str) -> String {
    const MOST: usize = 60;
    if text.chars().count() <= MOST {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(MOST).collect();
    format!("{cut:?}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(text: &str) -> SocketPacket {
        match engine_packet(text) {
            Ok(EnginePacket::Message(p)) => p,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn legacy_and_app_packets_are_read_with_their_namespace_and_ack() {
        let p = message(r#"42["check limit",1]"#);
        assert_eq!((p.kind, p.namespace.as_str(), p.ack), (2, "/", None));
        assert_eq!(p.event(), Some("check limit"));
        let p = message(r#"42/queue,1["join",{"sessionId":2}]"#);
        assert_eq!((p.namespace.as_str(), p.ack), ("/queue", Some(1)));
        assert_eq!(p.key(), "event /queue join");
        let p = message(r#"43/queue,1[{"ok":true}]"#);
        assert_eq!((p.kind, p.key().as_str()), (3, "ack /queue 1"));
        assert_eq!(p.data, json!([{"ok": true}]));
        let p = message(r#"40/event-2,{"token":"x"}"#);
        assert_eq!((p.kind, p.namespace.as_str()), (0, "/event-2"));
        assert_eq!(message("41").kind, 1);
    }

    #[test]
    fn engine_control_packets_are_told_apart() {
        assert_eq!(engine_packet("2"), Ok(EnginePacket::Heartbeat));
        assert_eq!(engine_packet("3probe"), Ok(EnginePacket::Heartbeat));
        assert_eq!(engine_packet("5"), Ok(EnginePacket::Upgrade));
        assert!(matches!(
            engine_packet(r#"0{"sid":"a"}"#),
            Ok(EnginePacket::Open(_))
        ));
    }

    #[test]
    fn other_protocols_and_binary_packets_are_refused_by_name() {
        for text in [
            r#"{"type":"hello"}"#,
            "hello",
            "",
            "7",
            r#"42"oops"#,
            "42[1]",
        ] {
            assert!(
                matches!(engine_packet(text), Err(FrameError::UnknownProtocol(_))),
                "{text:?}"
            );
        }
        assert!(matches!(
            engine_packet(r#"451-["up",{"_placeholder":true,"num":0}]"#),
            Err(FrameError::Binary(_))
        ));
    }

    #[test]
    fn a_polling_body_splits_on_the_record_separator() {
        let body = "40{\"sid\":\"x\"}\u{1e}42[\"check limit\",{}]";
        assert_eq!(polling_packets(body).count(), 2);
    }
}
