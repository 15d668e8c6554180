//! The reader on small hand-made files: a good websocket and polling recording, and each kind
//! of bad file with its one error line.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Action, read};

fn entry(url: &str, method: &str, status: u16, body: Option<&str>, frames: Value) -> Value {
    json!({
        "startedDateTime": "2025-12-06T10:00:00.000Z", "time": 5000.0,
        "request": {"method": method, "url": url, "headers": [],
                    "postData": body.map(|b| json!({"mimeType": "text/plain", "text": b}))},
        "response": {"status": status, "content": {"size": 0, "mimeType": "text/plain",
                     "text": if method == "GET" { body } else { None }}},
        "_webSocketMessages": frames,
    })
}

fn har(entries: Vec<Value>) -> Value {
    json!({"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": entries}})
}

fn write(text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "replay-script-{}-{}.har",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::write(&path, text).expect("temp file written");
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn error_of(text: &str) -> String {
    let path = write(text);
    let error = read(&path).expect_err("refused").to_string();
    let _ = std::fs::remove_file(&path);
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    error
}

fn frame(kind: &str, time: f64, opcode: u8, data: &str) -> Value {
    json!({"type": kind, "time": time, "opcode": opcode, "data": data})
}

const WS: &str = "ws://shop.test/socket.io/?EIO=4&transport=websocket";

fn legacy_websocket() -> Value {
    har(vec![
        entry("https://cdn.test/app.js", "GET", 200, None, json!([])),
        json!({
            "startedDateTime": "2025-12-06T09:59:59.000Z", "time": 20.0,
            "request": {"method": "POST", "url": "http://shop.test/user/signin", "headers": [],
                        "postData": {"mimeType": "application/json", "text": "{\"email\":\"a@b.c\"}"}},
            "response": {"status": 200, "content": {"size": 2, "mimeType": "application/json",
                         "text": "{\"data\":{}}"}},
        }),
        entry(
            WS,
            "GET",
            101,
            None,
            json!([
                frame(
                    "receive",
                    1765015200.001,
                    1,
                    r#"0{"sid":"e1","pingInterval":25000}"#
                ),
                frame("send", 1765015200.002, 1, r#"40{"token":"Bearer x"}"#),
                frame("receive", 1765015200.003, 1, r#"40{"sid":"s1"}"#),
                frame("send", 1765015200.004, 1, r#"42["check limit",1]"#),
                frame("receive", 1765015200.005, 1, "2"),
                frame("send", 1765015200.006, 1, "3"),
                frame(
                    "receive",
                    1765015200.007,
                    1,
                    r#"42["check limit",{"pass":true}]"#
                ),
            ]),
        ),
    ])
}

#[test]
fn a_websocket_recording_becomes_one_timeline_without_the_transport_packets() {
    let path = write(&legacy_websocket().to_string());
    let script = read(&path).expect("reads");
    let _ = std::fs::remove_file(&path);
    assert_eq!((script.connections, script.skipped), (1, 1));
    let kinds: Vec<String> = script
        .steps
        .iter()
        .map(|s| match &s.action {
            Action::Http(call) => format!("http {} {}", call.method, call.path),
            Action::Open { conn, .. } => format!("open {conn}"),
            Action::Send { packet, .. } => format!("send {}", packet.text),
            Action::Expect { packet, .. } => format!("expect {}", packet.text),
            Action::Close { conn } => format!("close {conn}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "http POST /user/signin",
            "open 0",
            r#"send 0{"token":"Bearer x"}"#,
            r#"expect 0{"sid":"s1"}"#,
            r#"send 2["check limit",1]"#,
            r#"expect 2["check limit",{"pass":true}]"#,
            "close 0",
        ]
    );
}

#[test]
fn a_polling_recording_is_read_through_its_handshake_and_upgrade() {
    let base = "http://shop.test/socket.io/?EIO=4&transport=polling";
    let file = har(vec![
        entry(
            base,
            "GET",
            200,
            Some(r#"0{"sid":"e1","upgrades":["websocket"]}"#),
            json!([]),
        ),
        entry(
            &format!("{base}&sid=e1"),
            "POST",
            200,
            Some(r#"40/queue,{"token":"x"}"#),
            json!([]),
        ),
        entry(
            &format!("{base}&sid=e1"),
            "GET",
            200,
            Some("40/queue,{\"sid\":\"s\"}\u{1e}6"),
            json!([]),
        ),
        entry(
            "ws://shop.test/socket.io/?EIO=4&transport=websocket&sid=e1",
            "GET",
            101,
            None,
            json!([
                frame("send", 1765015201.0, 1, "2probe"),
                frame("receive", 1765015201.1, 1, "3probe"),
                frame("send", 1765015201.2, 1, "5"),
                frame(
                    "send",
                    1765015201.3,
                    1,
                    r#"42/queue,0["join",{"sessionId":2}]"#
                ),
            ]),
        ),
    ]);
    let path = write(&file.to_string());
    let script = read(&path).expect("reads");
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        script.connections, 1,
        "the upgrade continues the polling connection"
    );
    let sends = script
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Send { .. }))
        .count();
    assert_eq!(sends, 2);
}

#[test]
fn a_file_that_is_not_json_says_so() {
    assert!(error_of("hello, world").contains("not a HAR file: not JSON"));
}

#[test]
fn json_that_is_not_a_har_says_so() {
    let error = error_of(r#"{"name": "not a har"}"#);
    assert!(
        error.contains("not a HAR 1.2 file") && error.contains("log"),
        "{error}"
    );
}

#[test]
fn a_truncated_file_says_where_it_ends() {
    let text = legacy_websocket().to_string();
    let error = error_of(&text[..text.len() / 2]);
    assert!(error.contains("truncated JSON"), "{error}");
}

#[test]
fn a_har_without_socket_traffic_says_how_to_export_one() {
    let file = har(vec![entry(
        "http://shop.test/event",
        "GET",
        200,
        Some("[]"),
        json!([]),
    )]);
    let error = error_of(&file.to_string());
    assert!(error.contains("no Socket.IO traffic"), "{error}");
    let file = har(vec![entry(
        WS,
        "GET",
        101,
        None,
        json!([frame("receive", 1.0, 1, "2")]),
    )]);
    assert!(error_of(&file.to_string()).contains("no Socket.IO packets"));
}

#[test]
fn a_binary_frame_is_refused_with_its_place() {
    let file = har(vec![entry(
        WS,
        "GET",
        101,
        None,
        json!([frame("send", 1.0, 2, "AAEC")]),
    )]);
    let error = error_of(&file.to_string());
    assert!(
        error.contains("entry 0, frame 0: a binary websocket frame"),
        "{error}"
    );
    let file = har(vec![entry(
        WS,
        "GET",
        101,
        None,
        json!([frame(
            "send",
            1.0,
            1,
            r#"451-["upload",{"_placeholder":true,"num":0}]"#
        )]),
    )]);
    assert!(error_of(&file.to_string()).contains("binary packet"));
}

#[test]
fn frames_of_another_protocol_are_refused_with_their_start() {
    let url = "wss://chat.test/socket.io/?EIO=4&transport=websocket";
    let file = har(vec![entry(
        url,
        "GET",
        101,
        None,
        json!([frame(
            "send",
            1.0,
            1,
            r#"{"type":"subscribe","channel":"x"}"#
        )]),
    )]);
    let error = error_of(&file.to_string());
    assert!(error.contains("not an Engine.IO v4"), "{error}");
    let url = "ws://shop.test/socket.io/?EIO=3&transport=websocket";
    let file = har(vec![entry(
        url,
        "GET",
        101,
        None,
        json!([frame("send", 1.0, 1, "40")]),
    )]);
    assert!(error_of(&file.to_string()).contains("Engine.IO version 3"));
}

#[test]
fn a_missing_file_says_it_cannot_be_read() {
    let error = read(std::path::Path::new("/nonexistent/x.har"))
        .expect_err("refused")
        .to_string();
    assert!(
        error.starts_with("/nonexistent/x.har: cannot be read"),
        "{error}"
    );
}
