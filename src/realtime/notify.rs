//! Telling people what changed: queue promotions and positions, released seats, ended visits.
//!
//! Every message goes to a room (never to a remembered socket id), so the same calls reach
//! sockets on other instances once a shared adapter is in place.

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use super::rooms;
use super::seat_news::SeatNews;
use crate::app::AppState;
use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Departure, Holder, Place};
use crate::metrics::{self, DepartureReason};
use crate::storage::model::{Released, StaleHold};

/// Sent to a visitor whose purchase window the server ended, just before it disconnects them.
pub const WINDOW_EXPIRED: &str = "window expired";

/// Ends `user`'s visit to `session` (left, disconnected): frees their place and held seats,
/// then admits and informs the people behind. With `holder`, only that connection's visit.
pub async fn end_visit<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    session: SessionId,
    user: UserId,
    holder: Option<Holder>,
    now: Millis,
) {
    let left = state
        .store
        .waiting_room
        .leave(session, user, holder, now)
        .await;
    match left {
        Ok(Some(departure)) => {
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
            let freed = release_seats(io, state, session, user).await;
            announce_after(state, freed, session, user, departure);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, %session, %user, "leaving the waiting room failed"),
    }
}

/// Frees every seat `user` selected or locked in `session` and shows it to the area's other
/// watchers (the user's own connections are leaving and need no news); true when any was freed.
pub async fn release_seats<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> bool {
    match state.store.inventory.release_holds(user, session).await {
        Ok(released) => {
            metrics::seat_transitions("release", released.len());
            broadcast_released(io, &state.seat_news, session, user, &released);
            !released.is_empty()
        }
        Err(e) => {
            tracing::error!(error = %e, %session, %user, "releasing held seats failed");
            false
        }
    }
}

/// `unselect seat` for freed selections and `unlock seat` for freed locks, per area room,
/// shaped `{"tickets": [{"row", "column"}]}` as the original sent on disconnect.
fn broadcast_released<A: Adapter>(
    io: &SocketIo<A>,
    news: &SeatNews,
    session: SessionId,
    user: UserId,
    released: &[Released],
) {
    let mut groups: Vec<(AreaId, SeatStatus, Vec<serde_json::Value>)> = Vec::new();
    for r in released {
        let cell = json!({"row": r.spot.row, "column": r.spot.column});
        match groups
            .iter_mut()
            .find(|(a, s, _)| *a == r.spot.area && *s == r.was)
        {
            Some((_, _, cells)) => cells.push(cell),
            None => groups.push((r.spot.area, r.was, vec![cell])),
        }
    }
    for (area, was, tickets) in groups {
        let event = if was == SeatStatus::Locked {
            "unlock seat"
        } else {
            "unselect seat"
        };
        let Some(watchers) = rooms::to(io, rooms::seat_map(session, area)) else {
            return;
        };
        let watchers = watchers.except(rooms::entrant(session, user));
        news.send(watchers, event, json!({"tickets": tickets}));
    }
}

/// [`announce`], after the broadcasts of the seats the departure `freed`: whoever it admits
/// hears of those seats before being told to go.
fn announce_after(
    state: &AppState,
    freed: bool,
    session: SessionId,
    departed: UserId,
    departure: Departure,
) {
    if !freed {
        return announce(state, session, departed, departure);
    }
    let later = state.clone();
    state
        .seat_news
        .then(move || announce(&later, session, departed, departure));
}

/// Counts an admission and hands the departure's news to the announcer (see `announcer.rs`).
pub fn announce(state: &AppState, session: SessionId, departed: UserId, departure: Departure) {
    if let Some(promoted) = departure.promoted {
        tracing::info!(%session, user = %promoted, "admitted from the queue");
        metrics::admitted(true);
    }
    state.announcer.announce(session, departed, departure);
}

/// The server ends a visit whose window ran out: seats freed, the visitor told and
/// disconnected, the next person admitted.
pub async fn expire_visit<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    session: SessionId,
    user: UserId,
    departure: &Departure,
) {
    tracing::info!(%session, %user, "purchase window ended");
    metrics::departed(DepartureReason::WindowExpired, departure.from);
    let freed = release_seats(io, state, session, user).await;
    let room = rooms::entrant(session, user);
    let body = json!({"sessionId": session});
    if let Some(visitor) = rooms::to(io, room.clone())
        && let Err(e) = visitor.emit(WINDOW_EXPIRED, &body).await
    {
        tracing::debug!(error = %e, "sending window expired failed");
    }
    if let Some(visitor) = rooms::to(io, room)
        && let Err(e) = visitor.disconnect().await
    {
        tracing::warn!(error = %e, "disconnecting an expired visitor failed");
    }
    announce_after(state, freed, session, user, departure.clone());
}

/// A visit held through a crashed instance was ended by this one: its sockets are gone with
/// that instance, so only the seats and the queue need telling.
pub async fn reaped_visit<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    session: SessionId,
    user: UserId,
    departure: &Departure,
) {
    tracing::warn!(%session, %user, "ended a visit of a crashed instance");
    metrics::departed(DepartureReason::CrashedInstance, departure.from);
    let freed = release_seats(io, state, session, user).await;
    announce_after(state, freed, session, user, departure.clone());
}

/// Shows seats freed by their deadline to their areas' watchers.
pub fn stale_holds_freed<A: Adapter>(io: &SocketIo<A>, news: &SeatNews, freed: &[StaleHold]) {
    metrics::seat_transitions("expire", freed.len());
    let mut owners: Vec<(SessionId, UserId)> = freed.iter().map(|h| (h.session, h.user)).collect();
    owners.dedup();
    for (session, user) in owners {
        let released: Vec<Released> = freed
            .iter()
            .filter(|h| h.session == session && h.user == user)
            .map(|h| h.released)
            .collect();
        tracing::info!(%session, %user, seats = released.len(), "freed seat holds past their deadline");
        broadcast_released(io, news, session, user, &released);
    }
}
