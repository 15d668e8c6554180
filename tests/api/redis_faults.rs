//! Redis faults under a running server, on a Redis of the test's own: killed and restarted,
//! paused (SIGSTOP) and resumed. The server must answer throughout and recover by itself.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::app_rust::{connected, open_with};
use crate::databases::TestDb;
use crate::helpers::{TestApp, spawn_app_with};
use crate::js_flows::run_node_scenario;
use crate::multi_instance::{Instance, spawn_process};
use crate::own_redis::{HeldReplies, OwnRedis};
use crate::resume::Proxy;

/// The script a place is entered with (a lone arrival, a resume), as the server sends it.
const ENTER_BATCH: &str = concat!(
    include_str!("../../src/storage/redis/lua/enter_body.lua"),
    include_str!("../../src/storage/redis/lua/enter_batch.lua")
);

/// A server on `redis` (its own prefix, SQLite beside it) with settings changed by `tweak`.
async fn app_on(
    redis: &OwnRedis,
    tweak: impl FnOnce(&mut ticketclub::config::Settings),
) -> TestApp {
    app_at(redis.url(), tweak).await
}

/// [`app_on`] for the Redis at `url` (a forwarder in front of the test's own, say).
async fn app_at(url: String, tweak: impl FnOnce(&mut ticketclub::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.redis_url = Some(url);
        tweak(s);
    })
    .await
}

/// A status or "no answer" after `within`.
async fn status_within(
    app: &TestApp,
    req: reqwest::RequestBuilder,
    within: Duration,
) -> Option<StatusCode> {
    let _ = app;
    tokio::time::timeout(within, req.send())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|r| r.status())
}

fn readyz(app: &TestApp) -> reqwest::RequestBuilder {
    app.client.get(format!("{}/readyz", app.base))
}

fn validation(app: &TestApp, token: &str) -> reqwest::RequestBuilder {
    app.client
        .post(format!("{}/session/validation", app.base))
        .bearer_auth(token)
        .json(&json!({"sessionId": 2}))
}

/// Polls until both readiness and a waiting-room read answer 200, or `limit` passes.
async fn recovers_within(app: &TestApp, token: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let step = Duration::from_secs(2);
        let ready = status_within(app, readyz(app), step).await;
        let valid = status_within(app, validation(app, token), step).await;
        if ready == Some(StatusCode::OK) && valid == Some(StatusCode::OK) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_killed_and_restarted_at_once_is_used_again_within_seconds() {
    let mut redis = OwnRedis::start();
    let app = app_on(&redis, |_| {}).await;
    let (token, _) = app.sign_up("restart").await;
    assert!(
        recovers_within(&app, &token, Duration::from_secs(5))
            .await
            .is_some()
    );

    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();

    let took = recovers_within(&app, &token, Duration::from_secs(15)).await;
    assert!(
        took.is_some(),
        "readiness and validation still fail 15 s after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_gets_answers_not_hangs_and_readiness_says_so_within_a_second() {
    let redis = OwnRedis::start();
    let app = app_on(&redis, |_| {}).await;
    let (token, _) = app.sign_up("stall").await;
    assert!(
        recovers_within(&app, &token, Duration::from_secs(5))
            .await
            .is_some()
    );

    redis.pause();
    let started = Instant::now();
    let ready = status_within(&app, readyz(&app), Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert_eq!(ready, Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(took < Duration::from_millis(1500), "/readyz took {took:?}");

    let started = Instant::now();
    let valid = status_within(&app, validation(&app, &token), Duration::from_secs(10)).await;
    assert_eq!(
        valid,
        Some(StatusCode::INTERNAL_SERVER_ERROR),
        "a clear error, not a hang"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    redis.resume();
    let took = recovers_within(&app, &token, Duration::from_secs(15)).await;
    assert!(took.is_some(), "still failing 15 s after Redis resumed");
}

/// A join whose Redis reply timed out may have taken its place anyway: Redis ran the script
/// when it woke. The client was told `internal`; its connection still counts that line as its
/// own, so `status` shows the place and a goodbye gives it back. Before, the place stood in
/// line with no socket behind it, and everyone who came later waited behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_timed_out_but_took_its_place_gives_it_back_when_its_socket_goes() {
    let redis = OwnRedis::start();
    let app = app_on(&redis, |s| {
        s.queue_limit = 1;
        // Short enough to fail fast, long enough for a loaded CI box's own calls.
        s.storage_timeout_ms = 1_000;
    })
    .await;
    let join = json!({ "sessionId": 2 });
    let (first, _) = app.sign_up("fills-the-page").await;
    let first = connected(&app.base, "/queue", &first, "websocket", "first").await;
    assert_eq!(first.call("join", join.clone()).await["state"], "admitted");
    let (late, _) = app.sign_up("timed-out").await;
    let late = connected(&app.base, "/queue", &late, "websocket", "late").await;

    redis.pause();
    let refused = late.call("join", join.clone()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.resume();
    assert_eq!(refused["error"]["code"], "internal", "{refused}");
    // Redis ran the arrival once it woke: the place is there (asked until Redis answers again).
    let mut place = json!(null);
    for _ in 0..50 {
        place = late.call("status", join.clone()).await;
        if place["ok"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        place["state"] == "queued" && place["ahead"] == 0,
        "the timed-out join stands in line: {place}"
    );

    late.client.disconnect().await.expect("goodbye sent");
    let ahead = ahead_of_the_next_arrival(&app, Duration::from_secs(5)).await;
    assert_eq!(
        ahead, 0,
        "nobody stands in front of the next arrival once the timed-out client left"
    );
}

/// A resume whose Redis reply timed out may have moved the place onto the refused connection
/// anyway: Redis ran the move, the client heard `internal`. The dropped connection's deferred
/// departure names the old holder and so finds nothing to end; before, the place then stood in
/// line with no socket behind it until the session's keys expired. The refused connection now
/// defers a departure of its own, so the place is released after the grace unless the client
/// comes back for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_that_timed_out_but_moved_the_place_is_released_after_the_grace() {
    let redis = OwnRedis::start();
    let held = HeldReplies::before(&redis).await;
    let app = app_at(held.url(), |s| {
        s.queue_limit = 1;
        s.storage_timeout_ms = 1_000;
        s.resume_grace = 2;
    })
    .await;
    let join = json!({ "sessionId": 2 });
    let (first, _) = app.sign_up("fills-the-page").await;
    let first = connected(&app.base, "/queue", &first, "websocket", "first").await;
    assert_eq!(first.call("join", join.clone()).await["state"], "admitted");
    let (late, _) = app.sign_up("drops-and-resumes").await;
    let via = Proxy::to(&app.base).await;
    let queued = connected(&via.base, "/queue", &late, "websocket", "late").await;
    let joined = queued.call("join", join.clone()).await;
    assert_eq!(joined["state"], "queued", "{joined}");

    // The network drops; the place is kept for the grace. The client comes back at once, and
    // the reply to the move of its place is lost past the server's timeout.
    via.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    held.arm(
        &fred::util::sha1_hash(ENTER_BATCH),
        Duration::from_millis(2_500),
    );
    let auth = json!({ "token": late, "resume": joined["resume"] });
    let refused = open_with(&app.base, "/queue", auth, "websocket", "late again").await;
    let why = refused
        .err()
        .expect("the resume whose reply was lost is refused");
    assert!(why.contains("internal"), "{why}");

    // Nobody came back for the place: after the grace, the next arrival is first in line.
    let ahead = ahead_of_the_next_arrival(&app, Duration::from_secs(8)).await;
    assert_eq!(
        ahead, 0,
        "the place the lost reply moved is released once the grace ends"
    );
}

/// How many people stand in front of a new app arrival in session 2: it joins, and while
/// someone is ahead, leaves and joins again, for at most `within`; the last `ahead` seen.
async fn ahead_of_the_next_arrival(app: &TestApp, within: Duration) -> serde_json::Value {
    let join = json!({ "sessionId": 2 });
    let (next, _) = app.sign_up("behind").await;
    let next = connected(&app.base, "/queue", &next, "websocket", "next").await;
    let deadline = Instant::now() + within;
    loop {
        let ahead = next.call("join", join.clone()).await["ahead"].clone();
        if ahead == 0 || Instant::now() > deadline {
            return ahead;
        }
        next.call("leave", join.clone()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `instance` answers `/readyz` with 200, or panics after `limit`.
async fn ready_within(instance: &Instance, limit: Duration) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let req = client.get(format!("{}/readyz", instance.base));
        let status = tokio::time::timeout(Duration::from_secs(2), req.send()).await;
        if matches!(status, Ok(Ok(ref r)) if r.status() == StatusCode::OK) {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "{} is not ready {limit:?} after the Redis restart",
            instance.base
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_cross_instances_again_after_a_redis_restart() {
    let mut redis = OwnRedis::start();
    let db = TestDb::create().await;
    let url = redis.url();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("TICKETCLUB_AUTO_MIGRATE", "true"),
        ("REDIS_URL", url.as_str()),
        ("TICKETCLUB_QUEUE_LIMIT", "1"),
    ];
    let one = spawn_process(&env).await;
    let two = spawn_process(&env).await;

    // Both instances' default namespaces subscribed their adapter channels at startup; a
    // restarted Redis has forgotten them.
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    ready_within(&one, Duration::from_secs(15)).await;
    ready_within(&two, Duration::from_secs(15)).await;

    // Seat news and admissions from one instance reach the other's sockets (10 s per event).
    run_node_scenario(
        "two-instances",
        &one.base,
        Some(&two.base),
        "websocket",
        None,
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiting_room_key_expires_after_a_graceful_stop() {
    let redis = OwnRedis::start();
    let app = app_on(&redis, |_| {}).await;
    // Seven arrivals: three on the page, four queued (the ticket counter is used), then all leave.
    run_node_scenario("arrive7", &app.base, None, "websocket", None, &[]).await;
    app.stop().await;

    let keys = redis.keys_with_ttl();
    assert!(
        keys.iter().any(|(k, _)| k.ends_with(":seq")),
        "the visit left no keys to check: {keys:?}"
    );
    let forever: Vec<&(String, i64)> = keys.iter().filter(|(_, ttl)| *ttl == -1).collect();
    assert!(forever.is_empty(), "keys without a TTL: {forever:?}");
}

mod lease {
    use std::time::Duration;

    use ticketclub::domain::ids::{SessionId, UserId};
    use ticketclub::domain::time::now_millis;
    use ticketclub::domain::waiting_room::{Admission, Holder, Place, Rules};
    use ticketclub::storage::redis::{Lease, RedisWaitingRoom};
    use ticketclub::storage::{StorageError, WaitingRoom};

    use crate::own_redis::OwnRedis;

    const RULES: Rules = Rules {
        limit: 3,
        window_ms: 600_000,
        buffer_s: 10,
        paused: false,
    };
    const S: SessionId = SessionId(2);
    const TTL_MS: i64 = 1_000;

    /// Instance `id` of the waiting room on `redis`, with a one-second lease.
    async fn instance(redis: &OwnRedis, id: &str) -> RedisWaitingRoom {
        let lease = Lease {
            instance: id.into(),
            ttl_ms: TTL_MS,
        };
        let timeout = Duration::from_millis(500);
        RedisWaitingRoom::connect(&redis.url(), "tc:", RULES, 610_000, lease, timeout)
            .await
            .expect("the private Redis answers")
    }

    /// `b` sweeps every 200 ms for `span`; every visit it ended.
    async fn reap_for(b: &RedisWaitingRoom, span: Duration) -> Vec<UserId> {
        let mut ended = Vec::new();
        let start = std::time::Instant::now();
        while start.elapsed() < span {
            if let Ok(reaped) = b.reap(now_millis()).await {
                ended.extend(reaped.into_iter().map(|e| e.user));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        ended
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_redis_stall_longer_than_the_lease_does_not_let_a_peer_reap_a_live_instance() {
        let redis = OwnRedis::start();
        let (a, b) = (instance(&redis, "a").await, instance(&redis, "b").await);
        let entered = a
            .enter(S, UserId(1), Holder("x".into()), now_millis())
            .await;
        assert_eq!(entered.expect("enter"), Admission::Pass);
        assert!(b.reap(now_millis()).await.expect("reap").is_empty());

        // Three leases long: Redis' clock runs on, and both leases lapse inside it.
        redis.pause();
        tokio::time::sleep(Duration::from_millis(3 * TTL_MS as u64)).await;
        redis.resume();

        // b looks first, before a has had a chance to renew.
        let first = b.reap(now_millis()).await.expect("reap after the stall");
        assert!(first.is_empty(), "b reaped a live peer: {first:?}");
        a.reap(now_millis())
            .await
            .expect("a renews after the stall");
        let later = reap_for(&b, Duration::from_millis(2 * TTL_MS as u64)).await;
        assert!(later.is_empty(), "b reaped a live peer: {later:?}");
        assert_eq!(
            a.place(S, UserId(1)).await.expect("place"),
            Some(Place::Page)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_silent_instance_is_fenced_and_reaped_and_learns_it_lost_its_lease() {
        let redis = OwnRedis::start();
        let (a, b) = (instance(&redis, "a").await, instance(&redis, "b").await);
        let entered = a
            .enter(S, UserId(1), Holder("x".into()), now_millis())
            .await;
        assert_eq!(entered.expect("enter"), Admission::Pass);

        // a stops renewing; b reaps it only after its lease was missing a whole lease.
        let started = std::time::Instant::now();
        let mut ended = Vec::new();
        while ended.is_empty() && started.elapsed() < Duration::from_secs(5) {
            ended = b.reap(now_millis()).await.expect("reap");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            ended.iter().map(|e| e.user).collect::<Vec<_>>(),
            [UserId(1)]
        );
        assert!(
            started.elapsed() >= Duration::from_millis(2 * TTL_MS as u64 - 200),
            "reaped {:?} after a's last renewal: the lease must be missing a whole lease first",
            started.elapsed()
        );

        // a comes back: the fence refuses its old lease, and it learns so.
        match a.reap(now_millis()).await {
            Err(StorageError::LeaseLost(old)) => assert_eq!(old, "a"),
            other => panic!("a renewed a fenced lease: {other:?}"),
        }
        // Under its new id a holds places that its renewals keep alive.
        a.enter(S, UserId(2), Holder("y".into()), now_millis())
            .await
            .expect("enter");
        for _ in 0..15 {
            a.reap(now_millis()).await.expect("a renews its new lease");
            let reaped = b.reap(now_millis()).await.expect("reap");
            assert!(reaped.is_empty(), "b reaped a's new id: {reaped:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(
            a.place(S, UserId(2)).await.expect("place"),
            Some(Place::Page)
        );
    }
}
