//! A bound on every database call: a stalled or locked database costs a request an error (the
//! contract's generic 500, an event's error reply), never a hang.
//!
//! A call that runs out of time is dropped; its connection goes with it, and an open
//! transaction is rolled back by the server, so nothing is half-applied.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::model::*;
use super::{Accounts, Catalog, Database, Inventory, Operations, StorageError, StorageResult};
use crate::domain::controls::SessionSettings;
use crate::domain::ids::{AreaId, EventId, SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::Millis;

/// A database whose every call fails with [`StorageError::Unavailable`] after `limit`.
pub struct Timed {
    inner: Arc<dyn Database>,
    limit: Duration,
}

impl Timed {
    /// Bounds each call of `inner` by `limit`.
    pub fn new(inner: Arc<dyn Database>, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = StorageResult<T>>,
    ) -> StorageResult<T> {
        crate::metrics::storage_call("database", what);
        match tokio::time::timeout(self.limit, call).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::Unavailable(format!(
                "database call {what} took longer than {:?}",
                self.limit
            ))),
        }
    }
}

#[async_trait]
impl Catalog for Timed {
    async fn ready(&self) -> StorageResult<()> {
        self.bounded("ready", self.inner.ready()).await
    }
    async fn events(&self, search: Option<String>) -> StorageResult<Vec<EventSummary>> {
        self.bounded("events", self.inner.events(search)).await
    }
    async fn event(&self, id: EventId) -> StorageResult<Option<EventDetail>> {
        self.bounded("event", self.inner.event(id)).await
    }
    async fn session(&self, id: SessionId) -> StorageResult<Option<SessionInfo>> {
        self.bounded("session", self.inner.session(id)).await
    }
    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>> {
        self.bounded("session_areas", self.inner.session_areas(id))
            .await
    }
    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool> {
        let call = self.inner.area_in_session(session, area);
        self.bounded("area_in_session", call).await
    }
    async fn area_seats(&self, area: AreaId) -> StorageResult<Vec<AreaSeat>> {
        self.bounded("area_seats", self.inner.area_seats(area))
            .await
    }
    async fn find_seats(
        &self,
        area: AreaId,
        positions: Vec<(i64, i64)>,
    ) -> StorageResult<Vec<Option<SeatId>>> {
        let call = self.inner.find_seats(area, positions);
        self.bounded("find_seats", call).await
    }
    async fn seat_map(&self, session: SessionId, area: AreaId) -> StorageResult<Vec<SeatCell>> {
        self.bounded("seat_map", self.inner.seat_map(session, area))
            .await
    }
    async fn session_ids(&self) -> StorageResult<Vec<SessionId>> {
        self.bounded("session_ids", self.inner.session_ids()).await
    }
    async fn sessions_on_sale_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> StorageResult<Vec<SessionId>> {
        let call = self.inner.sessions_on_sale_between(from, to);
        self.bounded("sessions_on_sale_between", call).await
    }
    async fn warm_pool(&self) -> StorageResult<()> {
        // Opening a sale's connections may take longer than one call; it waits per connection.
        self.inner.warm_pool().await
    }
    async fn ticket_lines(
        &self,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<TicketLine>> {
        let call = self.inner.ticket_lines(session, seats);
        self.bounded("ticket_lines", call).await
    }
}

#[async_trait]
impl Accounts for Timed {
    async fn create_user(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> StorageResult<Option<UserRecord>> {
        let call = self.inner.create_user(name, email, password_hash);
        self.bounded("create_user", call).await
    }
    async fn user_by_email(&self, email: String) -> StorageResult<Option<UserRecord>> {
        self.bounded("user_by_email", self.inner.user_by_email(email))
            .await
    }
    async fn user_exists(&self, id: UserId) -> StorageResult<bool> {
        self.bounded("user_exists", self.inner.user_exists(id))
            .await
    }
    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>> {
        self.bounded("profile", self.inner.profile(id)).await
    }
}

#[async_trait]
impl Inventory for Timed {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        self.bounded("sold_count", self.inner.sold_count(user, session))
            .await
    }
    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        self.bounded("sold_counts", self.inner.sold_counts(session))
            .await
    }
    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>> {
        let call = self.inner.held_in(user, session, status, seats);
        self.bounded("held_in", call).await
    }
    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome> {
        let call = self.inner.select(user, session, seat, terms);
        self.bounded("select", call).await
    }
    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        let call = self.inner.unselect(user, session, seats);
        self.bounded("unselect", call).await
    }
    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome> {
        let call = self.inner.lock(user, session, seats, terms);
        self.bounded("lock", call).await
    }
    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        let call = self.inner.unlock(user, session, seats);
        self.bounded("unlock", call).await
    }
    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        let call = self.inner.release_holds(user, session);
        self.bounded("release_holds", call).await
    }
    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>> {
        let call = self.inner.free_stale_holds(now);
        self.bounded("free_stale_holds", call).await
    }
    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts> {
        self.bounded("seat_counts", self.inner.seat_counts(session))
            .await
    }
    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64> {
        let call = self.inner.extend_holds(session, by_ms);
        self.bounded("extend_holds", call).await
    }
    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome> {
        let call = self.inner.place_order(user, session, seats, limit);
        self.bounded("place_order", call).await
    }
}

#[async_trait]
impl Operations for Timed {
    async fn session_settings(&self) -> StorageResult<Vec<(SessionId, SessionSettings)>> {
        self.bounded("session_settings", self.inner.session_settings())
            .await
    }
    async fn save_session_settings(
        &self,
        session: SessionId,
        settings: SessionSettings,
        now: Millis,
    ) -> StorageResult<()> {
        let call = self.inner.save_session_settings(session, settings, now);
        self.bounded("save_session_settings", call).await
    }
    async fn blocked_accounts(&self) -> StorageResult<Vec<(SessionId, UserId)>> {
        self.bounded("blocked_accounts", self.inner.blocked_accounts())
            .await
    }
    async fn block_account(
        &self,
        session: SessionId,
        user: UserId,
        now: Millis,
    ) -> StorageResult<()> {
        let call = self.inner.block_account(session, user, now);
        self.bounded("block_account", call).await
    }
    async fn record_audit(&self, entry: AuditEntry) -> StorageResult<i64> {
        self.bounded("record_audit", self.inner.record_audit(entry))
            .await
    }
    async fn audit(&self, before: Option<i64>, limit: u32) -> StorageResult<Vec<AuditRecord>> {
        self.bounded("audit", self.inner.audit(before, limit)).await
    }
}
