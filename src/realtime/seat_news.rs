//! Seat-map broadcasts (`other select seat`, `unselect seat`, releases, relays), sent in order by
//! one task instead of inline in each handler.
//!
//! In a rush every grant fans out to everyone watching the area. Sent inline, those broadcasts
//! queue in each watcher's socket ahead of the watcher's own pending answer, so a buyer waits
//! for dozens of other people's news before hearing about their own click. Handed to this task,
//! the news waits its turn: the task lets every other ready task run between two broadcasts, so
//! the answers to the people clicking go out first and the room news follows moments later.
//! One queue keeps the broadcasts in the order the handlers produced them. A long backlog is
//! drained in short bursts instead, so neither the queue nor a watcher's outgoing buffer grows
//! without bound. Nothing waits on a timer: an isolated broadcast goes out at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::mpsc;

/// One broadcast, ready to send.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The ordered broadcast queue; cheap to clone. Until [`SeatNews::start`] runs, broadcasts are
/// sent on their own tasks.
#[derive(Clone, Default)]
pub struct SeatNews(Arc<OnceLock<mpsc::UnboundedSender<Job>>>);

impl SeatNews {
    /// Starts the delivering task (once; later calls do nothing).
    pub fn start(&self) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.0.set(tx).is_ok() {
            tokio::spawn(deliver(rx));
        }
    }

    /// Queues `event` with `data` for the sockets `to` selects.
    pub fn send<A: Adapter>(&self, to: BroadcastOperators<A>, event: &'static str, data: Value) {
        self.queue(Box::pin(async move {
            // A watcher closing mid-rush fails here: not worth more than a debug line.
            if let Err(e) = to.emit(event, &data).await {
                tracing::debug!(error = %e, event, "a seat broadcast failed");
            }
        }));
    }

    /// Runs `then` once every broadcast queued before it has been sent (queue news that must
    /// not overtake the seats a departure freed).
    pub fn then(&self, then: impl FnOnce() + Send + 'static) {
        self.queue(Box::pin(async move { then() }));
    }

    fn queue(&self, job: Job) {
        match self.0.get() {
            Some(tx) => {
                if let Err(unsent) = tx.send(job) {
                    tokio::spawn(unsent.0);
                }
            }
            None => {
                tokio::spawn(job);
            }
        }
    }
}

/// Backlog beyond which the task stops deferring to every other task: under sustained load it
/// catches up instead of letting the queue (and the maps' staleness) grow without bound.
const BACKLOG: usize = 1024;
/// Broadcasts sent back to back while catching up: each watcher then holds at most this many in
/// its outgoing buffer (128 packets, beyond which socketioxide drops) before its writer runs.
const BURST: usize = 16;

async fn deliver(mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut sent: usize = 0;
    while let Some(next) = rx.recv().await {
        next.await;
        sent = sent.wrapping_add(1);
        // Low priority on purpose: handlers answering clicks, and the sockets' writers, go first.
        if rx.len() < BACKLOG || sent.is_multiple_of(BURST) {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_runs_once_each_in_the_order_it_was_queued() {
        let news = SeatNews::default();
        news.start();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        for i in 0..500 {
            let seen = seen.clone();
            news.then(move || seen.lock().expect("lock").push(i));
        }
        news.then(move || {
            let _ = done_tx.send(());
        });
        done_rx.await.expect("the queue ran to the end");
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn work_queued_before_the_task_starts_still_runs() {
        let news = SeatNews::default();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        news.then(move || {
            let _ = done_tx.send(());
        });
        done_rx.await.expect("ran on a task of its own");
    }
}
