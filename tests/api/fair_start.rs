//! Fair start (protocol-v2 "Fair start", issue 11 item 5): 200 people join before the on-sale
//! time and wait as `waiting_for_sale`; at the on-sale time a seeded draw puts them on the page
//! and in the queue in the drawn order, not their arrival order; people who join later queue
//! behind all of them; `GET /session/{id}/draw` publishes the seed, the count and the hash of
//! the order, which this test recomputes independently (rand_chacha + sha2).

use std::collections::HashMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::app_rust::{Peer, account, connected};
use crate::helpers::spawn_app_with;
use crate::multi_instance::start_cluster;

const SESSION: i64 = 2;
const EARLY: usize = 200;
const LIMIT: usize = 10;

/// The on-sale time `seconds` from now, as the database stores it (UTC, whole seconds).
fn opens_in(seconds: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds);
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

const SET_ON_SALE: &str =
    "UPDATE event SET on_sale = ? WHERE id = (SELECT event_id FROM session WHERE id = 2)";
const SET_ON_SALE_MYSQL: &str =
    "UPDATE event e JOIN session s ON s.event_id = e.id SET e.on_sale = ? WHERE s.id = 2";

/// The story against `bases` (people spread over them) once `open_soon` has moved the
/// on-sale time a few seconds ahead.
async fn fair_story<F, Fut>(bases: &[&str], open_soon: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut people: Vec<(Peer, i64)> = Vec::new();
    let base = bases[0];
    for n in 0..EARLY {
        let base = bases[n % bases.len()];
        let (token, id) = account(base, &format!("e{n}")).await;
        let q = connected(base, "/queue", &token, "websocket", &format!("early {n}")).await;
        people.push((q, id));
    }
    let (late_token, late_id) = account(base, "late").await;
    let late = connected(base, "/queue", &late_token, "websocket", "late").await;
    open_soon(opens_in(6)).await;

    // Everyone joins early, all at once.
    let joins = futures_util::future::join_all(
        people
            .iter()
            .map(|(q, _)| q.call("join", json!({ "sessionId": SESSION }))),
    )
    .await;
    for ack in &joins {
        assert_eq!(ack["state"], "waiting_for_sale", "{ack}");
        assert!(ack["estimate"]["seconds"].as_i64() > Some(0), "{ack}");
        assert!(ack["resume"].is_string(), "{ack}");
    }
    let draw_url = format!("{base}/session/{SESSION}/draw");
    let early = reqwest::get(&draw_url).await.expect("draw answers");
    assert_eq!(early.status(), 409, "no draw before the start");

    // After the on-sale time the draw has run (the sweeper looks every second).
    tokio::time::sleep(Duration::from_secs(8)).await;
    let late_ack = late.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(late_ack["state"], "queued", "{late_ack}");
    assert_eq!(
        late_ack["ahead"].as_u64(),
        Some((EARLY - LIMIT) as u64),
        "a late joiner queues behind every early one: {late_ack}"
    );
    assert!(late_ack.get("drawPosition").is_none(), "{late_ack}");

    // Each early entrant stands where the draw put them.
    let mut by_position: HashMap<u64, i64> = HashMap::new();
    for (q, id) in &people {
        let s = q.call("status", json!({ "sessionId": SESSION })).await;
        let position = s["drawPosition"]
            .as_u64()
            .unwrap_or_else(|| panic!("drawPosition: {s}"));
        if position as usize <= LIMIT {
            assert_eq!(s["state"], "admitted", "{s}");
        } else {
            assert_eq!(s["state"], "queued", "{s}");
            assert_eq!(
                s["ahead"].as_u64(),
                Some(position - 1 - LIMIT as u64),
                "{s}"
            );
        }
        assert!(
            by_position.insert(position, *id).is_none(),
            "positions are distinct"
        );
    }
    let order: Vec<i64> = (1..=EARLY as u64).map(|p| by_position[&p]).collect();
    let mut arrival: Vec<i64> = people.iter().map(|(_, id)| *id).collect();
    assert_ne!(order, arrival, "the draw is not the arrival order");
    assert!(!order.contains(&late_id));

    // The published draw names this order, and re-running it from the seed gives it back.
    let published: Value = reqwest::get(&draw_url)
        .await
        .expect("draw answers")
        .json()
        .await
        .expect("draw body");
    assert_eq!(
        published["count"].as_u64(),
        Some(EARLY as u64),
        "{published}"
    );
    let text = order
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let hash: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(published["hash"], hash.as_str(), "{published}");
    let seed: u64 = published["seed"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("seed");
    arrival.sort_unstable();
    arrival.shuffle(&mut rand_chacha::ChaCha20Rng::seed_from_u64(seed));
    assert_eq!(arrival, order, "the seed reproduces the order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_joiners_are_placed_by_the_published_draw_on_the_embedded_engines() {
    let app = spawn_app_with(|s| s.queue_limit = LIMIT as u32).await;
    let db = app.db();
    let db = std::sync::Mutex::new(db);
    fair_story(&[&app.base], |at| {
        let done = db
            .lock()
            .expect("db")
            .execute(SET_ON_SALE, [at])
            .expect("on-sale time moves");
        assert_eq!(done, 1);
        async {}
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_joiners_are_placed_by_the_published_draw_across_two_instances() {
    let cluster = start_cluster(2, &[("TICKETCLUB_QUEUE_LIMIT", "10")]).await;
    let url = cluster.db_url().to_owned();
    let bases = [
        cluster.instances[0].base.as_str(),
        cluster.instances[1].base.as_str(),
    ];
    fair_story(&bases, |at| async move {
        let mut conn = mysql_async::Conn::from_url(url.as_str()).await.expect("db");
        conn.exec_drop(SET_ON_SALE_MYSQL, (at,))
            .await
            .expect("on-sale time moves");
        let _ = conn.disconnect().await;
    })
    .await;
}

/// An early join that reaches an instance after the draw ran (its clock behind, or the on-sale
/// time moved) must not wait for a draw that will never come: it becomes an ordinary arrival.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_join_after_the_draw_ran_is_an_ordinary_arrival() {
    let app = spawn_app_with(|s| s.queue_limit = 1).await;
    let base = app.base.as_str();
    let db = app.db();
    let (ta, _) = account(base, "first").await;
    let (tb, _) = account(base, "straggler").await;
    db.execute(SET_ON_SALE, [opens_in(3)])
        .expect("on-sale time moves");
    let qa = connected(base, "/queue", &ta, "websocket", "first").await;
    let a = qa.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(a["state"], "waiting_for_sale", "{a}");
    // The draw runs at the on-sale time and places A.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let a = qa.call("status", json!({ "sessionId": SESSION })).await;
    assert_eq!(a["state"], "admitted", "{a}");
    // The on-sale time now reads as the future again (as on an instance whose clock is behind);
    // the catalog cache holds a session for 10 s.
    db.execute(SET_ON_SALE, [opens_in(120)])
        .expect("on-sale time moves");
    tokio::time::sleep(Duration::from_secs(11)).await;
    let qb = connected(base, "/queue", &tb, "websocket", "straggler").await;
    let b = qb.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(
        (b["state"].as_str(), b["ahead"].as_i64()),
        (Some("queued"), Some(0)),
        "a straggler behind the draw queues as usual: {b}"
    );
}
