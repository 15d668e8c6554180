//! Operator actions on a running sale (issue 13): the figures of a session, its page size,
//! pausing and resuming admissions, more time for everyone on the page, taking one person off,
//! ending the sale, and the audit trail of all of it.
//!
//! A change is stored with the session in the database first, then put in force on this
//! instance at once; every other instance reloads the settings a few times a second
//! ([`keep_settings_current`]) and fills its pages from the queue when they allow more, so a
//! change takes effect everywhere within a second. Each action is one audit row (who: the
//! operator token's label, never the token) and one log line.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::news::{EndReason, News};
use super::{ServiceError, ServiceResult, visit};
use crate::domain::controls::SessionSettings;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::{Millis, now_millis};
use crate::domain::waiting_room::Place;
use crate::state::AppState;
use crate::storage::model::{AuditEntry, AuditRecord};

/// How often every instance reloads the stored settings (a change made elsewhere is in force
/// here at most this long, plus one database read, after it was stored).
pub(crate) const RELOAD_EVERY: Duration = Duration::from_millis(250);
/// The longest extension one action may give (a day).
const MOST_EXTENSION_S: u64 = 24 * 3600;
/// The largest page size an operator may set.
const MOST_LIMIT: u32 = 100_000;
/// How many of the latest admissions the wait figures are taken from.
const WAIT_SAMPLE: usize = 50;

/// Who acts: the label of the operator token (never the token itself).
#[derive(Clone, Debug)]
pub(crate) struct Operator(pub String);

/// The wait of the latest admissions, in seconds.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Waits {
    /// How many admissions the figures come from.
    pub admissions: usize,
    /// Median wait.
    pub median_seconds: f64,
    /// 90th percentile wait.
    pub p90_seconds: f64,
}

/// What an operator sees of one session.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionReport {
    /// The session.
    pub session_id: SessionId,
    /// People on the buying page.
    pub page: usize,
    /// The page's size (people admitted at once).
    pub limit: u32,
    /// People queued.
    pub queue: usize,
    /// Admissions stopped.
    pub paused: bool,
    /// The sale was ended by an operator.
    pub closed: bool,
    /// The purchase window, seconds.
    pub window_seconds: u64,
    /// Tickets per account.
    pub ticket_limit: u32,
    /// Admissions onto the page in the last minute.
    pub admissions_last_minute: usize,
    /// The wait of the latest admissions (`None` before any).
    pub wait: Option<Waits>,
    /// Seats selected or locked.
    pub holds: u64,
    /// Seats sold.
    pub sales: u64,
    /// The fair-start draw, if one ran: `{seed, count, hash, drawnAt}`.
    pub draw: Option<Value>,
    /// What operators set (unset fields follow the environment's defaults).
    pub settings: SessionSettings,
    /// The server's clock (ms), for charts.
    pub server_now: Millis,
}

/// What an extension did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Extended {
    /// Visitors whose deadline moved.
    pub visitors: usize,
    /// Seat holds whose deadline moved.
    pub holds: u64,
}

/// The session's settings as stored (checks that the session exists).
async fn settings_of(state: &AppState, session: SessionId) -> ServiceResult<SessionSettings> {
    super::seats::known_session(state, session).await?;
    Ok(state.store.controls.overrides(session))
}

/// Median and 90th percentile of `waits` (ms), in seconds.
fn waits(mut waits: Vec<Millis>) -> Option<Waits> {
    if waits.is_empty() {
        return None;
    }
    waits.sort_unstable();
    let at = |q: f64| {
        let i = ((waits.len() as f64 - 1.0) * q).round() as usize;
        waits[i.min(waits.len() - 1)] as f64 / 1000.0
    };
    Some(Waits {
        admissions: waits.len(),
        median_seconds: at(0.5),
        p90_seconds: at(0.9),
    })
}

/// The figures of `session`.
pub(crate) async fn report(state: &AppState, session: SessionId) -> ServiceResult<SessionReport> {
    let settings = settings_of(state, session).await?;
    let now = now_millis();
    let effective = state.store.controls.effective(session);
    let rooms = &state.store.waiting_room;
    let (page, queue) = rooms.sizes(session).await?;
    let recent = rooms.recent_admissions(session).await?;
    let counts = state.store.inventory.seat_counts(session).await?;
    let draw = rooms.drawn(session, UserId(0)).await?.map(|(r, _)| {
        json!({"seed": r.seed.to_string(), "count": r.count, "hash": r.hash, "drawnAt": r.at})
    });
    let last_minute = recent.iter().filter(|a| a.at > now - 60_000).count();
    let sample = recent
        .iter()
        .take(WAIT_SAMPLE)
        .map(|a| a.waited_ms)
        .collect();
    Ok(SessionReport {
        session_id: session,
        page,
        limit: effective.limit,
        queue,
        paused: effective.paused,
        closed: effective.closed,
        window_seconds: (effective.window_ms / 1000) as u64,
        ticket_limit: effective.ticket_limit,
        admissions_last_minute: last_minute,
        wait: waits(sample),
        holds: counts.held,
        sales: counts.sold,
        draw,
        settings,
        server_now: now,
    })
}

/// Stores `after` as `session`'s settings and puts them in force here.
async fn save(
    state: &AppState,
    session: SessionId,
    after: SessionSettings,
    now: Millis,
) -> ServiceResult<()> {
    state
        .store
        .operations
        .save_session_settings(session, after, now)
        .await?;
    state.store.controls.set(session, after);
    state.store.waiting_room.share_admits(session).await?;
    Ok(())
}

/// Records one action in the audit trail and the log.
async fn audit(
    state: &AppState,
    who: &Operator,
    action: &str,
    session: SessionId,
    target: Option<UserId>,
    (before, after): (Value, Value),
) -> ServiceResult<()> {
    tracing::info!(operator = %who.0, action, %session, target = target.map(|u| u.0), %before, %after, "operator action");
    let entry = AuditEntry {
        at: now_millis(),
        who: who.0.clone(),
        action: action.to_owned(),
        session: Some(session),
        target: target.map(|u| u.to_string()),
        before: Some(before.to_string()),
        after: Some(after.to_string()),
    };
    state.store.operations.record_audit(entry).await?;
    Ok(())
}

fn as_json(settings: &SessionSettings) -> Value {
    serde_json::to_value(settings).unwrap_or(Value::Null)
}

/// Admits from `session`'s queue as far as its settings allow now, and tells everyone.
pub(crate) async fn fill(
    state: &AppState,
    session: SessionId,
    now: Millis,
) -> ServiceResult<usize> {
    let moves = state.store.waiting_room.fill(session, now).await?;
    let admitted = moves.departures.len();
    if admitted > 0 {
        tracing::info!(%session, admitted, "admitted from the queue after a settings change");
        for _ in 0..admitted {
            crate::metrics::admitted(true);
        }
        state.news.publish(News::Promoted {
            session,
            departures: moves.departures,
        });
    }
    Ok(admitted)
}

/// Changes the page size: raising it admits at once; lowering it admits nobody until the page
/// is under the new size (nobody is sent away).
pub(crate) async fn set_limit(
    state: &AppState,
    who: &Operator,
    session: SessionId,
    limit: u32,
) -> ServiceResult<SessionSettings> {
    if !(1..=MOST_LIMIT).contains(&limit) {
        return Err(ServiceError::Invalid(format!(
            "limit must be between 1 and {MOST_LIMIT}"
        )));
    }
    let before = settings_of(state, session).await?;
    let after = SessionSettings {
        limit: Some(limit),
        ..before
    };
    let now = now_millis();
    save(state, session, after, now).await?;
    audit(
        state,
        who,
        "limit",
        session,
        None,
        (as_json(&before), as_json(&after)),
    )
    .await?;
    fill(state, session, now).await?;
    Ok(after)
}

/// The most tickets per account an operator may allow.
const MOST_TICKETS: u32 = 100;

/// A change of one setting: keep it, return it to the environment's default, or set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change<T> {
    /// Leave as it is.
    Keep,
    /// Back to the environment's value.
    Default,
    /// This value.
    To(T),
}

impl<T: Copy> Change<T> {
    fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Change::Keep => current,
            Change::Default => None,
            Change::To(value) => Some(value),
        }
    }
}

/// Changes the session's purchase window and ticket limit. A new window applies to everyone
/// on the page too (a deadline is the admission time plus the window), so each hears it.
pub(crate) async fn set_terms(
    state: &AppState,
    who: &Operator,
    session: SessionId,
    window_seconds: Change<u64>,
    ticket_limit: Change<u32>,
) -> ServiceResult<SessionSettings> {
    if let Change::To(s) = window_seconds
        && !(1..=MOST_EXTENSION_S).contains(&s)
    {
        return Err(ServiceError::Invalid(format!(
            "windowSeconds must be between 1 and {MOST_EXTENSION_S}"
        )));
    }
    if let Change::To(n) = ticket_limit
        && !(1..=MOST_TICKETS).contains(&n)
    {
        return Err(ServiceError::Invalid(format!(
            "ticketLimit must be between 1 and {MOST_TICKETS}"
        )));
    }
    let before = settings_of(state, session).await?;
    let mut after = SessionSettings {
        window_seconds: window_seconds.apply(before.window_seconds),
        ticket_limit: ticket_limit.apply(before.ticket_limit),
        ..before
    };
    if after.window_seconds != before.window_seconds {
        after.window_version = before.window_version.wrapping_add(1);
    }
    save(state, session, after, now_millis()).await?;
    audit(
        state,
        who,
        "settings",
        session,
        None,
        (as_json(&before), as_json(&after)),
    )
    .await?;
    tell_moved_windows(state);
    Ok(after)
}

/// Stops (`paused`) or restarts admissions. Queued people keep their places and hear the
/// pause in their estimate; a restart admits as far as the page allows at once.
pub(crate) async fn set_paused(
    state: &AppState,
    who: &Operator,
    session: SessionId,
    paused: bool,
) -> ServiceResult<SessionSettings> {
    let before = settings_of(state, session).await?;
    let after = SessionSettings { paused, ..before };
    let now = now_millis();
    save(state, session, after, now).await?;
    let action = if paused { "pause" } else { "resume" };
    audit(
        state,
        who,
        action,
        session,
        None,
        (as_json(&before), as_json(&after)),
    )
    .await?;
    if !paused {
        fill(state, session, now).await?;
    }
    restate_queue(state, session, now).await?;
    Ok(after)
}

/// Tells everyone queued for `session` where they stand again (their estimate says whether
/// admissions are paused).
async fn restate_queue(state: &AppState, session: SessionId, now: Millis) -> ServiceResult<()> {
    let queued = state.store.waiting_room.queued(session).await?;
    let rules = state.rules(session);
    let places = queued
        .into_iter()
        .enumerate()
        .map(|(i, user)| {
            let seconds = rules.seconds(now, (i / rules.limit) as i64, now);
            (user, i, seconds)
        })
        .collect();
    state.news.publish(News::Restated { session, places });
    Ok(())
}

/// Gives every current visitor of `session`'s buying page `seconds` more: their deadline
/// and their seat holds' deadlines move, and each is told the new deadline.
pub(crate) async fn extend(
    state: &AppState,
    who: &Operator,
    session: SessionId,
    seconds: u64,
) -> ServiceResult<Extended> {
    if !(1..=MOST_EXTENSION_S).contains(&seconds) {
        return Err(ServiceError::Invalid(format!(
            "seconds must be between 1 and {MOST_EXTENSION_S}"
        )));
    }
    let before = settings_of(state, session).await?;
    let by_ms = (seconds * 1000) as Millis;
    let moved = state.store.waiting_room.extend(session, by_ms).await?;
    let holds = state.store.inventory.extend_holds(session, by_ms).await?;
    let after = SessionSettings {
        window_version: before.window_version.wrapping_add(1),
        ..before
    };
    save(state, session, after, now_millis()).await?;
    let report = Extended {
        visitors: moved.len(),
        holds,
    };
    audit(
        state,
        who,
        "extend",
        session,
        None,
        (
            json!({}),
            json!({"seconds": seconds, "visitors": report.visitors, "holds": holds}),
        ),
    )
    .await?;
    tell_moved_windows(state);
    Ok(report)
}

/// Tells this instance's buying-page connections of every session whose windows an operator
/// extended since the last look their new deadline.
fn tell_moved_windows(state: &AppState) {
    for session in state.store.controls.window_changes() {
        state.news.publish(News::WindowsMoved { session });
    }
}

/// Takes `user` off `session`'s page or queue: their holds are freed, the next person is
/// admitted, and they are told (`removed`, reason `operator`). With `block`, the account may
/// not come back to this session (the block holds even when they had no place). Returns where
/// they were (`None`: nowhere, blocked only).
pub(crate) async fn remove(
    state: &AppState,
    who: &Operator,
    session: SessionId,
    user: UserId,
    block: bool,
) -> ServiceResult<Option<Place>> {
    settings_of(state, session).await?;
    let now = now_millis();
    if block {
        state
            .store
            .operations
            .block_account(session, user, now)
            .await?;
        state.store.controls.block(session, user);
    }
    let departure = state
        .store
        .waiting_room
        .leave(session, user, None, now)
        .await?;
    let early = match departure {
        Some(_) => false,
        None => {
            state
                .store
                .waiting_room
                .leave_early(session, user, None)
                .await?
        }
    };
    let from = departure.as_ref().map(|d| d.from);
    if from.is_none() && !early && !block {
        return Err(ServiceError::NotInside);
    }
    audit(
        state,
        who,
        "remove",
        session,
        Some(user),
        (
            json!({"place": from.map(place_name), "early": early}),
            json!({"place": null, "blocked": block}),
        ),
    )
    .await?;
    match departure {
        Some(departure) => {
            let from = departure.from;
            visit::ended_by_server(state, session, user, departure, EndReason::Operator).await;
            Ok(Some(from))
        }
        None if early => {
            state.news.publish(News::VisitEnded {
                session,
                user,
                reason: EndReason::Operator,
            });
            Ok(Some(Place::Queue(0)))
        }
        None => Ok(None),
    }
}

fn place_name(place: Place) -> &'static str {
    match place {
        Place::Page => "page",
        Place::Queue(_) => "queue",
    }
}

/// Ends the sale of `session`: nobody new may join, everyone queued is told and the queue is
/// emptied. People on the buying page keep their windows. Returns how many were queued.
pub(crate) async fn close(
    state: &AppState,
    who: &Operator,
    session: SessionId,
) -> ServiceResult<usize> {
    let before = settings_of(state, session).await?;
    let after = SessionSettings {
        closed: true,
        ..before
    };
    let now = now_millis();
    save(state, session, after, now).await?;
    let queued = state.store.waiting_room.close_queue(session).await?;
    let (page, _) = state.store.waiting_room.sizes(session).await?;
    audit(
        state,
        who,
        "close",
        session,
        None,
        (
            json!({"settings": as_json(&before), "queue": queued.len()}),
            json!({"settings": as_json(&after), "queue": 0, "page": page}),
        ),
    )
    .await?;
    let told = queued.len();
    state.news.publish(News::SaleClosed {
        session,
        users: queued,
    });
    Ok(told)
}

/// Audit rows, newest first: up to `limit` with ids below `before`.
pub(crate) async fn audit_trail(
    state: &AppState,
    before: Option<i64>,
    limit: u32,
) -> ServiceResult<Vec<AuditRecord>> {
    Ok(state
        .store
        .operations
        .audit(before, limit.clamp(1, 500))
        .await?)
}

/// Keeps this instance's copy of the per-session settings current (a change made through
/// another instance is in force here within [`RELOAD_EVERY`] plus a database read), and fills
/// the pages of sessions with settings of their own as far as those allow. Runs until `stop`.
pub(crate) async fn keep_settings_current(state: AppState, stop: CancellationToken) {
    let mut interval = tokio::time::interval(RELOAD_EVERY);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stop.cancelled() => break,
        }
        let controls = &state.store.controls;
        if let Err(e) = controls.reload(state.store.operations.as_ref()).await {
            tracing::warn!(error = %e, "reloading the per-session settings failed");
            continue;
        }
        tell_moved_windows(&state);
        for session in controls.sessions() {
            if let Err(e) = fill(&state, session, now_millis()).await {
                tracing::warn!(error = %e, %session, "filling a page after a settings change failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_figures_are_the_median_and_the_90th_percentile() {
        assert_eq!(waits(Vec::new()), None);
        let w = waits((1..=10).map(|s| s * 1000).collect()).expect("figures");
        assert_eq!(w.admissions, 10);
        assert_eq!(w.median_seconds, 6.0);
        assert_eq!(w.p90_seconds, 9.0);
    }
}
