//! The sold counts kept next to the queue on the production engines (issue 14, item 1): the
//! ticket limit holds across instances and after Redis loses the tally, and a database reading
//! that races an order cannot leave a count too low.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use serde_json::{Value, json};
use tokio::sync::Notify;

use ticketclub::auth::Auth;
use ticketclub::domain::ids::{SeatId, SessionId, UserId};
use ticketclub::domain::seats::{SeatStatus, TicketLimit};
use ticketclub::domain::time::Millis;
use ticketclub::storage::model::*;
use ticketclub::storage::redis::RedisSoldCounts;
use ticketclub::storage::sold::TalliedInventory;
use ticketclub::storage::sqlite::SqliteStore;
use ticketclub::storage::{Accounts, Inventory, StorageError, StorageResult};

use crate::app_rust::{account, connected};
use crate::databases::TestRedis;
use crate::helpers::unique;
use crate::multi_instance::start_cluster;

const S2: SessionId = SessionId(2);
const LIMIT: TicketLimit = TicketLimit(4);
const TERMS: HoldTerms = HoldTerms {
    limit: LIMIT,
    until: i64::MAX / 2,
};

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

/// Validates on `base` until the account's visit has ended (its leave is applied in the
/// background), and returns the first answer that is not "already inside".
async fn validate_once_out(base: &str, token: &str) -> Value {
    for _ in 0..50 {
        let answer = validate(base, token).await;
        if !answer.to_string().contains("已在購票頁面") {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the visit never ended");
}

/// Buys the seats (row, column) of area 1 in session 2 through the app protocol on `base`,
/// then leaves the page.
async fn buy(base: &str, token: &str, seats: &[(i64, i64)], label: &str) {
    let queue = connected(base, "/queue", token, "websocket", label).await;
    let joined = queue.call("join", json!({ "sessionId": 2 })).await;
    assert_eq!(joined["state"], "admitted", "{label}: {joined}");
    let page = connected(base, "/event-2", token, "websocket", label).await;
    let spots: Vec<Value> = seats
        .iter()
        .map(|(row, column)| json!({ "row": row, "column": column }))
        .collect();
    for spot in &spots {
        let mut one = spot.clone();
        one["areaId"] = json!(1);
        let selected = page.call("select", one).await;
        assert_eq!(selected["ok"], true, "{label}: {selected}");
    }
    let these = json!({ "areaId": 1, "seats": spots });
    let locked = page.call("lock", these.clone()).await;
    assert_eq!(locked["ok"], true, "{label}: {locked}");
    let ordered = page.call("order", these).await;
    assert_eq!(ordered["ok"], true, "{label}: {ordered}");
    assert_eq!(page.call("leave", json!({})).await["ok"], true, "{label}");
    let _ = page.client.disconnect().await;
    let _ = queue.client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_on_one_instance_counts_at_once_on_the_other_and_after_redis_loses_the_tally() {
    let cluster = start_cluster(2, &[("TICKETCLUB_TICKET_LIMIT", "3")]).await;
    let (a, b) = (&cluster.instances[0].base, &cluster.instances[1].base);
    let (token, _) = account(a, "buyer").await;
    // B reads the account's count (and so loads the session's tally) before any order.
    assert_eq!(validate(b, &token).await["ok"], true);

    buy(a, &token, &[(1, 1)], "first order").await;
    let warned = validate_once_out(b, &token).await;
    assert!(
        warned.to_string().contains("此帳號已購買1張"),
        "B sees A's order of one ticket: {warned}"
    );

    buy(a, &token, &[(1, 2), (1, 3)], "second order").await;
    let refused = validate_once_out(b, &token).await;
    assert!(
        refused.to_string().contains("達到單場次上限"),
        "B refuses the account at the limit of 3: {refused}"
    );

    // Redis loses the tally (a restart without persistence, an eviction).
    let redis = cluster.redis();
    let key = format!("{}{{2}}:sold", redis.prefix);
    let client = Builder::from_config(Config::from_url(&redis.url).expect("a Redis URL"))
        .build()
        .expect("a client");
    client.init().await.expect("the test Redis answers");
    let deleted: i64 = client.del(key.clone()).await.expect("DEL");
    assert_eq!(deleted, 1, "the tally lived at {key}");
    let refused = validate(b, &token).await;
    assert!(
        refused.to_string().contains("達到單場次上限"),
        "still refused once the tally is gone: {refused}"
    );
    let refilled: Option<String> = client.hget(key, "loaded").await.expect("HGET");
    assert_eq!(
        refilled.as_deref(),
        Some("1"),
        "the miss loaded the tally again"
    );
    let _ = client.quit().await;
}

/// A database inventory whose next session reading pauses once it has read (until `go`), and
/// whose next order fails after it committed (as a timeout after the commit would).
struct Gated {
    db: Arc<SqliteStore>,
    read_done: Notify,
    go: Notify,
    pause_reading: std::sync::atomic::AtomicBool,
    fail_after_commit: std::sync::atomic::AtomicBool,
}

impl Gated {
    fn new(db: Arc<SqliteStore>) -> Self {
        Self {
            db,
            read_done: Notify::new(),
            go: Notify::new(),
            pause_reading: false.into(),
            fail_after_commit: false.into(),
        }
    }
}

#[async_trait]
impl Inventory for Gated {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        self.db.sold_count(user, session).await
    }
    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        let counts = self.db.sold_counts(session).await;
        if self
            .pause_reading
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.read_done.notify_one();
            self.go.notified().await;
        }
        counts
    }
    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>> {
        self.db.held_in(user, session, status, seats).await
    }
    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome> {
        self.db.select(user, session, seat, terms).await
    }
    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        self.db.unselect(user, session, seats).await
    }
    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome> {
        self.db.lock(user, session, seats, terms).await
    }
    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        self.db.unlock(user, session, seats).await
    }
    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        self.db.release_holds(user, session).await
    }
    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>> {
        self.db.free_stale_holds(now).await
    }
    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome> {
        let placed = self.db.place_order(user, session, seats, limit).await;
        if self
            .fail_after_commit
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StorageError::Unavailable(
                "timed out after the commit".into(),
            ));
        }
        placed
    }
    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts> {
        self.db.seat_counts(session).await
    }
    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64> {
        self.db.extend_holds(session, by_ms).await
    }
}

/// A seeded database, a fresh tally under a test prefix, and one account.
async fn tallied() -> (Arc<Gated>, TalliedInventory, UserId, TestRedis) {
    let auth = Auth::new(Some("k"), "7d", 4).expect("auth");
    let db = SqliteStore::open("sqlite::memory:", &auth)
        .await
        .expect("sqlite opens");
    let email = format!("{}@test.com", unique("tally"));
    let user = db
        .create_user("tally".into(), email, "x".into())
        .await
        .expect("storage")
        .expect("new email")
        .id;
    let redis = TestRedis::new();
    let tally = RedisSoldCounts::connect(&redis.url, &redis.prefix, Duration::from_secs(2))
        .await
        .expect("the test Redis answers");
    let gated = Arc::new(Gated::new(Arc::new(db)));
    let inventory = TalliedInventory::new(gated.clone(), Arc::new(tally));
    (gated, inventory, user, redis)
}

/// Locks the seats for `user` and orders them through `inventory`.
async fn order(
    inventory: &dyn Inventory,
    user: UserId,
    seats: &[i64],
) -> StorageResult<OrderOutcome> {
    let seats: Vec<SeatId> = seats.iter().copied().map(SeatId).collect();
    for seat in &seats {
        assert_eq!(
            inventory.select(user, S2, *seat, TERMS).await.ok(),
            Some(SelectOutcome::Selected)
        );
    }
    let locked = inventory.lock(user, S2, seats.clone(), TERMS).await.ok();
    assert_eq!(locked, Some(LockOutcome::Locked));
    inventory.place_order(user, S2, seats, LIMIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_reading_taken_before_an_order_cannot_lower_the_count_the_order_wrote() {
    let (gated, inventory, user, _redis) = tallied().await;
    // One ticket bought before the tally knew the session.
    let first = order(gated.as_ref(), user, &[1]).await.expect("storage");
    assert!(
        matches!(first, OrderOutcome::Placed { sold: 1, .. }),
        "{first:?}"
    );

    // A validation misses and reads the database (1 ticket)…
    let inventory = Arc::new(inventory);
    gated
        .pause_reading
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let reader = {
        let inventory = inventory.clone();
        tokio::spawn(async move { inventory.sold_count(user, S2).await })
    };
    tokio::time::timeout(Duration::from_secs(10), gated.read_done.notified())
        .await
        .expect("the validation missed and read the database");
    // …then an order of one more commits and is written to the tally (2 tickets)…
    let second = order(inventory.as_ref(), user, &[2])
        .await
        .expect("storage");
    assert!(
        matches!(second, OrderOutcome::Placed { sold: 2, .. }),
        "{second:?}"
    );
    // …and only then does the older reading reach the tally.
    gated.go.notify_one();
    assert_eq!(
        reader.await.expect("task").ok(),
        Some(1),
        "the reading's own answer"
    );
    assert_eq!(
        inventory.sold_count(user, S2).await.ok(),
        Some(2),
        "the tally keeps the order's count"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_may_have_committed_leaves_the_count_to_the_database() {
    let (gated, inventory, user, _redis) = tallied().await;
    inventory.warm_sold_counts(S2).await.expect("loads");
    assert_eq!(inventory.sold_count(user, S2).await.ok(), Some(0));
    // The order commits, but its caller hears a failure (a timeout after the commit).
    gated
        .fail_after_commit
        .store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(order(&inventory, user, &[3, 4]).await.is_err());
    assert_eq!(
        inventory.sold_count(user, S2).await.ok(),
        Some(2),
        "the committed order counts although the tally was never told"
    );
}
