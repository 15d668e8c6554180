//! Queue news, delivered in batches: `ready to go` to whoever was admitted and one
//! `minus waiting people` per step forward to everyone who moved up.
//!
//! Every departure tells everyone behind it (the original protocol: the client counts one step
//! per message), so a storm of departures is quadratic in messages. Departures are queued here
//! and whatever has piled up while the previous batch was sent goes out together, minus the
//! messages nobody can receive: those for people who left in the same batch, and position steps
//! for people the batch admitted. Nothing waits on a timer; an isolated departure goes out at
//! once, exactly as before.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::rooms;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::waiting_room::Departure;

/// Most departures handled in one batch (bounds the work between two looks at the channel).
const BATCH: usize = 10_000;

/// An event with no arguments, as the original sent `ready to go` (an empty tuple is sent as
/// zero arguments, where `()` would be one `null`).
const NO_ARGS: [u8; 0] = [];

/// One departure to announce.
struct Announcement {
    session: SessionId,
    departed: UserId,
    departure: Departure,
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
pub(crate) struct Announcer(Arc<OnceLock<mpsc::UnboundedSender<Item>>>);

impl Announcer {
    /// Starts delivering through `io` on `tasks`. Only the first call has an effect. Once
    /// `drain` is cancelled it delivers what is queued and ends.
    pub(crate) fn start<A: Adapter>(
        &self,
        io: SocketIo<A>,
        tasks: &TaskTracker,
        drain: CancellationToken,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.0.set(tx).is_ok() {
            tasks.spawn(deliver_batches(io, rx, drain));
        }
    }

    /// Queues the news of `departed` leaving `session`.
    pub(crate) fn announce(&self, session: SessionId, departed: UserId, departure: Departure) {
        if departure.promoted.is_none() && departure.notices.is_empty() {
            return;
        }
        let sent = self.0.get().map(|tx| {
            tx.send(Item::News(Announcement {
                session,
                departed,
                departure,
            }))
        });
        if !matches!(sent, Some(Ok(()))) {
            tracing::warn!(%session, "queue news dropped: the announcer is not running");
        }
    }

    /// Resolves once every announcement queued before this call has been delivered (at once
    /// when the announcer is not running).
    pub(crate) async fn settled(&self) {
        let (done, delivered) = oneshot::channel();
        if let Some(tx) = self.0.get()
            && tx.send(Item::Settled(done)).is_ok()
        {
            let _ = delivered.await;
        }
    }
}

async fn deliver_batches<A: Adapter>(
    io: SocketIo<A>,
    mut rx: mpsc::UnboundedReceiver<Item>,
    drain: CancellationToken,
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
        deliver(&io, &batch).await;
        if let Some(done) = settled {
            let _ = done.send(());
        }
    }
}

type Key = (SessionId, UserId);

async fn deliver<A: Adapter>(io: &SocketIo<A>, batch: &[Announcement]) {
    let gone: HashSet<Key> = batch.iter().map(|a| (a.session, a.departed)).collect();
    let admitted: Vec<Key> = batch
        .iter()
        .filter_map(|a| a.departure.promoted.map(|p| (a.session, p)))
        .filter(|key| !gone.contains(key))
        .collect();
    for (session, user) in &admitted {
        let Some(entrant) = rooms::to(io, rooms::entrant(*session, *user)) else {
            return;
        };
        if let Err(e) = entrant.emit("ready to go", &NO_ARGS).await {
            tracing::debug!(error = %e, "sending ready to go failed");
        }
    }
    let skip: HashSet<Key> = gone.into_iter().chain(admitted).collect();
    for ((session, user), (steps, seconds)) in steps_forward(batch, &skip) {
        let body = json!({"seconds": seconds});
        for _ in 0..steps {
            let Some(entrant) = rooms::to(io, rooms::entrant(session, user)) else {
                return;
            };
            // A closed socket fails here during a storm of departures: not worth a log line each.
            if let Err(e) = entrant.emit("minus waiting people", &body).await {
                tracing::debug!(error = %e, "sending a queue position failed");
            }
        }
    }
}

/// For each person still waiting: how many steps the batch moved them, and their newest
/// estimate; in the order they were first told.
fn steps_forward(batch: &[Announcement], skip: &HashSet<Key>) -> Vec<(Key, (u32, i64))> {
    let mut order: Vec<Key> = Vec::new();
    let mut tally: HashMap<Key, (u32, i64)> = HashMap::new();
    for a in batch {
        for notice in &a.departure.notices {
            let key = (a.session, notice.user);
            if skip.contains(&key) {
                continue;
            }
            let entry = tally.entry(key).or_insert_with(|| {
                order.push(key);
                (0, 0)
            });
            *entry = (entry.0 + notice.steps, notice.seconds);
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
            session: SessionId(2),
            departed: UserId(departed),
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
            .map(|((_, u), s)| (u.0, s))
            .collect();
        // 5 left in the batch: nothing for 5. 6 and 7 moved up twice.
        assert_eq!(steps, vec![(6, (2, 600)), (7, (2, 601))]);
    }
}
