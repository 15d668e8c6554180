//! Clients that hold connections without using them: the header timeout closes silent, slow
//! and idle HTTP connections, and leaves websockets alone.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

const HEADER_TIMEOUT: u64 = 1;

async fn app() -> TestApp {
    spawn_app_with(|s| s.header_timeout = HEADER_TIMEOUT).await
}

/// Reads until the server closes the connection; the time it took, and what was read.
async fn until_closed(tcp: &mut TcpStream) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("the server should close the connection within 10 s");
        match read {
            Ok(0) | Err(_) => return (started.elapsed(), got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn closed_in_time(took: Duration) {
    let timeout = Duration::from_secs(HEADER_TIMEOUT);
    assert!(
        took >= timeout - Duration::from_millis(100) && took < timeout * 4,
        "closed after {took:?}, header timeout {timeout:?}"
    );
}

#[tokio::test]
async fn a_connection_that_never_sends_a_request_is_closed() {
    let app = app().await;
    let mut tcp = TcpStream::connect(app.address).await.expect("connects");
    let (took, _) = until_closed(&mut tcp).await;
    closed_in_time(took);
}

#[tokio::test]
async fn headers_sent_a_little_at_a_time_are_cut_off() {
    let app = app().await;
    let mut tcp = TcpStream::connect(app.address).await.expect("connects");
    let started = Instant::now();
    let trickle = async {
        for line in [
            "GET /healthz HTTP/1.1\r\n",
            "Host: x\r\n",
            "X-A: 1\r\n",
            "X-B: 2\r\n",
        ] {
            if tcp.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(600)).await;
        }
    };
    trickle.await;
    let (_, got) = until_closed(&mut tcp).await;
    closed_in_time(started.elapsed());
    assert!(
        !String::from_utf8_lossy(&got).contains("200 OK"),
        "the unfinished request must not be served"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    let app = app().await;
    let mut tcp = TcpStream::connect(app.address).await.expect("connects");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request sent");
    let (took, got) = until_closed(&mut tcp).await;
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200 OK"),
        "the request is answered first: {}",
        String::from_utf8_lossy(&got)
    );
    closed_in_time(took);
}

/// A client text frame (clients must mask; the key is arbitrary).
fn masked_text(payload: &str) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let bytes = payload.as_bytes();
    assert!(bytes.len() < 126);
    let mut frame = vec![0x81, 0x80 | bytes.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(bytes.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// The payload of the next server text frame (servers do not mask; short frames only).
async fn next_text(tcp: &mut TcpStream) -> String {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.expect("frame head");
    assert_eq!(head[0], 0x81, "a final text frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            tcp.read_exact(&mut ext).await.expect("frame length");
            u16::from_be_bytes(ext) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.expect("frame payload");
    String::from_utf8(payload).expect("text frames are UTF-8")
}

#[tokio::test]
async fn a_websocket_outlives_the_header_timeout() {
    let app = app().await;
    let mut tcp = TcpStream::connect(app.address).await.expect("connects");
    tcp.write_all(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
          Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .expect("handshake sent");
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("handshake answer");
        response.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 101"));
    let open = next_text(&mut tcp).await;
    assert!(open.starts_with("0{"), "Engine.IO open packet: {open}");

    tokio::time::sleep(Duration::from_secs(HEADER_TIMEOUT * 3)).await;
    // Socket.IO CONNECT to the default namespace: any answer shows the socket is alive.
    tcp.write_all(&masked_text("40")).await.expect("frame sent");
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let text = next_text(&mut tcp).await;
            if text != "2" {
                return text; // not a heartbeat ping
            }
        }
    })
    .await
    .expect("the websocket answers after the header timeout");
    assert!(answer.starts_with('4'), "a Socket.IO packet: {answer}");
}

/// Sends a sign-in announcing a 90 KB body, then trickles it a byte at a time; what the
/// server answered, and how long after the headers it closed the connection.
async fn trickle_a_body(address: std::net::SocketAddr) -> (Duration, String) {
    let mut tcp = TcpStream::connect(address).await.expect("connects");
    tcp.write_all(
        b"POST /user/signin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 90000\r\n\r\n{",
    )
    .await
    .expect("headers sent");
    let started = Instant::now();
    let (mut read, mut write) = tcp.split();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    };
    let answer = async {
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let got = tokio::select! {
        got = answer => got,
        () = trickle => Vec::new(),
    };
    (
        started.elapsed(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

#[tokio::test]
async fn bodies_trickled_a_byte_at_a_time_are_cut_off_with_408() {
    let app = spawn_app_with(|s| s.limits.body_timeout = 1).await;
    let slow = (0..20).map(|_| trickle_a_body(app.address));
    let cut = tokio::time::timeout(
        Duration::from_secs(15),
        futures_util::future::join_all(slow),
    )
    .await
    .expect("every trickled body is cut off within 15 s");
    for (took, answer) in cut {
        assert!(answer.starts_with("HTTP/1.1 408"), "answered 408: {answer}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(5),
            "closed {took:?} after the headers, body timeout 1 s"
        );
    }
    // A body sent at once is still read.
    let reply = app
        .post(
            "/user/signin",
            serde_json::json!({"email": "demo@test.com", "password": "demodemo"}),
            None,
        )
        .await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{:?}", reply.body);
}
