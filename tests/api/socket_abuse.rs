//! Abusive Socket.IO clients (issue 15): oversized websocket messages, binary attachments,
//! too many sockets per account or address, and an account's older tab left behind.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{spawn_app, spawn_app_with};

/// Opens a raw websocket to Engine.IO and reads its open packet.
async fn raw_websocket(address: std::net::SocketAddr) -> TcpStream {
    raw_websocket_with(address, "").await
}

/// [`raw_websocket`] with extra handshake header lines (each ending in `\r\n`).
async fn raw_websocket_with(address: std::net::SocketAddr, extra: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(address).await.expect("connects");
    let handshake = format!(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    );
    tcp.write_all(handshake.as_bytes())
        .await
        .expect("handshake sent");
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("handshake answer");
        response.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 101"));
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.expect("open packet head");
    let mut open = vec![0u8; (head[1] & 0x7f) as usize];
    tcp.read_exact(&mut open).await.expect("open packet");
    assert!(open.starts_with(b"0{"), "Engine.IO open packet");
    tcp
}

/// A masked client text frame (zero mask key) of a short payload.
fn small_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = if payload.len() < 126 {
        vec![0x81, 0x80 | payload.len() as u8]
    } else {
        let mut f = vec![0x81, 0x80 | 126];
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        f
    };
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// The payload of the next server text frame (servers do not mask).
async fn next_text(tcp: &mut TcpStream) -> String {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.expect("frame head");
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
    String::from_utf8_lossy(&payload).into_owned()
}

/// Socket.IO CONNECT to the default namespace with `token`; waits for the server's CONNECT.
async fn connect_default(tcp: &mut TcpStream, token: &str) {
    let answer = connect_answer(tcp, "", token).await;
    assert!(answer.starts_with("40"), "connect refused: {answer}");
}

/// Socket.IO CONNECT to `namespace` (`""` or `/queue,`) with `token`; the server's CONNECT
/// (`40…`) or CONNECT_ERROR (`44…`) packet.
async fn connect_answer(tcp: &mut TcpStream, namespace: &str, token: &str) -> String {
    let connect = format!("40{namespace}{{\"token\":\"Bearer {token}\"}}");
    tcp.write_all(&small_text_frame(connect.as_bytes()))
        .await
        .expect("connect sent");
    loop {
        let text = next_text(tcp).await;
        if text.starts_with("40") || text.starts_with("44") {
            return text;
        }
    }
}

/// The head of a masked client text frame of `len` bytes, with a zero mask key (so the
/// payload goes as it is).
fn text_frame_head(len: u64) -> Vec<u8> {
    let mut head = vec![0x81, 0x80 | 127];
    head.extend_from_slice(&len.to_be_bytes());
    head.extend_from_slice(&[0, 0, 0, 0]);
    head
}

/// True once the server has closed the connection (EOF, reset, or a close frame) within
/// `bound`; reads and drops anything else.
async fn closed_within(tcp: &mut TcpStream, bound: Duration) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(bound, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) if buf[..n].first() == Some(&0x88) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifteen_megabyte_websocket_message_is_refused_and_the_server_still_answers() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("Big").await;
    let mut tcp = raw_websocket(app.address).await;
    connect_default(&mut tcp, &token).await;
    // An Engine.IO message packet carrying a Socket.IO event with a 15 MB string.
    let len: u64 = 15 * 1024 * 1024;
    let prefix = b"42[\"check limit\",\"";
    let mut sent = tcp.write_all(&text_frame_head(len)).await.is_ok();
    if sent {
        sent = tcp.write_all(prefix).await.is_ok();
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut left = len as usize - prefix.len() - 2;
    while sent && left > 0 {
        let n = left.min(chunk.len());
        sent = tcp.write_all(&chunk[..n]).await.is_ok();
        left -= n;
    }
    if sent {
        let _ = tcp.write_all(b"\"]").await;
    }
    assert!(
        closed_within(&mut tcp, Duration::from_secs(5)).await,
        "the server must close a websocket whose message is over the 100 KB cap"
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    // Refused from the frame's header: nothing of the 15 MB needs to be read (or held).
    let mut tcp = raw_websocket(app.address).await;
    connect_default(&mut tcp, &token).await;
    tcp.write_all(&text_frame_head(len))
        .await
        .expect("head sent");
    assert!(
        closed_within(&mut tcp, Duration::from_secs(2)).await,
        "an oversized frame is refused from its header, before its payload"
    );
    // A message under the cap is still read: CONNECT to a namespace that does not exist is
    // answered with an error packet.
    let mut tcp = raw_websocket(app.address).await;
    tokio::time::timeout(Duration::from_secs(5), connect_default(&mut tcp, &token))
        .await
        .expect("a small message is still answered");
}

/// A client that opens a new connection for every request (nothing pooled counts).
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_limit_health_still_answers_and_other_routes_get_503() {
    let app = spawn_app_with(|s| s.limits.max_connections = Some(3)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(raw_websocket(app.address).await);
    }
    let client = unpooled();
    let get = |path: &str| client.get(format!("{}{path}", app.base)).send();
    assert_eq!(
        get("/healthz").await.expect("healthz").status(),
        StatusCode::OK
    );
    assert_eq!(
        get("/metrics").await.expect("metrics").status(),
        StatusCode::OK
    );
    let refused = get("/event").await.expect("an answer");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let handshake = get("/socket.io/?EIO=4&transport=polling")
        .await
        .expect("an answer");
    assert_eq!(handshake.status(), StatusCode::SERVICE_UNAVAILABLE);

    // A websocket closing gives its place back.
    held.pop();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = get("/event").await.expect("an answer").status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, StatusCode::OK, "served again below the limit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_its_socket_quota_and_gets_places_back_on_close() {
    let app = spawn_app_with(|s| s.limits.sockets_per_account = 2).await;
    let (token, _) = app.sign_up("Tabs").await;
    let mut first = raw_websocket(app.address).await;
    connect_default(&mut first, &token).await;
    let mut second = raw_websocket(app.address).await;
    assert!(
        connect_answer(&mut second, "/queue,", &token)
            .await
            .starts_with("40/queue,")
    );
    let mut third = raw_websocket(app.address).await;
    let refused = connect_answer(&mut third, "", &token).await;
    assert!(
        refused.starts_with("44") && refused.contains("連線數過多"),
        "{refused}"
    );
    let mut app_third = raw_websocket(app.address).await;
    let refused = connect_answer(&mut app_third, "/queue,", &token).await;
    assert!(refused.contains("too_many_connections"), "{refused}");
    // Another account is not limited by this one.
    let (other, _) = app.sign_up("Other").await;
    connect_default(&mut raw_websocket(app.address).await, &other).await;

    drop(first);
    let mut answer = String::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut again = raw_websocket(app.address).await;
        answer = connect_answer(&mut again, "", &token).await;
        if answer.starts_with("40") {
            break;
        }
    }
    assert!(
        answer.starts_with("40"),
        "a closed socket gives its place back: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_holds_at_most_its_socket_quota_as_seen_through_a_trusted_proxy() {
    let app = spawn_app_with(|s| {
        s.limits.sockets_per_address = 2;
        s.limits.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    let mut held = Vec::new();
    for name in ["A1", "A2"] {
        let (token, _) = app.sign_up(name).await;
        let mut tcp = raw_websocket_with(app.address, "X-Forwarded-For: 203.0.113.7\r\n").await;
        connect_default(&mut tcp, &token).await;
        held.push(tcp);
    }
    let (token, _) = app.sign_up("A3").await;
    let mut same = raw_websocket_with(app.address, "X-Forwarded-For: 203.0.113.7\r\n").await;
    let refused = connect_answer(&mut same, "", &token).await;
    assert!(
        refused.starts_with("44"),
        "a third socket from one address: {refused}"
    );
    // Another client behind the same proxy is counted on its own.
    let mut other = raw_websocket_with(app.address, "X-Forwarded-For: 198.51.100.2\r\n").await;
    connect_default(&mut other, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_x_forwarded_for_does_not_escape_the_address_quota() {
    // No trusted proxy: the header is the client's own words, and the peer address counts.
    let app = spawn_app_with(|s| s.limits.sockets_per_address = 2).await;
    let mut held = Vec::new();
    for (i, name) in ["F1", "F2", "F3"].into_iter().enumerate() {
        let (token, _) = app.sign_up(name).await;
        let forged = format!("X-Forwarded-For: 203.0.113.{i}\r\n");
        let mut tcp = raw_websocket_with(app.address, &forged).await;
        let answer = connect_answer(&mut tcp, "", &token).await;
        assert_eq!(answer.starts_with("40"), i < 2, "socket {i}: {answer}");
        held.push(tcp);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_at_its_open_file_limit_still_answers_health_checks() {
    // A real process under `ulimit -n 300` with 100 descriptors in reserve: 200 connections are
    // served, 50 more get the health routes only (and 2 s to ask), the rest are closed at once.
    // A client holding 400 connections open must not take the last descriptor.
    let server = crate::multi_instance::spawn_process_under(
        &["prlimit", "--nofile=300:300"],
        &[("TICKETCLUB_FD_RESERVE", "100")],
    )
    .await;
    let address: std::net::SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let mut held = Vec::new();
    for _ in 0..400 {
        if let Ok(tcp) = TcpStream::connect(address).await {
            held.push(tcp);
        }
    }
    // The silent reserve connections are closed after their 2 s to send a request.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let client = unpooled();
    let healthz = tokio::time::timeout(
        Duration::from_secs(5),
        client.get(format!("{}/healthz", server.base)).send(),
    )
    .await
    .expect("/healthz answers within 5 s at the limit")
    .expect("/healthz answers");
    assert_eq!(healthz.status(), StatusCode::OK);
    let events = client
        .get(format!("{}/event", server.base))
        .send()
        .await
        .expect("an answer");
    assert_eq!(events.status(), StatusCode::SERVICE_UNAVAILABLE);
    drop(held);
}
