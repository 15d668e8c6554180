//! `position` pushes when several instances share one waiting room (issue 11; protocol-v2: at
//! most one per socket per second, always the latest value). Departures happen on both
//! instances; the watcher, connected to one of them, must hear its place go down at most once a
//! second, never a stale value after a fresher one, and nothing after `admitted`. Before the
//! instances asked the shared room (each pushed what its own departures told it, to everyone
//! through the adapter) the watcher heard both instances' pushes, up to one each a second, in
//! either order.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::app_rust::{Peer, account, connected};
use crate::multi_instance::start_cluster;

const SESSION: i64 = 2;
/// People queued ahead of the watcher, who leave one after the other.
const AHEAD: usize = 8;
/// Between two of their departures: four a second, spread over both instances.
const BETWEEN: Duration = Duration::from_millis(250);

/// A new account joined to session 2's line on `base` through `/queue`: its connection, its
/// join ack and its id.
async fn joined(base: &str, label: &str) -> (Peer, Value, i64) {
    let (token, id) = account(base, label).await;
    let peer = connected(base, "/queue", &token, "websocket", label).await;
    let ack = peer.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(ack["ok"], true, "{label} joins: {ack}");
    (peer, ack, id)
}

/// Every `position` the watcher hears until `until`, with when it was taken off the wire
/// (looked at every 10 ms).
async fn positions_until(watcher: &mut Peer, until: Instant, heard: &mut Vec<(Instant, Value)>) {
    while Instant::now() < until {
        let now = Instant::now();
        heard.extend(watcher.drain("position").into_iter().map(|p| (now, p)));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_hears_departures_on_every_instance_once_a_second_newest_first() {
    let cluster = start_cluster(2, &[("TICKETCLUB_QUEUE_LIMIT", "1")]).await;
    let bases = [
        cluster.instances[0].base.clone(),
        cluster.instances[1].base.clone(),
    ];
    let (holder, ack, _) = joined(&bases[0], "holder").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let mut ahead = Vec::new();
    for i in 0..AHEAD {
        let (peer, ack, _) = joined(&bases[i % 2], &format!("ahead{i}")).await;
        assert_eq!(ack["ahead"], i, "{ack}");
        ahead.push(peer);
    }
    let (mut watcher, ack, _) = joined(&bases[1], "watcher").await;
    assert_eq!(ack["ahead"], AHEAD, "{ack}");

    // Departures alternate between the instances, four a second.
    let mut heard = Vec::new();
    for peer in &ahead {
        let left = peer.call("leave", json!({ "sessionId": SESSION })).await;
        assert_eq!(left["ok"], true, "{left}");
        positions_until(&mut watcher, Instant::now() + BETWEEN, &mut heard).await;
    }
    positions_until(
        &mut watcher,
        Instant::now() + Duration::from_secs(3),
        &mut heard,
    )
    .await;

    let shown: Vec<u64> = heard
        .iter()
        .map(|(_, p)| p["ahead"].as_u64().expect("ahead"))
        .collect();
    assert_eq!(
        shown.last(),
        Some(&0),
        "the newest place is shown: {shown:?}"
    );
    assert!(
        shown.windows(2).all(|w| w[1] < w[0]),
        "every push is fresher than the one before: {shown:?}"
    );
    // The server spaces its pushes a second apart; 100 ms allows for delivery jitter.
    for pair in heard.windows(2) {
        let gap = pair[1].0.duration_since(pair[0].0);
        assert!(
            gap >= Duration::from_millis(900),
            "two positions {gap:?} apart: {shown:?}"
        );
    }
    assert!(
        heard.iter().all(|(_, p)| p["sessionId"] == SESSION),
        "{heard:?}"
    );

    // The holder gives up the page: the watcher is admitted and hears no place after that.
    let left = holder.call("leave", json!({ "sessionId": SESSION })).await;
    assert_eq!(left["ok"], true, "{left}");
    let admitted = watcher.next("admitted").await;
    assert_eq!(admitted["sessionId"], SESSION, "{admitted}");
    let mut after = Vec::new();
    positions_until(
        &mut watcher,
        Instant::now() + Duration::from_millis(1500),
        &mut after,
    )
    .await;
    assert!(after.is_empty(), "a place after admitted: {after:?}");
}

/// An admission made by an instance that dies before saying it: the promotion happens in the
/// shared room (here made by the test itself, as that instance would have) and no instance says
/// `admitted`. The instance holding the admitted person's connection says it within seconds;
/// before, the person waited unknowing until their window ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admission_its_instance_never_said_is_said_by_the_instance_holding_the_connection() {
    use ticketclub::domain::ids::{SessionId, UserId};
    use ticketclub::domain::waiting_room::Rules;
    use ticketclub::storage::WaitingRoom;
    use ticketclub::storage::redis::{Lease, RedisWaitingRoom};

    let cluster = start_cluster(2, &[("TICKETCLUB_QUEUE_LIMIT", "1")]).await;
    let (_holder, ack, holder) = joined(&cluster.instances[0].base, "holder").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let (mut watcher, ack, watcher_id) = joined(&cluster.instances[1].base, "watcher").await;
    assert_eq!(ack["ahead"], 0, "{ack}");

    // The dying instance's part: the holder's place ends and the watcher takes it, in Redis.
    let redis = cluster.redis();
    let rules = Rules {
        limit: 1,
        window_ms: 600_000,
        buffer_s: 10,
        paused: false,
    };
    let lease = Lease {
        instance: "dies-before-speaking".into(),
        ttl_ms: 60_000,
    };
    let room = RedisWaitingRoom::connect(
        &redis.url,
        &redis.prefix,
        rules,
        610_000,
        lease,
        Duration::from_secs(2),
    )
    .await
    .expect("the test Redis answers");
    let now = chrono::Utc::now().timestamp_millis();
    let left = room
        .leave(SessionId(SESSION), UserId(holder), None, now)
        .await
        .expect("leave")
        .expect("on the page");
    assert_eq!(left.promoted, Some(UserId(watcher_id)), "{left:?}");

    let admitted = watcher
        .next_within("admitted", Duration::from_secs(8))
        .await;
    assert_eq!(admitted["sessionId"], SESSION, "{admitted}");
    assert_eq!(admitted["windowEndsAt"], now + 600_000, "{admitted}");
}
