//! The app buyer flow of `shared/protocol-v2.md` driven by rust_socketio (crates.io), the third
//! independent client beside socket.io-client (`tests/app-js/flow.mjs`) and python-socketio
//! (`tests/app-py/flow.py`). The same steps: the server runs with a queue limit of 2 on session
//! 2; A and C buy on the first instance, B and D wait on the second (or the first).

use std::time::Duration;

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::multi_instance::{spawn_process, start_cluster};

const SESSION: i64 = 2;
const AREA: i64 = 1;
const WAIT: Duration = Duration::from_secs(5);
const QUEUE_OF_TWO: (&str, &str) = ("TICKETCLUB_QUEUE_LIMIT", "2");

/// What a client heard: a named push, its namespace connect, or a refusal.
pub enum Heard {
    Push(String, Value),
    Connected,
    Refused(String),
}

/// One client on one namespace that keeps every push, so none is missed between awaits.
pub struct Peer {
    label: String,
    /// The connection (the resume tests disconnect it).
    pub client: Client,
    heard: mpsc::UnboundedReceiver<Heard>,
    kept: Vec<(String, Value)>,
}

fn first(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        Payload::Text(_) => Value::Null,
        Payload::Binary(_) => json!("<binary>"),
        #[allow(deprecated)]
        Payload::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// Opens `ns` with `token`; `Err` carries the refusal the server sent.
async fn open(
    base: &str,
    ns: &str,
    token: &str,
    transport: &str,
    label: &str,
) -> Result<Peer, String> {
    open_with(base, ns, json!({ "token": token }), transport, label).await
}

/// Opens `ns` with the CONNECT payload `auth`; `Err` carries the refusal the server sent.
pub async fn open_with(
    base: &str,
    ns: &str,
    auth: Value,
    transport: &str,
    label: &str,
) -> Result<Peer, String> {
    let (tx, mut heard) = mpsc::unbounded_channel();
    let (on_any, on_connect, on_error) = (tx.clone(), tx.clone(), tx);
    let client = ClientBuilder::new(base)
        .namespace(ns)
        .auth(auth)
        .transport_type(kind(transport))
        .reconnect(false)
        .on_any(move |event, payload, _| {
            let _ = on_any.send(Heard::Push(String::from(event), first(payload)));
            async {}.boxed()
        })
        .on(rust_socketio::Event::Connect, move |_, _| {
            let _ = on_connect.send(Heard::Connected);
            async {}.boxed()
        })
        .on(rust_socketio::Event::Error, move |payload, _| {
            let text = match first(payload) {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let _ = on_error.send(Heard::Refused(text));
            async {}.boxed()
        })
        .connect()
        .await
        .map_err(|e| format!("{label}: engine connect failed: {e}"))?;
    let mut kept = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, heard.recv()).await {
            Ok(Some(Heard::Connected)) => break,
            Ok(Some(Heard::Refused(why))) => {
                let _ = client.disconnect().await;
                return Err(why);
            }
            Ok(Some(Heard::Push(event, value))) => kept.push((event, value)),
            Ok(None) | Err(_) => return Err(format!("{label}: no answer to connect {ns}")),
        }
    }
    Ok(Peer {
        label: label.to_owned(),
        client,
        heard,
        kept,
    })
}

/// Opens `ns`, which must accept.
pub async fn connected(base: &str, ns: &str, token: &str, transport: &str, label: &str) -> Peer {
    open(base, ns, token, transport, label)
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"))
}

/// Opens the legacy default namespace with `token` (the original frontend's `Bearer` auth).
pub async fn open_legacy(base: &str, token: &str, label: &str) -> Peer {
    open_with(
        base,
        "/",
        json!({ "token": format!("Bearer {token}") }),
        "websocket",
        label,
    )
    .await
    .unwrap_or_else(|e| panic!("{label}: {e}"))
}

impl Peer {
    /// Sends `event` and returns its ack.
    pub async fn call(&self, event: &str, payload: Value) -> Value {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, payload, WAIT, move |ack, _| {
                if let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    // This client hands an ack's arguments over as one array.
                    let _ = tx.send(match first(ack) {
                        Value::Array(mut args) if args.len() == 1 => args.swap_remove(0),
                        other => other,
                    });
                }
                async {}.boxed()
            })
            .await
            .unwrap_or_else(|e| panic!("{}: emit {event}: {e}", self.label));
        tokio::time::timeout(WAIT, rx)
            .await
            .unwrap_or_else(|_| panic!("{}: no ack to {event} within {WAIT:?}", self.label))
            .unwrap_or_else(|_| panic!("{}: ack to {event} dropped", self.label))
    }

    /// The next push named `event` heard within `within`, if any (earlier ones first).
    pub async fn heard_within(&mut self, event: &str, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(i) = self.kept.iter().position(|(e, _)| e == event) {
                return Some(self.kept.remove(i).1);
            }
            match tokio::time::timeout_at(deadline, self.heard.recv()).await {
                Ok(Some(Heard::Push(e, v))) => self.kept.push((e, v)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Every push named `event` heard so far, oldest first (taking them).
    pub fn drain(&mut self, event: &str) -> Vec<Value> {
        while let Ok(heard) = self.heard.try_recv() {
            if let Heard::Push(e, v) = heard {
                self.kept.push((e, v));
            }
        }
        let (taken, kept) = std::mem::take(&mut self.kept)
            .into_iter()
            .partition(|(e, _)| e == event);
        self.kept = kept;
        taken.into_iter().map(|(_, v)| v).collect()
    }

    /// Every push heard so far and not yet taken, in the order they arrived.
    pub fn drain_all(&mut self) -> Vec<(String, Value)> {
        while let Ok(heard) = self.heard.try_recv() {
            if let Heard::Push(e, v) = heard {
                self.kept.push((e, v));
            }
        }
        std::mem::take(&mut self.kept)
    }

    /// The next push named `event` (earlier ones are taken first).
    pub async fn next(&mut self, event: &str) -> Value {
        self.next_within(event, WAIT).await
    }

    /// [`Peer::next`], waiting at most `within`.
    pub async fn next_within(&mut self, event: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(i) = self.kept.iter().position(|(e, _)| e == event) {
                return self.kept.remove(i).1;
            }
            match tokio::time::timeout_at(deadline, self.heard.recv()).await {
                Ok(Some(Heard::Push(e, v))) => self.kept.push((e, v)),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!(
                    "{}: no {event} within {within:?} (kept {:?})",
                    self.label, self.kept
                ),
            }
        }
    }
}

/// A new account's access token.
pub async fn sign_up(base: &str, label: &str) -> String {
    account(base, label).await.0
}

/// A new account: its access token and id.
pub async fn account(base: &str, label: &str) -> (String, i64) {
    let email = format!("app-rs-{label}-{}@example.com", crate::helpers::unique("u"));
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/user/signup"))
        .json(&json!({ "name": label, "email": email, "password": "secret123" }))
        .send()
        .await
        .expect("signup answers")
        .json()
        .await
        .expect("signup body");
    let token = body["data"]["access_token"].as_str();
    let id = body["data"]["user"]["id"].as_i64();
    match (token, id) {
        (Some(token), Some(id)) => (token.to_owned(), id),
        _ => panic!("signup {label}: {body}"),
    }
}

/// The client's transport for a name (its type is neither `Copy` nor `Debug`).
fn kind(transport: &str) -> TransportType {
    match transport {
        "polling" => TransportType::Polling,
        _ => TransportType::Websocket,
    }
}

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("")
}

fn seat_1_1(view: &Value) -> Value {
    view["seats"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["row"] == 1 && s["column"] == 1))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The flow; returns how many checks held (it panics on the first that does not).
async fn rust_flow(url1: &str, url2: &str, transport: &str) -> u32 {
    let mut checks = 0;
    let mut check = |ok: bool, what: &str, detail: &Value| {
        assert!(ok, "{}: {what}: {detail}", transport);
        checks += 1;
    };
    let (ta, tb, tc, td) = tokio::join!(
        sign_up(url1, "A"),
        sign_up(url2, "B"),
        sign_up(url1, "C"),
        sign_up(url2, "D")
    );
    let event_ns = format!("/event-{SESSION}");
    let (u1, u2) = (url1, url2);
    let connect = |base, ns, token, label| connected(base, ns, token, transport, label);
    let qa = connect(u1, "/queue", &ta, "A/queue").await;
    let qc = connect(u1, "/queue", &tc, "C/queue").await;
    let mut qb = connect(u2, "/queue", &tb, "B/queue").await;
    let mut qd = connect(u2, "/queue", &td, "D/queue").await;
    let join = json!({ "sessionId": SESSION });

    let a = qa.call("join", join.clone()).await;
    check(
        a["ok"] == true
            && a["state"] == "admitted"
            && a["ahead"] == 0
            && a["windowEndsAt"].is_i64(),
        "A is admitted",
        &a,
    );
    check(
        a["estimate"]["seconds"].is_i64() && a.get("opensAt").is_some(),
        "the join ack carries estimate and opensAt",
        &a,
    );
    let again = qa.call("join", join.clone()).await;
    check(
        again["state"] == "admitted" && again["windowEndsAt"] == a["windowEndsAt"],
        "a second join returns the same place",
        &again,
    );
    let c = qc.call("join", join.clone()).await;
    check(c["state"] == "admitted", "C is admitted", &c);
    let b = qb.call("join", join.clone()).await;
    check(
        b["ok"] == true && b["state"] == "queued" && b["ahead"] == 0,
        "B queues first in line",
        &b,
    );
    let d = qd.call("join", join.clone()).await;
    check(
        d["state"] == "queued" && d["ahead"] == 1 && d["estimate"]["seconds"].as_i64() > Some(0),
        "D queues behind B with a wait",
        &d,
    );
    let bad = qd.call("join", json!({ "sessionId": "two" })).await;
    check(
        code(&bad) == "bad_request",
        "a wrong type is a bad_request",
        &bad,
    );
    let unknown = qd.call("join", json!({ "sessionId": 99999 })).await;
    check(
        code(&unknown) == "unknown_session",
        "an unknown session is named",
        &unknown,
    );

    let early = open(u2, &event_ns, &tb, transport, "B/event-early").await;
    let why = early.err().unwrap_or_default();
    check(
        why.split_once(": ")
            .and_then(|(_, data)| serde_json::from_str::<Value>(data).ok())
            .is_some_and(|d| d["code"] == "not_admitted" && d["data"]["code"] == "not_admitted"),
        "the buying page refuses B before admission",
        &json!(why),
    );

    let mut ea = connect(u1, &event_ns, &ta, "A/event").await;
    let win = ea.next("window").await;
    check(
        win["endsAt"] == a["windowEndsAt"] && win["serverNow"].is_i64(),
        "the page pushes the window on connect",
        &win,
    );
    let mut ec = connect(u1, &event_ns, &tc, "C/event").await;
    let seen = ec.call("watch", json!({ "areaId": AREA })).await;
    let seat = seat_1_1(&seen);
    check(
        seen["ok"] == true && seat["status"] == "empty" && seat["mine"] == false,
        "watch gives the whole area",
        &seat,
    );
    let v0 = seen["version"].as_i64().unwrap_or(-100);
    check(
        ea.call("watch", json!({ "areaId": AREA })).await["ok"] == true,
        "A watches the area too",
        &Value::Null,
    );

    let one = json!({ "areaId": AREA, "row": 1, "column": 1 });
    let sel = ea.call("select", one.clone()).await;
    check(
        sel["ok"] == true && sel["seat"]["row"] == 1,
        "A selects a seat",
        &sel,
    );
    let push = ec.next("seats").await;
    check(
        push["version"] == v0 + 1 && push["changes"][0]["status"] == "selected",
        "C sees the selection with the next version",
        &push,
    );
    let taken = ec.call("select", one.clone()).await;
    check(
        code(&taken) == "seat_taken",
        "C cannot take A's seat",
        &taken,
    );
    let seats = json!({ "areaId": AREA, "seats": [{ "row": 1, "column": 1 }] });
    let lock = ea.call("lock", seats.clone()).await;
    check(
        lock["ok"] == true && lock["total"].as_i64() > Some(0),
        "A locks it with a total",
        &lock,
    );
    let push = ec.next("seats").await;
    check(
        push["version"] == v0 + 2 && push["changes"][0]["status"] == "locked",
        "C sees the lock",
        &push,
    );
    let order = ea.call("order", seats).await;
    check(
        order["ok"] == true && order["orderId"].is_number() && order["total"] == lock["total"],
        "A orders it",
        &order,
    );
    let push = ec.next("seats").await;
    check(
        push["version"] == v0 + 3 && push["changes"][0]["status"] == "sold",
        "C sees it sold",
        &push,
    );
    let many: Vec<Value> = (0..1000)
        .map(|i| json!({ "row": 1 + i % 9, "column": 1 }))
        .collect();
    let huge = ec
        .call("lock", json!({ "areaId": AREA, "seats": many }))
        .await;
    check(
        code(&huge) == "bad_request",
        "a huge array is a bad_request",
        &huge,
    );
    let text_row = ec
        .call("select", json!({ "areaId": AREA, "row": "1", "column": 1 }))
        .await;
    check(
        code(&text_row) == "bad_request",
        "a string row is a bad_request",
        &text_row,
    );

    check(
        ea.call("leave", json!({})).await["ok"] == true,
        "A leaves the page",
        &Value::Null,
    );
    let adm = qb.next("admitted").await;
    check(
        adm["sessionId"] == SESSION && adm["windowEndsAt"].is_i64(),
        "B hears admitted",
        &adm,
    );
    let pos = qd.next("position").await;
    check(pos["ahead"] == 0, "D hears its new position", &pos);
    let mut eb = connect(u2, &event_ns, &tb, "B/event").await;
    let bwin = eb.next("window").await;
    check(
        bwin["endsAt"] == adm["windowEndsAt"],
        "B's window matches the admission",
        &bwin,
    );
    let sold = seat_1_1(&eb.call("watch", json!({ "areaId": AREA })).await);
    check(
        sold["status"] == "sold" && sold["mine"] == false,
        "B sees the seat sold",
        &sold,
    );
    check(
        qb.call("leave", join.clone()).await["ok"] == true,
        "B leaves from the queue namespace",
        &Value::Null,
    );
    let next = qd.next("admitted").await;
    check(next["sessionId"] == SESSION, "D is admitted next", &next);
    let gone = qa.call("status", join).await;
    check(gone["state"] == "none", "A is no longer in line", &gone);
    for peer in [qa, qb, qc, qd, ea, eb, ec] {
        let _ = peer.client.disconnect().await;
    }
    checks
}

async fn rust_flow_within_a_minute(url1: &str, url2: &str, transport: &str) {
    let checks = tokio::time::timeout(Duration::from_secs(60), rust_flow(url1, url2, transport))
        .await
        .unwrap_or_else(|_| panic!("the rust_socketio flow over {} took over 60 s", transport));
    assert!(checks >= 28, "only {checks} checks ran over {}", transport);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_socketio_buys_through_the_app_namespaces_on_the_embedded_engines() {
    for transport in ["polling", "websocket"] {
        let server = spawn_process(&[QUEUE_OF_TWO]).await;
        rust_flow_within_a_minute(&server.base, &server.base, transport).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_socketio_buys_through_the_app_namespaces_across_two_instances() {
    for transport in ["polling", "websocket"] {
        let cluster = start_cluster(2, &[QUEUE_OF_TWO]).await;
        let (a, b) = (&cluster.instances[0], &cluster.instances[1]);
        rust_flow_within_a_minute(&a.base, &b.base, transport).await;
    }
}
