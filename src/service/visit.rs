//! A visit to one session: arriving (the waiting room), leaving, and the endings the server
//! decides (the purchase window ran out, the instance that held the visit died).

use super::news::{EndReason, News, SeatCause, SeatChange, SeatsChanged};
use std::time::Instant;

use super::{ServiceError, ServiceResult};
use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Admission, Departure, Hears, Holder, Place};
use crate::metrics::{self, DepartureReason};
use crate::state::AppState;
use crate::storage::StorageError;
use crate::storage::model::{Released, SessionInfo};

/// A session that exists and is on sale at `now`.
pub(crate) async fn open_session(
    state: &AppState,
    session: SessionId,
    now: Millis,
) -> ServiceResult<SessionInfo> {
    let info = state
        .store
        .catalog
        .session(session)
        .await?
        .ok_or(ServiceError::UnknownSession)?;
    if info.time.millis() <= now {
        return Err(ServiceError::SaleEnded);
    }
    if info.on_sale.is_some_and(|t| t.millis() > now) {
        return Err(ServiceError::SaleNotOpen);
    }
    Ok(info)
}

/// Refuses an arrival at a sale an operator ended, or of an account an operator blocked.
pub(crate) fn refuse_if_barred(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ServiceResult<()> {
    let controls = &state.store.controls;
    if controls.effective(session).closed {
        return Err(ServiceError::SaleEnded);
    }
    if controls.is_blocked(session, user) {
        return Err(ServiceError::Blocked);
    }
    Ok(())
}

/// An account arrives at a session's waiting room through the connection `holder`: straight
/// onto the buying page if there is room, else at the back of the queue. Arriving again keeps
/// the place (the newest connection holds it).
pub(crate) async fn enter(
    state: &AppState,
    session: SessionId,
    user: UserId,
    holder: Holder,
    now: Millis,
    hears: Hears,
) -> ServiceResult<Admission> {
    let info = open_session(state, session, now).await?;
    refuse_if_barred(state, session, user)?;
    // Early entrants go first: nobody arriving after the on-sale time gets in before the draw.
    super::fair::ensure_drawn(state, session, info.on_sale.map(|t| t.millis()), now).await?;
    let admission = state
        .store
        .waiting_room
        .enter_as(session, user, holder, now, hears)
        .await?;
    match admission {
        Admission::Pass => metrics::admitted(false),
        Admission::Queued { .. } => metrics::queued(),
    }
    Ok(admission)
}

/// Why an account may not start a visit (`/session/validation`), or how many tickets of the
/// session it has bought already.
pub(crate) async fn check_visit(
    state: &AppState,
    session: SessionId,
    user: UserId,
    now: Millis,
) -> ServiceResult<u32> {
    let info = open_session(state, session, now).await?;
    refuse_if_barred(state, session, user)?;
    // The place and the tickets bought are asked in one exchange where the sold counts are
    // kept beside the queue (Redis); elsewhere the place is in this process's memory and the
    // inventory answers the count after it. The refusals keep the contract's order: already
    // inside first (and then the count is not needed).
    let (place, tallied) = state
        .store
        .waiting_room
        .place_and_tally(info.id, user)
        .await?;
    if place.is_some() {
        return Err(ServiceError::AlreadyInside);
    }
    let sold = state
        .store
        .inventory
        .sold_count_given(user, info.id, tallied)
        .await?;
    if sold >= state.ticket_limit(info.id).0 {
        return Err(ServiceError::LimitReached { more: 0 });
    }
    Ok(sold)
}

/// A returning account takes its waiting-room places back on connection `holder` (after its
/// instance stopped, or a network blip); returns the sessions resumed.
pub(crate) async fn resume(
    state: &AppState,
    user: UserId,
    holder: Holder,
    now: Millis,
) -> ServiceResult<Vec<SessionId>> {
    let sessions = state.store.waiting_room.sessions_of(user).await?;
    for session in &sessions {
        state
            .store
            .waiting_room
            .enter(*session, user, holder.clone(), now)
            .await?;
        tracing::info!(%session, %user, "resumed a waiting-room place");
    }
    Ok(sessions)
}

/// A closing connection's place passes to another open connection of the same account (an
/// older tab still on the waiting or buying page), which holds it from now on, instead of the
/// place ending with nobody told. Returns whether the account had a place to pass on.
pub(crate) async fn hand_over(
    state: &AppState,
    session: SessionId,
    user: UserId,
    heir: Holder,
    now: Millis,
) -> ServiceResult<bool> {
    if place(state, session, user).await?.is_none() {
        return Ok(false);
    }
    // Arriving again keeps the place and makes the arriving connection its holder.
    state
        .store
        .waiting_room
        .enter(session, user, heir, now)
        .await?;
    tracing::info!(%session, %user, "a place passed to another open tab of the account");
    Ok(true)
}

/// Where the account stands in the session's waiting room.
pub(crate) async fn place(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ServiceResult<Option<Place>> {
    Ok(state.store.waiting_room.place(session, user).await?)
}

/// Refuses accounts without a place on the session's buying page.
pub(crate) async fn require_page(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ServiceResult<()> {
    match place(state, session, user).await? {
        Some(Place::Page) => Ok(()),
        _ => Err(ServiceError::NotAdmitted),
    }
}

/// Ends `user`'s visit (left, disconnected): frees the place and the held seats, admits and
/// informs the people behind. With `holder`, only that connection's visit. `None` when there
/// was no such visit.
pub(crate) async fn leave(
    state: &AppState,
    session: SessionId,
    user: UserId,
    holder: Option<Holder>,
    now: Millis,
) -> ServiceResult<Option<Departure>> {
    let Some(departure) = state
        .store
        .waiting_room
        .leave(session, user, holder.clone(), now)
        .await?
    else {
        // Not placed: perhaps waiting for a fair-start draw, which frees nobody's place.
        state
            .store
            .waiting_room
            .leave_early(session, user, holder)
            .await?;
        return Ok(None);
    };
    let applied_at = left_now(state, session, user);
    let bought = departure.from == Place::Page
        && state
            .store
            .inventory
            .sold_count(user, session)
            .await
            .is_ok_and(|n| n > 0);
    let reason = if bought {
        DepartureReason::Bought
    } else {
        DepartureReason::Left
    };
    metrics::departed(reason, departure.from);
    after_departure(state, session, user, departure.clone(), applied_at).await;
    Ok(Some(departure))
}

/// Publishes that `user`'s place in `session` ended now (the waiting room just applied it);
/// returns that moment.
fn left_now(state: &AppState, session: SessionId, user: UserId) -> Instant {
    let at = Instant::now();
    state.news.publish(News::Left { session, user, at });
    at
}

/// What follows every departure: the holds are freed and shown, then the queue hears.
async fn after_departure(
    state: &AppState,
    session: SessionId,
    user: UserId,
    departure: Departure,
    applied_at: Instant,
) {
    release_holds_left(state, session, user, departure.from).await;
    announce(state, session, user, departure, applied_at);
}

/// [`release_holds`] for a visit that ended at `from`: only the buying page holds seats
/// (selecting and locking need a place on it), so someone who left the queue held none and
/// the database is not asked. A crowd leaving a long line (a disconnect storm, a dead
/// instance's people reaped) made one query each and held the pool shut.
async fn release_holds_left(state: &AppState, session: SessionId, user: UserId, from: Place) {
    if from == Place::Page {
        release_holds(state, session, user).await;
    }
}

/// Frees every seat `user` selected or locked in `session` and publishes the change.
pub(crate) async fn release_holds(state: &AppState, session: SessionId, user: UserId) {
    match state.store.inventory.release_holds(user, session).await {
        Ok(released) => {
            metrics::seat_transitions("release", released.len());
            publish_released(state, session, user, &released);
        }
        Err(e) => tracing::error!(error = %e, %session, %user, "releasing held seats failed"),
    }
}

/// Publishes freed seats, one piece of news per area and former state.
pub(crate) fn publish_released(
    state: &AppState,
    session: SessionId,
    user: UserId,
    released: &[Released],
) {
    let mut groups: Vec<(AreaId, SeatStatus, Vec<SeatChange>)> = Vec::new();
    for r in released {
        let change = SeatChange {
            row: r.spot.row,
            column: r.spot.column,
            status: SeatStatus::Empty,
        };
        match groups
            .iter_mut()
            .find(|(a, was, _)| *a == r.spot.area && *was == r.was)
        {
            Some((_, _, changes)) => changes.push(change),
            None => groups.push((r.spot.area, r.was, vec![change])),
        }
    }
    for (area, was, changes) in groups {
        state.news.publish(News::Seats(SeatsChanged {
            session,
            area,
            by: user,
            cause: SeatCause::Release(was),
            changes,
            legacy_told: false,
        }));
    }
}

/// The server's periodic duties at `now`: end page visits whose window ran out, end the visits
/// of instances that died, free holds past their deadline. Each ending is published.
pub(crate) async fn sweep(state: &AppState, now: Millis) {
    let rooms = &state.store.waiting_room;
    match rooms.expire(now).await {
        Ok(expired) => {
            let applied: Vec<Instant> = expired
                .iter()
                .map(|e| left_now(state, e.session, e.user))
                .collect();
            for (e, applied_at) in expired.into_iter().zip(applied) {
                tracing::info!(session = %e.session, user = %e.user, "purchase window ended");
                metrics::departed(DepartureReason::WindowExpired, e.departure.from);
                release_holds(state, e.session, e.user).await;
                state.news.publish(News::VisitEnded {
                    session: e.session,
                    user: e.user,
                    reason: EndReason::WindowExpired,
                });
                announce(state, e.session, e.user, e.departure, applied_at);
            }
        }
        Err(e) => tracing::error!(error = %e, "expiring page visits failed"),
    }
    match rooms.reap(now).await {
        Ok(reaped) => {
            let applied: Vec<Instant> = reaped
                .iter()
                .map(|e| left_now(state, e.session, e.user))
                .collect();
            for (e, applied_at) in reaped.into_iter().zip(applied) {
                tracing::warn!(session = %e.session, user = %e.user, "ended a visit of a crashed instance");
                metrics::departed(DepartureReason::CrashedInstance, e.departure.from);
                release_holds_left(state, e.session, e.user, e.departure.from).await;
                // The instance may be alive after all (a long stall): its socket must hear it.
                state.news.publish(News::VisitEnded {
                    session: e.session,
                    user: e.user,
                    reason: EndReason::InstanceLost,
                });
                announce(state, e.session, e.user, e.departure, applied_at);
            }
        }
        Err(StorageError::LeaseLost(old)) => {
            tracing::error!(instance = %old, "this instance's visits were ended by a peer; telling their sockets");
            state.news.publish(News::LeaseLost);
        }
        Err(e) => tracing::error!(error = %e, "reaping dead instances failed"),
    }
    match state.store.inventory.free_stale_holds(now).await {
        Ok(freed) => {
            metrics::seat_transitions("expire", freed.len());
            let mut owners: Vec<(SessionId, UserId)> =
                freed.iter().map(|h| (h.session, h.user)).collect();
            owners.dedup();
            for (session, user) in owners {
                let released: Vec<Released> = freed
                    .iter()
                    .filter(|h| h.session == session && h.user == user)
                    .map(|h| h.released)
                    .collect();
                tracing::info!(%session, %user, seats = released.len(), "freed seat holds past their deadline");
                publish_released(state, session, user, &released);
            }
        }
        Err(e) => tracing::error!(error = %e, "freeing stale seat holds failed"),
    }
}

/// A visit the server ended (an operator took the person off): the holds are freed, the
/// visitor is told why and disconnected, then the queue hears.
pub(crate) async fn ended_by_server(
    state: &AppState,
    session: SessionId,
    user: UserId,
    departure: Departure,
    reason: EndReason,
) {
    // The operator's removal was just applied by the waiting room.
    let applied_at = left_now(state, session, user);
    metrics::departed(DepartureReason::Left, departure.from);
    release_holds_left(state, session, user, departure.from).await;
    state.news.publish(News::VisitEnded {
        session,
        user,
        reason,
    });
    announce(state, session, user, departure, applied_at);
}

/// Counts an admission and publishes a departure's queue news.
fn announce(
    state: &AppState,
    session: SessionId,
    departed: UserId,
    departure: Departure,
    applied_at: Instant,
) {
    if let Some(promoted) = departure.promoted {
        tracing::info!(%session, user = %promoted, "admitted from the queue");
        metrics::admitted(true);
    }
    state.news.publish(News::QueueMoved {
        session,
        departed,
        departure,
        applied_at,
    });
}
