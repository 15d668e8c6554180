//! HAR 1.2 (HTTP Archive) with Chrome DevTools' websocket extension, `_webSocketMessages`: the
//! one file format the server's recorder writes and `ticketclub replay` reads (docs/har.md
//! lists the subset that matters).
//!
//! Pure data, no I/O: shared by the recorder (`record/`) and the replay client (`replay/`).
//! Written here rather than taken from the `har` crate (0.9): its types have no place for
//! `_webSocketMessages` (unknown fields are dropped), which is the half of a recording that
//! matters most to a Socket.IO service. Reading is lenient (every field a browser may leave
//! out has a default); writing emits every field HAR 1.2 requires.

use serde::{Deserialize, Serialize};

/// A whole HAR document: `{"log": …}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Har {
    /// The archive.
    pub log: Log,
}

/// The archive: who wrote it and its entries.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Log {
    /// The format version, `1.2`.
    #[serde(default = "version")]
    pub version: String,
    /// The tool that wrote the file.
    #[serde(default)]
    pub creator: Creator,
    /// Every request, in the order the writer saw them.
    pub entries: Vec<Entry>,
}

fn version() -> String {
    "1.2".into()
}

/// The application that wrote a HAR file.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Creator {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
}

/// One HTTP exchange; a websocket is the exchange that opened it, with its frames.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// When the request started, ISO 8601 (`2026-12-06T23:40:00.123Z`).
    pub started_date_time: String,
    /// Milliseconds from the start to the end of the exchange (of the connection, for a
    /// websocket), `-1`-free.
    #[serde(default)]
    pub time: f64,
    /// The request.
    pub request: Request,
    /// The response.
    pub response: Response,
    /// HAR 1.2 requires it; nothing here reads it.
    #[serde(default)]
    pub cache: serde_json::Map<String, serde_json::Value>,
    /// HAR 1.2 requires it; only `time` above is read.
    #[serde(default)]
    pub timings: Timings,
    /// Chrome's websocket frames, in the order they crossed the wire.
    #[serde(
        rename = "_webSocketMessages",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub web_socket_messages: Vec<WebSocketMessage>,
}

/// The request half of an exchange.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The absolute URL, query string included.
    pub url: String,
    /// `HTTP/1.1`, …
    #[serde(default)]
    pub http_version: String,
    /// Request headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// The parsed query string (written for HAR 1.2; the URL is what is read).
    #[serde(default)]
    pub query_string: Vec<Header>,
    /// Cookies (the recorder writes none).
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    /// `-1` when unknown.
    #[serde(default = "unknown")]
    pub headers_size: i64,
    /// `-1` when unknown.
    #[serde(default = "unknown")]
    pub body_size: i64,
    /// The body, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
}

fn unknown() -> i64 {
    -1
}

/// The response half of an exchange.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The status code (101 for a websocket; 0 when the browser got none).
    #[serde(default)]
    pub status: u16,
    /// The reason phrase.
    #[serde(default)]
    pub status_text: String,
    /// `HTTP/1.1`, …
    #[serde(default)]
    pub http_version: String,
    /// Response headers.
    #[serde(default)]
    pub headers: Vec<Header>,
    /// Cookies (the recorder writes none).
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    /// The body.
    #[serde(default)]
    pub content: Content,
    /// The `Location` of a redirect, or empty.
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    /// `-1` when unknown.
    #[serde(default = "unknown")]
    pub headers_size: i64,
    /// `-1` when unknown.
    #[serde(default = "unknown")]
    pub body_size: i64,
}

/// A header (or a query-string pair).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Header {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A request body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PostData {
    /// Its content type.
    #[serde(default)]
    pub mime_type: String,
    /// The body as text.
    #[serde(default)]
    pub text: String,
}

/// A response body.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Its length in bytes.
    #[serde(default)]
    pub size: i64,
    /// Its content type.
    #[serde(default)]
    pub mime_type: String,
    /// The body as text; absent when the file was saved without content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `base64` when `text` is encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Phase timings in milliseconds (HAR 1.2 requires send, wait and receive).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct Timings {
    /// Sending the request.
    #[serde(default)]
    pub send: f64,
    /// Waiting for the first byte.
    #[serde(default)]
    pub wait: f64,
    /// Reading the response.
    #[serde(default)]
    pub receive: f64,
}

/// One websocket frame, as Chrome DevTools exports it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct WebSocketMessage {
    /// Who sent it.
    #[serde(rename = "type")]
    pub direction: Direction,
    /// When, in seconds since the Unix epoch (fractional).
    pub time: f64,
    /// The websocket opcode: 1 text, 2 binary.
    pub opcode: u8,
    /// The payload (text; base64 for a binary frame).
    pub data: String,
}

/// The direction of a websocket frame.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Client to server.
    Send,
    /// Server to client.
    Receive,
}

impl Header {
    /// A header named `name` with `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// The value of the first header named `name` (case-insensitive).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chrome_websocket_entry_keeps_its_frames_through_a_round_trip() {
        let text = r#"{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},
          "entries":[{"startedDateTime":"2026-12-06T10:00:00.000Z","time":1234.5,
            "request":{"method":"GET","url":"ws://h/socket.io/?EIO=4&transport=websocket","headers":[]},
            "response":{"status":101,"content":{"size":0,"mimeType":"x-unknown"}},
            "_resourceType":"websocket",
            "_webSocketMessages":[{"type":"receive","time":1765015200.5,"opcode":1,"data":"0{}"},
                                  {"type":"send","time":1765015200.6,"opcode":1,"data":"40"}]}]}}"#;
        let har: Har = serde_json::from_str(text).expect("reads");
        let entry = &har.log.entries[0];
        assert_eq!(entry.web_socket_messages.len(), 2);
        assert_eq!(entry.web_socket_messages[1].direction, Direction::Send);
        let again: Har =
            serde_json::from_str(&serde_json::to_string(&har).expect("writes")).expect("reads");
        assert_eq!(again, har);
    }
}
