//! The storage contract: the same assertions on every engine's seat transitions, including
//! races, on SQLite and on MySQL/MariaDB.

use std::sync::Arc;

use std::time::Duration;
use ticketclub::auth::Auth;
use ticketclub::domain::ids::{SeatId, SessionId, UserId};
use ticketclub::domain::seats::{SeatStatus, TicketLimit};
use ticketclub::storage::model::*;

use ticketclub::storage::mysql::{MysqlStore, PoolLimits};
use ticketclub::storage::sqlite::SqliteStore;
use ticketclub::storage::{Accounts, Catalog, Inventory};

use crate::databases::TestDb;
use crate::helpers::unique;

const S2: SessionId = SessionId(2);
const LIMIT: TicketLimit = TicketLimit(4);
/// Terms of holds that never go stale during a test.
const TERMS: HoldTerms = terms(LIMIT);

const fn terms(limit: TicketLimit) -> HoldTerms {
    HoldTerms {
        limit,
        until: i64::MAX / 2,
    }
}

/// Everything the contract needs from one engine.
trait Engine: Inventory + Accounts + Catalog {}
impl<T: Inventory + Accounts + Catalog> Engine for T {}

/// One engine under test, with whatever keeps its data alive (a MySQL database guard).
type Subject = (&'static str, Arc<dyn Engine>, Option<TestDb>);

async fn engines() -> Vec<Subject> {
    let auth = Auth::new(Some("k"), "7d", 4).expect("auth");
    let sqlite = SqliteStore::open("sqlite::memory:", &auth)
        .await
        .expect("sqlite opens");
    let db = TestDb::create().await;
    // Enough for the racers to contend (they queue for a connection), small enough that two
    // tests at once stay under MariaDB's connection limit.
    let limits = PoolLimits {
        max: 12,
        acquire_timeout: Duration::from_secs(10),
    };
    let mysql = MysqlStore::connect(&db.url, limits)
        .await
        .expect("mysql connects");
    mysql.migrate().await.expect("migrates");
    mysql.seed(&auth).await.expect("seeds");
    let sqlite: Arc<dyn Engine> = Arc::new(sqlite);
    let mysql: Arc<dyn Engine> = Arc::new(mysql);
    vec![("sqlite", sqlite, None), ("mysql", mysql, Some(db))]
}

async fn users(engine: &dyn Engine, n: usize) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let email = format!("{}@test.com", unique("racer"));
        let user = engine
            .create_user("racer".into(), email, "x".into())
            .await
            .expect("storage")
            .expect("new email");
        ids.push(user.id);
    }
    ids
}

async fn status_of(engine: &dyn Engine, seat: i64) -> i64 {
    let area = (seat - 1) / 81 + 1;
    let cells = engine
        .seat_map(S2, ticketclub::domain::ids::AreaId(area))
        .await
        .expect("map");
    let index = ((seat - 1) % 81) as usize;
    cells[index].status
}

#[tokio::test]
async fn two_hundred_racers_for_one_seat_leave_exactly_one_winner() {
    for (name, engine, _db) in engines().await {
        let racers = users(engine.as_ref(), 200).await;
        let tasks: Vec<_> = racers
            .iter()
            .map(|user| {
                let engine = engine.clone();
                let user = *user;
                tokio::spawn(async move { engine.select(user, S2, SeatId(1), TERMS).await })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.expect("task").expect("storage") {
                SelectOutcome::Selected => won += 1,
                SelectOutcome::Taken => {}
                other => panic!("{name}: unexpected {other:?}"),
            }
        }
        assert_eq!(won, 1, "{name}");
        assert_eq!(
            status_of(engine.as_ref(), 1).await,
            SeatStatus::Selected.id(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn one_account_racing_for_many_seats_never_exceeds_the_limit() {
    for (name, engine, _db) in engines().await {
        let user = users(engine.as_ref(), 1).await[0];
        let tasks: Vec<_> = (1..=12)
            .map(|seat| {
                let engine = engine.clone();
                tokio::spawn(async move { engine.select(user, S2, SeatId(seat), TERMS).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.expect("task").expect("storage"));
        }
        let selected = outcomes
            .iter()
            .filter(|o| **o == SelectOutcome::Selected)
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| **o == SelectOutcome::LimitReached)
            .count();
        assert_eq!((selected, refused), (4, 8), "{name}");
    }
}

#[tokio::test]
async fn a_seat_moves_through_select_lock_and_sale_only_for_its_holder() {
    for (name, engine, _db) in engines().await {
        let ids = users(engine.as_ref(), 2).await;
        let (amy, bob) = (ids[0], ids[1]);
        let e = engine.as_ref();
        assert_eq!(
            e.select(amy, S2, SeatId(10), TERMS).await.ok(),
            Some(SelectOutcome::Selected)
        );
        assert_eq!(
            e.select(amy, S2, SeatId(11), TERMS).await.ok(),
            Some(SelectOutcome::Selected)
        );
        assert_eq!(
            e.select(bob, S2, SeatId(10), TERMS).await.ok(),
            Some(SelectOutcome::Taken)
        );
        // Someone else's seat can be neither unselected, locked nor bought.
        assert_eq!(
            e.unselect(bob, S2, vec![SeatId(10)]).await.ok(),
            Some(UnselectOutcome::NotSelectedBy(SeatId(10)))
        );
        assert_eq!(
            e.lock(bob, S2, vec![SeatId(10)], TERMS).await.ok(),
            Some(LockOutcome::NotSelectedBy(SeatId(10)))
        );
        assert_eq!(
            e.place_order(amy, S2, vec![SeatId(10)], LIMIT).await.ok(),
            Some(OrderOutcome::NotLockedBy(SeatId(10))),
            "{name}: a merely selected seat is not for sale"
        );
        // Locking is all or nothing: one foreign seat in the list locks none.
        assert_eq!(
            e.lock(amy, S2, vec![SeatId(10), SeatId(12)], TERMS)
                .await
                .ok(),
            Some(LockOutcome::NotSelectedBy(SeatId(12)))
        );
        assert_eq!(status_of(e, 10).await, SeatStatus::Selected.id());
        assert_eq!(
            e.lock(amy, S2, vec![SeatId(10), SeatId(11)], TERMS)
                .await
                .ok(),
            Some(LockOutcome::Locked)
        );
        assert_eq!(
            status_of(e, 11).await,
            SeatStatus::Locked.id(),
            "{name}: every seat is locked"
        );
        assert_eq!(
            e.unlock(bob, S2, vec![SeatId(10)]).await.ok(),
            Some(UnlockOutcome::NotLockedBy(SeatId(10)))
        );
        let placed = e
            .place_order(amy, S2, vec![SeatId(10), SeatId(11)], LIMIT)
            .await
            .expect("storage");
        assert!(
            matches!(placed, OrderOutcome::Placed { .. }),
            "{name}: {placed:?}"
        );
        assert_eq!(e.sold_count(amy, S2).await.ok(), Some(2));
        let counts = e.sold_counts(S2).await.expect("storage");
        assert!(counts.contains(&(amy, 2)), "{name}: {counts:?}");
        assert!(!counts.iter().any(|(u, _)| *u == bob), "{name}: {counts:?}");
        // Sold is final: no second sale, no unlock, no release.
        assert_eq!(
            e.place_order(amy, S2, vec![SeatId(10)], LIMIT).await.ok(),
            Some(OrderOutcome::NotLockedBy(SeatId(10)))
        );
        assert_eq!(
            e.unlock(amy, S2, vec![SeatId(10)]).await.ok(),
            Some(UnlockOutcome::NotLocked(SeatId(10)))
        );
        assert!(e.release_holds(amy, S2).await.expect("storage").is_empty());
        let profile = e.profile(amy).await.expect("storage").expect("exists");
        assert_eq!(profile.orders.len(), 1);
        assert_eq!(profile.orders[0].total, 6000);
        assert_eq!(profile.orders[0].tickets.len(), 2);
    }
}

#[tokio::test]
async fn ending_a_visit_releases_selected_and_locked_seats_but_not_sold_ones() {
    for (name, engine, _db) in engines().await {
        let user = users(engine.as_ref(), 1).await[0];
        let e = engine.as_ref();
        for seat in [100, 101, 102] {
            assert_eq!(
                e.select(user, S2, SeatId(seat), TERMS).await.ok(),
                Some(SelectOutcome::Selected)
            );
        }
        assert_eq!(
            e.lock(user, S2, vec![SeatId(101), SeatId(102)], TERMS)
                .await
                .ok(),
            Some(LockOutcome::Locked)
        );
        assert!(matches!(
            e.place_order(user, S2, vec![SeatId(102)], LIMIT).await,
            Ok(OrderOutcome::Placed { .. })
        ));
        let released = e.release_holds(user, S2).await.expect("storage");
        let summary: Vec<_> = released.iter().map(|r| (r.spot.seat.0, r.was)).collect();
        assert_eq!(
            summary,
            vec![(100, SeatStatus::Selected), (101, SeatStatus::Locked)],
            "{name}"
        );
        assert_eq!(
            released[0].spot.row, 3,
            "seat 100 is area 2, row 3, column 1"
        );
        assert_eq!(released[0].spot.column, 1);
        assert_eq!(status_of(e, 102).await, SeatStatus::Sold.id());
        assert_eq!(status_of(e, 100).await, SeatStatus::Empty.id());
    }
}

#[tokio::test]
async fn the_sold_allowance_limits_locks_and_orders() {
    for (name, engine, _db) in engines().await {
        let user = users(engine.as_ref(), 1).await[0];
        let e = engine.as_ref();
        let two = TicketLimit(2);
        for seat in [200, 201] {
            assert_eq!(
                e.select(user, S2, SeatId(seat), terms(two)).await.ok(),
                Some(SelectOutcome::Selected)
            );
        }
        assert_eq!(
            e.lock(user, S2, vec![SeatId(200), SeatId(201)], terms(two))
                .await
                .ok(),
            Some(LockOutcome::Locked)
        );
        assert!(matches!(
            e.place_order(user, S2, vec![SeatId(200), SeatId(201)], two)
                .await,
            Ok(OrderOutcome::Placed { .. })
        ));
        assert_eq!(
            e.select(user, S2, SeatId(202), terms(two)).await.ok(),
            Some(SelectOutcome::LimitReached),
            "{name}"
        );
        assert_eq!(
            e.lock(user, S2, vec![SeatId(202)], terms(two)).await.ok(),
            Some(LockOutcome::AllBought)
        );
    }
}

#[tokio::test]
async fn holds_past_their_deadline_are_freed_and_nothing_else_is() {
    for (name, engine, _db) in engines().await {
        let ids = users(engine.as_ref(), 2).await;
        let (amy, bob) = (ids[0], ids[1]);
        let e = engine.as_ref();
        let soon = HoldTerms {
            limit: LIMIT,
            until: 1_000,
        };
        assert_eq!(
            e.select(amy, S2, SeatId(300), soon).await.ok(),
            Some(SelectOutcome::Selected)
        );
        assert_eq!(
            e.select(amy, S2, SeatId(301), soon).await.ok(),
            Some(SelectOutcome::Selected)
        );
        assert_eq!(
            e.lock(amy, S2, vec![SeatId(301)], soon).await.ok(),
            Some(LockOutcome::Locked)
        );
        assert_eq!(
            e.select(bob, S2, SeatId(302), TERMS).await.ok(),
            Some(SelectOutcome::Selected)
        );
        assert!(
            e.free_stale_holds(999).await.expect("storage").is_empty(),
            "{name}: not yet due"
        );
        let freed = e.free_stale_holds(1_001).await.expect("storage");
        let summary: Vec<_> = freed
            .iter()
            .map(|h| (h.user, h.released.spot.seat.0, h.released.was))
            .collect();
        assert_eq!(
            summary,
            vec![
                (amy, 300, SeatStatus::Selected),
                (amy, 301, SeatStatus::Locked)
            ],
            "{name}"
        );
        assert_eq!(status_of(e, 300).await, SeatStatus::Empty.id(), "{name}");
        assert_eq!(
            status_of(e, 302).await,
            SeatStatus::Selected.id(),
            "{name}: bob's hold is not due"
        );
        assert!(
            e.free_stale_holds(1_002).await.expect("storage").is_empty(),
            "{name}: freed once"
        );
    }
}

#[tokio::test]
async fn held_in_names_only_the_seats_the_account_holds_in_that_state() {
    for (name, engine, _db) in engines().await {
        let ids = users(engine.as_ref(), 2).await;
        let (amy, bob) = (ids[0], ids[1]);
        let e = engine.as_ref();
        for seat in [30, 31] {
            let selected = e.select(amy, S2, SeatId(seat), TERMS).await.ok();
            assert_eq!(selected, Some(SelectOutcome::Selected), "{name}");
        }
        let bobs = e.select(bob, S2, SeatId(32), TERMS).await.ok();
        assert_eq!(bobs, Some(SelectOutcome::Selected), "{name}");
        let locked = e.lock(amy, S2, vec![SeatId(30)], TERMS).await.ok();
        assert_eq!(locked, Some(LockOutcome::Locked), "{name}");
        let asked = vec![SeatId(30), SeatId(31), SeatId(32), SeatId(33)];
        let held = |status| e.held_in(amy, S2, status, asked.clone());
        let mut locked = held(SeatStatus::Locked).await.expect("storage");
        locked.sort();
        assert_eq!(locked, vec![SeatId(30)], "{name}: amy's lock only");
        let selected = held(SeatStatus::Selected).await.expect("storage");
        assert_eq!(
            selected,
            vec![SeatId(31)],
            "{name}: not bob's 32, not the empty 33"
        );
        assert!(
            held(SeatStatus::Sold).await.expect("storage").is_empty(),
            "{name}"
        );
        let in_another_session = e
            .held_in(amy, SessionId(3), SeatStatus::Locked, asked.clone())
            .await
            .expect("storage");
        assert!(in_another_session.is_empty(), "{name}");
        let nothing = e.held_in(amy, S2, SeatStatus::Locked, Vec::new()).await;
        assert!(nothing.expect("storage").is_empty(), "{name}");
    }
}

#[tokio::test]
async fn seats_are_found_by_position_a_whole_area_at_a_time() {
    use ticketclub::domain::ids::AreaId;
    for (name, engine, _db) in engines().await {
        let seats = engine.area_seats(AreaId(2)).await.expect("area seats");
        assert_eq!(seats.len(), 81, "{name}: a 9 x 9 area");
        let corner = seats.iter().find(|s| (s.row, s.column) == (9, 9));
        assert_eq!(corner.map(|s| s.seat), Some(SeatId(162)), "{name}");
        let found = engine
            .find_seats(AreaId(2), vec![(1, 1), (9, 9), (10, 1), (0, 0)])
            .await
            .expect("find");
        assert_eq!(
            found,
            vec![Some(SeatId(82)), Some(SeatId(162)), None, None],
            "{name}"
        );
        assert!(
            engine
                .area_seats(AreaId(999))
                .await
                .expect("empty")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn sessions_going_on_sale_in_a_window_are_found_for_warm_up() {
    for (name, engine, _db) in engines().await {
        let now = chrono::Utc::now().timestamp_millis();
        let day = 86_400_000;
        // The seed puts events 1-7 on sale one day ago: sessions 1-9.
        let recent = engine
            .sessions_on_sale_between(now - 2 * day, now)
            .await
            .expect("query");
        let ids: Vec<i64> = recent.iter().map(|s| s.0).collect();
        assert_eq!(ids, (1..=9).collect::<Vec<_>>(), "{name}");
        let ahead = engine
            .sessions_on_sale_between(now, now + day)
            .await
            .expect("query");
        assert!(ahead.is_empty(), "{name}: nothing goes on sale tomorrow");
    }
}
