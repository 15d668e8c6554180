//! Seat transitions on SQLite. Each is one `IMMEDIATE` transaction whose conditional `UPDATE` is
//! checked by its affected-row count; the UNIQUE (session, seat) index is the last guard.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params_from_iter};

use super::SqliteStore;
use crate::domain::ids::{AreaId, OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::{LimitCheck, SeatStatus, TicketLimit};
use crate::storage::model::*;
use crate::storage::queries as q;
use crate::storage::{Inventory, StorageResult};

fn begin(c: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    c.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn count(tx: &Connection, sql: &str, user: UserId, session: SessionId) -> rusqlite::Result<u32> {
    tx.prepare_cached(sql)?
        .query_row([user.0, session.0], |r| r.get::<_, i64>(0))
        .map(|n| n as u32)
}

/// Owner and status of a seat in a session, `None` when the session has no such seat.
fn owner(
    tx: &Connection,
    session: SessionId,
    seat: SeatId,
) -> rusqlite::Result<Option<(Option<i64>, i64)>> {
    tx.prepare_cached(q::SEAT_OWNER)?
        .query_row([session.0, seat.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// The first seat whose owner/status fails `ok`, if any.
fn first_failing(
    tx: &Connection,
    session: SessionId,
    seats: &[SeatId],
    ok: impl Fn(Option<(Option<i64>, i64)>) -> bool,
) -> rusqlite::Result<Option<SeatId>> {
    for seat in seats {
        if !ok(owner(tx, session, *seat)?) {
            return Ok(Some(*seat));
        }
    }
    Ok(None)
}

/// Runs an `{in}` update with (session, user[, status]) before the seat ids.
fn update_in(
    tx: &Connection,
    sql: &str,
    head: &[i64],
    seats: &[SeatId],
) -> rusqlite::Result<usize> {
    if seats.is_empty() {
        return Ok(0);
    }
    let sql = q::with_in(sql, seats.len());
    let args = head.iter().copied().chain(seats.iter().map(|s| s.0));
    tx.prepare_cached(&sql)?.execute(params_from_iter(args))
}

fn owned_by(
    user: UserId,
    statuses: &'static [SeatStatus],
) -> impl Fn(Option<(Option<i64>, i64)>) -> bool {
    move |row| {
        row.is_some_and(|(owner, status)| {
            owner == Some(user.0) && statuses.iter().any(|s| s.id() == status)
        })
    }
}

#[async_trait]
impl Inventory for SqliteStore {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        self.run(move |c| count(c, q::SOLD_COUNT, user, session))
            .await
    }

    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        limit: TicketLimit,
    ) -> StorageResult<SelectOutcome> {
        self.run(move |c| {
            let tx = begin(c)?;
            let held = count(&tx, q::HELD_COUNT, user, session)?;
            if limit.check(held, 1) != LimitCheck::Allowed {
                return Ok(SelectOutcome::LimitReached);
            }
            let won = tx
                .prepare_cached(q::CLAIM_SEAT)?
                .execute([user.0, session.0, seat.0])?;
            tx.commit()?;
            Ok(if won == 1 {
                SelectOutcome::Selected
            } else {
                SelectOutcome::Taken
            })
        })
        .await
    }

    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        self.run(move |c| {
            let tx = begin(c)?;
            let selected = owned_by(user, &[SeatStatus::Selected]);
            if let Some(seat) = first_failing(&tx, session, &seats, selected)? {
                return Ok(UnselectOutcome::NotSelectedBy(seat));
            }
            let head = [session.0, user.0, SeatStatus::Selected.id()];
            update_in(&tx, q::FREE_SEATS, &head, &seats)?;
            tx.commit()?;
            Ok(UnselectOutcome::Unselected)
        })
        .await
    }

    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<LockOutcome> {
        self.run(move |c| {
            let tx = begin(c)?;
            let sold = count(&tx, q::SOLD_COUNT, user, session)?;
            match limit.check(sold, seats.len() as u32) {
                LimitCheck::Exhausted => return Ok(LockOutcome::AllBought),
                LimitCheck::OnlyMore(n) => return Ok(LockOutcome::OnlyMore(n)),
                LimitCheck::Allowed => {}
            }
            let held = owned_by(user, &[SeatStatus::Selected, SeatStatus::Locked]);
            if let Some(seat) = first_failing(&tx, session, &seats, held)? {
                return Ok(LockOutcome::NotSelectedBy(seat));
            }
            update_in(&tx, q::LOCK_SEATS, &[session.0, user.0], &seats)?;
            tx.commit()?;
            Ok(LockOutcome::Locked)
        })
        .await
    }

    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        self.run(move |c| {
            let tx = begin(c)?;
            for seat in &seats {
                match owner(&tx, session, *seat)? {
                    Some((Some(o), status)) if o == user.0 => {
                        if status != SeatStatus::Locked.id() {
                            return Ok(UnlockOutcome::NotLocked(*seat));
                        }
                    }
                    _ => return Ok(UnlockOutcome::NotLockedBy(*seat)),
                }
            }
            let head = [session.0, user.0, SeatStatus::Locked.id()];
            update_in(&tx, q::FREE_SEATS, &head, &seats)?;
            tx.commit()?;
            Ok(UnlockOutcome::Unlocked)
        })
        .await
    }

    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        self.run(move |c| {
            let tx = begin(c)?;
            let held = tx
                .prepare_cached(q::HOLDS)?
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
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.prepare_cached(q::RELEASE_HOLDS)?
                .execute([user.0, session.0])?;
            tx.commit()?;
            Ok(held)
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
        self.run(move |c| {
            let tx = begin(c)?;
            for seat in &seats {
                match owner(&tx, session, *seat)? {
                    None => return Ok(OrderOutcome::NoSuchSeat(*seat)),
                    Some((Some(o), status)) if o == user.0 && status == SeatStatus::Locked.id() => {
                    }
                    Some(_) => return Ok(OrderOutcome::NotLockedBy(*seat)),
                }
            }
            let sold = count(&tx, q::SOLD_COUNT, user, session)?;
            match limit.check(sold, seats.len() as u32) {
                LimitCheck::Exhausted => return Ok(OrderOutcome::OnlyMore(0)),
                LimitCheck::OnlyMore(n) => return Ok(OrderOutcome::OnlyMore(n)),
                LimitCheck::Allowed => {}
            }
            let prices = seat_prices(&tx, session, &seats)?;
            if prices.len() != seats.len() {
                return Ok(OrderOutcome::Unpriced);
            }
            let total: i64 = prices.iter().map(|(_, p)| p).sum();
            tx.prepare_cached(q::INSERT_ORDER)?
                .execute([user.0, session.0, total])?;
            let order = OrderId(tx.last_insert_rowid());
            for (seat, price) in &prices {
                tx.prepare_cached(q::INSERT_ORDER_LINE)?
                    .execute([order.0, seat.0, *price])?;
            }
            let sold_now = update_in(&tx, q::SELL_SEATS, &[session.0, user.0], &seats)?;
            if sold_now != seats.len() {
                // Unreachable while this transaction holds the write lock; dropping `tx`
                // rolls everything back rather than sell a partial order.
                return Ok(OrderOutcome::NotLockedBy(seats[0]));
            }
            tx.commit()?;
            Ok(OrderOutcome::Placed(order))
        })
        .await
    }
}

fn seat_prices(
    tx: &Connection,
    session: SessionId,
    seats: &[SeatId],
) -> rusqlite::Result<Vec<(SeatId, i64)>> {
    let sql = q::with_in(q::SEAT_PRICES, seats.len());
    let args = [session.0].into_iter().chain(seats.iter().map(|s| s.0));
    let mut found: Vec<(SeatId, i64)> = tx
        .prepare_cached(&sql)?
        .query_map(params_from_iter(args), |r| {
            Ok((SeatId(r.get(0)?), r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    // Keep the request's order so order lines follow what the buyer saw.
    found.sort_by_key(|(seat, _)| seats.iter().position(|s| s == seat));
    Ok(found)
}
