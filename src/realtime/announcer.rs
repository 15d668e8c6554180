//! Queue news, delivered in batches: `ready to go` to whoever was admitted and one
//! `minus waiting people` per step forward to everyone who moved up.
//!
//! Every departure tells everyone behind it (the original protocol: the client counts one step
//! per message), so a storm of departures is quadratic in messages. Departures are queued here
//! and whatever has piled up while the previous batch was sent goes out together, minus the
//! messages nobody can receive: those for people who left in the same batch, and position steps
//! for people the batch admitted. Nothing waits on a timer; an isolated departure goes out at
//! once, exactly as before.
//!
//! Nor are steps sent to someone whose own departure the waiting room applied after the
//! departure that moved them (issue 14.2): in a storm of departures the sending falls behind
//! the waiting room, and by the time a step would go out its addressee has often left too. The
//! service publishes each departure the moment the waiting room applies it (before its seats
//! are released), and the sender looks there before each person's messages. With several
//! instances each such message is a Redis publish, so the ones nobody can receive were most of
//! a storm's cost (over a minute of sending after 5,000 people left at once).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::rooms;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::waiting_room::Departure;
use crate::record::Recorder;

/// Most departures handled in one batch (bounds the work between two looks at the channel).
const BATCH: usize = 10_000;

/// An event with no arguments, as the original sent `ready to go` (an empty tuple is sent as
/// zero arguments, where `()` would be one `null`).
const NO_ARGS: [u8; 0] = [];

/// One departure to announce.
struct Announcement {
    /// When the waiting room applied it: its notices describe the queue at that moment.
    applied_at: Instant,
    session: SessionId,
    /// Who left (nobody when an operator's change admitted people).
    departed: Option<UserId>,
    departure: Departure,
}

/// How long a departure is remembered: news older than this that still waits to be sent is
/// sent whoever left (a wasted message at worst).
const REMEMBER_LEFT: Duration = Duration::from_secs(60);

/// When each person's place last ended; shared by the publishing side and the sender.
#[derive(Default)]
struct Departed(Mutex<HashMap<Key, Instant>>);

impl Departed {
    fn at(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `key`'s place ended at `at`.
    fn record(&self, key: Key, at: Instant) {
        let mut left = self.at();
        if left.len() >= 100_000 {
            left.retain(|_, t| t.elapsed() < REMEMBER_LEFT);
        }
        let latest = left.entry(key).or_insert(at);
        *latest = (*latest).max(at);
    }

    /// Whether `key` left after news applied at `applied_at` (that news need not reach them:
    /// they left, or came back and hold a newer place than the news knows).
    fn left_after(&self, key: &Key, applied_at: Instant) -> bool {
        self.at().get(key).is_some_and(|t| *t > applied_at)
    }

    /// Forgets departures older than [`REMEMBER_LEFT`].
    fn forget_old(&self) {
        self.at().retain(|_, t| t.elapsed() < REMEMBER_LEFT);
    }
}

/// What the delivering task is handed.
enum Item {
    /// News to deliver.
    News(Announcement),
    /// Answered once everything handed over before it has been delivered.
    Settled(oneshot::Sender<()>),
}

/// The sending side, shared through the application state; started with the Socket.IO server.
#[derive(Clone, Default)]
pub(crate) struct Announcer {
    tx: Arc<OnceLock<mpsc::UnboundedSender<Item>>>,
    departed: Arc<Departed>,
}

impl Announcer {
    /// Starts delivering through `io` on `tasks` (recording the news through `recorder` when
    /// the server records). Only the first call has an effect. Once `drain` is cancelled it
    /// delivers what is queued and ends.
    pub(crate) fn start<A: Adapter>(
        &self,
        io: SocketIo<A>,
        recorder: Option<Arc<Recorder>>,
        tasks: &TaskTracker,
        drain: CancellationToken,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.tx.set(tx).is_ok() {
            let to = Recipients { io, recorder };
            tasks.spawn(deliver_batches(to, rx, drain, self.departed.clone()));
        }
    }

    /// Queues the news of `departed` leaving `session`.
    pub(crate) fn announce(
        &self,
        session: SessionId,
        departed: UserId,
        departure: Departure,
        applied_at: Instant,
    ) {
        self.announce_as(session, Some(departed), departure, applied_at);
    }

    /// Queues the news of an admission nobody's departure made (an operator's change).
    pub(crate) fn announce_admission(&self, session: SessionId, departure: Departure) {
        self.announce_as(session, None, departure, Instant::now());
    }

    fn announce_as(
        &self,
        session: SessionId,
        departed: Option<UserId>,
        departure: Departure,
        applied_at: Instant,
    ) {
        if departure.promoted.is_none() && departure.notices.is_empty() {
            return;
        }
        let sent = self.tx.get().map(|tx| {
            tx.send(Item::News(Announcement {
                applied_at,
                session,
                departed,
                departure,
            }))
        });
        if !matches!(sent, Some(Ok(()))) {
            tracing::warn!(%session, "queue news dropped: the announcer is not running");
        }
    }

    /// `departed`'s place in `session` ended at `at` (the waiting room applied it): news made
    /// before that need not reach them. Called at once, not in the news order.
    pub(crate) fn left(&self, session: SessionId, departed: UserId, at: Instant) {
        self.departed.record((session, departed), at);
    }

    /// Resolves once every announcement queued before this call has been delivered (at once
    /// when the announcer is not running).
    pub(crate) async fn settled(&self) {
        let (done, delivered) = oneshot::channel();
        if let Some(tx) = self.tx.get()
            && tx.send(Item::Settled(done)).is_ok()
        {
            let _ = delivered.await;
        }
    }
}

/// Where the news goes: the sockets of `io`, and the recorder when the server records.
struct Recipients<A: Adapter> {
    io: SocketIo<A>,
    recorder: Option<Arc<Recorder>>,
}

async fn deliver_batches<A: Adapter>(
    to: Recipients<A>,
    mut rx: mpsc::UnboundedReceiver<Item>,
    drain: CancellationToken,
    departed: Arc<Departed>,
) {
    loop {
        let first = tokio::select! {
            biased;
            first = rx.recv() => first,
            () = drain.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut batch = Vec::new();
        let mut settled = None;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Item::News(news) => batch.push(news),
                // Deliver what came before the marker, then answer it.
                Item::Settled(done) => {
                    settled = Some(done);
                    break;
                }
            }
            if batch.len() < BATCH {
                next = rx.try_recv().ok();
            }
        }
        deliver(&to, &batch, &departed).await;
        departed.forget_old();
        if let Some(done) = settled {
            let _ = done.send(());
        }
    }
}

type Key = (SessionId, UserId);

async fn deliver<A: Adapter>(to: &Recipients<A>, batch: &[Announcement], departed: &Departed) {
    let (io, recorder) = (&to.io, to.recorder.as_ref());
    let gone: HashSet<Key> = batch
        .iter()
        .filter_map(|a| a.departed.map(|d| (a.session, d)))
        .collect();
    let admitted: Vec<(Key, Instant)> = batch
        .iter()
        .filter_map(|a| a.departure.promoted.map(|p| ((a.session, p), a.applied_at)))
        .filter(|(key, _)| !gone.contains(key))
        .collect();
    for ((session, user), applied_at) in &admitted {
        if departed.left_after(&(*session, *user), *applied_at) {
            // Admitted and gone again before hearing it.
            continue;
        }
        let room = rooms::entrant(*session, *user);
        if let Some(heard) = super::tap::audience(recorder, "/", &room) {
            heard.pushed("ready to go", &[]);
        }
        let Some(entrant) = rooms::to(io, room) else {
            return;
        };
        if let Err(e) = entrant.emit("ready to go", &NO_ARGS).await {
            tracing::debug!(error = %e, "sending ready to go failed");
        }
    }
    let skip: HashSet<Key> = gone
        .into_iter()
        .chain(admitted.into_iter().map(|(key, _)| key))
        .collect();
    for ((session, user), (steps, seconds, applied_at)) in steps_forward(batch, &skip) {
        if departed.left_after(&(session, user), applied_at) {
            // Left since this news was made: nobody to tell.
            continue;
        }
        let body = json!({"seconds": seconds});
        for _ in 0..steps {
            let room = rooms::entrant(session, user);
            if let Some(heard) = super::tap::audience(recorder, "/", &room) {
                heard.pushed("minus waiting people", &[&body]);
            }
            let Some(entrant) = rooms::to(io, room) else {
                return;
            };
            // A closed socket fails here during a storm of departures: not worth a log line each.
            if let Err(e) = entrant.emit("minus waiting people", &body).await {
                tracing::debug!(error = %e, "sending a queue position failed");
            }
        }
    }
}

/// For each person still waiting: how many steps the batch moved them, their newest estimate
/// and when the newest departure that moved them was applied; in the order they were first told.
fn steps_forward(batch: &[Announcement], skip: &HashSet<Key>) -> Vec<(Key, (u32, i64, Instant))> {
    let mut order: Vec<Key> = Vec::new();
    let mut tally: HashMap<Key, (u32, i64, Instant)> = HashMap::new();
    for a in batch {
        for notice in &a.departure.notices {
            let key = (a.session, notice.user);
            if skip.contains(&key) {
                continue;
            }
            let entry = tally.entry(key).or_insert_with(|| {
                order.push(key);
                (0, 0, a.applied_at)
            });
            *entry = (entry.0 + notice.steps, notice.seconds, a.applied_at);
        }
    }
    order.into_iter().map(|k| (k, tally[&k])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::waiting_room::{Notice, Place};

    fn departure(promoted: Option<i64>, notified: &[(i64, i64)]) -> Departure {
        Departure {
            from: Place::Page,
            promoted: promoted.map(UserId),
            notices: notified
                .iter()
                .enumerate()
                .map(|(k, (u, s))| Notice {
                    user: UserId(*u),
                    seconds: *s,
                    ahead: k,
                    steps: 1,
                })
                .collect(),
        }
    }

    fn announcement(departed: i64, d: Departure) -> Announcement {
        Announcement {
            applied_at: Instant::now(),
            session: SessionId(2),
            departed: Some(UserId(departed)),
            departure: d,
        }
    }

    #[test]
    fn each_person_still_waiting_gets_one_step_per_departure_ahead_with_the_newest_estimate() {
        let batch = vec![
            announcement(1, departure(Some(4), &[(5, 608), (6, 608), (7, 610)])),
            announcement(5, departure(None, &[(6, 600), (7, 601)])),
        ];
        let skip: HashSet<Key> = [
            (SessionId(2), UserId(1)),
            (SessionId(2), UserId(5)),
            (SessionId(2), UserId(4)),
        ]
        .into_iter()
        .collect();
        let steps: Vec<_> = steps_forward(&batch, &skip)
            .into_iter()
            .map(|((_, u), (n, seconds, _))| (u.0, (n, seconds)))
            .collect();
        // 5 left in the batch: nothing for 5. 6 and 7 moved up twice.
        assert_eq!(steps, vec![(6, (2, 600)), (7, (2, 601))]);
    }

    #[test]
    fn someone_who_left_after_the_news_that_moved_them_is_not_told_but_someone_who_came_back_is() {
        let departed = Departed::default();
        let (s, six, seven) = (SessionId(2), UserId(6), UserId(7));
        let t0 = Instant::now();
        let moved_them = t0;
        departed.record((s, six), t0 + Duration::from_millis(5));
        // 6 left after the news: nothing to send. 7 did not leave.
        assert!(departed.left_after(&(s, six), moved_them));
        assert!(!departed.left_after(&(s, seven), moved_them));
        // 6 came back and was moved again by a later departure: 6 hears that one.
        let moved_again = t0 + Duration::from_millis(9);
        assert!(!departed.left_after(&(s, six), moved_again));
    }
}
