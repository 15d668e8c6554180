//! An inventory whose sold counts are read from a tally kept next to the waiting room
//! ([`SoldCounts`], Redis on the production engines), so the legacy validation and a page
//! visitor's departure ask no database (issue 14, item 1). Every other call goes to the
//! database unchanged, and the database still checks the ticket limit inside each order.
//!
//! Why the counts stay exact, with several instances and a Redis that may lose its keys:
//! - every order marks the account's count unknown before it is written and writes the
//!   committed count after, so an order on one instance is seen by the next validation on any
//!   other (the tally is shared), and one that stops in between (a crash, a timeout) leaves the
//!   account to the database rather than to a stale count;
//! - a session the tally does not know (never loaded, evicted, Redis restarted) is loaded from
//!   the database once per instance (the first validation that misses waits for it, the others
//!   wait behind it), and the load only ever raises counts, so a reading taken before an order
//!   cannot undo that order's write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::model::*;
use super::{Inventory, SoldCounts, StorageResult};
use crate::domain::ids::{SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::Millis;

fn count(call: &'static str) {
    crate::metrics::storage_call("sold_counts", call);
}

/// The database's inventory with its sold counts kept in a [`SoldCounts`] tally.
pub struct TalliedInventory {
    inner: Arc<dyn Inventory>,
    tally: Arc<dyn SoldCounts>,
    /// One gate per session, so a storm of misses loads the session once, not once each.
    loading: Mutex<HashMap<SessionId, Arc<Gate>>>,
}

/// Who loads a session's tally: one caller at a time, and a caller that waited while another
/// loaded does not load again.
#[derive(Default)]
struct Gate {
    turn: tokio::sync::Mutex<()>,
    /// Loads finished so far.
    loads: std::sync::atomic::AtomicU64,
}

impl TalliedInventory {
    /// `inner`'s inventory, its sold counts kept in `tally`.
    pub fn new(inner: Arc<dyn Inventory>, tally: Arc<dyn SoldCounts>) -> Self {
        Self {
            inner,
            tally,
            loading: Mutex::default(),
        }
    }

    async fn read(&self, session: SessionId, user: UserId) -> StorageResult<Tallied> {
        count("read");
        self.tally.read(session, user).await
    }

    /// Copies the session's counts from the database into the tally; returns them.
    async fn load(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        let counts = self.inner.sold_counts(session).await?;
        count("load");
        if let Err(e) = self.tally.load(session, counts.clone()).await {
            // The reading is still true: the caller answers from it.
            tracing::warn!(error = %e, %session, "keeping the sold counts next to the queue failed");
        }
        Ok(counts)
    }

    /// The account's count when the tally has not loaded the session: the first caller loads
    /// it; the ones that arrive meanwhile wait for that load, then read the tally at once (not
    /// one after another behind the gate).
    async fn load_then_count(&self, session: SessionId, user: UserId) -> StorageResult<u32> {
        use std::sync::atomic::Ordering::SeqCst;
        let gate = {
            let mut gates = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            gates.entry(session).or_default().clone()
        };
        let seen = gate.loads.load(SeqCst);
        let turn = gate.turn.lock().await;
        if gate.loads.load(SeqCst) == seen {
            let counts = self.load(session).await;
            gate.loads.fetch_add(1, SeqCst);
            drop(turn);
            return Ok(counts?
                .iter()
                .find(|(u, _)| *u == user)
                .map_or(0, |(_, n)| *n));
        }
        drop(turn);
        match self.read(session, user).await {
            Ok(Tallied::Count(n)) => Ok(n),
            // Lost again already, or in flight: the database answers, no second load.
            _ => self.inner.sold_count(user, session).await,
        }
    }

    /// The account's count from what the tally said: the database answers an order in flight
    /// or a tally that did not answer, and a session not loaded is loaded first.
    async fn count_from(
        &self,
        user: UserId,
        session: SessionId,
        read: StorageResult<Tallied>,
    ) -> StorageResult<u32> {
        match read {
            Ok(Tallied::Count(n)) => Ok(n),
            Ok(Tallied::InFlight) => self.inner.sold_count(user, session).await,
            Ok(Tallied::NotLoaded) => self.load_then_count(session, user).await,
            Err(e) => {
                // The database is the record: a tally that does not answer costs a query.
                tracing::warn!(error = %e, %session, %user, "reading the sold count next to the queue failed; asking the database");
                self.inner.sold_count(user, session).await
            }
        }
    }
}

#[async_trait]
impl Inventory for TalliedInventory {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        let read = self.read(session, user).await;
        self.count_from(user, session, read).await
    }

    /// What the waiting room read beside the place is the tally's answer (the same Redis hash,
    /// read by the same rules); without it the tally is asked here.
    async fn sold_count_given(
        &self,
        user: UserId,
        session: SessionId,
        read: Option<Tallied>,
    ) -> StorageResult<u32> {
        match read {
            Some(read) => self.count_from(user, session, Ok(read)).await,
            None => self.sold_count(user, session).await,
        }
    }

    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        self.inner.sold_counts(session).await
    }

    async fn warm_sold_counts(&self, session: SessionId) -> StorageResult<()> {
        self.load(session).await.map(|_| ())
    }

    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome> {
        // Without the mark a crash after the commit would leave a count that is too low; an
        // order that cannot be marked is not placed.
        count("ordering");
        self.tally.ordering(session, user).await?;
        let outcome = self.inner.place_order(user, session, seats, limit).await;
        let sold = match &outcome {
            Ok(OrderOutcome::Placed { sold, .. }) => Some(*sold),
            Ok(_) => None,
            // It may have committed or not: the mark stays, and the database answers for the
            // account from now on (the tally cannot tell which).
            Err(_) => return outcome,
        };
        count("ordered");
        if let Err(e) = self.tally.ordered(session, user, sold).await {
            // The mark stays too: still exact, the database answers for the account.
            tracing::warn!(error = %e, %session, %user, "recording an order next to the queue failed");
        }
        outcome
    }

    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>> {
        self.inner.held_in(user, session, status, seats).await
    }

    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome> {
        self.inner.select(user, session, seat, terms).await
    }

    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        self.inner.unselect(user, session, seats).await
    }

    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome> {
        self.inner.lock(user, session, seats, terms).await
    }

    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        self.inner.unlock(user, session, seats).await
    }

    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        self.inner.release_holds(user, session).await
    }

    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>> {
        self.inner.free_stale_holds(now).await
    }

    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts> {
        self.inner.seat_counts(session).await
    }

    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64> {
        self.inner.extend_holds(session, by_ms).await
    }
}
