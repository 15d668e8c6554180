//! Seats: picking, putting back, holding for the order page, giving back, buying, and reading
//! an area's map. Every transition is one atomic storage call; what changed is published.

use super::news::{News, SeatCause, SeatChange, SeatsChanged};
use super::visit::require_page;
use super::{ServiceError, ServiceResult};
use crate::domain::ids::{AreaId, OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::now_millis;
use crate::metrics;
use crate::state::AppState;
use crate::storage::model::{
    LockOutcome, OrderOutcome, SeatCell, SelectOutcome, SessionInfo, TicketLine, UnlockOutcome,
    UnselectOutcome,
};

/// A (row, column) position asked for, 1-based.
pub(crate) type Position = (i64, i64);

/// A session that exists (whatever its sale state).
pub(crate) async fn known_session(
    state: &AppState,
    session: SessionId,
) -> ServiceResult<SessionInfo> {
    state
        .store
        .catalog
        .session(session)
        .await?
        .ok_or(ServiceError::UnknownSession)
}

/// Refuses an area that is not in the session's venue.
pub(crate) async fn known_area(
    state: &AppState,
    session: SessionId,
    area: AreaId,
) -> ServiceResult<()> {
    if state.store.catalog.area_in_session(session, area).await? {
        Ok(())
    } else {
        Err(ServiceError::UnknownArea)
    }
}

/// Seat ids for positions in an area, in request order (duplicates kept). A position the
/// storage gave no answer for counts as unknown, so the result always has one id per position.
pub(crate) async fn find(
    state: &AppState,
    area: AreaId,
    at: &[Position],
) -> ServiceResult<Vec<SeatId>> {
    let mut found = state
        .store
        .catalog
        .find_seats(area, at.to_vec())
        .await?
        .into_iter();
    at.iter()
        .enumerate()
        .map(|(index, &(row, column))| {
            found
                .next()
                .flatten()
                .ok_or(ServiceError::UnknownSeat { index, row, column })
        })
        .collect()
}

fn publish(
    state: &AppState,
    (session, area): (SessionId, AreaId),
    by: UserId,
    cause: SeatCause,
    changes: Vec<SeatChange>,
    legacy_told: bool,
) {
    if changes.is_empty() {
        return;
    }
    state.news.publish(News::Seats(SeatsChanged {
        session,
        area,
        by,
        cause,
        changes,
        legacy_told,
    }));
}

fn changes(at: &[Position], status: SeatStatus) -> Vec<SeatChange> {
    at.iter()
        .map(|&(row, column)| SeatChange {
            row,
            column,
            status,
        })
        .collect()
}

/// EMPTY → SELECTED by `user`, for a visitor on the buying page, within the ticket limit.
pub(crate) async fn select(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
    at: Position,
    legacy_told: bool,
) -> ServiceResult<SeatId> {
    known_session(state, session).await?;
    known_area(state, session, area).await?;
    let [seat] = find(state, area, &[at]).await?[..] else {
        return Err(ServiceError::UnknownSeat {
            index: 0,
            row: at.0,
            column: at.1,
        });
    };
    require_page(state, session, user).await?;
    let terms = state.hold_terms(session, now_millis());
    match state
        .store
        .inventory
        .select(user, session, seat, terms)
        .await?
    {
        SelectOutcome::Selected => {
            metrics::seat_transitions("select", 1);
            let change = changes(&[at], SeatStatus::Selected);
            publish(
                state,
                (session, area),
                user,
                SeatCause::Select,
                change,
                legacy_told,
            );
            Ok(seat)
        }
        SelectOutcome::LimitReached => Err(ServiceError::LimitReached { more: 0 }),
        SelectOutcome::Taken => {
            metrics::seat_conflict();
            Err(ServiceError::SeatTaken)
        }
    }
}

/// SELECTED (by `user`) → EMPTY, all or nothing; returns how many seats were freed.
pub(crate) async fn unselect(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
    at: &[Position],
    legacy_told: bool,
) -> ServiceResult<usize> {
    known_session(state, session).await?;
    known_area(state, session, area).await?;
    if at.is_empty() {
        return Ok(0);
    }
    let seats = find(state, area, at).await?;
    match state.store.inventory.unselect(user, session, seats).await? {
        UnselectOutcome::Unselected => {
            metrics::seat_transitions("unselect", at.len());
            let change = changes(at, SeatStatus::Empty);
            publish(
                state,
                (session, area),
                user,
                SeatCause::Unselect,
                change,
                legacy_told,
            );
            Ok(at.len())
        }
        UnselectOutcome::NotSelectedBy(seat) => Err(ServiceError::NotYours(seat)),
    }
}

/// SELECTED/LOCKED (by `user`) → LOCKED, all or nothing, within the ticket allowance; returns
/// the order summary lines. `at` must not repeat a position.
pub(crate) async fn lock(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
    at: &[Position],
    legacy_told: bool,
) -> ServiceResult<Vec<TicketLine>> {
    let seats = find(state, area, at).await?;
    require_page(state, session, user).await?;
    let terms = state.hold_terms(session, now_millis());
    match state
        .store
        .inventory
        .lock(user, session, seats.clone(), terms)
        .await?
    {
        LockOutcome::Locked => metrics::seat_transitions("lock", seats.len()),
        LockOutcome::AllBought => return Err(ServiceError::LimitReached { more: 0 }),
        LockOutcome::OnlyMore(n) => return Err(ServiceError::LimitReached { more: n }),
        LockOutcome::NotSelectedBy(seat) => return Err(ServiceError::NotYours(seat)),
    }
    let change = changes(at, SeatStatus::Locked);
    publish(
        state,
        (session, area),
        user,
        SeatCause::Lock,
        change,
        legacy_told,
    );
    Ok(state.store.catalog.ticket_lines(session, seats).await?)
}

/// LOCKED (by `user`) → EMPTY, all or nothing.
pub(crate) async fn unlock(
    state: &AppState,
    user: UserId,
    session: SessionId,
    seats: Vec<SeatId>,
    legacy_told: bool,
) -> ServiceResult<()> {
    match state
        .store
        .inventory
        .unlock(user, session, seats.clone())
        .await?
    {
        UnlockOutcome::Unlocked => metrics::seat_transitions("unlock", seats.len()),
        UnlockOutcome::NotLockedBy(seat) => return Err(ServiceError::NotYours(seat)),
        UnlockOutcome::NotLocked(seat) => return Err(ServiceError::NotLocked(seat)),
    }
    publish_lines(state, session, user, seats, SeatStatus::Empty, legacy_told).await;
    Ok(())
}

/// An order that was placed.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    /// The new order.
    pub order: OrderId,
    /// Sum of the ticket prices.
    pub total: i64,
}

/// LOCKED (by `user`) → SOLD with an order, for a visitor on the buying page.
pub(crate) async fn order(
    state: &AppState,
    user: UserId,
    session: SessionId,
    seats: Vec<SeatId>,
    legacy_told: bool,
) -> ServiceResult<Placed> {
    require_page(state, session, user).await?;
    let limit = state.ticket_limit(session);
    let outcome = state
        .store
        .inventory
        .place_order(user, session, seats.clone(), limit)
        .await?;
    let order = match outcome {
        OrderOutcome::Placed { order, .. } => order,
        OrderOutcome::NoSuchSeat(seat) => return Err(ServiceError::NoSuchSeat(seat)),
        OrderOutcome::NotLockedBy(seat) => return Err(ServiceError::NotYours(seat)),
        OrderOutcome::OnlyMore(n) => return Err(ServiceError::LimitReached { more: n }),
        OrderOutcome::Unpriced => return Err(ServiceError::Unpriced),
    };
    metrics::order_placed(seats.len());
    metrics::seat_transitions("sell", seats.len());
    tracing::info!(%order, %user, %session, seats = seats.len(), "order placed");
    let total = publish_lines(state, session, user, seats, SeatStatus::Sold, legacy_told).await;
    Ok(Placed { order, total })
}

/// Publishes seats (by id) now in `status`, grouped by area; returns the sum of their prices.
async fn publish_lines(
    state: &AppState,
    session: SessionId,
    user: UserId,
    seats: Vec<SeatId>,
    status: SeatStatus,
    legacy_told: bool,
) -> i64 {
    let lines = match state.store.catalog.ticket_lines(session, seats).await {
        Ok(lines) => lines,
        Err(e) => {
            tracing::error!(error = %e, %session, "reading changed seats failed; maps may lag");
            return 0;
        }
    };
    let cause = match status {
        SeatStatus::Sold => SeatCause::Sell,
        _ => SeatCause::Unlock,
    };
    let mut areas: Vec<AreaId> = lines.iter().map(|l| l.area_id).collect();
    areas.dedup();
    for area in areas {
        let change = lines
            .iter()
            .filter(|l| l.area_id == area)
            .map(|l| SeatChange {
                row: l.row,
                column: l.column,
                status,
            })
            .collect();
        publish(state, (session, area), user, cause, change, legacy_told);
    }
    lines.iter().map(|l| l.price).sum()
}

/// One seat of an area's map as a visitor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapSeat {
    /// The seat's place and state.
    pub cell: SeatCell,
    /// Held (selected or locked) by the viewing account.
    pub mine: bool,
}

/// The whole map of an area in a session, with the viewer's own holds marked.
pub(crate) async fn area_map(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
) -> ServiceResult<Vec<MapSeat>> {
    known_area(state, session, area).await?;
    let cells = state.store.catalog.seat_map(session, area).await?;
    let held = cells.iter().any(|c| {
        matches!(
            SeatStatus::from_id(c.status),
            Some(SeatStatus::Selected | SeatStatus::Locked)
        )
    });
    let mine = if held {
        own_holds(state, user, (session, area)).await?
    } else {
        Vec::new()
    };
    Ok(cells
        .into_iter()
        .map(|cell| MapSeat {
            cell,
            mine: mine.contains(&(cell.row, cell.column)),
        })
        .collect())
}

/// Positions of the account's selected and locked seats in the area.
async fn own_holds(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
) -> ServiceResult<Vec<Position>> {
    let seats = state.store.catalog.area_seats(area).await?;
    let ids: Vec<SeatId> = seats.iter().map(|s| s.seat).collect();
    let mut mine = Vec::new();
    for status in [SeatStatus::Selected, SeatStatus::Locked] {
        let held = state
            .store
            .inventory
            .held_in(user, session, status, ids.clone())
            .await?;
        mine.extend(
            seats
                .iter()
                .filter(|s| held.contains(&s.seat))
                .map(|s| (s.row, s.column)),
        );
    }
    Ok(mine)
}

/// Which of the positions the account holds in `status`, for a visitor on the buying page (the
/// old client relays its own locks and sales; a relay may only show what storage shows).
pub(crate) async fn holding(
    state: &AppState,
    user: UserId,
    (session, area): (SessionId, AreaId),
    status: SeatStatus,
    at: &[Position],
) -> ServiceResult<Vec<bool>> {
    require_page(state, session, user).await?;
    let found = state.store.catalog.find_seats(area, at.to_vec()).await?;
    let asked = found.iter().flatten().copied().collect();
    let held = state
        .store
        .inventory
        .held_in(user, session, status, asked)
        .await?;
    Ok(found
        .iter()
        .map(|seat| seat.is_some_and(|s| held.contains(&s)))
        .collect())
}
