//! Seat-map broadcasts (`other select seat`, `unselect seat`, releases, relays), sent in order by
//! one task instead of inline in each handler.
//!
//! In a rush every grant fans out to everyone watching the area. Sent inline, those broadcasts
//! queue in each watcher's socket ahead of the watcher's own pending answer, so a buyer waits
//! for dozens of other people's news before hearing about their own click. Handed to this task,
//! the direct answer goes out first and the broadcasts follow moments later, back to back, so a
//! watcher's socket writes several of them with one system call. One queue keeps them in the
//! order the handlers produced them. Nothing waits on a timer: an isolated broadcast goes out at
//! once.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::mpsc;

/// Broadcasts sent before the task lets the sockets' writers run: each watcher then holds at
/// most this many in its outgoing buffer (128 packets, beyond which socketioxide drops).
const BURST: usize = 16;

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

async fn deliver(mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        first.await;
        let mut sent = 1;
        while let Ok(next) = rx.try_recv() {
            if sent % BURST == 0 {
                tokio::task::yield_now().await;
            }
            next.await;
            sent += 1;
        }
    }
}
