//! Seat-map broadcasts (`other select seat`, `unselect seat`, releases, relays), sent in order by
//! one task instead of inline in each handler.
//!
//! In a rush every grant fans out to everyone watching the area. Sent inline, those broadcasts
//! queue in each watcher's socket ahead of the watcher's own pending answer, so a buyer waits
//! for dozens of other people's news before hearing about their own click. Handed to this task,
//! the news waits its turn: while seat events are being answered, the task lets every other
//! ready task run between two broadcasts, so the answers go out first. Otherwise it sends in
//! bursts of 16, so a watcher's writer sends several with one system call and the maps
//! settle sooner. A backlog over 1,024 is always drained in bursts, so the queue shrinks as fast
//! as the sockets take it; the channel itself is unbounded (a handler never waits on it), so
//! nothing caps a backlog that producers outrun. One queue keeps the broadcasts in the order
//! the handlers produced them.
//! Nothing waits on a timer: an isolated broadcast goes out at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::tap::Audience;

/// One broadcast, ready to send.
type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The ordered broadcast queue; cheap to clone. Until [`SeatNews::start`] runs, broadcasts are
/// sent on their own tasks.
#[derive(Clone, Default)]
pub(crate) struct SeatNews {
    queue: Arc<OnceLock<(mpsc::UnboundedSender<Job>, TaskTracker)>>,
    answering: Arc<AtomicUsize>,
}

/// Marks a seat event being answered until dropped (see [`SeatNews::answering`]).
pub(crate) struct Answering(Arc<AtomicUsize>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SeatNews {
    /// Starts the delivering task on `tasks` (once; later calls do nothing). Once `drain` is
    /// cancelled it sends what is queued and ends.
    pub(crate) fn start(&self, tasks: &TaskTracker, drain: CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        if self.queue.set((tx, tasks.clone())).is_ok() {
            tasks.spawn(deliver(rx, self.answering.clone(), drain));
        }
    }

    /// Held by a handler while it answers a seat event: room news then gives way to answers.
    pub(crate) fn answering(&self) -> Answering {
        self.answering.fetch_add(1, Ordering::Relaxed);
        Answering(self.answering.clone())
    }

    /// Queues `event` with `data` for the sockets `to` selects (`heard`: its recorded ones).
    pub(crate) fn send<A: Adapter>(
        &self,
        to: BroadcastOperators<A>,
        heard: Option<Audience>,
        event: &'static str,
        data: Value,
    ) {
        self.queue(Box::pin(async move {
            // Recorded in the news's turn, not in the handler: the answers go out first.
            if let Some(heard) = &heard {
                heard.pushed(event, &[&data]);
            }
            // A watcher closing mid-rush fails here: not worth more than a debug line.
            if let Err(e) = to.emit(event, &data).await {
                tracing::debug!(error = %e, event, "a seat broadcast failed");
            }
        }));
    }

    /// Runs `then` once every broadcast queued before it has been sent (queue news that must
    /// not overtake the seats a departure freed).
    pub(crate) fn then(&self, then: impl FnOnce() + Send + 'static) {
        self.queue(Box::pin(async move { then() }));
    }

    /// Runs `job` in its turn (news whose delivery must itself wait, such as a counter read
    /// before a push).
    pub(crate) fn run(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.queue(Box::pin(job));
    }

    /// Resolves once every broadcast queued before this call has been sent.
    pub(crate) async fn settled(&self) {
        let (done, sent) = tokio::sync::oneshot::channel();
        self.then(move || {
            let _ = done.send(());
        });
        let _ = sent.await;
    }

    fn queue(&self, job: Job) {
        match self.queue.get() {
            Some((tx, tasks)) => {
                // Once drained the queue is closed: later news (from sockets still closing)
                // goes out on its own task, tracked so shutdown waits for it too.
                if let Err(unsent) = tx.send(job) {
                    tasks.spawn(unsent.0);
                }
            }
            None => {
                tokio::spawn(job);
            }
        }
    }
}

/// Backlog beyond which the task sends in bursts even while answers are pending: under
/// sustained load it catches up instead of letting the queue (and the maps' staleness) grow.
const BACKLOG: usize = 1024;
/// Broadcasts sent back to back: each watcher then holds at most this many in its outgoing
/// buffer (128 packets, beyond which socketioxide drops) before its writer runs.
const BURST: usize = 16;

async fn deliver(
    mut rx: mpsc::UnboundedReceiver<Job>,
    answering: Arc<AtomicUsize>,
    drain: CancellationToken,
) {
    let mut sent: usize = 0;
    loop {
        let next = tokio::select! {
            biased;
            next = rx.recv() => next,
            () = drain.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(next) = next else { break };
        next.await;
        sent = sent.wrapping_add(1);
        let give_way = answering.load(Ordering::Relaxed) > 0 && rx.len() < BACKLOG;
        if give_way || sent.is_multiple_of(BURST) {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_runs_once_each_in_the_order_it_was_queued() {
        let news = SeatNews::default();
        news.start(&TaskTracker::new(), CancellationToken::new());
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

    #[test]
    fn answering_counts_handlers_until_their_guards_drop() {
        let news = SeatNews::default();
        let first = news.answering();
        let second = news.answering();
        assert_eq!(news.answering.load(Ordering::Relaxed), 2);
        drop(first);
        drop(second);
        assert_eq!(news.answering.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn news_sent_after_the_queue_drained_is_still_awaited_at_shutdown() {
        let (news, tasks, drain) = (
            SeatNews::default(),
            TaskTracker::new(),
            CancellationToken::new(),
        );
        news.start(&tasks, drain.clone());
        drain.cancel();
        tokio::time::timeout(Duration::from_secs(5), async {
            while !tasks.is_empty() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the queue ends once drained");
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        news.run(async move {
            let _ = released.await;
        });
        tasks.close();
        let early = tokio::time::timeout(Duration::from_millis(50), tasks.wait()).await;
        assert!(early.is_err(), "shutdown did not wait for late news");
        let _ = release.send(());
        tokio::time::timeout(Duration::from_secs(5), tasks.wait())
            .await
            .expect("done once the late news is sent");
    }

    #[tokio::test]
    async fn settled_waits_for_everything_queued_before_it() {
        let news = SeatNews::default();
        news.start(&TaskTracker::new(), CancellationToken::new());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        news.run(async move {
            let _ = released.await;
        });
        let early = tokio::time::timeout(Duration::from_millis(50), news.settled()).await;
        assert!(
            early.is_err(),
            "settled before the queued broadcast was sent"
        );
        let _ = release.send(());
        tokio::time::timeout(Duration::from_secs(5), news.settled())
            .await
            .expect("settled once the queue ran");
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
