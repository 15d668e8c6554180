//! Storage behind traits named after the domain, and the one place that picks the engines.
//!
//! Embedded default: [`memory::MemoryWaitingRoom`] + [`sqlite::SqliteStore`]. Every engine
//! makes each transition atomic on its own (one critical section, one transaction, one Lua
//! script); callers never compose two calls into one transition.

pub mod admin;
pub(crate) mod cache;
pub mod controls;
pub(crate) mod counted;
pub(crate) mod lines;
pub mod memory;
pub mod model;
pub mod mysql;
pub(crate) mod queries;
pub mod redis;
pub mod sold;
pub mod sqlite;
pub mod timed;
pub(crate) mod transitions;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::Auth;
use crate::config::Settings;
use crate::domain::controls::SessionSettings;
use crate::domain::draw::DrawRecord;
use crate::domain::ids::{AreaId, EventId, SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{
    Admission, Admitted, Departure, Hears, Holder, Moves, Place, Rules,
};
use model::*;

/// Demo accounts (name, email, password) of the seed; passwords are hashed when seeded.
pub const SEED_ACCOUNTS: &[(&str, &str, &str)] = &[
    ("user1", "user1@test.com", "user111"),
    ("demo", "demo@test.com", "demodemo"),
];

/// Why storage could not answer. Rejections that are business outcomes are not errors: they are
/// the `*Outcome` enums in [`model`].
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The engine failed or is unreachable; the detail is for logs only.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The configuration names an engine or URL this build cannot use.
    #[error("bad storage configuration: {0}")]
    Config(String),
    /// Peers declared this instance (the id given) dead and ended the visits it held, while
    /// Redis stalled longer than its lease; it holds places under a new id from now on.
    #[error("the waiting-room lease of instance {0} was lost")]
    LeaseLost(String),
}

/// Shorthand for storage results.
pub type StorageResult<T> = Result<T, StorageError>;

/// Events, sessions, venues, areas, seats and prices: read-mostly data.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// Answers when the database is reachable and its schema current (readiness).
    async fn ready(&self) -> StorageResult<()>;
    /// Events whose title contains `search` (all when `None`), by id.
    async fn events(&self, search: Option<String>) -> StorageResult<Vec<EventSummary>>;
    /// One event with its sessions; `None` when it does not exist or has no session.
    async fn event(&self, id: EventId) -> StorageResult<Option<EventDetail>>;
    /// One session.
    async fn session(&self, id: SessionId) -> StorageResult<Option<SessionInfo>>;
    /// The session's areas with prices and free seats, by area id.
    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>>;
    /// Whether the area is in the session's venue.
    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool>;
    /// Every seat of an area with its position.
    async fn area_seats(&self, area: AreaId) -> StorageResult<Vec<AreaSeat>>;
    /// Seat ids for (row, column) positions in an area, `None` where no such seat.
    async fn find_seats(
        &self,
        area: AreaId,
        positions: Vec<(i64, i64)>,
    ) -> StorageResult<Vec<Option<SeatId>>> {
        let seats = seats_by_position(self.area_seats(area).await?);
        Ok(positions.iter().map(|p| seats.get(p).copied()).collect())
    }
    /// The area's seats in this session, by row then column.
    async fn seat_map(&self, session: SessionId, area: AreaId) -> StorageResult<Vec<SeatCell>>;
    /// Every session's id (each instance opens every session's buying-page namespace at
    /// startup, so its news reaches the page's watchers on the other instances).
    async fn session_ids(&self) -> StorageResult<Vec<SessionId>>;
    /// Sessions whose event goes on sale after `from` and no later than `to` (ms since the epoch).
    async fn sessions_on_sale_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> StorageResult<Vec<SessionId>>;
    /// Opens the connections a sale will need before it starts (no-op where there is no pool).
    async fn warm_pool(&self) -> StorageResult<()>;
    /// Order summary lines for seats of a session, by seat id.
    async fn ticket_lines(
        &self,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<TicketLine>>;
}

/// An area's seats keyed by (row, column).
pub fn seats_by_position(seats: Vec<AreaSeat>) -> HashMap<(i64, i64), SeatId> {
    seats
        .into_iter()
        .map(|s| ((s.row, s.column), s.seat))
        .collect()
}

/// Accounts and their order history.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates an account; `None` when the email is taken.
    async fn create_user(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> StorageResult<Option<UserRecord>>;
    /// Finds an account by email.
    async fn user_by_email(&self, email: String) -> StorageResult<Option<UserRecord>>;
    /// Whether the account exists (tokens of deleted accounts are refused).
    async fn user_exists(&self, id: UserId) -> StorageResult<bool>;
    /// Name, email and orders; `None` for an unknown account.
    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>>;
}

/// Seat transitions. Each call is one atomic transition checked by the engine.
#[async_trait]
pub trait Inventory: Send + Sync {
    /// Seats SOLD to the account in the session.
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32>;
    /// [`Inventory::sold_count`], given what the sold-count tally kept beside the waiting room
    /// said when it was read in the same exchange as the place
    /// ([`WaitingRoom::place_and_tally`]); `None` when nothing was read there. An inventory
    /// that keeps no such tally ignores `read` and asks as [`Inventory::sold_count`] does.
    async fn sold_count_given(
        &self,
        user: UserId,
        session: SessionId,
        read: Option<Tallied>,
    ) -> StorageResult<u32> {
        let _ = read;
        self.sold_count(user, session).await
    }
    /// Every account's SOLD seats in the session (accounts with none are left out).
    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>>;
    /// Prepares the session's sold counts for a sale: an engine that keeps them next to the
    /// waiting room ([`sold::TalliedInventory`]) copies them there, so a storm of first
    /// validations does not ask the database one by one. A no-op where the database answers.
    async fn warm_sold_counts(&self, _session: SessionId) -> StorageResult<()> {
        Ok(())
    }
    /// Which of `seats` the account holds in `status` in the session (a read, no locking).
    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>>;
    /// EMPTY → SELECTED until the terms' deadline, if the account holds fewer seats of the
    /// session than the terms' limit.
    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome>;
    /// SELECTED (by the account) → EMPTY, all or nothing.
    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome>;
    /// SELECTED/LOCKED (by the account) → LOCKED until the terms' deadline, all or nothing,
    /// within the SOLD allowance.
    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome>;
    /// LOCKED (by the account) → EMPTY, all or nothing.
    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome>;
    /// Every SELECTED or LOCKED seat of the account in the session → EMPTY; what was released.
    async fn release_holds(&self, user: UserId, session: SessionId)
    -> StorageResult<Vec<Released>>;
    /// Frees every SELECTED or LOCKED seat whose deadline is before `now`.
    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>>;
    /// LOCKED (by the account) → SOLD with an order and its lines, in one transaction.
    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome>;
    /// How many of the session's seats are held (selected or locked) and sold.
    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts>;
    /// Moves the deadline of every hold in the session `by_ms` later (the operator gave every
    /// visitor more time); returns how many holds moved.
    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64>;
}

/// What operators set and did (issue 13): per-session settings, blocked accounts, the audit
/// trail. The database is the record; every instance keeps the settings in memory
/// ([`controls::RoomControls`]) and reloads them from here.
#[async_trait]
pub trait Operations: Send + Sync {
    /// Every session's stored settings (sessions at the defaults have no row).
    async fn session_settings(&self) -> StorageResult<Vec<(SessionId, SessionSettings)>>;
    /// Stores a session's settings (a row at the defaults is removed).
    async fn save_session_settings(
        &self,
        session: SessionId,
        settings: SessionSettings,
        now: Millis,
    ) -> StorageResult<()>;
    /// Every (session, account) an operator blocked.
    async fn blocked_accounts(&self) -> StorageResult<Vec<(SessionId, UserId)>>;
    /// Blocks the account from the session (again: no change).
    async fn block_account(
        &self,
        session: SessionId,
        user: UserId,
        now: Millis,
    ) -> StorageResult<()>;
    /// Appends one admin action to the audit trail; returns its id.
    async fn record_audit(&self, entry: AuditEntry) -> StorageResult<i64>;
    /// Up to `limit` audit rows, newest first, with ids below `before` (all when `None`).
    async fn audit(&self, before: Option<i64>, limit: u32) -> StorageResult<Vec<AuditRecord>>;
}

/// A page visit the server ended because its window ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// The session.
    pub session: SessionId,
    /// Whose visit ended.
    pub user: UserId,
    /// What the departure changed (promotion, notices).
    pub departure: Departure,
}

/// What a draw did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawn {
    /// The published record.
    pub record: DrawRecord,
    /// False when the draw had already run (nothing was placed by this call).
    pub fresh: bool,
    /// Where each entrant was placed, in the drawn order (fresh draws only).
    pub placed: Vec<(UserId, Admission)>,
}

/// The waiting rooms of all sessions.
#[async_trait]
pub trait WaitingRoom: Send + Sync {
    /// An account arrives (`check limit`).
    async fn enter(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
    ) -> StorageResult<Admission>;
    /// [`WaitingRoom::enter`] for someone who learns where they stand as `hears` says (an
    /// arrival through `enter` hears every step). Only an engine shared by several instances
    /// tells the two apart; the others list everyone in departures' notices.
    async fn enter_as(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
        hears: Hears,
    ) -> StorageResult<Admission> {
        let _ = hears;
        self.enter(session, user, holder, now).await
    }
    /// An account leaves; with `holder`, only if that connection holds the place.
    async fn leave(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
        now: Millis,
    ) -> StorageResult<Option<Departure>>;
    /// Where the account stands.
    async fn place(&self, session: SessionId, user: UserId) -> StorageResult<Option<Place>>;
    /// [`WaitingRoom::place`], and what the sold-count tally kept beside this room
    /// ([`SoldCounts`]) knows of the account's count in the session, in one exchange: the
    /// legacy validation's two questions. `None` for the tally where the engine keeps none
    /// beside the room (the default: the place alone; the inventory answers the count).
    async fn place_and_tally(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<(Option<Place>, Option<Tallied>)> {
        Ok((self.place(session, user).await?, None))
    }
    /// Where each of `users` stands, in their order, in as few exchanges as the engine can
    /// (one per [`PLACES_PER_CALL`] people on Redis): how an instance of a shared waiting room
    /// learns the places of its own queued people (the app's `position` pushes).
    async fn places(
        &self,
        session: SessionId,
        users: &[UserId],
    ) -> StorageResult<Vec<Option<Place>>> {
        let mut places = Vec::with_capacity(users.len());
        for user in users {
            places.push(self.place(session, *user).await?);
        }
        Ok(places)
    }
    /// Whether other instances change these waiting rooms too. Then no instance hears of every
    /// departure, so none can tell its people their places from the departures it made; each
    /// asks where its own people stand instead ([`WaitingRoom::places`]).
    fn shared(&self) -> bool {
        false
    }
    /// The people of `session` admitted while asking where they stood whose admission has not
    /// been said yet ([`WaitingRoom::announced`]), with when they were admitted. An admitting
    /// instance that dies before it speaks leaves them here. Always empty on an engine of one
    /// process (its crash ends every visit anyway).
    async fn unannounced(&self, session: SessionId) -> StorageResult<Vec<(UserId, Millis)>> {
        let _ = session;
        Ok(Vec::new())
    }
    /// `users` have been told they reached `session`'s page (or need not be any more).
    async fn announced(&self, session: SessionId, users: &[UserId]) -> StorageResult<()> {
        let _ = (session, users);
        Ok(())
    }
    /// When the account reached the buying page (ms), if it is on it.
    async fn admitted_at(&self, session: SessionId, user: UserId) -> StorageResult<Option<Millis>>;
    /// Fair start: `user` joins `session` before its on-sale time, to be placed by the draw.
    /// Joining again keeps the one entry (the newest connection holds it).
    async fn enter_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
    ) -> StorageResult<()>;
    /// Whether `user` waits for `session`'s draw.
    async fn is_early(&self, session: SessionId, user: UserId) -> StorageResult<bool>;
    /// Withdraws an early entry (with `holder`, only that connection's); true when withdrawn.
    async fn leave_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
    ) -> StorageResult<bool>;
    /// Sessions whose early entrants wait for a draw.
    async fn early_sessions(&self) -> StorageResult<Vec<SessionId>>;
    /// Runs `session`'s draw with `seed` unless it ran already: the early entrants, in the
    /// drawn order, onto the page while it has room and then into the queue, ahead of anyone
    /// who arrives later. `None` while another instance is drawing (ask again shortly).
    async fn draw(
        &self,
        session: SessionId,
        seed: u64,
        now: Millis,
    ) -> StorageResult<Option<Drawn>>;
    /// The session's draw, if it ran, and `user`'s 1-based position in it (if drawn).
    async fn drawn(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<Option<(DrawRecord, Option<usize>)>>;
    /// How many people have left the front of the session's queue so far (moved onto the page
    /// or given up); it only grows, until the room's keys are reset. Every instance sees the
    /// same count, so each can judge a line's pace (wait estimates).
    async fn progress(&self, session: SessionId) -> StorageResult<u64>;
    /// Page occupancy and queue length of every non-empty room (for the gauges).
    async fn occupancy(&self) -> StorageResult<Vec<(SessionId, usize, usize)>>;
    /// Answers when the engine is reachable (readiness).
    async fn ready(&self) -> StorageResult<()>;
    /// At shutdown: keep this instance's places for `grace_ms` more (its visitors reconnect
    /// elsewhere and resume them), after which the survivors reap what was not resumed.
    async fn hand_over(&self, now: Millis, grace_ms: Millis) -> StorageResult<()>;
    /// Prepares for a sale (Redis: makes the scripts resident on every node).
    async fn warm_up(&self) -> StorageResult<()>;
    /// Ends every page visit older than the window plus grace, promoting the next in line.
    async fn expire(&self, now: Millis) -> StorageResult<Vec<Expiry>>;
    /// The sessions where the account holds a place (to resume them on a new connection).
    async fn sessions_of(&self, user: UserId) -> StorageResult<Vec<SessionId>>;
    /// Renews this instance's lease and ends the visits held by instances whose lease lapsed.
    /// A single-process engine has nobody else to reap.
    async fn reap(&self, now: Millis) -> StorageResult<Vec<Expiry>>;
    /// Admits from the queue while the session's page is under its limit and admissions run
    /// (an operator raised the limit or resumed): one departure per person admitted.
    async fn fill(&self, session: SessionId, now: Millis) -> StorageResult<Moves>;
    /// Moves every page visitor's entry time, and so their deadline, `by_ms` later; returns
    /// who is on the page with their new entry times.
    async fn extend(
        &self,
        session: SessionId,
        by_ms: Millis,
    ) -> StorageResult<Vec<(UserId, Millis)>>;
    /// Empties the session's queue (the sale is over); returns who was in it, in order.
    async fn close_queue(&self, session: SessionId) -> StorageResult<Vec<UserId>>;
    /// Makes the session's admission count in this instance's settings (its limit, or none
    /// while paused) the one every instance's transitions use from now on (Redis: a key the
    /// scripts read; an instance whose settings copy is a moment behind still admits by it).
    async fn share_admits(&self, session: SessionId) -> StorageResult<()>;
    /// Who is queued for the session, in order.
    async fn queued(&self, session: SessionId) -> StorageResult<Vec<UserId>>;
    /// The session's page occupancy and queue length.
    async fn sizes(&self, session: SessionId) -> StorageResult<(usize, usize)>;
    /// The session's latest admissions onto the page (at most [`RECENT_ADMISSIONS`]), newest
    /// first, with how long each person had queued.
    async fn recent_admissions(&self, session: SessionId) -> StorageResult<Vec<Admitted>>;
}

/// Most people asked about in one [`WaitingRoom::places`] exchange: each is a few microseconds
/// of a Redis script, which holds every other client of that Redis while it runs.
pub const PLACES_PER_CALL: usize = 500;

/// How many admissions per session the engines remember for the operator's figures.
pub const RECENT_ADMISSIONS: usize = 200;

/// Per-area seat-map versions: how many changes have been published for an area's map, so a
/// watcher can tell a missed change from none.
#[async_trait]
pub trait SeatVersions: Send + Sync {
    /// The area's version now (0 before any change).
    async fn current(&self, session: SessionId, area: AreaId) -> StorageResult<u64>;
    /// Counts one more change; returns the new version.
    async fn bump(&self, session: SessionId, area: AreaId) -> StorageResult<u64>;
}

/// Each account's SOLD seats per session, kept where the waiting room lives, so a validation
/// needs no database call (issue 14). The database stays the record: counts only grow, every
/// write raises a count to a value that was true at some moment (never lowers it), and an
/// order in flight makes the account's count unknown until it ends, so a reading taken before
/// an order can never overwrite the order's own write. [`sold::TalliedInventory`] keeps it.
#[async_trait]
pub trait SoldCounts: Send + Sync {
    /// What the tally knows of the account's count in the session.
    async fn read(&self, session: SessionId, user: UserId) -> StorageResult<Tallied>;
    /// Raises the session's counts to `counts` (a database reading: accounts with none are
    /// left out) and marks the session loaded (an account without a count has none).
    async fn load(&self, session: SessionId, counts: Vec<(UserId, u32)>) -> StorageResult<()>;
    /// An order of the account is about to be written: its count is unknown until
    /// [`SoldCounts::ordered`].
    async fn ordering(&self, session: SessionId, user: UserId) -> StorageResult<()>;
    /// The order ended: `sold` is the account's count once it committed, `None` when it sold
    /// nothing.
    async fn ordered(
        &self,
        session: SessionId,
        user: UserId,
        sold: Option<u32>,
    ) -> StorageResult<()>;
}

/// A relational engine: catalog, accounts, inventory and operations together.
pub trait Database: Catalog + Accounts + Inventory + Operations {}
impl<T: Catalog + Accounts + Inventory + Operations> Database for T {}

/// The engines in use, chosen once at startup.
#[derive(Clone)]
pub struct Store {
    /// Events, sessions, seats, prices.
    pub catalog: Arc<dyn Catalog>,
    /// Accounts and order history.
    pub accounts: Arc<dyn Accounts>,
    /// Seat transitions and orders.
    pub inventory: Arc<dyn Inventory>,
    /// Waiting rooms.
    pub waiting_room: Arc<dyn WaitingRoom>,
    /// Seat-map versions.
    pub seat_versions: Arc<dyn SeatVersions>,
    /// Per-session settings, blocks and the audit trail.
    pub operations: Arc<dyn Operations>,
    /// The per-session settings in force, shared with the waiting room.
    pub controls: Arc<controls::RoomControls>,
    /// A line for the startup log naming the engines.
    pub description: String,
    /// Whether opening the database loaded the demo catalog and accounts, so the startup log
    /// can name the accounts a newcomer signs in with.
    pub demo_seeded: bool,
}

impl Store {
    /// Opens the engines named by the settings: the one `match` on engine kind.
    pub async fn from_settings(settings: &Settings, auth: &Auth) -> StorageResult<Self> {
        let (db, db_name, demo_seeded): (Arc<dyn Database>, String, bool) = match url_scheme(
            &settings.database_url,
        ) {
            "sqlite" => {
                let db = sqlite::SqliteStore::open(&settings.database_url, auth).await?;
                let (name, seeded) = (format!("SQLite ({})", db.location()), db.seeded());
                (Arc::new(db), name, seeded)
            }
            "mysql" => {
                let (db, seeded) = open_mysql(settings, auth).await?;
                let name = format!("MySQL ({})", db.location());
                (Arc::new(db), name, seeded)
            }
            _ => {
                return Err(StorageError::Config(format!(
                    "unsupported DATABASE_URL {:?} (expected sqlite:PATH, sqlite::memory: or mysql://…)",
                    crate::config::redact_url(&settings.database_url)
                )));
            }
        };
        let db: Arc<dyn Database> = Arc::new(timed::Timed::new(db, settings.db_call_timeout()));
        let rules = room_rules(settings);
        let lifetime = settings.window_with_grace().as_millis() as Millis;
        let controls = Arc::new(controls::RoomControls::new(defaults(settings)));
        let loaded = controls.reload(db.as_ref()).await;
        if let Err(e) = loaded {
            tracing::warn!(error = %e, "loading the per-session settings failed; defaults until the next look");
        }
        // Extensions made before this instance started were told by the instances then up.
        controls.window_changes();
        let (waiting_room, room_name): (Arc<dyn WaitingRoom>, String) = match &settings.redis_url {
            None => (
                Arc::new(
                    memory::MemoryWaitingRoom::new(rules, lifetime).with_controls(controls.clone()),
                ),
                "in-process memory".into(),
            ),
            Some(url) => {
                let prefix = &settings.redis_prefix;
                let lease = redis::Lease {
                    instance: instance_id(getrandom::fill)?,
                    ttl_ms: settings.lease_ttl.saturating_mul(1000) as Millis,
                };
                tracing::info!(instance = %lease.instance, "joining the shared waiting room");
                let room = redis::RedisWaitingRoom::connect(
                    url,
                    prefix,
                    rules,
                    lifetime,
                    lease,
                    settings.storage_timeout(),
                )
                .await?
                .with_controls(controls.clone());
                let name = format!("Redis ({}, keys {prefix}*)", crate::config::redact_url(url));
                (Arc::new(room), name)
            }
        };
        // Seat-map versions, and where the inventory reads sold counts: the database itself
        // on the embedded engines (a local file), a tally next to the queue on Redis.
        let (seat_versions, inventory): (Arc<dyn SeatVersions>, Arc<dyn Inventory>) =
            match &settings.redis_url {
                None => (Arc::new(memory::MemorySeatVersions::default()), db.clone()),
                Some(url) => {
                    let (prefix, timeout) = (&settings.redis_prefix, settings.storage_timeout());
                    let versions = redis::RedisSeatVersions::connect(url, prefix, timeout).await?;
                    let tally = redis::RedisSoldCounts::connect(url, prefix, timeout).await?;
                    let inventory = sold::TalliedInventory::new(db.clone(), Arc::new(tally));
                    (Arc::new(versions), Arc::new(inventory))
                }
            };
        Ok(Self {
            description: format!("database: {db_name}, waiting room: {room_name}"),
            demo_seeded,
            seat_versions,
            operations: db.clone(),
            controls,
            catalog: Arc::new(cache::CachedCatalog::new(db.clone())),
            accounts: Arc::new(cache::CachedAccounts::new(db.clone())),
            inventory,
            waiting_room: Arc::new(counted::CountedRoom(waiting_room)),
        })
    }
}

/// A random id for this process's lease, from `fill` (`getrandom::fill` outside tests). Without
/// randomness startup fails: a fixed fallback would give every instance the same id, and each
/// would renew, keep and reap the others' places as its own.
fn instance_id(
    fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
) -> StorageResult<String> {
    let mut bytes = [0u8; 6];
    fill(&mut bytes).map_err(|e| {
        StorageError::Unavailable(format!("no randomness for the instance id: {e}"))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn url_scheme(url: &str) -> &str {
    url.split_once(':').map_or("", |(scheme, _)| scheme)
}

/// Connects to MySQL and checks (or, with auto-migrate, brings) the schema up to date; true when
/// auto-migrate seeded the demo data into an empty catalog.
pub async fn open_mysql(
    settings: &Settings,
    auth: &Auth,
) -> StorageResult<(mysql::MysqlStore, bool)> {
    let limits = mysql::PoolLimits {
        max: settings.db_pool_max,
        acquire_timeout: std::time::Duration::from_secs(settings.db_acquire_timeout),
    };
    let db = mysql::MysqlStore::connect(&settings.database_url, limits).await?;
    let mut seeded = false;
    if settings.auto_migrate {
        db.migrate().await?;
        seeded = db.seed(auth).await?;
    } else if !db.migrations_current().await? {
        return Err(StorageError::Config(
            "the database schema is not current: run `ticketclub migrate` (and `ticketclub seed` for demo data)".into(),
        ));
    }
    Ok((db, seeded))
}

/// The per-session defaults the settings describe.
pub fn defaults(settings: &Settings) -> crate::domain::controls::Defaults {
    crate::domain::controls::Defaults {
        limit: settings.queue_limit,
        window_ms: settings.window().as_millis() as Millis,
        grace_ms: (settings.window_with_grace() - settings.window()).as_millis() as Millis,
        ticket_limit: settings.ticket_limit,
        buffer_s: 10,
    }
}

/// The waiting-room rules the settings describe.
pub fn room_rules(settings: &Settings) -> Rules {
    Rules {
        limit: settings.queue_limit as usize,
        window_ms: settings.window().as_millis() as Millis,
        buffer_s: 10,
        paused: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_id_without_randomness_is_an_error_not_a_shared_id() {
        let failed = instance_id(|_| Err(getrandom::Error::UNSUPPORTED));
        assert!(matches!(failed, Err(StorageError::Unavailable(_))));
        let id = instance_id(|b| {
            b.fill(0xab);
            Ok(())
        })
        .expect("id");
        assert_eq!(id, "abababababab");
    }
}
