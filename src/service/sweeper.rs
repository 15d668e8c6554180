//! The server-side purchase window: a background task that ends page visits whose window (plus
//! grace) has run out, so a silent or crashed client never blocks a session.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::domain::ids::SessionId;
use crate::domain::time::now_millis;
use crate::metrics;
use crate::state::AppState;

/// How often the sweeper looks; a window ends at most this late.
pub(crate) fn tick(window_with_grace: Duration) -> Duration {
    (window_with_grace / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// Runs until `shutdown` resolves.
pub(crate) async fn run(state: AppState, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(tick(state.settings.window_with_grace()));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            _ = interval.tick() => {
                super::visit::sweep(&state, now_millis()).await;
                super::fair::draw_due(&state, now_millis()).await;
                report_rooms(&state, &mut seen).await;
            }
            () = shutdown.cancelled() => break,
        }
    }
}

/// Refreshes the per-session gauges (rooms that emptied since the last look drop to zero) and
/// samples the pace of every line with people in it, for the wait estimates.
async fn report_rooms(state: &AppState, seen: &mut Vec<SessionId>) {
    let Ok(sizes) = state.store.waiting_room.occupancy().await else {
        return;
    };
    let waiting: Vec<SessionId> = sizes.iter().map(|(session, _, _)| *session).collect();
    state.estimator.keep_only(&waiting);
    for session in waiting {
        match state.store.waiting_room.progress(session).await {
            Ok(moved) => state.estimator.observe(session, now_millis(), moved),
            Err(e) => tracing::debug!(error = %e, %session, "sampling a line's pace failed"),
        }
    }
    for session in seen
        .iter()
        .filter(|s| !sizes.iter().any(|(id, _, _)| id == *s))
    {
        metrics::room_size(*session, 0, 0);
    }
    for (session, page, queue) in &sizes {
        metrics::room_size(*session, *page, *queue);
    }
    *seen = sizes.into_iter().map(|(session, _, _)| session).collect();
}
