//! Resume after a dropped app connection (protocol-v2 "Resume"): the place, the holds and the
//! deadline outlive the connection for `TICKETCLUB_RESUME_GRACE`; a new connection (through any
//! instance) takes the place back with the resume token or a new `join`; when the grace ends
//! unclaimed, the place is released as a departure.
//!
//! The claim is the holder: a reconnect re-enters with its own connection's holder, so the
//! old connection's deferred departure (which names the old holder) finds nothing to end. No
//! extra state is shared between instances; the waiting room already is.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ServiceError, ServiceResult, visit};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::{Millis, now_millis};
use crate::domain::waiting_room::{Hears, Holder};
use crate::state::AppState;

/// The departures deferred by dropped connections, tracked so a stop can cancel them (a
/// stopping instance keeps its places for the handover, as it does for every connection).
#[derive(Clone, Default)]
pub(crate) struct Graces {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Graces {
    /// Cancels every pending departure (their places stay, as a stopping instance's do) and
    /// waits for the timers to end.
    pub(crate) async fn cancel_all(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// The resume token of `user`'s place in `session`: valid for the rest of the visit (the
/// window, its grace and the resume grace; a queued place's is renewed with every ack).
pub(crate) fn token(
    state: &AppState,
    session: SessionId,
    user: UserId,
    now: Millis,
) -> Option<String> {
    let settings = &state.settings;
    let life = settings.window_with_grace() + Duration::from_secs(settings.resume_grace);
    let exp = now / 1000 + life.as_secs() as i64;
    match state.auth.issue_resume(user, session, exp) {
        Ok(token) => Some(token),
        Err(e) => {
            tracing::error!(error = %e, "issuing a resume token failed");
            None
        }
    }
}

/// Takes `user`'s place named by a resume `token` onto the connection `holder`; returns the
/// session. A token of another account, a forged or expired one, or one whose place has ended
/// resumes nothing (`NotAdmitted`: the client should `join`).
pub(crate) async fn claim(
    state: &AppState,
    token: &str,
    user: UserId,
    holder: Holder,
    now: Millis,
) -> ServiceResult<SessionId> {
    let (owner, session) = state
        .auth
        .verify_resume(token)
        .ok_or(ServiceError::NotAdmitted)?;
    if owner != user {
        return Err(ServiceError::NotAdmitted);
    }
    let room = &state.store.waiting_room;
    let moved = if visit::place(state, session, user).await?.is_none() {
        // An early entry (fair start) is resumed as one; nothing else is left to resume.
        if !room.is_early(session, user).await? {
            return Err(ServiceError::NotAdmitted);
        }
        room.enter_early(session, user, holder.clone()).await
    } else {
        // Entering again keeps the place and makes this connection its holder.
        room.enter_as(session, user, holder.clone(), now, Hears::Place)
            .await
            .map(drop)
    };
    if let Err(e) = moved {
        // A fault (a reply that timed out) leaves the move unknown: the place may name this
        // connection now, which is refused and so would never give it back, while the dropped
        // connection's departure names the old holder and finds nothing. This connection's
        // departure is deferred as a drop's: the place is released after the grace unless the
        // client comes back for it; if the move never happened, it finds nothing to end.
        defer_departure(state, session, user, holder);
        return Err(e.into());
    }
    tracing::info!(%session, %user, "resumed a place after a dropped connection");
    Ok(session)
}

/// A connection holding `user`'s place in `session` dropped: the place is released after the
/// resume grace unless another connection has claimed it by then.
pub(crate) fn defer_departure(state: &AppState, session: SessionId, user: UserId, holder: Holder) {
    let grace = Duration::from_secs(state.settings.resume_grace);
    let (graces, state) = (state.graces.clone(), state.clone());
    graces.tasks.spawn(async move {
        tokio::select! {
            () = graces.stop.cancelled() => {}
            () = tokio::time::sleep(grace) => {
                match visit::leave(&state, session, user, Some(holder), now_millis()).await {
                    Ok(Some(_)) => tracing::info!(%session, %user, "resume grace ended: place released"),
                    Ok(None) => tracing::debug!(%session, %user, "place was resumed or ended in the grace"),
                    Err(e) => tracing::error!(error = %e, %session, "releasing an unclaimed place failed"),
                }
            }
        }
    });
}
