//! Warm-up before an on-sale (instead of the original's scheduled Lambda): load the session's
//! catalog rows and seat maps (filling the catalog cache and the database's own caches), open
//! database connections, and make the Redis scripts resident, so the first buyers of a sale do
//! not pay for any of it. Run by a scheduler for every session whose on-sale time is near, and
//! on demand through `POST /admin/warmup/{sessionId}`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::domain::ids::SessionId;
use crate::domain::time::{Millis, now_millis};
use crate::state::AppState;
use crate::storage::StorageResult;

/// What a warm-up did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WarmupReport {
    /// The session warmed.
    pub session_id: SessionId,
    /// Areas loaded.
    pub areas: usize,
    /// Seats loaded.
    pub seats: usize,
    /// How long it took.
    pub took_ms: u128,
}

/// Warms everything a sale of `session` touches; `None` when there is no such session.
pub(crate) async fn warm_up(
    state: &AppState,
    session: SessionId,
) -> StorageResult<Option<WarmupReport>> {
    let started = Instant::now();
    let catalog = &state.store.catalog;
    if catalog.session(session).await?.is_none() {
        return Ok(None);
    }
    catalog.warm_pool().await?;
    state.store.waiting_room.warm_up().await?;
    state.store.waiting_room.occupancy().await?;
    // A storm of first validations would otherwise ask the database one by one.
    state.store.inventory.warm_sold_counts(session).await?;
    let areas = catalog.session_areas(session).await?;
    let mut seats = 0;
    for area in &areas {
        catalog.area_in_session(session, area.id).await?;
        let cells = catalog.seat_map(session, area.id).await?;
        let positions = cells.iter().map(|c| (c.row, c.column)).collect();
        seats += catalog.find_seats(area.id, positions).await?.len();
    }
    let report = WarmupReport {
        session_id: session,
        areas: areas.len(),
        seats,
        took_ms: started.elapsed().as_millis(),
    };
    tracing::info!(session = %session, areas = report.areas, seats, took_ms = report.took_ms as u64, "warmed up for a sale");
    Ok(Some(report))
}

/// How often the scheduler looks for sessions about to go on sale.
const LOOK_EVERY: Duration = Duration::from_secs(30);

/// Warms each session once when its on-sale time comes within the configured lead.
pub(crate) async fn run_scheduler(state: AppState, stop: CancellationToken) {
    let lead = Duration::from_secs(state.settings.warmup_lead).as_millis() as Millis;
    let mut warmed: HashSet<SessionId> = HashSet::new();
    let mut interval = tokio::time::interval(LOOK_EVERY);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stop.cancelled() => break,
        }
        let now = now_millis();
        let due = match state
            .store
            .catalog
            .sessions_on_sale_between(now, now + lead)
            .await
        {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "looking for sessions to warm up failed");
                continue;
            }
        };
        let due: Vec<SessionId> = due.into_iter().filter(|s| !warmed.contains(s)).collect();
        for session in due {
            match warm_up(&state, session).await {
                Ok(_) => {
                    warmed.insert(session);
                }
                Err(e) => tracing::warn!(error = %e, %session, "warm-up failed; will retry"),
            }
        }
    }
}
