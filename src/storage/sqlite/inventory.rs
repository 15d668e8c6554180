//! Seat transitions on SQLite: the shared rules of [`crate::storage::transitions`], each run in
//! one `IMMEDIATE` transaction on the single connection, so racers run one after the other.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};

use super::SqliteStore;
use crate::domain::ids::{AreaId, OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::Millis;
use crate::storage::model::*;
use crate::storage::queries as q;
use crate::storage::transitions::{self as rules, Decided, SeatRow, SeatTx};
use crate::storage::{Inventory, StorageResult};

/// An open SQLite transaction seen through [`SeatTx`]. Its methods never wait, so the shared
/// async rules complete in a single poll on the blocking thread.
struct SqliteTx<'c>(&'c Connection);

impl SeatTx for SqliteTx<'_> {
    type Error = rusqlite::Error;

    async fn lock_account(&mut self, _user: UserId) -> rusqlite::Result<()> {
        // The IMMEDIATE transaction on the only connection already excludes every other writer.
        Ok(())
    }

    async fn count(
        &mut self,
        sql: &'static str,
        user: UserId,
        session: SessionId,
    ) -> rusqlite::Result<u32> {
        let n: i64 = self
            .0
            .prepare_cached(sql)?
            .query_row([user.0, session.0], |r| r.get(0))?;
        Ok(n as u32)
    }

    async fn seat_row(&mut self, session: SessionId, seat: SeatId) -> rusqlite::Result<SeatRow> {
        self.0
            .prepare_cached(q::SEAT_OWNER)?
            .query_row([session.0, seat.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    async fn execute(&mut self, sql: &str, args: Vec<i64>) -> rusqlite::Result<u64> {
        Ok(self
            .0
            .prepare_cached(sql)?
            .execute(params_from_iter(args))? as u64)
    }

    async fn holds(&mut self, user: UserId, session: SessionId) -> rusqlite::Result<Vec<Released>> {
        self.0
            .prepare_cached(&q::HOLDS)?
            .query_map([user.0, session.0], |r| {
                Ok(Released {
                    spot: SeatSpot {
                        seat: SeatId(r.get(0)?),
                        area: AreaId(r.get(1)?),
                        row: r.get(2)?,
                        column: r.get(3)?,
                    },
                    was: SeatStatus::from_id(r.get(4)?).unwrap_or(SeatStatus::Selected),
                })
            })?
            .collect()
    }

    async fn seat_prices(
        &mut self,
        session: SessionId,
        seats: &[SeatId],
    ) -> rusqlite::Result<Vec<(SeatId, i64)>> {
        let sql = q::with_in(q::SEAT_PRICES, seats.len());
        let args = [session.0].into_iter().chain(seats.iter().map(|s| s.0));
        self.0
            .prepare_cached(&sql)?
            .query_map(params_from_iter(args), |r| {
                Ok((SeatId(r.get(0)?), r.get(1)?))
            })?
            .collect()
    }

    async fn stale_holds(&mut self, now: Millis) -> rusqlite::Result<Vec<StaleHold>> {
        self.0
            .prepare_cached(&q::STALE_HOLDS)?
            .query_map([now], stale_hold)?
            .collect()
    }

    async fn insert_order(
        &mut self,
        user: UserId,
        session: SessionId,
        total: i64,
    ) -> rusqlite::Result<OrderId> {
        self.0
            .prepare_cached(q::INSERT_ORDER)?
            .execute([user.0, session.0, total])?;
        Ok(OrderId(self.0.last_insert_rowid()))
    }
}

/// Reads a row of [`q::STALE_HOLDS`].
fn stale_hold(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaleHold> {
    Ok(StaleHold {
        session: SessionId(r.get(0)?),
        user: UserId(r.get(1)?),
        released: Released {
            spot: SeatSpot {
                seat: SeatId(r.get(2)?),
                area: AreaId(r.get(3)?),
                row: r.get(4)?,
                column: r.get(5)?,
            },
            was: SeatStatus::from_id(r.get(6)?).unwrap_or(SeatStatus::Selected),
        },
    })
}

/// Polls a future that never waits (see [`SqliteTx`]) to completion.
fn complete<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("SqliteTx methods never wait"),
    }
}

impl SqliteStore {
    /// Runs one shared rule in an IMMEDIATE transaction, committing only what it keeps.
    async fn transition<T, F>(&self, rule: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(SqliteTx<'c>) -> rusqlite::Result<Decided<T>> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let decided = rule(SqliteTx(&tx))?;
            if decided.commit {
                tx.commit()?;
            }
            Ok(decided.outcome)
        })
        .await
    }
}

#[async_trait]
impl Inventory for SqliteStore {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        self.run(move |c| complete(SqliteTx(c).count(&q::SOLD_COUNT, user, session)))
            .await
    }

    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        self.run(move |c| {
            let rows: Vec<(i64, i64)> = c
                .prepare_cached(&q::SOLD_COUNTS)?
                .query_map([session.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows
                .into_iter()
                .map(|(u, n)| (UserId(u), n as u32))
                .collect())
        })
        .await
    }

    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>> {
        if seats.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |c| {
            let sql = q::with_in(q::HELD_IN, seats.len());
            let head = [session.0, user.0, status.id()];
            let args = head.into_iter().chain(seats.iter().map(|s| s.0));
            c.prepare_cached(&sql)?
                .query_map(params_from_iter(args), |r| r.get(0).map(SeatId))?
                .collect()
        })
        .await
    }

    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome> {
        self.transition(move |mut tx| complete(rules::select(&mut tx, user, session, seat, terms)))
            .await
    }

    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        self.transition(move |mut tx| complete(rules::unselect(&mut tx, user, session, &seats)))
            .await
    }

    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome> {
        self.transition(move |mut tx| complete(rules::lock(&mut tx, user, session, &seats, terms)))
            .await
    }

    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        self.transition(move |mut tx| complete(rules::unlock(&mut tx, user, session, &seats)))
            .await
    }

    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        self.transition(move |mut tx| complete(rules::release_holds(&mut tx, user, session)))
            .await
    }

    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>> {
        self.transition(move |mut tx| complete(rules::free_stale_holds(&mut tx, now)))
            .await
    }

    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts> {
        self.run(move |c| {
            let rows: Vec<(i64, i64)> = c
                .prepare_cached(&q::SEAT_COUNTS)?
                .query_map([session.0], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(q::seat_counts(&rows))
        })
        .await
    }

    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64> {
        self.run(move |c| {
            c.execute(&q::EXTEND_HOLDS, rusqlite::params![by_ms, session.0])
                .map(|n| n as u64)
        })
        .await
    }

    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome> {
        self.transition(move |mut tx| {
            complete(rules::place_order(&mut tx, user, session, &seats, limit))
        })
        .await
    }
}
