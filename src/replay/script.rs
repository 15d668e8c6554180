//! A HAR file read into a replay script: one timeline of HTTP calls and Socket.IO packets of
//! the recorded visit, with the connections they travel on. docs/har.md describes the subset
//! read; every file this module refuses gets one line saying why ([`ReadError`]).

use std::collections::HashMap;
use std::path::Path;

use crate::har::{self, Direction, Entry, Har};

use super::frame::{self, EnginePacket, SocketPacket};

/// One recorded visit, ready to be played.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    /// The file it came from.
    pub name: String,
    /// Every step, in recorded order.
    pub steps: Vec<Step>,
    /// How many Engine.IO connections the steps use.
    pub connections: usize,
    /// Entries not replayed (other origins: the page's assets, fonts, videos).
    pub skipped: usize,
    /// The recorded server's origin (`host:port`); its URLs in answers read as the target's.
    pub server: String,
}

/// One step of a script.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    /// When it happened, in seconds since the Unix epoch.
    pub at: f64,
    /// Where in the file it comes from (`entry 4, frame 7`), for reports.
    pub origin: String,
    /// What to do.
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// An HTTP call to the server and the answer it got.
    Http(HttpCall),
    /// Open Engine.IO connection `conn`; `auth` is the handshake's `Authorization` header.
    Open { conn: usize, auth: Option<String> },
    /// Send a Socket.IO packet.
    Send { conn: usize, packet: SocketPacket },
    /// Wait for the server's packet and compare it.
    Expect { conn: usize, packet: SocketPacket },
    /// Close the connection.
    Close { conn: usize },
}

/// A recorded HTTP call.
#[derive(Clone, Debug)]
pub(crate) struct HttpCall {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, replayed against the target.
    pub path: String,
    /// The `Authorization` header, if the call carried one.
    pub auth: Option<String>,
    /// The request's content type.
    pub content_type: Option<String>,
    /// The request body.
    pub body: Option<String>,
    /// The recorded status.
    pub status: u16,
    /// The recorded response body, when the file has it.
    pub response: Option<String>,
}

/// Why a file cannot be replayed; its `Display` is the one error line shown.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct ReadError {
    /// The file.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// Reads and checks a HAR file.
pub(crate) fn read(path: &Path) -> Result<Script, ReadError> {
    let name = path.display().to_string();
    let fail = |reason: String| ReadError {
        file: name.clone(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot be read: {e}")))?;
    let har = parse(&bytes).map_err(fail)?;
    build(&name, &har).map_err(fail)
}

/// Parses HAR JSON, naming what is wrong with it.
pub(crate) fn parse(bytes: &[u8]) -> Result<Har, String> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof => format!(
                "truncated JSON: the file ends in the middle of a value (line {}, column {})",
                e.line(),
                e.column()
            ),
            Category::Syntax if e.line() == 1 && e.column() <= 1 => {
                "not a HAR file: not JSON at all".to_string()
            }
            Category::Syntax | Category::Io => format!("not valid JSON: {e}"),
            Category::Data => format!("not a HAR 1.2 file: {e}"),
        }
    })
}

/// Seconds since the epoch of an ISO 8601 time.
fn epoch(iso: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(iso).ok()?;
    Some(t.timestamp_micros() as f64 / 1e6)
}

/// `(origin, path and query)` of an absolute URL.
pub(crate) fn split_url(url: &str) -> Option<(&str, &str)> {
    let scheme_end = url.find("://")? + 3;
    let path_start = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let path = if path_start == url.len() {
        "/"
    } else {
        &url[path_start..]
    };
    Some((&url[scheme_end..path_start], path))
}

/// A query parameter's value.
fn query_param<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn is_socket_path(path: &str) -> bool {
    path.split('?')
        .next()
        .is_some_and(|p| p.contains("/socket.io/"))
}

/// Turns a parsed HAR into a script.
fn build(name: &str, har: &Har) -> Result<Script, String> {
    let mut builder = Builder::default();
    let mut entries: Vec<(usize, &Entry, f64)> = Vec::new();
    for (i, entry) in har.log.entries.iter().enumerate() {
        let at = epoch(&entry.started_date_time).ok_or_else(|| {
            format!(
                "entry {i}: startedDateTime {:?} is not an ISO 8601 time",
                entry.started_date_time
            )
        })?;
        entries.push((i, entry, at));
    }
    entries.sort_by(|a, b| a.2.total_cmp(&b.2));
    // The server is the origin of the Socket.IO traffic; other origins (the page's assets,
    // fonts, videos) are not replayed.
    let server = entries
        .iter()
        .filter_map(|(_, e, _)| split_url(&e.request.url))
        .find(|(_, path)| is_socket_path(path))
        .map(|(origin, _)| origin.to_string());
    let Some(server) = server else {
        return Err(
            "no Socket.IO traffic: no websocket frames (`_webSocketMessages`) and no Engine.IO \
             polling requests; export with DevTools' \"Save all as HAR with content\""
                .into(),
        );
    };
    for (i, entry, at) in entries {
        let (origin, path) = split_url(&entry.request.url)
            .ok_or_else(|| format!("entry {i}: {:?} is not an absolute URL", entry.request.url))?;
        // `startedDateTime` has millisecond precision; the call really started within that
        // millisecond, after any frame stamped inside it (frames carry microseconds).
        let at = at + 0.000_999;
        if origin != server || entry.response.status == 0 {
            builder.skipped += 1;
        } else if is_socket_path(path) {
            builder.socket_entry(i, entry, at, path)?;
        } else {
            builder.http_entry(i, entry, at, path);
        }
    }
    builder.finish(name, server)
}

#[derive(Default)]
struct Builder {
    steps: Vec<Step>,
    /// Engine.IO session id → connection number.
    sids: HashMap<String, usize>,
    /// Per connection: when its last recorded traffic ended, and whether a websocket closes it.
    ends: Vec<(f64, bool)>,
    skipped: usize,
    frames: usize,
}

impl Builder {
    fn push(&mut self, at: f64, origin: String, action: Action) {
        self.steps.push(Step { at, origin, action });
    }

    fn http_entry(&mut self, i: usize, entry: &Entry, at: f64, path: &str) {
        let request = &entry.request;
        let call = HttpCall {
            method: request.method.clone(),
            path: path.to_string(),
            auth: har::header(&request.headers, "authorization").map(str::to_string),
            content_type: request
                .post_data
                .as_ref()
                .map(|p| p.mime_type.clone())
                .filter(|m| !m.is_empty())
                .or_else(|| har::header(&request.headers, "content-type").map(str::to_string)),
            body: request.post_data.as_ref().map(|p| p.text.clone()),
            status: entry.response.status,
            response: entry
                .response
                .content
                .text
                .clone()
                .filter(|_| entry.response.content.encoding.is_none()),
        };
        self.push(at, format!("entry {i}"), Action::Http(call));
    }

    fn new_conn(&mut self, at: f64, origin: String, auth: Option<String>) -> usize {
        let conn = self.ends.len();
        self.ends.push((at, false));
        self.push(at, origin, Action::Open { conn, auth });
        conn
    }

    fn socket_entry(&mut self, i: usize, entry: &Entry, at: f64, path: &str) -> Result<(), String> {
        if let Some(version) = query_param(path, "EIO").filter(|v| *v != "4") {
            return Err(format!(
                "entry {i}: Engine.IO version {version} (an older Socket.IO client); only v4 \
                 (Socket.IO v5) is replayed"
            ));
        }
        let auth = har::header(&entry.request.headers, "authorization").map(str::to_string);
        let sid = query_param(path, "sid").map(str::to_string);
        let known = sid.as_ref().and_then(|s| self.sids.get(s).copied());
        if query_param(path, "transport") == Some("websocket") {
            let conn = match known {
                Some(conn) => conn,
                None => self.new_conn(at, format!("entry {i}"), auth),
            };
            return self.websocket(i, entry, at, conn);
        }
        self.polling(i, entry, at, known, auth)
    }

    fn websocket(&mut self, i: usize, entry: &Entry, at: f64, conn: usize) -> Result<(), String> {
        let mut last = at;
        for (j, message) in entry.web_socket_messages.iter().enumerate() {
            let origin = format!("entry {i}, frame {j}");
            if message.opcode != 1 {
                return Err(format!(
                    "{origin}: a binary websocket frame (opcode {}); the Socket.IO JSON \
                     protocols send text frames only",
                    message.opcode
                ));
            }
            let packet =
                frame::engine_packet(&message.data).map_err(|e| format!("{origin}: {e}"))?;
            // Never before the connection opened (the two clocks of a file may disagree).
            let when = message.time.max(at);
            last = last.max(when);
            self.packet(when, origin, conn, message.direction, packet);
        }
        let end = if entry.time > 0.0 {
            at + entry.time / 1000.0
        } else {
            last
        };
        self.ends[conn] = (end.max(last), true);
        Ok(())
    }

    fn polling(
        &mut self,
        i: usize,
        entry: &Entry,
        at: f64,
        known: Option<usize>,
        auth: Option<String>,
    ) -> Result<(), String> {
        let origin = format!("entry {i}");
        let response = || {
            entry.response.content.text.as_deref().ok_or_else(|| {
                format!(
                    "{origin}: a Socket.IO polling response without its body; export the HAR \
                     \"with content\""
                )
            })
        };
        let done = at + entry.time.max(0.0) / 1000.0;
        let conn = match known {
            Some(conn) => conn,
            None => {
                // The handshake: its answer names the session later requests carry.
                let body = response()?;
                let first = frame::polling_packets(body).next().unwrap_or_default();
                let Ok(EnginePacket::Open(open)) = frame::engine_packet(first) else {
                    return Err(format!(
                        "{origin}: a Socket.IO polling request without a session (`sid`) whose \
                         answer is not an Engine.IO handshake: {}",
                        frame::excerpt(first)
                    ));
                };
                let conn = self.new_conn(at, origin.clone(), auth);
                if let Some(sid) = open.get("sid").and_then(|s| s.as_str()) {
                    self.sids.insert(sid.to_string(), conn);
                }
                conn
            }
        };
        let (direction, body, when) = if entry.request.method.eq_ignore_ascii_case("POST") {
            let body = entry.request.post_data.as_ref().map(|p| p.text.as_str());
            (Direction::Send, body.unwrap_or_default(), at)
        } else {
            (Direction::Receive, response()?, done)
        };
        for (j, text) in frame::polling_packets(body).enumerate() {
            let origin = format!("{origin}, packet {j}");
            let packet = frame::engine_packet(text).map_err(|e| format!("{origin}: {e}"))?;
            self.packet(when, origin, conn, direction, packet);
        }
        if !self.ends[conn].1 {
            self.ends[conn].0 = self.ends[conn].0.max(done);
        }
        Ok(())
    }

    fn packet(
        &mut self,
        at: f64,
        origin: String,
        conn: usize,
        direction: Direction,
        packet: EnginePacket,
    ) {
        let EnginePacket::Message(packet) = packet else {
            // Handshakes, heartbeats and upgrades belong to the replay's own transport.
            return;
        };
        self.frames += 1;
        let action = match direction {
            Direction::Send => Action::Send { conn, packet },
            Direction::Receive => Action::Expect { conn, packet },
        };
        self.push(at, origin, action);
    }

    fn finish(mut self, name: &str, server: String) -> Result<Script, String> {
        if self.frames == 0 {
            return Err(
                "no Socket.IO packets: the recorded connections carry no frames \
                        (was the HAR saved before the socket talked, or without content?)"
                    .into(),
            );
        }
        for (conn, (end, _)) in self.ends.iter().enumerate() {
            let step = Step {
                at: *end,
                origin: format!("connection {conn} closes"),
                action: Action::Close { conn },
            };
            self.steps.push(step);
        }
        // Stable: frames of one entry keep their order when their times tie.
        self.steps.sort_by(|a, b| a.at.total_cmp(&b.at));
        Ok(Script {
            name: name.to_string(),
            connections: self.ends.len(),
            steps: self.steps,
            skipped: self.skipped,
            server,
        })
    }
}

#[cfg(test)]
mod tests;
