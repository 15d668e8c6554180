//! Recording visits as HAR files (docs/har.md), off unless `TICKETCLUB_RECORD_DIR` is set.
//!
//! The request path only copies what it saw into a bounded channel ([`Recorder::record`]):
//! when the channel is full the item is dropped and counted
//! (`ticketclub_record_dropped_total`), never waited for. One tracked background task
//! ([`writer`]) does the rest: it finds the person (a token's account), groups their HTTP
//! calls and socket connections into a visit, redacts tokens, passwords and cookies, and
//! (re)writes the visit's file atomically, so every file is whole JSON while the server runs.
//!
//! Hook points: HTTP through one middleware ([`http::record_exchange`]); sockets through the
//! realtime adapter's tap (`realtime/tap.rs`) where events are received and emitted.

pub(crate) mod http;
mod redact;
mod writer;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::config::RecordSettings;
use crate::domain::ids::UserId;
use crate::har::Direction;

/// Items the channel holds before recording drops (a burst of a few thousand events).
const BUFFER: usize = 16_384;

/// What the request path hands the writer.
pub(crate) enum Item {
    /// One HTTP exchange, as seen.
    Http(Box<http::Exchange>),
    /// A socket connection of `user` opened on namespace `ns` (`host` from its handshake).
    Open {
        conn: String,
        user: UserId,
        ns: String,
        host: String,
        at: f64,
    },
    /// One Socket.IO packet (its text without the Engine.IO `4`) on a connection.
    Frame {
        conn: String,
        direction: Direction,
        text: String,
        at: f64,
    },
    /// The connection closed.
    Close { conn: String, at: f64 },
}

/// The handle the adapters record through; cheap to clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    items: mpsc::Sender<Item>,
}

impl Recorder {
    /// Starts the writer on `tasks` when `settings` name a folder; `None` otherwise.
    /// The writer drains what is queued and writes every visit once `drain` is cancelled.
    pub(crate) fn start(
        settings: &RecordSettings,
        auth: Arc<Auth>,
        tasks: &TaskTracker,
        drain: CancellationToken,
    ) -> anyhow::Result<Option<Recorder>> {
        let Some(dir) = settings.dir.as_deref() else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating the recording folder {dir}: {e}"))?;
        let (items, rx) = mpsc::channel(BUFFER);
        let writer = writer::Writer::new(settings, auth);
        tasks.spawn(writer.run(rx, drain));
        tracing::info!(dir, sample = settings.sample, session = ?settings.session, "recording visits");
        Ok(Some(Recorder { items }))
    }

    /// Hands an item to the writer, or drops and counts it when the buffer is full.
    pub(crate) fn record(&self, item: Item) {
        if self.items.try_send(item).is_err() {
            crate::metrics::record_dropped();
        }
    }
}

/// Now, in seconds since the epoch (HAR frame times).
pub(crate) fn now_epoch() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(metrics: &metrics_exporter_prometheus::PrometheusHandle) -> f64 {
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix("ticketclub_record_dropped_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_instead_of_waiting() {
        let metrics = crate::metrics::install();
        let (items, _writer_is_stuck) = mpsc::channel(1);
        let recorder = Recorder { items };
        let before = dropped(&metrics);
        let started = std::time::Instant::now();
        for _ in 0..3 {
            recorder.record(Item::Close {
                conn: "c".into(),
                at: 0.0,
            });
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        assert_eq!(dropped(&metrics) - before, 2.0);
    }
}
