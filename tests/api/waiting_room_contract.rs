//! The waiting-room contract: the same assertions on the in-process engine and on Redis.

use std::sync::Arc;

use ticketclub::domain::controls::SessionSettings;
use ticketclub::domain::ids::{SessionId, UserId};
use ticketclub::domain::waiting_room::{Admission, Departure, Holder, Place, Rules};
use ticketclub::storage::controls::RoomControls;
use ticketclub::storage::memory::MemoryWaitingRoom;
use ticketclub::storage::redis::{Lease, RedisWaitingRoom};
use ticketclub::storage::{StorageResult, WaitingRoom};

use crate::databases::TestRedis;

const RULES: Rules = Rules {
    limit: 3,
    window_ms: 600_000,
    buffer_s: 10,
    paused: false,
};
const LIFETIME: i64 = 610_000;
const S: SessionId = SessionId(2);

/// Each Redis command's limit, as the server's default.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

type Subject = (&'static str, Arc<dyn WaitingRoom>, Option<TestRedis>);

fn lease() -> Lease {
    Lease {
        instance: "test".into(),
        ttl_ms: 60_000,
    }
}

/// Starts the leave of every one of `leavers` at once (at 2,000 ms), each on its own task.
fn leave_at_once(
    room: &Arc<dyn WaitingRoom>,
    leavers: &[i64],
) -> Vec<tokio::task::JoinHandle<StorageResult<Option<Departure>>>> {
    leavers
        .iter()
        .map(|&u| {
            let room = room.clone();
            tokio::spawn(async move { room.leave(S, UserId(u), Some(h(u)), 2000).await })
        })
        .collect()
}

/// A Redis waiting room with the contract's rules on a fresh key prefix of the test Redis.
async fn redis_room() -> (TestRedis, RedisWaitingRoom) {
    let redis = TestRedis::new();
    let room =
        RedisWaitingRoom::connect(&redis.url, &redis.prefix, RULES, LIFETIME, lease(), TIMEOUT)
            .await
            .expect("the test Redis answers (scripts/services.sh starts it)");
    (redis, room)
}

/// The engines every run has: the in-process room and the test Redis.
async fn local_engines() -> Vec<Subject> {
    let memory: Arc<dyn WaitingRoom> = Arc::new(MemoryWaitingRoom::new(RULES, LIFETIME));
    let (redis, shared) = redis_room().await;
    vec![
        ("memory", memory, None),
        ("redis", Arc::new(shared), Some(redis)),
    ]
}

/// The Redis Cluster named by `TICKETCLUB_TEST_REDIS_CLUSTER`; a cluster test run without one
/// fails rather than passing with nothing checked.
async fn cluster_engine() -> Subject {
    let cluster = TestRedis::cluster()
        .expect("TICKETCLUB_TEST_REDIS_CLUSTER names a Redis Cluster (scripts/test starts one)");
    let room = RedisWaitingRoom::connect(
        &cluster.url,
        &cluster.prefix,
        RULES,
        LIFETIME,
        lease(),
        TIMEOUT,
    )
    .await
    .expect("the test Redis Cluster answers (scripts/redis-cluster.sh starts it)");
    ("redis-cluster", Arc::new(room), Some(cluster))
}

/// Each contract check runs as two tests: on the local engines, and on a Redis Cluster. The
/// cluster tests are `#[ignore]`d so that a plain `cargo test` reports them as skipped in its
/// summary ("N ignored") instead of passing silently; `scripts/test` starts a cluster and runs
/// them with `--include-ignored`, so CI fails if they cannot run.
macro_rules! contract_tests {
    ($($check:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $check() {
                    for (name, room, _guard) in super::local_engines().await {
                        super::$check(name, room).await;
                    }
                }
            )*
        }

        mod on_a_redis_cluster {
            $(
                #[tokio::test]
                #[ignore = "needs TICKETCLUB_TEST_REDIS_CLUSTER; scripts/test runs it"]
                async fn $check() {
                    let (name, room, _guard) = super::cluster_engine().await;
                    super::$check(name, room).await;
                }
            )*
        }
    };
}

contract_tests! {
    arrivals_pass_until_the_page_is_full_then_queue_with_the_original_estimate,
    a_page_departure_admits_the_head_of_the_queue_and_tells_everyone_behind,
    a_queued_departure_tells_only_the_people_behind,
    nobody_is_promoted_for_a_stranger_or_a_stale_connection,
    expired_visits_end_oldest_first_and_the_queue_moves_up,
    three_hundred_simultaneous_arrivals_get_distinct_fair_places,
    concurrent_callers_arrivals_get_gapless_places_in_each_callers_order,
    a_storm_of_departures_moves_everyone_left_by_exactly_the_places_they_gained,
    places_asked_together_answer_as_each_place_alone,
}

fn h(n: i64) -> Holder {
    Holder(format!("conn-{n}"))
}

async fn seven_arrivals(room: &dyn WaitingRoom) -> Vec<Admission> {
    let mut got = Vec::new();
    for (user, at) in [
        (1, 400),
        (2, 850),
        (3, 1270),
        (4, 1540),
        (5, 1790),
        (6, 2040),
        (7, 2290),
    ] {
        got.push(
            room.enter(S, UserId(user), h(user), at)
                .await
                .expect("enter"),
        );
    }
    got
}

async fn arrivals_pass_until_the_page_is_full_then_queue_with_the_original_estimate(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    let queued = |wait_people, seconds| Admission::Queued {
        wait_people,
        seconds,
    };
    assert_eq!(
        seven_arrivals(room.as_ref()).await,
        vec![
            Admission::Pass,
            Admission::Pass,
            Admission::Pass,
            queued(1, 608),
            queued(2, 609),
            queued(3, 609),
            queued(4, 1208)
        ],
        "{name}"
    );
    assert_eq!(
        room.place(S, UserId(6)).await.ok(),
        Some(Some(Place::Queue(2))),
        "{name}"
    );
    assert_eq!(room.place(S, UserId(9)).await.ok(), Some(None), "{name}");
    assert_eq!(
        room.place(SessionId(3), UserId(1)).await.ok(),
        Some(None),
        "{name}: rooms are per session"
    );
}

async fn a_page_departure_admits_the_head_of_the_queue_and_tells_everyone_behind(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    seven_arrivals(room.as_ref()).await;
    let left = room
        .leave(S, UserId(1), Some(h(1)), 2480)
        .await
        .expect("leave")
        .expect("inside");
    assert_eq!(left.from, Place::Page, "{name}");
    assert_eq!(left.promoted, Some(UserId(4)), "{name}");
    let notices: Vec<_> = left.notices.iter().map(|n| (n.user.0, n.seconds)).collect();
    assert_eq!(notices, vec![(5, 608), (6, 608), (7, 610)], "{name}");
    assert_eq!(
        room.place(S, UserId(4)).await.ok(),
        Some(Some(Place::Page)),
        "{name}"
    );
}

async fn places_asked_together_answer_as_each_place_alone(name: &str, room: Arc<dyn WaitingRoom>) {
    seven_arrivals(room.as_ref()).await;
    room.leave(S, UserId(5), None, 2500).await.expect("leave");
    // Strangers, the page, the queue, someone who left, and more people than one exchange
    // asks about (the Redis engine splits them), in an order of the caller's choosing.
    let mut asked: Vec<UserId> = [7, 99, 1, 4, 5, 6, 3].map(UserId).to_vec();
    asked.extend((1_000..1_000 + ticketclub::storage::PLACES_PER_CALL as i64).map(UserId));
    asked.push(UserId(7));
    let together = room.places(S, &asked).await.expect("places");
    assert_eq!(together.len(), asked.len(), "{name}");
    assert_eq!(
        &together[..7],
        &[
            Some(Place::Queue(2)),
            None,
            Some(Place::Page),
            Some(Place::Queue(0)),
            None,
            Some(Place::Queue(1)),
            Some(Place::Page),
        ],
        "{name}"
    );
    assert_eq!(together.last(), Some(&Some(Place::Queue(2))), "{name}");
    for (user, place) in asked.iter().zip(&together) {
        assert_eq!(
            &room.place(S, *user).await.expect("place"),
            place,
            "{name}: {user:?}"
        );
    }
}

async fn a_queued_departure_tells_only_the_people_behind(name: &str, room: Arc<dyn WaitingRoom>) {
    seven_arrivals(room.as_ref()).await;
    let left = room
        .leave(S, UserId(4), None, 2035)
        .await
        .expect("leave")
        .expect("queued");
    assert_eq!(
        (left.from, left.promoted),
        (Place::Queue(0), None),
        "{name}"
    );
    let users: Vec<_> = left.notices.iter().map(|n| n.user.0).collect();
    assert_eq!(users, vec![5, 6, 7], "{name}");
    let left = room
        .leave(S, UserId(6), None, 3580)
        .await
        .expect("leave")
        .expect("queued");
    let users: Vec<_> = left.notices.iter().map(|n| n.user.0).collect();
    assert_eq!((left.from, users), (Place::Queue(1), vec![7]), "{name}");
}

async fn nobody_is_promoted_for_a_stranger_or_a_stale_connection(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    seven_arrivals(room.as_ref()).await;
    assert_eq!(
        room.leave(S, UserId(99), None, 3000).await.ok(),
        Some(None),
        "{name}"
    );
    // User 2 comes back on a new connection: the old one can no longer give the place away.
    assert_eq!(
        room.enter(S, UserId(2), h(20), 3000).await.ok(),
        Some(Admission::Pass),
        "{name}"
    );
    assert_eq!(
        room.leave(S, UserId(2), Some(h(2)), 3100).await.ok(),
        Some(None),
        "{name}"
    );
    assert_eq!(
        room.place(S, UserId(4)).await.ok(),
        Some(Some(Place::Queue(0))),
        "{name}"
    );
    assert!(
        room.leave(S, UserId(2), Some(h(20)), 3100)
            .await
            .expect("leave")
            .is_some(),
        "{name}"
    );
}

async fn expired_visits_end_oldest_first_and_the_queue_moves_up(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    seven_arrivals(room.as_ref()).await;
    assert!(
        room.expire(400 + LIFETIME - 1)
            .await
            .expect("expire")
            .is_empty(),
        "{name}"
    );
    let ended = room.expire(900 + LIFETIME).await.expect("expire");
    let summary: Vec<_> = ended
        .iter()
        .map(|e| (e.session.0, e.user.0, e.departure.promoted.map(|p| p.0)))
        .collect();
    assert_eq!(summary, vec![(2, 1, Some(4)), (2, 2, Some(5))], "{name}");
    let last: Vec<_> = ended[1]
        .departure
        .notices
        .iter()
        .map(|n| n.user.0)
        .collect();
    assert_eq!(
        last,
        vec![6, 7],
        "{name}: the second departure tells who is still queued"
    );
    assert_eq!(
        room.place(S, UserId(6)).await.ok(),
        Some(Some(Place::Queue(0))),
        "{name}"
    );
}

async fn three_hundred_simultaneous_arrivals_get_distinct_fair_places(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    let tasks: Vec<_> = (1..=300)
        .map(|u| {
            let room = room.clone();
            tokio::spawn(async move { room.enter(S, UserId(u), h(u), 1000).await })
        })
        .collect();
    let mut positions = Vec::new();
    let mut passed = 0;
    for task in tasks {
        match task.await.expect("task").expect("enter") {
            Admission::Pass => passed += 1,
            Admission::Queued { wait_people, .. } => positions.push(wait_people),
        }
    }
    positions.sort_unstable();
    assert_eq!(passed, 3, "{name}");
    assert_eq!(positions, (1..=297).collect::<Vec<_>>(), "{name}");
}

/// Ten callers at once, each bringing thirty people one after another (on Redis, arrivals that
/// reach an instance while its previous batch is on the wire go together, `entrances.rs`): every
/// place is distinct and none is skipped, each caller's people stand in the order it brought
/// them, and each stands where its arrival said.
async fn concurrent_callers_arrivals_get_gapless_places_in_each_callers_order(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    const CALLERS: i64 = 10;
    const EACH: i64 = 30;
    let tasks: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let room = room.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..EACH {
                    let u = 1 + caller * EACH + i;
                    let admission = room.enter(S, UserId(u), h(u), 1000 + i).await;
                    got.push((u, admission.expect("enter")));
                }
                got
            })
        })
        .collect();
    let mut passed = 0;
    let mut positions = Vec::new();
    for task in tasks {
        let got = task.await.expect("task");
        let mut last = 0;
        for (u, admission) in got {
            let stands = room.place(S, UserId(u)).await.expect("place");
            match admission {
                Admission::Pass => {
                    assert_eq!(last, 0, "{name}: {u} passed after its caller's queued");
                    assert_eq!(stands, Some(Place::Page), "{name}: {u}");
                    passed += 1;
                }
                Admission::Queued { wait_people, .. } => {
                    assert!(
                        wait_people > last,
                        "{name}: {u} at {wait_people} after {last}"
                    );
                    assert_eq!(stands, Some(Place::Queue(wait_people - 1)), "{name}: {u}");
                    last = wait_people;
                    positions.push(wait_people);
                }
            }
        }
    }
    positions.sort_unstable();
    assert_eq!(passed, 3, "{name}");
    let all = (CALLERS * EACH) as usize;
    assert_eq!(positions, (1..=all - 3).collect::<Vec<_>>(), "{name}");
}

/// A departure and an expiry that promote from the queue re-create the page key; it must
/// expire like every other key of the room, as must the indexes and the ticket counter.
/// Departures list everyone behind on the in-process room, but on Redis only those told every
/// step (the legacy protocol): an app client asks where it stands, and listing a crowd of them
/// with every departure cost each departure the whole line (issue 14's fleet).
#[tokio::test]
async fn a_shared_room_lists_in_departures_only_those_told_every_step() {
    use ticketclub::domain::waiting_room::Hears;
    for (name, room, _guard) in local_engines().await {
        let shared = name == "redis";
        for user in 1..=3 {
            room.enter(S, UserId(user), h(user), 100)
                .await
                .expect("enter");
        }
        // 4 and 6 count steps, 5 and 7 ask; 7 arrives as a counter, then again as an asker.
        for (user, hears) in [
            (4, Hears::EachStep),
            (5, Hears::Place),
            (6, Hears::EachStep),
            (7, Hears::EachStep),
            (7, Hears::Place),
        ] {
            room.enter_as(S, UserId(user), h(user), 200, hears)
                .await
                .expect("enter");
        }
        let listed = |d: &Departure| -> Vec<(i64, usize)> {
            d.notices.iter().map(|n| (n.user.0, n.ahead)).collect()
        };
        let left = room
            .leave(S, UserId(1), None, 300)
            .await
            .expect("leave")
            .expect("inside");
        assert_eq!(left.promoted, Some(UserId(4)), "{name}");
        let want = if shared {
            vec![(6, 1)]
        } else {
            vec![(5, 0), (6, 1), (7, 2)]
        };
        assert_eq!(listed(&left), want, "{name}");
        let left = room
            .leave(S, UserId(5), None, 400)
            .await
            .expect("leave")
            .expect("queued");
        let want = if shared {
            vec![(6, 0)]
        } else {
            vec![(6, 0), (7, 1)]
        };
        assert_eq!(listed(&left), want, "{name}");
        // The expiry sweep ends the three page visits and admits 6, 7 and 8. Its first
        // departure lists the two admitted after it and, behind them, 9 and 10 as above.
        for (user, hears) in [(8, Hears::Place), (9, Hears::EachStep), (10, Hears::Place)] {
            room.enter_as(S, UserId(user), h(user), 500, hears)
                .await
                .expect("enter");
        }
        let ended = room.expire(300 + LIFETIME + 1).await.expect("expire");
        let first = ended
            .iter()
            .find(|e| e.departure.promoted.is_some())
            .expect("an expiry promoted someone");
        assert_eq!(first.departure.promoted, Some(UserId(6)), "{name}");
        let want = if shared {
            vec![(7, 0), (8, 1), (9, 2)]
        } else {
            vec![(7, 0), (8, 1), (9, 2), (10, 3)]
        };
        assert_eq!(listed(&first.departure), want, "{name}");
    }
}

/// A person admitted while asking where they stood stays listed as unsaid until the admitting
/// instance says it went out; someone told every step never is (their messages are the
/// announcer's).
#[tokio::test]
async fn redis_remembers_each_askers_admission_until_it_is_said() {
    use ticketclub::domain::waiting_room::Hears;
    let (_redis, room) = redis_room().await;
    for user in 1..=3 {
        room.enter(S, UserId(user), h(user), 100)
            .await
            .expect("enter");
    }
    room.enter_as(S, UserId(4), h(4), 200, Hears::Place)
        .await
        .expect("enter");
    room.enter(S, UserId(5), h(5), 200).await.expect("enter");
    room.enter_as(S, UserId(6), h(6), 200, Hears::Place)
        .await
        .expect("enter");
    assert!(room.unannounced(S).await.expect("unannounced").is_empty());
    room.leave(S, UserId(1), None, 300).await.expect("leave");
    room.leave(S, UserId(2), None, 400).await.expect("leave");
    assert_eq!(
        room.unannounced(S).await.expect("unannounced"),
        vec![(UserId(4), 300)],
        "5 counts steps: not listed"
    );
    room.fill(S, 500).await.expect("fill");
    room.leave(S, UserId(3), None, 600).await.expect("leave");
    let mut unsaid = room.unannounced(S).await.expect("unannounced");
    unsaid.sort();
    assert_eq!(unsaid, vec![(UserId(4), 300), (UserId(6), 600)]);
    room.announced(S, &[UserId(4), UserId(6)])
        .await
        .expect("announced");
    assert!(room.unannounced(S).await.expect("unannounced").is_empty());
}

#[tokio::test]
async fn every_redis_key_of_a_room_expires_after_promotions() {
    let redis = TestRedis::new();
    let rules = Rules { limit: 1, ..RULES };
    let room =
        RedisWaitingRoom::connect(&redis.url, &redis.prefix, rules, LIFETIME, lease(), TIMEOUT)
            .await
            .expect("the test Redis answers");
    for user in 1..=3 {
        room.enter(S, UserId(user), h(user), 1_000 + user)
            .await
            .expect("enter");
    }
    let left = room
        .leave(S, UserId(1), Some(h(1)), 2_000)
        .await
        .expect("leave");
    assert_eq!(left.and_then(|d| d.promoted), Some(UserId(2)));
    assert_eq!(
        redis.keys_without_ttl().await,
        Vec::<String>::new(),
        "after a departure"
    );

    let ended = room.expire(2_000 + LIFETIME + 1).await.expect("expire");
    assert_eq!(ended.len(), 1);
    assert_eq!(
        redis.keys_without_ttl().await,
        Vec::<String>::new(),
        "after an expiry"
    );
}

/// Both local engines sharing their settings with a handle the test changes (the operator's
/// controls, issue 13).
async fn engines_with_controls() -> Vec<(
    &'static str,
    Arc<dyn WaitingRoom>,
    Arc<RoomControls>,
    Option<TestRedis>,
)> {
    let memory_controls = Arc::new(RoomControls::from_rules(RULES, LIFETIME));
    let memory = MemoryWaitingRoom::new(RULES, LIFETIME).with_controls(memory_controls.clone());
    let redis_controls = Arc::new(RoomControls::from_rules(RULES, LIFETIME));
    let (redis, shared) = redis_room().await;
    let shared = shared.with_controls(redis_controls.clone());
    vec![
        ("memory", Arc::new(memory), memory_controls, None),
        ("redis", Arc::new(shared), redis_controls, Some(redis)),
    ]
}

fn limit(n: u32, paused: bool) -> SessionSettings {
    SessionSettings {
        limit: Some(n),
        paused,
        ..SessionSettings::default()
    }
}

#[tokio::test]
async fn operator_settings_change_admissions_alike_on_both_engines() {
    for (name, room, controls, _guard) in engines_with_controls().await {
        for u in 1..=23 {
            room.enter(S, UserId(u), h(u), 1_000).await.expect("enter");
        }
        assert_eq!(room.sizes(S).await.expect("sizes"), (3, 20), "{name}");

        // Raising 3 → 10 admits exactly 7, in queue order, telling the rest each time.
        controls.set(S, limit(10, false));
        room.share_admits(S).await.expect("share");
        let moves = room.fill(S, 4_000).await.expect("fill");
        let admitted: Vec<i64> = moves
            .departures
            .iter()
            .filter_map(|d| d.promoted.map(|u| u.0))
            .collect();
        assert_eq!(admitted, (4..=10).collect::<Vec<_>>(), "{name}");
        assert_eq!(moves.departures[6].notices.len(), 13, "{name}");
        assert_eq!(room.sizes(S).await.expect("sizes"), (10, 13), "{name}");
        assert!(
            room.fill(S, 4_001)
                .await
                .expect("fill")
                .departures
                .is_empty(),
            "{name}"
        );

        // Lowering to 2: eight departures admit nobody, the ninth admits the head.
        controls.set(S, limit(2, false));
        room.share_admits(S).await.expect("share");
        for u in 1..=8 {
            let d = room
                .leave(S, UserId(u), None, 5_000)
                .await
                .expect("leave")
                .expect("left");
            assert_eq!(d.promoted, None, "{name}: leaving {u}");
        }
        let d = room
            .leave(S, UserId(9), None, 5_000)
            .await
            .expect("leave")
            .expect("left");
        assert_eq!(d.promoted, Some(UserId(11)), "{name}");
        assert_eq!(room.sizes(S).await.expect("sizes"), (2, 12), "{name}");

        // Paused: an arrival queues although the page has room; departures and expiries admit
        // nobody; resuming admits at once.
        controls.set(S, limit(4, true));
        room.share_admits(S).await.expect("share");
        assert!(
            matches!(
                room.enter(S, UserId(50), h(50), 6_000)
                    .await
                    .expect("enter"),
                Admission::Queued {
                    wait_people: 13,
                    ..
                }
            ),
            "{name}"
        );
        let d = room
            .leave(S, UserId(10), None, 6_000)
            .await
            .expect("leave")
            .expect("left");
        assert_eq!(d.promoted, None, "{name}");
        let ended = room.expire(6_000 + LIFETIME).await.expect("expire");
        assert_eq!(ended.len(), 1, "{name}: user 11's window ran out");
        assert_eq!(ended[0].departure.promoted, None, "{name}");
        assert_eq!(room.sizes(S).await.expect("sizes"), (0, 13), "{name}");
        controls.set(S, limit(4, false));
        room.share_admits(S).await.expect("share");
        let now = 7_000 + LIFETIME;
        let admitted = room.fill(S, now).await.expect("fill").departures.len();
        assert_eq!(admitted, 4, "{name}");

        // Extending moves the page's entry times; closing empties the queue only.
        let since = room
            .admitted_at(S, UserId(12))
            .await
            .expect("admitted_at")
            .expect("on the page");
        let moved = room.extend(S, 60_000).await.expect("extend");
        assert_eq!(moved.len(), 4, "{name}");
        assert_eq!(
            room.admitted_at(S, UserId(12)).await.expect("admitted_at"),
            Some(since + 60_000),
            "{name}"
        );
        let queued = room.queued(S).await.expect("queued");
        assert_eq!(queued.len(), 9, "{name}");
        assert_eq!(room.close_queue(S).await.expect("close"), queued, "{name}");
        assert_eq!(room.sizes(S).await.expect("sizes"), (4, 0), "{name}");
        assert_eq!(
            room.place(S, queued[0]).await.expect("place"),
            None,
            "{name}"
        );

        // The operator's figures: 3 straight in, then 7 + 1 + 4 from the queue, newest first.
        let recent = room.recent_admissions(S).await.expect("recent");
        assert_eq!(recent.len(), 15, "{name}");
        assert_eq!(recent[0].at, now, "{name}");
        assert_eq!(
            recent.iter().filter(|a| a.waited_ms == 3_000).count(),
            7,
            "{name}"
        );
        assert_eq!(
            recent.iter().filter(|a| a.waited_ms == 0).count(),
            3,
            "{name}"
        );
    }
}

/// Two instances on one Redis: an operator's change made through one is what the other's
/// transitions admit by at once, although its own copy of the settings is still the old one.
#[tokio::test]
async fn a_shared_admission_count_binds_an_instance_whose_settings_are_behind() {
    let redis = TestRedis::new();
    let connect = |controls: Arc<RoomControls>| {
        let (url, prefix) = (redis.url.clone(), redis.prefix.clone());
        async move {
            RedisWaitingRoom::connect(&url, &prefix, RULES, LIFETIME, lease(), TIMEOUT)
                .await
                .expect("the test Redis answers")
                .with_controls(controls)
        }
    };
    let (ca, cb) = (
        Arc::new(RoomControls::from_rules(RULES, LIFETIME)),
        Arc::new(RoomControls::from_rules(RULES, LIFETIME)),
    );
    let (a, b) = (connect(ca.clone()).await, connect(cb.clone()).await);
    for u in 1..=5 {
        b.enter(S, UserId(u), h(u), 1_000).await.expect("enter");
    }
    // Paused through A; B still believes admissions run with a page of 3.
    ca.set(S, limit(3, true));
    a.share_admits(S).await.expect("share");
    let d = b
        .leave(S, UserId(1), None, 2_000)
        .await
        .expect("leave")
        .expect("left");
    assert_eq!(d.promoted, None, "B admits nobody while paused");
    assert!(b.fill(S, 2_001).await.expect("fill").departures.is_empty());
    assert!(matches!(
        b.enter(S, UserId(9), h(9), 2_002).await.expect("enter"),
        Admission::Queued { .. }
    ));
    // Resumed through A with a page of 4: B's own fill admits up to 4.
    ca.set(S, limit(4, false));
    a.share_admits(S).await.expect("share");
    let admitted = b.fill(S, 3_000).await.expect("fill").departures.len();
    assert_eq!(admitted, 2);
    assert_eq!(b.sizes(S).await.expect("sizes"), (4, 1));
    drop(cb);
}

/// Issue 14.2: half the crowd leaves at the same instant (the page and every other person in
/// the queue). Whatever the engine does with simultaneous leaves (one at a time, or batched),
/// everyone still queued afterwards was told exactly as many steps forward as places gained
/// (the original client counts one `minus waiting people` per place), the page is refilled
/// from the front of who is left, and the queue keeps its order.
async fn a_storm_of_departures_moves_everyone_left_by_exactly_the_places_they_gained(
    name: &str,
    room: Arc<dyn WaitingRoom>,
) {
    let crowd: Vec<i64> = (1..=120).collect();
    for &u in &crowd {
        room.enter(S, UserId(u), h(u), 1000).await.expect("enter");
    }
    // 1..=3 are on the page; the queue is 4..=120 (index = user - 4).
    let leavers: Vec<i64> = crowd
        .iter()
        .copied()
        .filter(|u| *u <= 3 || u % 2 == 1)
        .collect();
    let tasks = leave_at_once(&room, &leavers);
    let mut steps: std::collections::HashMap<i64, u64> = Default::default();
    let mut promoted = Vec::new();
    for task in tasks {
        let departure = task.await.expect("task").expect("leave").expect("inside");
        promoted.extend(departure.promoted.map(|p| p.0));
        for n in departure.notices {
            *steps.entry(n.user.0).or_default() += u64::from(n.steps);
        }
    }
    let stayers: Vec<i64> = crowd
        .iter()
        .copied()
        .filter(|u| !leavers.contains(u))
        .collect();
    // The page went to the first three still there at the end, whoever else was promoted
    // and left again on the way.
    for &u in &stayers[..3] {
        assert_eq!(
            room.place(S, UserId(u)).await.ok(),
            Some(Some(Place::Page)),
            "{name}: {u}"
        );
        assert!(promoted.contains(&u), "{name}: {u} was promoted");
    }
    for (index, &u) in stayers[3..].iter().enumerate() {
        assert_eq!(
            room.place(S, UserId(u)).await.ok(),
            Some(Some(Place::Queue(index))),
            "{name}: {u}"
        );
        let gained = (u - 4) as u64 - index as u64;
        assert_eq!(
            steps.get(&u).copied().unwrap_or(0),
            gained,
            "{name}: steps told to {u}"
        );
    }
}

/// Issue 14.2 on Redis: leaves applied as one batch remove every leaver before anyone is
/// promoted, so nobody leaving in the batch is admitted, and the batch tells each person still
/// queued once, with the places they moved.
#[tokio::test]
async fn a_batch_of_departures_admits_none_of_its_leavers_and_tells_each_stayer_once() {
    let (_redis, room) = redis_room().await;
    seven_arrivals(&room).await;
    // Page 1, 2, 3; queue 4, 5, 6, 7. Two page leavers, queue leavers 4 and 6, a stranger, a
    // stale connection of 7 and page leaver 1 twice.
    let batch = [
        (UserId(1), Some(h(1))),
        (UserId(4), Some(h(4))),
        (UserId(9), None),
        (UserId(2), None),
        (UserId(7), Some(h(70))),
        (UserId(6), Some(h(6))),
        (UserId(1), Some(h(1))),
    ];
    let left = room.leave_all(S, &batch, 2480).await.expect("leave");
    let from: Vec<Option<Place>> = left.iter().map(|d| d.as_ref().map(|d| d.from)).collect();
    assert_eq!(
        from,
        vec![
            Some(Place::Page),
            Some(Place::Queue(0)),
            None,
            Some(Place::Page),
            None,
            Some(Place::Queue(2)),
            None
        ]
    );
    // Two page places freed: 5 and 7 (not the leavers 4 and 6) take them, in queue order.
    let promoted: Vec<Option<UserId>> = left
        .iter()
        .map(|d| d.as_ref().and_then(|d| d.promoted))
        .collect();
    assert_eq!(
        promoted,
        vec![
            Some(UserId(5)),
            None,
            None,
            Some(UserId(7)),
            None,
            None,
            None
        ]
    );
    assert_eq!(room.place(S, UserId(5)).await.ok(), Some(Some(Place::Page)));
    assert_eq!(room.place(S, UserId(7)).await.ok(), Some(Some(Place::Page)));
    assert_eq!(room.place(S, UserId(4)).await.ok(), Some(None));
    // Nobody is left queued: nobody to tell.
    let told: usize = left.iter().flatten().map(|d| d.notices.len()).sum();
    assert_eq!(told, 0);

    // A second batch on a longer queue: 8..=13 queue behind 5, 7, 3 on the page.
    for u in 8..=13 {
        room.enter(S, UserId(u), h(u), 3000).await.expect("enter");
    }
    let left = room
        .leave_all(
            S,
            &[(UserId(9), None), (UserId(3), None), (UserId(11), None)],
            3100,
        )
        .await
        .expect("leave");
    assert_eq!(left[1].as_ref().and_then(|d| d.promoted), Some(UserId(8)));
    // Queue before: 8 9 10 11 12 13; after: 10 12 13. 10 gained 2 (9 left, 8 promoted),
    // 12 and 13 gained 3 (11 too); each is told once, in queue order.
    let notices: Vec<(i64, usize, u32)> = left
        .iter()
        .flatten()
        .flat_map(|d| d.notices.iter().map(|n| (n.user.0, n.ahead, n.steps)))
        .collect();
    assert_eq!(notices, vec![(10, 0, 2), (12, 1, 3), (13, 2, 3)]);
}

/// Issue 14.2 on Redis: a leave that reaches the instance while a batch is on the wire, from the
/// very person that batch promotes, is not admitted: the promotion is withdrawn, their own
/// departure frees the place at once, and the page leaver's promotion is the next in line.
/// (The in-process engine applies each leave as it comes: it has no wire to race.)
#[tokio::test]
async fn a_leaver_promoted_while_their_leave_is_on_its_way_is_not_admitted() {
    use std::future::Future;
    use std::task::Poll;
    let (_redis, room) = redis_room().await;
    seven_arrivals(&room).await;
    // Page 1, 2, 3; queue 4, 5, 6, 7. Page leaver 1's batch goes on the wire alone ...
    let mut first = std::pin::pin!(room.leave(S, UserId(1), Some(h(1)), 2500));
    let on_the_wire =
        std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
    assert!(on_the_wire, "the first leave waits for Redis");
    // ... and 4, at the head of the queue, leaves meanwhile: that batch promotes 4.
    let second = room.leave(S, UserId(4), Some(h(4)), 2510);
    let (first, second) = tokio::join!(first, second);
    let first = first.expect("leave").expect("1 was inside");
    let second = second.expect("leave").expect("4 was inside");
    assert_eq!(first.from, Place::Page);
    assert_eq!(
        first.promoted,
        Some(UserId(5)),
        "4 was leaving: 5 is admitted"
    );
    assert_eq!(second.promoted, None);
    assert_eq!(room.place(S, UserId(5)).await.ok(), Some(Some(Place::Page)));
    assert_eq!(room.place(S, UserId(4)).await.ok(), Some(None));
    assert_eq!(
        room.place(S, UserId(6)).await.ok(),
        Some(Some(Place::Queue(0)))
    );
    // 6 and 7 moved two places (4 and 5 went ahead of them onto the page) and hear both.
    let mut steps: std::collections::HashMap<i64, u32> = Default::default();
    for n in first.notices.iter().chain(&second.notices) {
        *steps.entry(n.user.0).or_default() += n.steps;
    }
    assert_eq!(steps.get(&6), Some(&2));
    assert_eq!(steps.get(&7), Some(&2));
}

/// Issue 14.2 on the in-process engine: a crowd leaving at once is applied as one batch (every
/// leave ready to run joins it), so each person still queued is told once with the places they
/// moved, instead of once per leaver ahead of them (the notices grew with the square of the
/// crowd, and the server's memory with them).
#[tokio::test]
async fn the_in_process_room_tells_each_stayer_of_a_crowd_leaving_at_once_once() {
    let room: Arc<dyn WaitingRoom> = Arc::new(MemoryWaitingRoom::new(RULES, LIFETIME));
    for u in 1..=120 {
        room.enter(S, UserId(u), h(u), 1000).await.expect("enter");
    }
    // Page 1..=3; the queue is 4..=120. The page and every odd queued account leave at once.
    let leavers: Vec<i64> = (1..=120).filter(|u| *u <= 3 || u % 2 == 1).collect();
    let tasks = leave_at_once(&room, &leavers);
    let mut told: std::collections::HashMap<i64, (usize, u32)> = Default::default();
    let mut promoted = Vec::new();
    for task in tasks {
        let departure = task.await.expect("task").expect("leave").expect("inside");
        promoted.extend(departure.promoted.map(|p| p.0));
        for n in departure.notices {
            let entry = told.entry(n.user.0).or_default();
            entry.0 += 1;
            entry.1 += n.steps;
        }
    }
    // 4, 6, 8 take the page; 10 is at the head, having moved 6 places (4 ... 9 went ahead).
    assert_eq!(promoted, vec![4, 6, 8]);
    assert_eq!(told.get(&10), Some(&(1, 6)));
    // The last one moved past the 58 odd leavers and the 3 promoted, in one notice.
    assert_eq!(told.get(&120), Some(&(1, 61)));
    assert!(told.values().all(|(notices, _)| *notices == 1), "{told:?}");
}
