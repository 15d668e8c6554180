//! Seat transitions written once for every SQL engine.
//!
//! Each engine implements [`SeatTx`] (the few statements a transition needs, inside one open
//! transaction) and runs these functions inside it, so the rules — who may move a seat, in what
//! order checks happen, what the limit counts — cannot drift apart between SQLite and MySQL.
//! Every function returns the outcome and whether its writes may be committed.

use crate::domain::ids::{OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::{LimitCheck, SeatStatus, TicketLimit};
use crate::domain::time::Millis;
use crate::storage::model::*;
use crate::storage::queries as q;

/// Owner and status of one seat row, `None` when the session has no such seat.
pub(crate) type SeatRow = Option<(Option<i64>, i64)>;

/// What a transition may do inside an engine's open transaction.
#[allow(async_fn_in_trait)] // Used with concrete engine types only, where Send is visible.
pub(crate) trait SeatTx {
    /// The engine's error.
    type Error;
    /// Serialises concurrent transitions of one account (MySQL locks its row; SQLite already
    /// runs one transaction at a time).
    async fn lock_account(&mut self, user: UserId) -> Result<(), Self::Error>;
    /// A `COUNT(*)` query taking (user, session).
    async fn count(
        &mut self,
        sql: &'static str,
        user: UserId,
        session: SessionId,
    ) -> Result<u32, Self::Error>;
    /// Owner and status of a seat, locked for the rest of the transaction where the engine can.
    async fn seat_row(&mut self, session: SessionId, seat: SeatId) -> Result<SeatRow, Self::Error>;
    /// Runs a statement with integer parameters; returns the affected rows.
    async fn execute(&mut self, sql: &str, args: Vec<i64>) -> Result<u64, Self::Error>;
    /// The account's SELECTED and LOCKED seats in the session, with positions.
    async fn holds(
        &mut self,
        user: UserId,
        session: SessionId,
    ) -> Result<Vec<Released>, Self::Error>;
    /// (seat, price) for the seats that have a price in the session, in any order.
    async fn seat_prices(
        &mut self,
        session: SessionId,
        seats: &[SeatId],
    ) -> Result<Vec<(SeatId, i64)>, Self::Error>;
    /// Holds whose deadline is before `now`, with owner and position (no locking read).
    async fn stale_holds(&mut self, now: Millis) -> Result<Vec<StaleHold>, Self::Error>;
    /// Inserts an order header and returns its id.
    async fn insert_order(
        &mut self,
        user: UserId,
        session: SessionId,
        total: i64,
    ) -> Result<OrderId, Self::Error>;
}

/// What a transition decided: the outcome, and whether its writes stand.
pub(crate) struct Decided<T> {
    /// The outcome for the caller.
    pub outcome: T,
    /// Commit (true) or roll back (false).
    pub commit: bool,
}

fn keep<T>(outcome: T) -> Decided<T> {
    Decided {
        outcome,
        commit: true,
    }
}

fn undo<T>(outcome: T) -> Decided<T> {
    Decided {
        outcome,
        commit: false,
    }
}

fn held_by(row: SeatRow, user: UserId, statuses: &[SeatStatus]) -> bool {
    row.is_some_and(|(owner, status)| {
        owner == Some(user.0) && statuses.iter().any(|s| s.id() == status)
    })
}

/// Runs an `{in}` statement with `head` parameters before the seat ids.
async fn execute_in<T: SeatTx>(
    tx: &mut T,
    sql: &str,
    head: &[i64],
    seats: &[SeatId],
) -> Result<u64, T::Error> {
    if seats.is_empty() {
        return Ok(0);
    }
    let args = head
        .iter()
        .copied()
        .chain(seats.iter().map(|s| s.0))
        .collect();
    tx.execute(&q::with_in(sql, seats.len()), args).await
}

/// The first seat (in ascending id order, so concurrent transactions lock rows in one order)
/// that is not held by `user` in one of `statuses`.
async fn first_not_held<T: SeatTx>(
    tx: &mut T,
    session: SessionId,
    seats: &[SeatId],
    user: UserId,
    statuses: &[SeatStatus],
) -> Result<Option<SeatId>, T::Error> {
    let mut ordered = seats.to_vec();
    ordered.sort();
    let mut failing = Vec::new();
    for seat in ordered {
        let row = tx.seat_row(session, seat).await?;
        if !held_by(row, user, statuses) {
            failing.push(seat);
        }
    }
    // Report the first failure in the caller's order, as the original did.
    Ok(seats.iter().copied().find(|s| failing.contains(s)))
}

/// EMPTY → SELECTED until `deadline` if the account holds fewer seats than the limit.
pub(crate) async fn select<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
    seat: SeatId,
    terms: HoldTerms,
) -> Result<Decided<SelectOutcome>, T::Error> {
    let HoldTerms { limit, until } = terms;
    tx.lock_account(user).await?;
    let held = tx.count(&q::HELD_COUNT, user, session).await?;
    if limit.check(held, 1) != LimitCheck::Allowed {
        return Ok(keep(SelectOutcome::LimitReached));
    }
    let won = tx
        .execute(&q::CLAIM_SEAT, vec![user.0, until, session.0, seat.0])
        .await?;
    Ok(keep(if won == 1 {
        SelectOutcome::Selected
    } else {
        SelectOutcome::Taken
    }))
}

/// SELECTED (by the account) → EMPTY, all or nothing.
pub(crate) async fn unselect<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
    seats: &[SeatId],
) -> Result<Decided<UnselectOutcome>, T::Error> {
    let selected = [SeatStatus::Selected];
    if let Some(seat) = first_not_held(tx, session, seats, user, &selected).await? {
        return Ok(keep(UnselectOutcome::NotSelectedBy(seat)));
    }
    let head = [session.0, user.0, SeatStatus::Selected.id()];
    execute_in(tx, &q::FREE_SEATS, &head, seats).await?;
    Ok(keep(UnselectOutcome::Unselected))
}

/// SELECTED/LOCKED (by the account) → LOCKED, all or nothing, within the SOLD allowance.
pub(crate) async fn lock<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
    seats: &[SeatId],
    terms: HoldTerms,
) -> Result<Decided<LockOutcome>, T::Error> {
    let HoldTerms { limit, until } = terms;
    tx.lock_account(user).await?;
    let sold = tx.count(&q::SOLD_COUNT, user, session).await?;
    match limit.check(sold, seats.len() as u32) {
        LimitCheck::Exhausted => return Ok(keep(LockOutcome::AllBought)),
        LimitCheck::OnlyMore(n) => return Ok(keep(LockOutcome::OnlyMore(n))),
        LimitCheck::Allowed => {}
    }
    let held = [SeatStatus::Selected, SeatStatus::Locked];
    if let Some(seat) = first_not_held(tx, session, seats, user, &held).await? {
        return Ok(keep(LockOutcome::NotSelectedBy(seat)));
    }
    execute_in(tx, &q::LOCK_SEATS, &[until, session.0, user.0], seats).await?;
    Ok(keep(LockOutcome::Locked))
}

/// LOCKED (by the account) → EMPTY, all or nothing.
pub(crate) async fn unlock<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
    seats: &[SeatId],
) -> Result<Decided<UnlockOutcome>, T::Error> {
    for seat in seats {
        match tx.seat_row(session, *seat).await? {
            Some((Some(owner), status)) if owner == user.0 => {
                if status != SeatStatus::Locked.id() {
                    return Ok(keep(UnlockOutcome::NotLocked(*seat)));
                }
            }
            _ => return Ok(keep(UnlockOutcome::NotLockedBy(*seat))),
        }
    }
    let head = [session.0, user.0, SeatStatus::Locked.id()];
    execute_in(tx, &q::FREE_SEATS, &head, seats).await?;
    Ok(keep(UnlockOutcome::Unlocked))
}

/// Every SELECTED or LOCKED seat of the account → EMPTY; returns what was released.
pub(crate) async fn release_holds<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
) -> Result<Decided<Vec<Released>>, T::Error> {
    let held = tx.holds(user, session).await?;
    let seats: Vec<SeatId> = held.iter().map(|r| r.spot.seat).collect();
    execute_in(tx, &q::RELEASE_SEATS, &[user.0, session.0], &seats).await?;
    Ok(keep(held))
}

/// LOCKED (by the account) → SOLD, with the order and its lines.
pub(crate) async fn place_order<T: SeatTx>(
    tx: &mut T,
    user: UserId,
    session: SessionId,
    seats: &[SeatId],
    limit: TicketLimit,
) -> Result<Decided<OrderOutcome>, T::Error> {
    tx.lock_account(user).await?;
    for seat in seats {
        match tx.seat_row(session, *seat).await? {
            None => return Ok(keep(OrderOutcome::NoSuchSeat(*seat))),
            row if held_by(row, user, &[SeatStatus::Locked]) => {}
            Some(_) => return Ok(keep(OrderOutcome::NotLockedBy(*seat))),
        }
    }
    let sold = tx.count(&q::SOLD_COUNT, user, session).await?;
    match limit.check(sold, seats.len() as u32) {
        LimitCheck::Exhausted => return Ok(keep(OrderOutcome::OnlyMore(0))),
        LimitCheck::OnlyMore(n) => return Ok(keep(OrderOutcome::OnlyMore(n))),
        LimitCheck::Allowed => {}
    }
    let mut prices = tx.seat_prices(session, seats).await?;
    if prices.len() != seats.len() {
        return Ok(keep(OrderOutcome::Unpriced));
    }
    // Order lines follow the buyer's order.
    prices.sort_by_key(|(seat, _)| seats.iter().position(|s| s == seat));
    let total = prices.iter().map(|(_, p)| p).sum();
    let order = tx.insert_order(user, session, total).await?;
    for (seat, price) in &prices {
        tx.execute(q::INSERT_ORDER_LINE, vec![order.0, seat.0, *price])
            .await?;
    }
    let sold_now = execute_in(tx, &q::SELL_SEATS, &[session.0, user.0], seats).await?;
    if sold_now != seats.len() as u64 {
        // Another transaction moved a seat after our checks: sell nothing.
        return Ok(undo(OrderOutcome::NotLockedBy(seats[0])));
    }
    Ok(keep(OrderOutcome::Placed {
        order,
        sold: sold + seats.len() as u32,
    }))
}

/// Frees every hold past its deadline; each row is re-checked by its unique key, so a hold
/// renewed or sold in the meantime stays.
pub(crate) async fn free_stale_holds<T: SeatTx>(
    tx: &mut T,
    now: Millis,
) -> Result<Decided<Vec<StaleHold>>, T::Error> {
    let mut freed = Vec::new();
    for hold in tx.stale_holds(now).await? {
        let args = vec![hold.session.0, hold.released.spot.seat.0, now];
        if tx.execute(&q::FREE_STALE_HOLD, args).await? == 1 {
            freed.push(hold);
        }
    }
    Ok(keep(freed))
}
