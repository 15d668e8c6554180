//! A browser stand-in for the replay tests: it does a visit over HTTP and a raw Engine.IO
//! websocket and keeps every exchange and frame as HAR entries, as DevTools' "Save all as HAR"
//! does; and a runner for the real `ticketclub replay` binary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use ticketclub::har::{
    Content, Direction, Entry, Har, Header, Log, PostData, Request, Response, WebSocketMessage,
};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::unique;

const SESSION: i64 = 2;
const AREA: i64 = 1;
const WAIT: Duration = Duration::from_secs(5);

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn epoch_now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// A browser stand-in that does a visit and keeps every exchange as a HAR entry.
pub struct Recorder {
    base: String,
    http: reqwest::Client,
    entries: Vec<Entry>,
}

/// An open websocket whose frames are being recorded.
pub struct RecordedSocket {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    entry: Entry,
    opened: Instant,
}

impl Recorder {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::new(),
            entries: Vec::new(),
        }
    }

    /// An HTTP call with a JSON body and a token; returns the JSON answer.
    /// Signs up a fresh account named `name` (its email made unique from `label`), recorded;
    /// its token.
    pub async fn sign_up(&mut self, name: &str, label: &str) -> String {
        let email = format!("{}@test.com", unique(label));
        let signed = self
            .call(
                "POST",
                "/user/signup",
                Some(json!({"name": name, "email": email, "password": "secret1"})),
                None,
            )
            .await;
        signed["data"]["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Value {
        let url = format!("{}{path}", self.base);
        let started = (now_iso(), Instant::now());
        let mut request = self.http.request(method.parse().expect("method"), &url);
        let mut headers = Vec::new();
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
            headers.push(Header::new("Authorization", format!("Bearer {token}")));
        }
        let post_data = body.as_ref().map(|b| PostData {
            mime_type: "application/json".into(),
            text: b.to_string(),
        });
        if let Some(body) = &body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let reply = request.send().await.expect("request sent");
        let status = reply.status().as_u16();
        let text = reply.text().await.expect("body read");
        self.entries.push(Entry {
            started_date_time: started.0,
            time: started.1.elapsed().as_secs_f64() * 1000.0,
            request: Request {
                method: method.into(),
                url,
                headers,
                post_data,
                ..Request::default()
            },
            response: Response {
                status,
                content: Content {
                    size: text.len() as i64,
                    mime_type: "application/json".into(),
                    text: Some(text.clone()),
                    encoding: None,
                },
                ..Response::default()
            },
            ..Entry::default()
        });
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    /// Opens a websocket to the server (Engine.IO v4), recording its handshake.
    pub async fn open(&mut self) -> RecordedSocket {
        let url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            self.base.replace("http://", "ws://")
        );
        let entry = Entry {
            started_date_time: now_iso(),
            request: Request {
                method: "GET".into(),
                url: url.clone(),
                ..Request::default()
            },
            response: Response {
                status: 101,
                ..Response::default()
            },
            ..Entry::default()
        };
        let (stream, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("websocket opens");
        let mut socket = RecordedSocket {
            stream,
            entry,
            opened: Instant::now(),
        };
        socket.until(|t| t.starts_with('0')).await;
        socket
    }

    /// Keeps a closed socket's entry.
    pub async fn close(&mut self, mut socket: RecordedSocket) {
        let _ = socket.stream.close(None).await;
        socket.entry.time = socket.opened.elapsed().as_secs_f64() * 1000.0;
        self.entries.push(socket.entry);
    }

    /// Writes the recording to a temporary file.
    pub fn save(&self, label: &str) -> PathBuf {
        let har = Har {
            log: Log {
                version: "1.2".into(),
                creator: ticketclub::har::Creator {
                    name: "tests/api/replay.rs".into(),
                    version: "1".into(),
                },
                entries: self.entries.clone(),
            },
        };
        let path = std::env::temp_dir().join(format!("{}.har", unique(label)));
        std::fs::write(&path, serde_json::to_vec_pretty(&har).expect("json")).expect("written");
        path
    }
}

impl RecordedSocket {
    fn keep(&mut self, direction: Direction, data: &str) {
        self.entry.web_socket_messages.push(WebSocketMessage {
            direction,
            time: epoch_now(),
            opcode: 1,
            data: data.to_string(),
        });
    }

    /// Sends an Engine.IO packet.
    pub async fn send(&mut self, text: &str) {
        self.keep(Direction::Send, text);
        self.stream
            .send(Message::text(text))
            .await
            .expect("frame sent");
    }

    /// Reads frames (answering pings) until one satisfies `done`; returns it.
    pub async fn until(&mut self, done: impl Fn(&str) -> bool) -> String {
        loop {
            let next = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("the socket is open")
                .expect("a readable frame");
            let Message::Text(text) = next else { continue };
            let text = text.to_string();
            self.keep(Direction::Receive, &text);
            if text == "2" {
                self.send("3").await;
                continue;
            }
            if done(&text) {
                return text;
            }
        }
    }

    /// Connects to the default namespace with `token` and asks `check limit` of `SESSION`, as
    /// the original page does on arrival.
    pub async fn arrive_legacy(&mut self, token: &str) {
        self.send(&format!(
            "40{}",
            json!({"token": format!("Bearer {token}")})
        ))
        .await;
        self.until(|f| f.starts_with("40")).await;
        self.send(&format!(r#"42["check limit",{SESSION}]"#)).await;
        self.until(|f| f.starts_with(r#"42["check limit""#)).await;
    }
}

/// Signs up and buys two seats of session 2 through the original protocol, recorded.
pub async fn record_legacy_purchase(base: &str) -> PathBuf {
    record_legacy_purchase_of(base, &[1, 2]).await
}

/// Signs up and buys the seats in `columns` of row 1 through the original protocol, recorded.
pub async fn record_legacy_purchase_of(base: &str, columns: &[i64]) -> PathBuf {
    let mut r = Recorder::new(base);
    let token = r.sign_up("buyer", "legacy").await;
    let t = Some(token.as_str());
    r.call(
        "POST",
        "/session/validation",
        Some(json!({"sessionId": SESSION})),
        t,
    )
    .await;
    let mut ws = r.open().await;
    ws.arrive_legacy(&token).await;
    r.call("GET", &format!("/area/{SESSION}"), None, t).await;
    ws.send(&format!(
        r#"42["join room",{}]"#,
        json!({"sessionId": SESSION, "areaId": AREA})
    ))
    .await;
    r.call(
        "POST",
        "/seat",
        Some(json!({"sessionId": SESSION, "areaId": AREA})),
        t,
    )
    .await;
    for &column in columns {
        let seat = json!({"sessionId": SESSION, "areaId": AREA, "row": 1, "column": column,
                          "rowIndex": 0, "columnIndex": column - 1});
        ws.send(&format!(r#"42["select seat",{seat}]"#)).await;
        ws.until(|f| f.starts_with(r#"42["self select seat""#))
            .await;
    }
    let tickets: Vec<Value> = columns
        .iter()
        .map(|c| json!({"row": 1, "column": c}))
        .collect();
    let tickets = Value::Array(tickets);
    let locked = r
        .call(
            "POST",
            "/seat/lock",
            Some(json!({"sessionId": SESSION, "areaId": AREA, "tickets": tickets})),
            t,
        )
        .await;
    ws.send(&format!(r#"42["lock seat",{tickets}]"#)).await;
    let seat_ids: Vec<Value> = locked["tickets"]
        .as_array()
        .expect("locked tickets")
        .iter()
        .map(|t| t["seatId"].clone())
        .collect();
    let ordered = r
        .call(
            "POST",
            "/order",
            Some(json!({"sessionId": SESSION, "seatIds": seat_ids})),
            t,
        )
        .await;
    assert_eq!(ordered, json!({"ok": true}), "the recorded visit buys");
    ws.send(r#"42["sold seat",[{"rowIndex":0,"columnIndex":0,"status_id":3}]]"#)
        .await;
    r.close(ws).await;
    r.call("GET", "/user/profile", None, t).await;
    r.save("legacy-purchase")
}

/// Signs up and buys one seat of session 2 through the app protocol (`/queue`, `/event-2`),
/// both namespaces on one connection, recorded.
pub async fn record_app_purchase(base: &str) -> PathBuf {
    let mut r = Recorder::new(base);
    let token = r.sign_up("app buyer", "app").await;
    let mut ws = r.open().await;
    ws.send(&format!("40/queue,{}", json!({"token": token})))
        .await;
    ws.until(|f| f.starts_with("40/queue")).await;
    ws.send(&format!(r#"42/queue,1["join",{{"sessionId":{SESSION}}}]"#))
        .await;
    let joined = ws.until(|f| f.starts_with("43/queue,1")).await;
    assert!(joined.contains(r#""state":"admitted""#), "{joined}");
    let ns = format!("/event-{SESSION}");
    ws.send(&format!("40{ns},{}", json!({"token": token})))
        .await;
    ws.until(|f| f.starts_with(&format!("40{ns}"))).await;
    ws.until(|f| f.contains(r#""window""#)).await;
    ws.send(&format!(r#"42{ns},2["watch",{{"areaId":{AREA}}}]"#))
        .await;
    ws.until(|f| f.starts_with(&format!("43{ns},2"))).await;
    let seat = json!({"areaId": AREA, "row": 3, "column": 3});
    ws.send(&format!(r#"42{ns},3["select",{seat}]"#)).await;
    ws.until(|f| f.starts_with(&format!("43{ns},3"))).await;
    let seats = json!({"areaId": AREA, "seats": [{"row": 3, "column": 3}]});
    ws.send(&format!(r#"42{ns},4["lock",{seats}]"#)).await;
    ws.until(|f| f.starts_with(&format!("43{ns},4"))).await;
    ws.send(&format!(r#"42{ns},5["order",{seats}]"#)).await;
    // The map's `sold` push races the order's ack; the recording waits for both, or a replay
    // would hear the push the recording ended too early to show.
    let is_sold = |f: &str| f.contains(r#""seats""#) && f.contains(r#""status":"sold""#);
    let sold = std::cell::Cell::new(false);
    let ordered = ws
        .until(|f| {
            sold.set(sold.get() || is_sold(f));
            f.starts_with(&format!("43{ns},5"))
        })
        .await;
    assert!(ordered.contains(r#""ok":true"#), "{ordered}");
    if !sold.get() {
        ws.until(is_sold).await;
    }
    ws.send(&format!(r#"42{ns},6["leave",{{}}]"#)).await;
    ws.until(|f| f.starts_with(&format!("43{ns},6"))).await;
    r.close(ws).await;
    r.save("app-purchase")
}

/// What the replay binary did.
pub struct Replayed {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `ticketclub replay` with `args`.
pub async fn replay(args: &[&str]) -> Replayed {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ticketclub"))
        .arg("replay")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), output)
        .await
        .expect("the replay ends")
        .expect("the replay runs");
    Replayed {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
