//! Read-through caches for the lookups every request repeats: the catalog's session, area
//! membership and seat ids by position (rows that change only when an operator edits the
//! catalog), and whether a token's account exists. A short time-to-live bounds the catalog's
//! staleness; seat maps, free-seat counts, ticket counts and everything else are live and always
//! go to the database. Warm-up fills the catalog part.
//!
//! Account existence (issue 14, the join's round trips): a signed token proves its account
//! existed when it was issued, and the application never deletes an account (there is no route
//! or command for it, and orders reference their account). So a "yes" is kept for the life of
//! the process: an account costs one lookup per instance, at its first authenticated request or
//! connection, not one per join. A "no" is never kept, so a token for an id this database does
//! not know (another deployment's, or one from before a database reset under the same secret)
//! is refused every time. The price of the decision: an account an operator deletes by hand
//! keeps working on an instance that already saw it until that instance restarts (or rotate
//! `TICKETCLUB_JWT_SECRET`, which ends every token at once).
//!
//! Catalog misses load once: when a rush of buyers misses the same key at the same instant
//! (the first second of a sale, or the moment an entry expires), one of them reads the database
//! and the others wait for its answer instead of queueing a thousand identical queries.
//! Seat positions are loaded a whole area at a time, so a rush over many seats of an area
//! costs one query.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::model::*;
use super::{Accounts, Catalog, StorageResult};
use crate::domain::ids::{AreaId, EventId, SeatId, SessionId, UserId};

/// Entries older than this are read again.
const TTL: Duration = Duration::from_secs(10);

/// One load in flight for a key; later missers queue on it and then read the cache.
type Gate = Arc<tokio::sync::Mutex<()>>;

struct Table<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
    loading: Mutex<HashMap<K, Gate>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Table<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            loading: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        map.insert(key, (Instant::now(), value));
    }

    /// The cached value, or the one `load` reads; concurrent misses of one key share a load.
    async fn get_or_load(
        &self,
        key: K,
        load: impl Future<Output = StorageResult<V>>,
    ) -> StorageResult<V> {
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let gate = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            loading.entry(key.clone()).or_default().clone()
        };
        let _turn = gate.lock().await;
        if let Some(hit) = self.get(&key) {
            return Ok(hit);
        }
        let loaded = load.await;
        if let Ok(value) = &loaded {
            self.put(key.clone(), value.clone());
        }
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        loaded
    }
}

/// One area's seat ids by (row, column).
type SeatsByPosition = HashMap<(i64, i64), SeatId>;

/// The catalog with its immutable lookups cached.
pub(crate) struct CachedCatalog {
    inner: Arc<dyn Catalog>,
    sessions: Table<SessionId, Option<SessionInfo>>,
    areas: Table<(SessionId, AreaId), bool>,
    seats: Table<AreaId, Arc<SeatsByPosition>>,
}

impl CachedCatalog {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn Catalog>) -> Self {
        Self {
            inner,
            sessions: Table::new(),
            areas: Table::new(),
            seats: Table::new(),
        }
    }
}

#[async_trait]
impl Catalog for CachedCatalog {
    async fn ready(&self) -> StorageResult<()> {
        self.inner.ready().await
    }

    async fn events(&self, search: Option<String>) -> StorageResult<Vec<EventSummary>> {
        self.inner.events(search).await
    }

    async fn event(&self, id: EventId) -> StorageResult<Option<EventDetail>> {
        self.inner.event(id).await
    }

    async fn session(&self, id: SessionId) -> StorageResult<Option<SessionInfo>> {
        self.sessions.get_or_load(id, self.inner.session(id)).await
    }

    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>> {
        self.inner.session_areas(id).await
    }

    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool> {
        let load = self.inner.area_in_session(session, area);
        self.areas.get_or_load((session, area), load).await
    }

    async fn area_seats(&self, area: AreaId) -> StorageResult<Vec<AreaSeat>> {
        self.inner.area_seats(area).await
    }

    async fn find_seats(
        &self,
        area: AreaId,
        positions: Vec<(i64, i64)>,
    ) -> StorageResult<Vec<Option<SeatId>>> {
        let load = async {
            let seats = self.inner.area_seats(area).await?;
            Ok(Arc::new(super::seats_by_position(seats)))
        };
        let seats = self.seats.get_or_load(area, load).await?;
        Ok(positions.iter().map(|p| seats.get(p).copied()).collect())
    }

    async fn seat_map(&self, session: SessionId, area: AreaId) -> StorageResult<Vec<SeatCell>> {
        self.inner.seat_map(session, area).await
    }

    async fn ticket_lines(
        &self,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<TicketLine>> {
        self.inner.ticket_lines(session, seats).await
    }

    async fn session_ids(&self) -> StorageResult<Vec<SessionId>> {
        self.inner.session_ids().await
    }

    async fn sessions_on_sale_between(&self, from: i64, to: i64) -> StorageResult<Vec<SessionId>> {
        self.inner.sessions_on_sale_between(from, to).await
    }

    async fn warm_pool(&self) -> StorageResult<()> {
        self.inner.warm_pool().await
    }
}

/// Most accounts remembered as existing; past it the memory starts over (about 16 MB at most).
const KNOWN_ACCOUNTS: usize = 1_000_000;

/// Accounts with positive existence checks kept (every authenticated request makes one; see
/// the module docs for why a "yes" never expires).
pub(crate) struct CachedAccounts {
    inner: Arc<dyn Accounts>,
    known: Mutex<std::collections::HashSet<UserId>>,
}

impl CachedAccounts {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn Accounts>) -> Self {
        Self {
            inner,
            known: Mutex::default(),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<UserId>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Accounts for CachedAccounts {
    async fn create_user(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> StorageResult<Option<UserRecord>> {
        self.inner.create_user(name, email, password_hash).await
    }

    async fn user_by_email(&self, email: String) -> StorageResult<Option<UserRecord>> {
        self.inner.user_by_email(email).await
    }

    async fn user_exists(&self, id: UserId) -> StorageResult<bool> {
        if self.known().contains(&id) {
            return Ok(true);
        }
        let exists = self.inner.user_exists(id).await?;
        if exists {
            let mut known = self.known();
            if known.len() >= KNOWN_ACCOUNTS {
                known.clear();
            }
            known.insert(id);
        }
        Ok(exists)
    }

    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>> {
        self.inner.profile(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rush_of_misses_on_one_key_loads_once() {
        let table: Arc<Table<u32, u64>> = Arc::new(Table::new());
        let loads = Arc::new(AtomicUsize::new(0));
        let mut rush = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (table, loads) = (table.clone(), loads.clone());
            rush.spawn(async move {
                let load = async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(42)
                };
                table.get_or_load(7, load).await
            });
        }
        while let Some(answer) = rush.join_next().await {
            assert_eq!(answer.expect("task").expect("loaded"), 42);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(table.loading.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn a_failed_load_is_not_cached_and_the_next_miss_tries_again() {
        let table: Table<u32, u64> = Table::new();
        let failed = table
            .get_or_load(1, async {
                Err(crate::storage::StorageError::Unavailable("down".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            table.get_or_load(1, async { Ok(5) }).await.expect("loaded"),
            5
        );
        assert_eq!(
            table.get_or_load(1, async { Ok(6) }).await.expect("cached"),
            5
        );
    }
}
