//! Resume after a dropped connection (protocol-v2 "Resume", issue 11 item 4), with
//! rust_socketio clients whose TCP connections run through a proxy the test can cut: a visitor
//! cut off while queued, while admitted with a locked seat, and while being admitted gets the
//! place, the seat and the deadline back by reconnecting with the resume token (through the
//! same or the other instance); a visitor who does not come back within the grace loses the
//! place and the next person is admitted. Each story runs over websocket and over polling: a
//! polling client's drop is only noticed when its heartbeats stop, so the server runs with
//! short heartbeats, and a polling visitor usually comes back while the server still counts
//! its old connection as open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::app_rust::{Peer, connected, open_with, sign_up};
use crate::multi_instance::{spawn_process, start_cluster};

const SESSION: i64 = 2;
const AREA: i64 = 1;
/// The grace these tests run with: long enough to reconnect, short enough to wait out.
const GRACE_S: u64 = 3;
/// Heartbeats of a second, answered within a second: a silent drop is noticed within 2 s.
const ENV: [(&str, &str); 4] = [
    ("TICKETCLUB_QUEUE_LIMIT", "1"),
    ("TICKETCLUB_RESUME_GRACE", "3"),
    ("TICKETCLUB_PING_INTERVAL_MS", "1000"),
    ("TICKETCLUB_PING_TIMEOUT_MS", "1000"),
];
/// The longest a dropped connection still counts as open on the server.
const NOTICED_S: u64 = 2;

/// A TCP forwarder in front of a server whose live connections can be cut at once, as a
/// dropped network would.
pub(crate) struct Proxy {
    /// `http://` and the forwarder's address.
    pub(crate) base: String,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// Listens on a free port and forwards every connection to `target`.
    pub(crate) async fn to(target: &str) -> Proxy {
        let upstream = target.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let kept = links.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                kept.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(link.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            base,
            links,
            accept,
        }
    }

    /// Drops every connection through the proxy (both ends see the socket close) and takes no
    /// new ones: a polling client's next request fails as on a dead network.
    pub(crate) fn cut(&self) {
        self.accept.abort();
        for link in self
            .links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            link.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
    }
}

fn join() -> Value {
    json!({ "sessionId": SESSION })
}

/// Reconnects `/queue` with the resume token and returns the socket and its `status` ack.
async fn resume(
    base: &str,
    token: &str,
    resume: &Value,
    transport: &str,
    label: &str,
) -> (Peer, Value) {
    let auth = json!({ "token": token, "resume": resume });
    let queue = open_with(base, "/queue", auth, transport, label)
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let status = queue.call("status", join()).await;
    (queue, status)
}

/// Waits until `check` holds for `user`'s status, for at most `within`.
async fn status_becomes(q: &Peer, within: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = q.call("status", join()).await;
        if check(&status) || tokio::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The whole story on two bases (`home` where visitors first connect, `back` where they
/// reconnect: the same server, or the other instance), over `transport`.
async fn resume_story(home: &str, back: &str, transport: &str) {
    let via = Proxy::to(home).await;
    let (ta, tb, tc) = tokio::join!(sign_up(home, "A"), sign_up(home, "B"), sign_up(home, "C"));

    // A is admitted and locks a seat, through the proxy.
    let qa = connected(&via.base, "/queue", &ta, transport, "A/queue").await;
    let a = qa.call("join", join()).await;
    assert_eq!(a["state"], "admitted", "{a}");
    let a_resume = a["resume"].clone();
    assert!(
        a_resume.is_string(),
        "the join ack carries a resume token: {a}"
    );
    let ea = connected(&via.base, "/event-2", &ta, transport, "A/event").await;
    let seat = json!({ "areaId": AREA, "row": 2, "column": 2 });
    assert_eq!(ea.call("select", seat.clone()).await["ok"], true);
    let seats = json!({ "areaId": AREA, "seats": [{ "row": 2, "column": 2 }] });
    assert_eq!(ea.call("lock", seats.clone()).await["ok"], true);
    // B waits behind, directly; C waits behind B, through the proxy.
    let qb = connected(home, "/queue", &tb, transport, "B/queue").await;
    assert_eq!(qb.call("join", join()).await["state"], "queued");
    let qc = connected(&via.base, "/queue", &tc, transport, "C/queue").await;
    let c = qc.call("join", join()).await;
    assert_eq!(
        (c["state"].as_str(), c["ahead"].as_i64()),
        (Some("queued"), Some(1)),
        "{c}"
    );

    // The network drops for A and C. Within the grace nobody moves up.
    via.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b = qb.call("status", join()).await;
    assert_eq!(b["state"], "queued", "B must not take A's kept place: {b}");

    // A comes back (maybe through the other instance): same place, same deadline, seat held.
    let via_back = Proxy::to(back).await;
    let (qa2, a2) = resume(&via_back.base, &ta, &a_resume, transport, "A/queue again").await;
    assert_eq!(a2["state"], "admitted", "{a2}");
    assert_eq!(
        a2["windowEndsAt"], a["windowEndsAt"],
        "the deadline never moves on resume"
    );
    let mut ea2 = connected(&via_back.base, "/event-2", &ta, transport, "A/event again").await;
    assert_eq!(ea2.next("window").await["endsAt"], a["windowEndsAt"]);
    let view = ea2.call("watch", json!({ "areaId": AREA })).await;
    let held = view["seats"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["row"] == 2 && s["column"] == 2))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (held["status"].as_str(), held["mine"].as_bool()),
        (Some("locked"), Some(true)),
        "{held}"
    );
    let order = ea2.call("order", seats).await;
    assert_eq!(
        order["ok"], true,
        "the resumed buyer orders the seat locked before the drop: {order}"
    );

    // C resumes too.
    let (_qc2, c2) = resume(
        &via_back.base,
        &tc,
        &c["resume"],
        transport,
        "C/queue again",
    )
    .await;
    assert_eq!(
        (c2["state"].as_str(), c2["ahead"].as_i64()),
        (Some("queued"), Some(1)),
        "{c2}"
    );

    // Both drop again. C comes straight back; A never does: after the grace A's place goes to
    // B, who hears it, and A's token resumes nothing any more.
    via_back.cut();
    let via_c = Proxy::to(back).await;
    let (qc3, c3) = resume(&via_c.base, &tc, &c2["resume"], transport, "C/queue third").await;
    assert_eq!(c3["state"], "queued", "{c3}");
    let mut qb = qb;
    let admitted = qb
        .next_within("admitted", Duration::from_secs(NOTICED_S + GRACE_S + 5))
        .await;
    assert_eq!(admitted["sessionId"], SESSION);
    drop((qa, ea, qa2, ea2));
    let late = open_with(
        back,
        "/queue",
        json!({ "token": ta, "resume": a_resume }),
        transport,
        "A late",
    )
    .await
    .expect("connects");
    let gone = late.call("status", join()).await;
    assert_eq!(
        gone["state"], "none",
        "a resume token stops working when its place ends: {gone}"
    );

    // C drops while B's departure admits C: C comes back admitted.
    via_c.cut();
    assert_eq!(qb.call("leave", join()).await["ok"], true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut qc4, c4) = resume(back, &tc, &c3["resume"], transport, "C/queue fourth").await;
    let told_on_resume = c4["state"] == "admitted";
    let c4 = if told_on_resume {
        c4
    } else {
        status_becomes(&qc4, Duration::from_secs(NOTICED_S + 3), |s| {
            s["state"] == "admitted"
        })
        .await
    };
    assert_eq!(
        c4["state"], "admitted",
        "an admission while offline is there on resume: {c4}"
    );
    assert!(
        open_with(
            back,
            "/event-2",
            json!({ "token": tc }),
            transport,
            "C/event"
        )
        .await
        .is_ok(),
        "C reaches the buying page it was admitted to while offline"
    );
    if told_on_resume {
        // The resume's ack said the admission; no instance says it again (one that went
        // unsaid is pushed after 3 s, `Positions::say_unsaid`).
        tokio::time::sleep(Duration::from_secs(4)).await;
        let again = qc4.drain("admitted");
        assert!(again.is_empty(), "admitted again after the ack: {again:?}");
    }
    drop((qc3, via, via_c));

    // A goodbye is not a drop: a client that disconnects on purpose frees its place at once.
    let _ = qc4.client.disconnect().await;
    let td = sign_up(back, "D").await;
    let qd = connected(back, "/queue", &td, transport, "D/queue").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let d = qd.call("join", join()).await;
    assert_eq!(
        d["state"], "admitted",
        "C's goodbye freed the page at once: {d}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_app_visitor_resumes_place_seat_and_deadline_on_the_embedded_engines() {
    let server = spawn_process(&ENV).await;
    resume_story(&server.base, &server.base, "websocket").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_app_visitor_resumes_through_the_other_instance() {
    let cluster = start_cluster(2, &ENV).await;
    resume_story(
        &cluster.instances[0].base,
        &cluster.instances[1].base,
        "websocket",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_polling_visitor_resumes_on_the_embedded_engines() {
    let server = spawn_process(&ENV).await;
    resume_story(&server.base, &server.base, "polling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_polling_visitor_resumes_through_the_other_instance() {
    let cluster = start_cluster(2, &ENV).await;
    resume_story(
        &cluster.instances[0].base,
        &cluster.instances[1].base,
        "polling",
    )
    .await;
}
