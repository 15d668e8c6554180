//! What a join costs in storage calls (issue 14, item 1), counted by the server itself
//! (`ticketclub_storage_calls_total{engine, call}` on `/metrics`) around a few joins, on both
//! engine pairs. Every call the join path makes is listed with its count per join; a call that
//! is not listed and is not one of the background duties (sweeps, reaping, gauges) fails the
//! test, so a join that starts making one more round trip is caught here.
//!
//! A database call is counted after the read-through caches (a hit counts nothing); on the
//! production engines each counted call is one network round trip (the Redis `enter` sends its
//! script and its index update together). On MySQL + Redis the sold count is read from Redis,
//! in the same script run as the place (`waiting_room.place_and_sold`): the session's counts
//! are loaded once, by the warm-up join, and the measured joins ask no database and make two
//! Redis exchanges each.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::app_rust::{account, connected, open_legacy};
use crate::multi_instance::{spawn_process, start_cluster};

/// Joins per measured phase.
const JOINS: usize = 6;

/// What the server does on its own, whenever its timers say: not part of any join.
const BACKGROUND: &[&str] = &[
    "expire",
    "reap",
    "occupancy",
    "progress",
    "early_sessions",
    "free_stale_holds",
    "sessions_on_sale_between",
    "ready",
    "warm_pool",
    // The operator's settings and blocks, reloaded four times a second (issue 13).
    "session_settings",
    "blocked_accounts",
    // On a shared room, where each instance's queued people stand, asked once a second.
    "places",
    // ... and which admissions went unsaid (an admitting instance died before it spoke).
    "unannounced",
];

/// The server's `/metrics` page.
async fn metrics_page(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

/// `(engine, call) → count` from a `/metrics` page.
async fn calls(base: &str) -> BTreeMap<(String, String), u64> {
    let page = metrics_page(base).await;
    let mut counts = BTreeMap::new();
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("ticketclub_storage_calls_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let n: f64 = value.trim().parse().unwrap_or(0.0);
        counts.insert((label("engine"), label("call")), n as u64);
    }
    counts
}

/// `(batches, arrivals or departures in them)` of `op` so far, from the server's
/// `ticketclub_waiting_room_batch_size{op}` histogram.
async fn batches(base: &str, op: &str) -> (u64, u64) {
    let page = metrics_page(base).await;
    let read = |series: &str| {
        let prefix = format!("ticketclub_waiting_room_batch_size_{series}{{op=\"{op}\"}} ");
        page.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {series} of {op} batches on /metrics")) as u64
    };
    (read("count"), read("sum"))
}

/// The calls made between two readings, background duties left out.
fn made(
    before: &BTreeMap<(String, String), u64>,
    after: &BTreeMap<(String, String), u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter(|((_, call), _)| !BACKGROUND.contains(&call.as_str()))
        .map(|((engine, call), n)| {
            let was = before
                .get(&(engine.clone(), call.clone()))
                .copied()
                .unwrap_or(0);
            (format!("{engine}.{call}"), n - was)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

fn expected(per_join: &[(&str, u64)], joins: usize) -> BTreeMap<String, u64> {
    per_join
        .iter()
        .map(|(call, n)| (call.to_string(), n * joins as u64))
        .collect()
}

async fn validate(base: &str, token: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/session/validation"))
        .bearer_auth(token)
        .json(&json!({ "sessionId": 2 }))
        .send()
        .await
        .expect("validation answers")
        .json()
        .await
        .expect("validation body")
}

/// The legacy join (`POST /session/validation`, then `check limit` on an open socket) and the
/// app join (`join` on `/queue`), `JOINS` of each, on the instance at `base`; `legacy` lists
/// the calls of one legacy join.
/// `batched_enter`: arrivals go to the room in batches (Redis; the embedded room places each at
/// once).
async fn joins_cost(base: &str, engines: &str, legacy: &[(&str, u64)], batched_enter: bool) {
    // Queue limit 2: the first two joins of each phase pass, the others queue.
    let mut tokens = Vec::new();
    for i in 0..2 * JOINS + 1 {
        tokens.push(account(base, &format!("rt{i}")).await.0);
    }
    // One join first, as in any running sale: the catalog's session row is cached and this
    // instance has seen the session's fair-start draw (none: the session was on sale already).
    let warm = &tokens[2 * JOINS];
    assert_eq!(validate(base, warm).await["ok"], true);
    let mut first = open_legacy(base, warm, "warm").await;
    first
        .client
        .emit("check limit", json!(2))
        .await
        .expect("check limit sent");
    assert_eq!(first.next("check limit").await["pass"], true);

    // Legacy: sockets open first (the connect checks the account once per instance).
    let mut sockets = Vec::new();
    for (i, token) in tokens[..JOINS].iter().enumerate() {
        sockets.push(open_legacy(base, token, &format!("legacy{i}")).await);
    }
    let before = calls(base).await;
    for (token, socket) in tokens[..JOINS].iter().zip(sockets.iter_mut()) {
        let checked = validate(base, token).await;
        assert_eq!(checked["ok"], true, "{engines}: {checked}");
        socket
            .client
            .emit("check limit", json!(2))
            .await
            .expect("check limit sent");
        let reply = socket.next("check limit").await;
        assert!(reply.get("pass").is_some(), "{engines}: {reply}");
    }
    let legacy_calls = made(&before, &calls(base).await);
    assert_eq!(
        legacy_calls,
        expected(legacy, JOINS),
        "{engines}: storage calls of {JOINS} legacy joins (validation + check limit)"
    );

    // App: the first two are admitted (their ack names the window's end, read from the room),
    // the others queue.
    let mut peers = Vec::new();
    for (i, token) in tokens[JOINS..2 * JOINS].iter().enumerate() {
        peers.push(connected(base, "/queue", token, "websocket", &format!("app{i}")).await);
    }
    for s in &sockets {
        s.client.disconnect().await.expect("legacy socket closes");
    }
    // The legacy visits end (their departures are not part of the app joins measured next).
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = calls(base).await;
    let entered = batches(base, "enter").await;
    let mut admitted = 0;
    for peer in &peers {
        let joined = peer.call("join", json!({ "sessionId": 2 })).await;
        match joined["state"].as_str() {
            Some("admitted") => admitted += 1,
            Some("queued") => {}
            _ => panic!("{engines}: {joined}"),
        }
    }
    let app_calls = made(&before, &calls(base).await);
    // One at a time, each arrival is a batch of its own, and counted once.
    let (count, sum) = batches(base, "enter").await;
    let lone = if batched_enter { JOINS as u64 } else { 0 };
    assert_eq!(
        (count - entered.0, sum - entered.1),
        (lone, lone),
        "{engines}: enter batches of {JOINS} app joins"
    );
    let mut want = expected(&[("waiting_room.enter", 1)], JOINS);
    want.insert("waiting_room.admitted_at".into(), admitted);
    assert_eq!(
        app_calls, want,
        "{engines}: storage calls of {JOINS} app joins ({admitted} admitted)"
    );

    // The queued leave: someone who never reached the page holds no seat, so their departure
    // asks the database nothing (in a crowd's disconnect storm or a fleet's, one query per
    // person held the database's pool shut).
    let before = calls(base).await;
    let left = batches(base, "leave").await;
    let mut queued = 0;
    for peer in &peers[admitted as usize..] {
        let left = peer.call("leave", json!({ "sessionId": 2 })).await;
        assert_eq!(left["ok"], true, "{engines}: {left}");
        queued += 1;
    }
    let leave_calls = made(&before, &calls(base).await);
    let (count, sum) = batches(base, "leave").await;
    assert_eq!(
        (count - left.0, sum - left.1),
        (queued, queued),
        "{engines}: leave batches of {queued} queued leaves, one at a time"
    );
    for call in ["database.release_holds", "database.sold_count"] {
        assert!(
            !leave_calls.contains_key(call),
            "{engines}: {queued} queued leaves made {leave_calls:?}"
        );
    }
    assert!(
        leave_calls
            .keys()
            .any(|c| c.starts_with("waiting_room.leave")),
        "{engines}: the leaves were made: {leave_calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_makes_one_database_call_and_two_waiting_room_calls_on_the_embedded_engines() {
    let server = spawn_process(&[("TICKETCLUB_QUEUE_LIMIT", "2")]).await;
    let legacy = [
        ("database.sold_count", 1),
        ("waiting_room.place", 1),
        ("waiting_room.enter", 1),
    ];
    joins_cost(&server.base, "embedded", &legacy, false).await;
}

/// The sold count is read next to the queue, in the place's own exchange (issue 14): the legacy
/// join asks no database and makes two Redis exchanges (validation, `check limit`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_makes_no_database_call_and_two_redis_exchanges_on_mysql_and_redis() {
    let cluster = start_cluster(1, &[("TICKETCLUB_QUEUE_LIMIT", "2")]).await;
    let legacy = [
        ("waiting_room.place_and_sold", 1),
        ("waiting_room.enter", 1),
    ];
    joins_cost(&cluster.instances[0].base, "production", &legacy, true).await;
}
