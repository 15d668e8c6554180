//! `position` pushes, coalesced: at most one per person per second, always the newest value.
//!
//! Departures report everyone whose place in the queue improved. Sending each one would flood a
//! long queue during a departure storm, so the newest value per person is kept here and a
//! flusher sends what is due: at once when the person heard nothing in the last second,
//! otherwise when that second is over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio_util::sync::CancellationToken;

use crate::domain::ids::{SessionId, UserId};
use crate::domain::waiting_room::Departure;
use crate::realtime::rooms;
use crate::service::estimate::Estimator;
use crate::storage::controls::RoomControls;

/// Shortest time between two `position` pushes to one person.
pub(crate) const EVERY: Duration = Duration::from_secs(1);
/// How often the flusher looks for due pushes: a push waits at most this long past its
/// second, so a place shown is at most about `EVERY + TICK` behind the truth (a scan of the
/// table is microseconds even for 10,000 people).
const TICK: Duration = Duration::from_millis(20);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Latest {
    ahead: usize,
    seconds: i64,
    sent_at: Option<Instant>,
    unsent: bool,
}

/// The newest position of everyone waiting, and when each last heard one; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Positions {
    latest: Arc<Mutex<HashMap<(SessionId, UserId), Latest>>>,
    /// Turns a place into the pushed `estimate` (the line's observed pace).
    estimator: Estimator,
    /// Whether a session's admissions are paused (said in the `estimate`).
    controls: Option<Arc<RoomControls>>,
}

/// One push to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    /// The session.
    pub session: SessionId,
    /// Who.
    pub user: UserId,
    /// People in front.
    pub ahead: usize,
    /// Estimated wait, seconds.
    pub seconds: i64,
}

impl Positions {
    /// Positions whose pushes carry `estimator`'s estimates.
    pub(crate) fn new(estimator: Estimator, controls: Arc<RoomControls>) -> Self {
        Self {
            latest: Arc::default(),
            estimator,
            controls: Some(controls),
        }
    }

    fn paused(&self, session: SessionId) -> bool {
        self.controls
            .as_ref()
            .is_some_and(|c| c.effective(session).paused)
    }

    fn map(&self) -> MutexGuard<'_, HashMap<(SessionId, UserId), Latest>> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what a departure changed: the departed and the admitted leave the table,
    /// everyone behind gets their new place.
    pub(crate) fn departure(&self, session: SessionId, departed: UserId, departure: &Departure) {
        self.departure_of(session, Some(departed), departure);
    }

    /// [`Positions::departure`], also for an admission nobody's departure made (`None`).
    pub(crate) fn departure_of(
        &self,
        session: SessionId,
        departed: Option<UserId>,
        departure: &Departure,
    ) {
        let mut map = self.map();
        if let Some(departed) = departed {
            map.remove(&(session, departed));
        }
        if let Some(promoted) = departure.promoted {
            map.remove(&(session, promoted));
        }
        for notice in &departure.notices {
            let latest = map.entry((session, notice.user)).or_insert(Latest {
                ahead: usize::MAX,
                seconds: 0,
                sent_at: None,
                unsent: false,
            });
            latest.ahead = notice.ahead;
            latest.seconds = notice.seconds;
            latest.unsent = true;
        }
    }

    /// Records a place given outright (the fair-start draw): `ahead` people in front.
    pub(crate) fn placed(&self, session: SessionId, user: UserId, ahead: usize, seconds: i64) {
        let mut map = self.map();
        let latest = map.entry((session, user)).or_insert(Latest {
            ahead: usize::MAX,
            seconds: 0,
            sent_at: None,
            unsent: false,
        });
        latest.ahead = ahead;
        latest.seconds = seconds;
        latest.unsent = true;
    }

    /// Records that `user`'s push left at `at`. A flush of thousands of pushes takes a while:
    /// counting the second from when each one was handed to its socket, not from when the
    /// flush began, keeps the last of a batch from hearing its next push early.
    fn sent(&self, session: SessionId, user: UserId, at: Instant) {
        if let Some(latest) = self.map().get_mut(&(session, user)) {
            latest.sent_at = Some(at);
        }
    }

    /// Takes the pushes due at `now`, marking them sent.
    pub(crate) fn due(&self, now: Instant) -> Vec<Due> {
        self.take(now, false)
    }

    /// Takes every unsent push, due or not, marking them sent: at shutdown the newest place
    /// goes out at once rather than with a connection that is about to close.
    fn pending(&self, now: Instant) -> Vec<Due> {
        self.take(now, true)
    }

    fn take(&self, now: Instant, all: bool) -> Vec<Due> {
        let mut map = self.map();
        let mut due = Vec::new();
        for ((session, user), latest) in map.iter_mut() {
            let rested = all
                || latest
                    .sent_at
                    .is_none_or(|t| now.duration_since(t) >= EVERY);
            if latest.unsent && rested {
                latest.unsent = false;
                latest.sent_at = Some(now);
                due.push(Due {
                    session: *session,
                    user: *user,
                    ahead: latest.ahead,
                    seconds: latest.seconds,
                });
            }
        }
        due
    }

    /// Sends due pushes through `io` until `stop`, then whatever is still unsent.
    pub(crate) async fn flush<A: Adapter>(self, io: SocketIo<A>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => break,
            }
            for due in self.due(Instant::now()) {
                let paused = self.paused(due.session);
                send(&io, &self.estimator, due, paused).await;
                self.sent(due.session, due.user, Instant::now());
            }
        }
        self.send_pending(&io).await;
    }

    /// Sends every unsent push now, rate limit or not (shutdown: the sockets close next).
    pub(crate) async fn send_pending<A: Adapter>(&self, io: &SocketIo<A>) {
        for due in self.pending(Instant::now()) {
            let paused = self.paused(due.session);
            send(io, &self.estimator, due, paused).await;
        }
    }
}

async fn send<A: Adapter>(io: &SocketIo<A>, estimator: &Estimator, due: Due, paused: bool) {
    let room = rooms::entrant(due.session, due.user);
    let Some(to) = rooms::to_in(io, rooms::QUEUE_NAMESPACE, room) else {
        return;
    };
    let wait = estimator.estimate(due.session, due.ahead, due.seconds);
    let estimate = super::queue::estimate(wait, paused);
    let body = json!({"sessionId": due.session, "ahead": due.ahead, "estimate": estimate});
    crate::realtime::tap::pushed(&to, "position", &[&body]);
    if let Err(e) = to.emit("position", &body).await {
        tracing::debug!(error = %e, "a position push failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::waiting_room::{Notice, Place};

    fn moved(from: Place, notified: &[i64]) -> Departure {
        let start = match from {
            Place::Queue(index) => index,
            Place::Page => 0,
        };
        Departure {
            from,
            promoted: None,
            notices: notified
                .iter()
                .enumerate()
                .map(|(k, u)| Notice {
                    user: UserId(*u),
                    seconds: 30,
                    ahead: start + k,
                    steps: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_person_hears_at_most_once_a_second_and_always_the_newest_place() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        positions.departure(s, UserId(3), &moved(Place::Queue(0), &[7]));
        assert!(positions.due(t0 + Duration::from_millis(500)).is_empty());
        let later = positions.due(t0 + EVERY);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].ahead, 0);
        assert!(
            positions.due(t0 + EVERY * 3).is_empty(),
            "nothing new, nothing sent"
        );
    }

    #[test]
    fn at_shutdown_a_held_back_place_goes_out_at_once_and_only_once() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        let soon = t0 + Duration::from_millis(10);
        assert!(
            positions.due(soon).is_empty(),
            "held back by the rate limit"
        );
        let pending = positions.pending(soon);
        assert_eq!(pending.len(), 1);
        assert!(positions.pending(soon).is_empty(), "sent once");
    }

    #[test]
    fn the_second_counts_from_when_a_push_left_not_from_when_its_flush_began() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        // The flush reached this person's socket 300 ms after it began.
        positions.sent(s, UserId(7), t0 + Duration::from_millis(300));
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        assert!(
            positions.due(t0 + EVERY).is_empty(),
            "a second after the flush began is 700 ms after the push left"
        );
        assert_eq!(
            positions.due(t0 + EVERY + Duration::from_millis(300)).len(),
            1
        );
    }

    #[test]
    fn places_count_from_where_the_departure_was() {
        let positions = Positions::default();
        positions.departure(SessionId(1), UserId(1), &moved(Place::Queue(4), &[8, 9]));
        let mut due = positions.due(Instant::now());
        due.sort_by_key(|d| d.ahead);
        assert_eq!(
            due.iter().map(|d| (d.user.0, d.ahead)).collect::<Vec<_>>(),
            vec![(8, 4), (9, 5)]
        );
    }
}
