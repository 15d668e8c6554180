//! Read-through caches for the lookups every request repeats: the catalog's session, area
//! membership and seat ids by position (rows that change only when an operator edits the
//! catalog), and whether a token's account exists (accounts are never deleted; only a "yes" is
//! cached). A short time-to-live bounds staleness; seat maps, free-seat counts, ticket counts
//! and everything else are live and always go to the database. Warm-up fills the catalog part.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::model::*;
use super::{Accounts, Catalog, StorageResult};
use crate::domain::ids::{AreaId, EventId, SeatId, SessionId, UserId};

/// Entries older than this are read again.
const TTL: Duration = Duration::from_secs(10);

struct Table<K, V>(Mutex<HashMap<K, (Instant, V)>>);

impl<K: Eq + Hash, V: Clone> Table<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn get(&self, key: &K) -> Option<V> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        map.insert(key, (Instant::now(), value));
    }
}

/// The catalog with its immutable lookups cached.
pub struct CachedCatalog {
    inner: Arc<dyn Catalog>,
    sessions: Table<SessionId, Option<SessionInfo>>,
    areas: Table<(SessionId, AreaId), bool>,
    seats: Table<(AreaId, i64, i64), Option<SeatId>>,
}

impl CachedCatalog {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Catalog>) -> Self {
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
        if let Some(hit) = self.sessions.get(&id) {
            return Ok(hit);
        }
        let found = self.inner.session(id).await?;
        self.sessions.put(id, found.clone());
        Ok(found)
    }

    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>> {
        self.inner.session_areas(id).await
    }

    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool> {
        if let Some(hit) = self.areas.get(&(session, area)) {
            return Ok(hit);
        }
        let found = self.inner.area_in_session(session, area).await?;
        self.areas.put((session, area), found);
        Ok(found)
    }

    async fn find_seats(
        &self,
        area: AreaId,
        positions: Vec<(i64, i64)>,
    ) -> StorageResult<Vec<Option<SeatId>>> {
        let cached: Option<Vec<Option<SeatId>>> = positions
            .iter()
            .map(|(row, column)| self.seats.get(&(area, *row, *column)))
            .collect();
        if let Some(hit) = cached {
            return Ok(hit);
        }
        let found = self.inner.find_seats(area, positions.clone()).await?;
        for ((row, column), seat) in positions.into_iter().zip(&found) {
            self.seats.put((area, row, column), *seat);
        }
        Ok(found)
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

    async fn sessions_on_sale_between(&self, from: i64, to: i64) -> StorageResult<Vec<SessionId>> {
        self.inner.sessions_on_sale_between(from, to).await
    }

    async fn warm_pool(&self) -> StorageResult<()> {
        self.inner.warm_pool().await
    }
}

/// Accounts with positive existence checks cached (every authenticated request makes one).
pub struct CachedAccounts {
    inner: Arc<dyn Accounts>,
    known: Table<UserId, ()>,
}

impl CachedAccounts {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Accounts>) -> Self {
        Self {
            inner,
            known: Table::new(),
        }
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
        if self.known.get(&id).is_some() {
            return Ok(true);
        }
        let exists = self.inner.user_exists(id).await?;
        if exists {
            self.known.put(id, ());
        }
        Ok(exists)
    }

    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>> {
        self.inner.profile(id).await
    }
}
