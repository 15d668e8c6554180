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

/// A TCP proxy in front of Redis that can hold back one command's answer: armed with a
/// marker, it holds every reply on the first connection that sends a command containing it,
/// until released. The instance behind it sends the command and it runs, but the instance
/// hears the answer only later, while every other connection (the pub/sub ones that bring
/// other instances' pushes among them) carries on.
struct RedisGate {
    url: String,
    /// The marker to hold on, while armed.
    armed: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    /// The connections held back.
    held: std::sync::Arc<std::sync::Mutex<Vec<std::sync::Arc<std::sync::atomic::AtomicBool>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RedisGate {
    async fn to(redis_url: &str) -> RedisGate {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};

        let target = redis_url
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("gate binds");
        let url = format!("redis://{}", listener.local_addr().expect("address"));
        let armed: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
        let held: Arc<Mutex<Vec<Arc<AtomicBool>>>> = Arc::default();
        let (arms, holds) = (armed.clone(), held.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                let holding = Arc::new(AtomicBool::new(false));
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let (arms, holds, hold) = (arms.clone(), holds.clone(), holding.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_client.read(&mut buf).await {
                        let sent = &buf[..n];
                        {
                            let mut armed = arms.lock().expect("gate lock");
                            let hit = armed
                                .as_ref()
                                .is_some_and(|m| sent.windows(m.len()).any(|w| w == m.as_slice()));
                            if hit {
                                // Held before the command reaches Redis: its reply cannot
                                // slip by.
                                hold.store(true, Ordering::SeqCst);
                                holds.lock().expect("gate lock").push(hold.clone());
                                *armed = None;
                            }
                        }
                        if to_server.write_all(sent).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_server.read(&mut buf).await {
                        while holding.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        if to_client.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        RedisGate {
            url,
            armed,
            held,
            task,
        }
    }

    /// Holds the replies of the next connection that sends `marker`.
    fn arm(&self, marker: &[u8]) {
        *self.armed.lock().expect("gate lock") = Some(marker.to_vec());
    }

    /// Whether a connection is held back now.
    fn holding(&self) -> bool {
        !self.held.lock().expect("gate lock").is_empty()
    }

    /// Lets every held reply through.
    fn release(&self) {
        *self.armed.lock().expect("gate lock") = None;
        for hold in self.held.lock().expect("gate lock").drain(..) {
            hold.store(false, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl Drop for RedisGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every push `peer` hears until `until`, in order, appended to `heard`.
async fn pushes_until(peer: &mut Peer, until: Instant, heard: &mut Vec<(String, Value)>) {
    while Instant::now() < until {
        heard.extend(peer.drain_all());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The race `admitted` used to lose: the instance holding a watcher's connection asks where
/// they stand, and while the answer is under way another instance admits them. The answer
/// (a place in line) reached the connection after `admitted` had, through the adapter. Here
/// the holding instance's Redis answers are held back by a gate while the other instance
/// admits the watcher, then let through. Before `admitted` and `position` shared one path
/// (`realtime::app::admissions`) the watcher heard its place after `admitted` in each round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_place_read_before_an_admission_made_elsewhere_is_never_shown_after_it() {
    let limit = [("TICKETCLUB_QUEUE_LIMIT", "1")];
    let mut cluster = start_cluster(1, &limit).await;
    let gate = RedisGate::to(&cluster.redis().url).await;
    let gated = [
        ("TICKETCLUB_QUEUE_LIMIT", "1"),
        ("REDIS_URL", gate.url.as_str()),
    ];
    cluster.add_instance(&gated).await;
    let (front, back) = (
        cluster.instances[0].base.clone(),
        cluster.instances[1].base.clone(),
    );
    // Each round: a holder on the page and one person ahead of the watcher, both on the open
    // instance, the watcher on the gated one. The one ahead leaves, the gate closes, the
    // watcher's place is asked (the answer held), the holder leaves and the watcher is
    // admitted, the gate opens. The watcher then leaves the page to the next round.
    let mut raced = 0;
    for round in 0..3 {
        let (holder, ack, _) = joined(&front, &format!("holder{round}")).await;
        assert_eq!(ack["state"], "admitted", "{ack}");
        let (ahead, ack, _) = joined(&front, &format!("ahead{round}")).await;
        assert_eq!(ack["ahead"], 0, "{ack}");
        let (mut watcher, ack, watcher_id) = joined(&back, &format!("watcher{round}")).await;
        assert_eq!(ack["ahead"], 1, "{ack}");
        tokio::time::sleep(Duration::from_millis(1200)).await;

        let left = ahead.call("leave", json!({ "sessionId": SESSION })).await;
        assert_eq!(left["ok"], true, "{left}");
        // The gated instance's next ask about the watcher (their id, a bulk string among the
        // script's arguments) reads `ahead 0`; its answer is held.
        gate.arm(format!("\r\n{watcher_id}\r\n").as_bytes());
        let deadline = Instant::now() + Duration::from_secs(3);
        while !gate.holding() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            gate.holding(),
            "round {round}: the watcher's place was asked"
        );
        let mut heard = watcher.drain_all();
        let left = holder.call("leave", json!({ "sessionId": SESSION })).await;
        assert_eq!(left["ok"], true, "{left}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !heard.iter().any(|(e, _)| e == "admitted") && Instant::now() < deadline {
            pushes_until(
                &mut watcher,
                Instant::now() + Duration::from_millis(50),
                &mut heard,
            )
            .await;
        }
        gate.release();
        pushes_until(
            &mut watcher,
            Instant::now() + Duration::from_millis(1500),
            &mut heard,
        )
        .await;

        let admitted = heard
            .iter()
            .position(|(e, _)| e == "admitted")
            .unwrap_or_else(|| panic!("round {round}: the watcher was admitted: {heard:?}"));
        let after: Vec<_> = heard[admitted..]
            .iter()
            .filter(|(e, _)| e == "position")
            .collect();
        assert!(
            after.is_empty(),
            "round {round}: a place after admitted: {heard:?}"
        );
        // A round where the place went out before the gate closed set up no race.
        if !heard[..admitted].iter().any(|(e, _)| e == "position") {
            raced += 1;
        }
        let left = watcher.call("leave", json!({ "sessionId": SESSION })).await;
        assert_eq!(left["ok"], true, "{left}");
    }
    assert!(raced > 0, "no round held an answer across the admission");
}
