//! Fair start (protocol-v2 "Fair start"): app visitors may `join` up to
//! `TICKETCLUB_PREQUEUE_LEAD` seconds before a session's on-sale time; they wait as
//! `waiting_for_sale`, and at the on-sale time a seeded draw ([`crate::domain::draw`]) puts
//! them in a random order ahead of everyone who arrives later.
//!
//! The draw runs once per session, on whichever instance first needs it: the sweeper at the
//! on-sale time, or any arrival after it (an arrival waits for the draw, so nobody late gets in
//! between). Each instance remembers which sessions it saw drawn, so later arrivals pay nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::news::News;
use super::{ServiceError, ServiceResult, visit};
use crate::domain::draw::DrawRecord;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Admission, Hears, Holder};
use crate::state::AppState;
use crate::storage::StorageError;

/// How long an arrival waits for another instance's draw before giving up with an error.
const DRAW_WAIT: Duration = Duration::from_secs(10);

/// Sessions this instance has seen drawn, with how many entrants each draw placed; cheap to
/// clone.
#[derive(Clone, Default)]
pub(crate) struct Draws(Arc<Mutex<HashMap<SessionId, usize>>>);

impl Draws {
    fn seen(&self, session: SessionId) -> bool {
        self.entrants(session).is_some()
    }

    /// How many entrants `session`'s draw placed, if this instance has seen it run. A draw runs
    /// once, so the count never changes.
    fn entrants(&self, session: SessionId) -> Option<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&session)
            .copied()
    }

    fn remember(&self, session: SessionId, entrants: usize) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session, entrants);
    }
}

/// Where a `join` put the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Joined {
    /// Before the on-sale time: waiting for the draw.
    Early,
    /// On the page or in the queue.
    Placed(Admission),
}

/// An app visitor joins `session`'s line: early (before the on-sale time, within the
/// pre-queue lead) or as an ordinary arrival.
pub(crate) async fn join(
    state: &AppState,
    session: SessionId,
    user: UserId,
    holder: Holder,
    now: Millis,
) -> ServiceResult<Joined> {
    let info = super::seats::known_session(state, session).await?;
    if info.time.millis() <= now {
        return Err(ServiceError::SaleEnded);
    }
    visit::refuse_if_barred(state, session, user)?;
    if let Some(opens) = info.on_sale.map(|t| t.millis())
        && opens > now
    {
        let lead = (state.settings.prequeue_lead * 1000) as Millis;
        if opens - lead > now {
            return Err(ServiceError::SaleNotOpen);
        }
        let room = &state.store.waiting_room;
        room.enter_early(session, user, holder.clone()).await?;
        // This instance's clock may be behind the one that already drew: an entry made after
        // the draw would wait for ever, so it becomes an ordinary arrival instead.
        if room.drawn(session, user).await?.is_none() {
            return Ok(Joined::Early);
        }
        room.leave_early(session, user, Some(holder.clone()))
            .await?;
        let admission = state
            .store
            .waiting_room
            .enter_as(session, user, holder, now, Hears::Place)
            .await?;
        return Ok(Joined::Placed(admission));
    }
    let admission = visit::enter(state, session, user, holder, now, Hears::Place).await?;
    Ok(Joined::Placed(admission))
}

/// Makes sure `session`'s draw has run if its on-sale time (`opens`) has passed; every arrival
/// after the on-sale time calls this first.
pub(crate) async fn ensure_drawn(
    state: &AppState,
    session: SessionId,
    opens: Option<Millis>,
    now: Millis,
) -> ServiceResult<()> {
    if opens.is_none_or(|t| t > now) || state.draws.seen(session) {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    loop {
        match state.store.waiting_room.draw(session, seed()?, now).await? {
            Some(drawn) => {
                if drawn.fresh {
                    tracing::info!(
                        %session, seed = drawn.record.seed, entrants = drawn.record.count,
                        hash = %drawn.record.hash, "fair-start draw ran"
                    );
                    state.news.publish(News::Drawn {
                        session,
                        placed: drawn.placed,
                    });
                }
                state.draws.remember(session, drawn.record.count);
                return Ok(());
            }
            None if started.elapsed() < DRAW_WAIT => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            None => {
                return Err(ServiceError::Unavailable(StorageError::Unavailable(
                    "the fair-start draw did not finish".into(),
                )));
            }
        }
    }
}

/// Runs the draws that are due: sessions with early entrants whose on-sale time has passed.
pub(crate) async fn draw_due(state: &AppState, now: Millis) {
    let sessions = match state.store.waiting_room.early_sessions().await {
        Ok(sessions) => sessions,
        Err(e) => return tracing::error!(error = %e, "listing early entrants failed"),
    };
    for session in sessions {
        let opens = match super::seats::known_session(state, session).await {
            Ok(info) => info.on_sale.map(|t| t.millis()),
            Err(e) => {
                tracing::warn!(error = %e, %session, "a session with early entrants is unknown");
                continue;
            }
        };
        if let Err(e) = ensure_drawn(state, session, opens, now).await {
            tracing::error!(error = %e, %session, "the fair-start draw failed");
        }
    }
}

/// Whether `user` waits for `session`'s draw.
pub(crate) async fn is_early(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ServiceResult<bool> {
    Ok(state.store.waiting_room.is_early(session, user).await?)
}

/// `user`'s 1-based place in `session`'s draw, once the draw has run (`None` otherwise).
pub(crate) async fn draw_position(
    state: &AppState,
    session: SessionId,
    user: UserId,
) -> ServiceResult<Option<usize>> {
    // A draw without entrants placed nobody: no need to ask (every join after the on-sale time
    // of a session without a fair start would otherwise pay a round trip for it).
    if state.draws.entrants(session) == Some(0) {
        return Ok(None);
    }
    let drawn = state.store.waiting_room.drawn(session, user).await?;
    Ok(drawn.and_then(|(_, position)| position))
}

/// The published draw of `session` (running it first if it is due); `None` before its
/// on-sale time, or for a session on sale without one (nothing to draw).
pub(crate) async fn published(
    state: &AppState,
    session: SessionId,
    now: Millis,
) -> ServiceResult<Option<DrawRecord>> {
    let info = super::seats::known_session(state, session).await?;
    let opens = info.on_sale.map(|t| t.millis());
    if opens.is_none_or(|t| t > now) {
        return Ok(None);
    }
    ensure_drawn(state, session, opens, now).await?;
    // Any account will do: only the record is wanted, not a position.
    let drawn = state.store.waiting_room.drawn(session, UserId(0)).await?;
    Ok(drawn.map(|(record, _)| record))
}

/// A fresh, unpredictable seed (published after the draw).
fn seed() -> ServiceResult<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| {
        ServiceError::Unavailable(StorageError::Unavailable(format!(
            "no randomness for the draw: {e}"
        )))
    })?;
    Ok(u64::from_le_bytes(bytes))
}
