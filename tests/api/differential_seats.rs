//! Seat transitions run on two SQL engines. This test drives SQLite and MySQL/MariaDB through the
//! storage traits with the same random sequences of select, unselect, lock, unlock, order,
//! release, clock steps and sweeps of stale holds, and requires every answer and the final seats
//! to agree.
//!
//! Each case takes fresh accounts and a block of seats no earlier case touched, so cases share one
//! database of each engine. The seed is fixed (`TICKETCLUB_DIFF_SEED` overrides it) and the
//! number of cases bounded.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ticketclub::auth::Auth;
use ticketclub::domain::ids::{AreaId, SeatId, SessionId, UserId};
use ticketclub::domain::seats::{SeatStatus, TicketLimit};
use ticketclub::storage::model::{HoldTerms, OrderOutcome, Released, StaleHold};
use ticketclub::storage::mysql::{MysqlStore, PoolLimits};
use ticketclub::storage::sqlite::SqliteStore;
use ticketclub::storage::{Accounts, Catalog, Inventory, StorageResult};

use crate::databases::TestDb;
use crate::differential::runner;
use crate::helpers::unique;

/// Accounts and seats one case plays with: few, so that they collide often.
const USERS: usize = 3;
const SEATS: usize = 6;
/// The largest allowance a case may use: small, so the limit is reached often.
const MAX_LIMIT: u32 = 4;
/// How long a hold lasts, in ms of the test clock.
const HOLD_MS: i64 = 3_000;
/// Each case's clock starts past every deadline an earlier case can have set.
const CASE_SPAN_MS: i64 = 1_000_000;

trait Engine: Inventory + Accounts + Catalog {}
impl<T: Inventory + Accounts + Catalog> Engine for T {}

/// One step of a case; users and seats are indexes into the case's own.
#[derive(Clone, Debug)]
enum Op {
    Select(usize, usize),
    Unselect(usize, Vec<usize>),
    Lock(usize, Vec<usize>),
    Unlock(usize, Vec<usize>),
    Order(usize, Vec<usize>),
    Release(usize),
    /// The clock moves on (in half seconds, so a deadline is sometimes met exactly).
    Tick(i64),
    /// Frees the holds whose deadline passed.
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    let seats = || proptest::collection::vec(0..SEATS, 1..=3);
    prop_oneof![
        4 => (user.clone(), 0..SEATS).prop_map(|(u, s)| Op::Select(u, s)),
        1 => (user.clone(), seats()).prop_map(|(u, s)| Op::Unselect(u, s)),
        2 => (user.clone(), seats()).prop_map(|(u, s)| Op::Lock(u, s)),
        1 => (user.clone(), seats()).prop_map(|(u, s)| Op::Unlock(u, s)),
        2 => (user.clone(), seats()).prop_map(|(u, s)| Op::Order(u, s)),
        1 => user.prop_map(Op::Release),
        2 => (0..=12i64).prop_map(|halves| Op::Tick(halves * 500)),
        1 => Just(Op::Sweep),
    ]
}

/// The two engines, each with its own ids for the same accounts.
struct Pair {
    sqlite: Arc<dyn Engine>,
    mysql: Arc<dyn Engine>,
}

/// One case: its session, its seats and its accounts on each engine.
struct Case<'a> {
    pair: &'a Pair,
    session: SessionId,
    seats: Vec<SeatId>,
    users: Vec<(UserId, UserId)>,
    /// The case's allowance.
    limit: TicketLimit,
    /// The test clock, ms.
    now: i64,
    /// MySQL's id of every account any case made → SQLite's (a sweep reports holds of earlier
    /// cases too: both engines saw the same operations, so they must free the same holds).
    ids: &'a Mutex<HashMap<UserId, UserId>>,
}

impl Case<'_> {
    /// Terms of a hold taken now.
    fn terms(&self) -> HoldTerms {
        HoldTerms {
            limit: self.limit,
            until: self.now + HOLD_MS,
        }
    }

    /// A sweep's answer in SQLite's ids and a fixed order.
    fn freed(&self, outcome: StorageResult<Vec<StaleHold>>, mysql: bool) -> String {
        let ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(mut holds) => {
                for hold in &mut holds {
                    if mysql {
                        hold.user = ids.get(&hold.user).copied().unwrap_or(UserId(-1));
                    }
                }
                holds.sort_by_key(|h| (h.session, h.released.spot.seat));
                format!("{holds:?}")
            }
            other => format!("{other:?}"),
        }
    }

    fn seats(&self, picks: &[usize]) -> Vec<SeatId> {
        picks.iter().map(|i| self.seats[*i]).collect()
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let (a, b) = (self.pair.sqlite.as_ref(), self.pair.mysql.as_ref());
        let s = self.session;
        let (lite, my) = match op {
            Op::Select(u, seat) => {
                let (x, y) = self.users[*u];
                let seat = self.seats[*seat];
                (
                    format!("{:?}", a.select(x, s, seat, self.terms()).await),
                    format!("{:?}", b.select(y, s, seat, self.terms()).await),
                )
            }
            Op::Unselect(u, picks) => {
                let (x, y) = self.users[*u];
                (
                    format!("{:?}", a.unselect(x, s, self.seats(picks)).await),
                    format!("{:?}", b.unselect(y, s, self.seats(picks)).await),
                )
            }
            Op::Lock(u, picks) => {
                let (x, y) = self.users[*u];
                (
                    format!("{:?}", a.lock(x, s, self.seats(picks), self.terms()).await),
                    format!("{:?}", b.lock(y, s, self.seats(picks), self.terms()).await),
                )
            }
            Op::Unlock(u, picks) => {
                let (x, y) = self.users[*u];
                (
                    format!("{:?}", a.unlock(x, s, self.seats(picks)).await),
                    format!("{:?}", b.unlock(y, s, self.seats(picks)).await),
                )
            }
            Op::Order(u, picks) => {
                let (x, y) = self.users[*u];
                let limit = self.limit;
                (
                    order(a.place_order(x, s, self.seats(picks), limit).await),
                    order(b.place_order(y, s, self.seats(picks), limit).await),
                )
            }
            Op::Release(u) => {
                let (x, y) = self.users[*u];
                (
                    released(a.release_holds(x, s).await),
                    released(b.release_holds(y, s).await),
                )
            }
            Op::Tick(ms) => {
                self.now += ms;
                return Ok(());
            }
            Op::Sweep => (
                self.freed(a.free_stale_holds(self.now).await, false),
                self.freed(b.free_stale_holds(self.now).await, true),
            ),
        };
        prop_assert_eq!(lite, my, "{:?}", op);
        Ok(())
    }

    /// Every seat's status and holder, and every account's sold count, agree.
    async fn same_final_state(&self) -> Result<(), TestCaseError> {
        let (a, b) = (self.pair.sqlite.as_ref(), self.pair.mysql.as_ref());
        let s = self.session;
        for &(x, y) in &self.users {
            let sold = (a.sold_count(x, s).await, b.sold_count(y, s).await);
            prop_assert_eq!(format!("{:?}", sold.0), format!("{:?}", sold.1), "sold");
            for status in [SeatStatus::Selected, SeatStatus::Locked, SeatStatus::Sold] {
                let mut lite = a
                    .held_in(x, s, status, self.seats.clone())
                    .await
                    .expect("sqlite");
                let mut my = b
                    .held_in(y, s, status, self.seats.clone())
                    .await
                    .expect("mysql");
                lite.sort();
                my.sort();
                prop_assert_eq!(lite, my, "{:?} seats held", status);
            }
        }
        let areas: BTreeSet<AreaId> = self.areas_of_seats().await;
        for area in areas {
            let lite = a.seat_map(s, area).await.expect("sqlite map");
            let my = b.seat_map(s, area).await.expect("mysql map");
            prop_assert_eq!(lite, my, "seat map of {:?}", area);
        }
        Ok(())
    }

    async fn areas_of_seats(&self) -> BTreeSet<AreaId> {
        let catalog = self.pair.sqlite.as_ref();
        let mut areas = BTreeSet::new();
        for offer in catalog.session_areas(self.session).await.expect("areas") {
            let seats = catalog.area_seats(offer.id).await.expect("seats");
            if seats.iter().any(|s| self.seats.contains(&s.seat)) {
                areas.insert(offer.id);
            }
        }
        areas
    }
}

/// An order's outcome without its id (each engine numbers orders itself).
fn order(outcome: Result<OrderOutcome, ticketclub::storage::StorageError>) -> String {
    match outcome {
        Ok(OrderOutcome::Placed { .. }) => "Placed".into(),
        other => format!("{other:?}"),
    }
}

/// What a release freed, in seat order (the engines may list it in any order).
fn released(outcome: Result<Vec<Released>, ticketclub::storage::StorageError>) -> String {
    match outcome {
        Ok(mut seats) => {
            seats.sort_by_key(|r| r.spot.seat);
            format!("{seats:?}")
        }
        other => format!("{other:?}"),
    }
}

/// Blocks of seats on sale, each handed to one case only.
async fn seat_blocks(catalog: &dyn Engine) -> Vec<(SessionId, Vec<SeatId>)> {
    let mut blocks = Vec::new();
    for session in (1..=9).map(SessionId) {
        for offer in catalog.session_areas(session).await.expect("areas") {
            let seats: Vec<SeatId> = catalog
                .area_seats(offer.id)
                .await
                .expect("seats")
                .into_iter()
                .map(|s| s.seat)
                .collect();
            for chunk in seats.chunks_exact(SEATS) {
                blocks.push((session, chunk.to_vec()));
            }
        }
    }
    blocks
}

async fn new_user(engine: &dyn Engine, email: &str) -> UserId {
    engine
        .create_user("diff".into(), email.into(), "x".into())
        .await
        .expect("storage")
        .expect("new email")
        .id
}

#[test]
fn sqlite_and_mysql_agree_on_random_seat_transitions() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let db = rt.block_on(TestDb::create());
    let pair = rt.block_on(async {
        let auth = Auth::new(Some("k"), "7d", 4).expect("auth");
        let sqlite = SqliteStore::open("sqlite::memory:", &auth)
            .await
            .expect("sqlite opens");
        // MariaDB connections are shared by every test running at once: a few suffice here.
        let limits = PoolLimits {
            max: 4,
            acquire_timeout: Duration::from_secs(10),
        };
        let mysql = MysqlStore::connect(&db.url, limits)
            .await
            .expect("mysql connects");
        mysql.migrate().await.expect("migrates");
        mysql.seed(&auth).await.expect("seeds");
        Pair {
            sqlite: Arc::new(sqlite),
            mysql: Arc::new(mysql),
        }
    });
    let blocks = Mutex::new(rt.block_on(seat_blocks(pair.sqlite.as_ref())));
    let ids = Mutex::new(HashMap::new());
    let clock = AtomicI64::new(CASE_SPAN_MS);
    let mut runner = runner(96);
    let strategy = (1..=MAX_LIMIT, proptest::collection::vec(op(), 1..30));
    let result = runner.run(&strategy, |(limit, ops)| {
        let (session, seats) = blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .expect("enough untouched seats for every case");
        rt.block_on(async {
            let mut users = Vec::new();
            for _ in 0..USERS {
                let email = format!("{}@test.com", unique("diff"));
                let x = new_user(pair.sqlite.as_ref(), &email).await;
                let y = new_user(pair.mysql.as_ref(), &email).await;
                ids.lock().unwrap_or_else(|e| e.into_inner()).insert(y, x);
                users.push((x, y));
            }
            let mut case = Case {
                pair: &pair,
                session,
                seats,
                users,
                limit: TicketLimit(limit),
                now: clock.fetch_add(CASE_SPAN_MS, Ordering::Relaxed),
                ids: &ids,
            };
            for op in &ops {
                case.step(op).await?;
            }
            case.same_final_state().await
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    drop(pair);
    drop(db);
}
