//! Counts every call made to the storage traits, by engine and call
//! (`ticketclub_storage_calls_total{engine, call}`), so the cost of a use case in storage calls
//! can be read from `/metrics` and held by a test: a join that starts making one more call
//! fails `tests/api/round_trips.rs`. Database calls are counted where they are bounded
//! ([`super::timed::Timed`]), after the read-through caches, so a cache hit counts nothing;
//! waiting-room calls are counted here.
//!
//! One call is one network exchange on every production engine except where a call's docs say
//! otherwise (the Redis `enter` sends its script and its index update together, one exchange).

use std::sync::Arc;

use async_trait::async_trait;

use super::model::Tallied;
use super::{Drawn, Expiry, StorageResult, WaitingRoom};
use crate::domain::draw::DrawRecord;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Admission, Admitted, Departure, Hears, Holder, Moves, Place};

fn count(call: &'static str) {
    crate::metrics::storage_call("waiting_room", call);
}

/// A waiting room whose every call is counted.
pub(crate) struct CountedRoom(pub(crate) Arc<dyn WaitingRoom>);

#[async_trait]
impl WaitingRoom for CountedRoom {
    async fn enter(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
    ) -> StorageResult<Admission> {
        count("enter");
        self.0.enter(session, user, holder, now).await
    }

    async fn enter_as(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
        hears: Hears,
    ) -> StorageResult<Admission> {
        count("enter");
        self.0.enter_as(session, user, holder, now, hears).await
    }

    async fn leave(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
        now: Millis,
    ) -> StorageResult<Option<Departure>> {
        count("leave");
        self.0.leave(session, user, holder, now).await
    }

    async fn place(&self, session: SessionId, user: UserId) -> StorageResult<Option<Place>> {
        count("place");
        self.0.place(session, user).await
    }

    /// Counted after the call: one exchange either way, named by what it answered (the place
    /// alone where the engine keeps no tally beside the room, as [`WaitingRoom::place`]).
    async fn place_and_tally(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<(Option<Place>, Option<Tallied>)> {
        let answer = self.0.place_and_tally(session, user).await;
        count(match &answer {
            Ok((_, Some(_))) => "place_and_sold",
            _ => "place",
        });
        answer
    }

    async fn places(
        &self,
        session: SessionId,
        users: &[UserId],
    ) -> StorageResult<Vec<Option<Place>>> {
        count("places");
        self.0.places(session, users).await
    }

    fn shared(&self) -> bool {
        self.0.shared()
    }

    async fn unannounced(&self, session: SessionId) -> StorageResult<Vec<(UserId, Millis)>> {
        count("unannounced");
        self.0.unannounced(session).await
    }

    async fn announced(&self, session: SessionId, users: &[UserId]) -> StorageResult<()> {
        count("announced");
        self.0.announced(session, users).await
    }

    async fn admitted_at(&self, session: SessionId, user: UserId) -> StorageResult<Option<Millis>> {
        count("admitted_at");
        self.0.admitted_at(session, user).await
    }

    async fn enter_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
    ) -> StorageResult<()> {
        count("enter_early");
        self.0.enter_early(session, user, holder).await
    }

    async fn is_early(&self, session: SessionId, user: UserId) -> StorageResult<bool> {
        count("is_early");
        self.0.is_early(session, user).await
    }

    async fn leave_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
    ) -> StorageResult<bool> {
        count("leave_early");
        self.0.leave_early(session, user, holder).await
    }

    async fn early_sessions(&self) -> StorageResult<Vec<SessionId>> {
        count("early_sessions");
        self.0.early_sessions().await
    }

    async fn draw(
        &self,
        session: SessionId,
        seed: u64,
        now: Millis,
    ) -> StorageResult<Option<Drawn>> {
        count("draw");
        self.0.draw(session, seed, now).await
    }

    async fn drawn(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<Option<(DrawRecord, Option<usize>)>> {
        count("drawn");
        self.0.drawn(session, user).await
    }

    async fn progress(&self, session: SessionId) -> StorageResult<u64> {
        count("progress");
        self.0.progress(session).await
    }

    async fn occupancy(&self) -> StorageResult<Vec<(SessionId, usize, usize)>> {
        count("occupancy");
        self.0.occupancy().await
    }

    async fn ready(&self) -> StorageResult<()> {
        count("ready");
        self.0.ready().await
    }

    async fn hand_over(&self, now: Millis, grace_ms: Millis) -> StorageResult<()> {
        count("hand_over");
        self.0.hand_over(now, grace_ms).await
    }

    async fn warm_up(&self) -> StorageResult<()> {
        count("warm_up");
        self.0.warm_up().await
    }

    async fn expire(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        count("expire");
        self.0.expire(now).await
    }

    async fn sessions_of(&self, user: UserId) -> StorageResult<Vec<SessionId>> {
        count("sessions_of");
        self.0.sessions_of(user).await
    }

    async fn reap(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        count("reap");
        self.0.reap(now).await
    }

    async fn fill(&self, session: SessionId, now: Millis) -> StorageResult<Moves> {
        count("fill");
        self.0.fill(session, now).await
    }

    async fn extend(
        &self,
        session: SessionId,
        by_ms: Millis,
    ) -> StorageResult<Vec<(UserId, Millis)>> {
        count("extend");
        self.0.extend(session, by_ms).await
    }

    async fn close_queue(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        count("close_queue");
        self.0.close_queue(session).await
    }

    async fn share_admits(&self, session: SessionId) -> StorageResult<()> {
        count("share_admits");
        self.0.share_admits(session).await
    }

    async fn queued(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        count("queued");
        self.0.queued(session).await
    }

    async fn sizes(&self, session: SessionId) -> StorageResult<(usize, usize)> {
        count("sizes");
        self.0.sizes(session).await
    }

    async fn recent_admissions(&self, session: SessionId) -> StorageResult<Vec<Admitted>> {
        count("recent_admissions");
        self.0.recent_admissions(session).await
    }
}
