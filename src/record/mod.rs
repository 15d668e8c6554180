//! Recording visits as HAR files (docs/har.md), off unless `TICKETCLUB_RECORD_DIR` is set.
//!
//! The request path only copies what it saw into a bounded channel ([`Recorder::record`]):
//! when the channel is full the item is dropped and counted
//! (`ticketclub_record_dropped_total`), never waited for. One tracked background thread
//! ([`writer`], at the lowest scheduling priority) does the rest: it finds the person (a token's account), groups their HTTP
//! calls and socket connections into a visit, redacts tokens, passwords and cookies, and
//! (re)writes the visit's file atomically, so every file is whole JSON while the server runs.
//!
//! Hook points: HTTP through one tower layer ([`http::RecordLayer`]); sockets through the
//! realtime adapter's tap (`realtime/tap.rs`) where events are received and emitted.

pub(crate) mod http;
mod redact;
pub(crate) mod rooms;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use socketioxide::socket::Sid;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::config::RecordSettings;
use crate::domain::ids::UserId;
use crate::har::Direction;

/// Items the channel holds before recording drops. A crowd of 5,000 that signs in, connects
/// and joins at once hands over about 30,000 to 40,000 (sign-in, connect, frames), and the
/// writer leaves them queued during a burst up to half the channel (`writer::defer`): at
/// 65,536 the half ran out in the join burst and the writer worked through it. An item is a
/// few hundred bytes, so this is tens of MB at most.
const BUFFER: usize = 131_072;

/// What the request path hands the writer.
pub(crate) enum Item {
    /// One HTTP exchange, as seen.
    Http(Box<http::Exchange>),
    /// A socket connection of `user` opened on namespace `ns` (`host` from its handshake): the
    /// writer also writes its CONNECT (token redacted) and the server's answer from it.
    Open {
        conn: Arc<str>,
        /// The socket's id: how a [`Item::Push`] names it.
        sid: Sid,
        user: UserId,
        ns: Arc<str>,
        host: String,
        at: f64,
    },
    /// One Socket.IO packet (its text without the Engine.IO `4`) on a connection.
    Frame {
        conn: Arc<str>,
        direction: Direction,
        text: String,
        at: f64,
    },
    /// An event a client sent, in the parts socketioxide parsed it into: the writer puts the
    /// packet together (`2{namespace,}{ack}{data}`); `data` is a copy of the received text.
    Received {
        conn: Arc<str>,
        ack: Option<i64>,
        data: socketioxide_core::Str,
        at: f64,
    },
    /// One packet the server pushed to a room, received by each recorded socket in it (`sids`,
    /// as [`rooms::Rooms`] lists them, shared between pushes) but `except`: one item for the
    /// room, not one per watcher, so a seat rush's pushes cost the request path one channel
    /// send each and no walk of the room.
    Push {
        sids: Arc<[Sid]>,
        /// The socket a broadcast from a socket leaves out (its sender).
        except: Option<Sid>,
        text: Arc<str>,
        at: f64,
    },
    /// The connection closed.
    Close { conn: Arc<str>, at: f64 },
}

impl Item {
    /// The writer's work in it, in frames: a room push is one item but a frame in the visit of
    /// every socket it reached (a seat rush's pushes are a tenth of its items and nearly all
    /// of the writer's work).
    fn frames(&self) -> usize {
        match self {
            Item::Push { sids, .. } => sids.len().max(1),
            // The connection's entry, its CONNECT and the server's answer: a crowd connecting
            // is as much of a burst as when the request path handed over the two frames.
            Item::Open { .. } => 3,
            _ => 1,
        }
    }
}

/// The handle the adapters record through; cheap to clone.
#[derive(Clone)]
pub(crate) struct Recorder {
    items: mpsc::Sender<Item>,
    /// Frames handed to the writer so far ([`Item::frames`]): how the writer tells a burst.
    handed: Arc<AtomicUsize>,
    /// Reads the person from an HTTP call's token where sampling leaves some people out.
    auth: Arc<Auth>,
    /// Which people are recorded (decided where they connect, so the sockets of people who
    /// are not recorded carry no tap and send nothing down the channel).
    sampler: Sampler,
    /// The rooms the recorded sockets are in (room pushes name their listeners from it).
    pub(crate) rooms: Arc<rooms::Rooms>,
}

/// Picks a share of people to record, the same answer for one person every time (their HTTP
/// calls and every socket of theirs are in or out together) and a fresh pick at each start.
#[derive(Clone, Copy)]
pub(crate) struct Sampler {
    /// People whose hash is below this are recorded (`u64::MAX`: everyone).
    below: u64,
    salt: u64,
}

impl Sampler {
    /// Records a share `sample` (0 to 1) of people.
    pub(crate) fn new(sample: f64) -> Self {
        let mut salt = [0u8; 8];
        // Without randomness the pick is still a fair share, only the same one at each start.
        let _ = getrandom::fill(&mut salt);
        let below = if sample >= 1.0 {
            u64::MAX
        } else {
            (sample.max(0.0) * u64::MAX as f64) as u64
        };
        Self {
            below,
            salt: u64::from_le_bytes(salt),
        }
    }

    /// Whether everyone is recorded.
    pub(crate) fn everyone(&self) -> bool {
        self.below == u64::MAX
    }

    /// Whether `user`'s visits are recorded.
    pub(crate) fn records(&self, user: UserId) -> bool {
        if self.everyone() {
            return true;
        }
        // splitmix64's finaliser: consecutive account ids spread over the whole range.
        let mut x = (user.0 as u64) ^ self.salt;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        x < self.below
    }
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
        let handed = Arc::new(AtomicUsize::new(0));
        let sampler = Sampler::new(settings.sample);
        let writer = writer::Writer::new(settings, auth.clone(), sampler);
        // The writer runs on its own thread at a lower scheduling priority, not on the
        // runtime's workers: serialising and writing a thousand visits takes tens of
        // milliseconds, which on a worker delayed every answer queued behind it (a seat
        // rush's p99 tripled). Tracked through a task that ends when the thread does.
        let runtime = tokio::runtime::Handle::current();
        let handed_to_writer = handed.clone();
        let (ended, thread_ended) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("har-writer".into())
            .spawn(move || {
                writer::lower_priority();
                runtime.block_on(writer.run(rx, handed_to_writer, drain));
                let _ = ended.send(());
            })
            .map_err(|e| anyhow::anyhow!("starting the recorder's writer thread: {e}"))?;
        tasks.spawn(async move {
            let _ = thread_ended.await;
        });
        tracing::info!(dir, sample = settings.sample, session = ?settings.session, "recording visits");
        Ok(Some(Recorder {
            items,
            handed,
            auth,
            sampler,
            rooms: Arc::default(),
        }))
    }

    /// Whether `user`'s visits are recorded (the sampling rate).
    pub(crate) fn records(&self, user: UserId) -> bool {
        self.sampler.records(user)
    }

    /// Whether an HTTP call with this `Authorization` value may be recorded: always when
    /// everyone is, otherwise when its token is a recorded person's. A token that does not
    /// verify is kept (the writer drops what it cannot place), so the answer is only ever
    /// "no" for someone the sampling leaves out, and their call is not even copied.
    pub(crate) fn may_record_call(&self, authorization: &str) -> bool {
        if self.sampler.everyone() {
            return true;
        }
        let token = authorization
            .strip_prefix("Bearer ")
            .unwrap_or(authorization)
            .trim();
        self.auth
            .verify(token)
            .is_none_or(|user| self.records(user))
    }

    /// A recorder handing its items to `items`, with no writer behind it (unit tests).
    #[cfg(test)]
    pub(crate) fn for_tests(items: mpsc::Sender<Item>, auth: Arc<Auth>, sample: f64) -> Self {
        Self {
            items,
            handed: Arc::default(),
            auth,
            sampler: Sampler::new(sample),
            rooms: Arc::default(),
        }
    }

    /// Hands an item to the writer, or drops and counts it when the buffer is full.
    pub(crate) fn record(&self, item: Item) {
        let frames = item.frames();
        if self.items.try_send(item).is_err() {
            crate::metrics::record_dropped();
            return;
        }
        self.handed.fetch_add(frames, Ordering::Relaxed);
    }
}

/// Now, in seconds since the epoch (HAR frame times). Read from the system clock directly:
/// going through a calendar date (`chrono::Utc::now`) cost a few hundred instructions on
/// every recorded frame.
pub(crate) fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_micros() as f64 / 1e6)
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
        let recorder = Recorder::for_tests(items, Arc::new(test_auth()), 1.0);
        let before = dropped(&metrics);
        let started = std::time::Instant::now();
        for _ in 0..3 {
            recorder.record(Item::Close {
                conn: Arc::from("c"),
                at: 0.0,
            });
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        assert_eq!(dropped(&metrics) - before, 2.0);
    }

    #[test]
    fn a_room_push_hands_the_writer_a_frame_per_socket_it_reached_and_an_opening_three() {
        let (items, _rx) = mpsc::channel(8);
        let recorder = Recorder::for_tests(items, Arc::new(test_auth()), 1.0);
        recorder.record(Item::Push {
            sids: (0..110).map(|_| Sid::new()).collect(),
            except: None,
            text: Arc::from("42[\"seats\"]"),
            at: 0.0,
        });
        recorder.record(Item::Close {
            conn: Arc::from("c"),
            at: 0.0,
        });
        assert_eq!(recorder.handed.load(Ordering::Relaxed), 111);
        recorder.record(Item::Open {
            conn: Arc::from("c"),
            sid: Sid::new(),
            user: UserId(1),
            ns: Arc::from("/"),
            host: String::new(),
            at: 0.0,
        });
        assert_eq!(
            recorder.handed.load(Ordering::Relaxed),
            114,
            "an opening is its entry, the CONNECT and the answer"
        );
    }

    fn test_auth() -> Auth {
        Auth::new(Some("recorder-test"), "7d", 4).expect("valid settings")
    }

    #[test]
    fn an_http_call_of_someone_left_out_is_not_copied_and_others_are() {
        let auth = Arc::new(test_auth());
        let (items, _rx) = mpsc::channel(8);
        let recorder = Recorder::for_tests(items, auth.clone(), 0.5);
        let (mut kept, mut left_out) = (0, 0);
        for user in 1..=200 {
            let token = auth.issue(UserId(user), now_epoch() as i64).expect("token");
            let bearer = format!("Bearer {token}");
            if recorder.records(UserId(user)) {
                assert!(recorder.may_record_call(&bearer), "{user} is recorded");
                kept += 1;
            } else {
                assert!(!recorder.may_record_call(&bearer), "{user} is left out");
                left_out += 1;
            }
        }
        assert!(kept > 0 && left_out > 0, "{kept} kept, {left_out} left out");
        assert!(
            recorder.may_record_call("Bearer not-a-token"),
            "the writer decides"
        );
        assert!(recorder.may_record_call("Bearer null"));
    }

    #[test]
    fn sampling_records_a_share_of_people_and_always_the_same_people() {
        let sampler = Sampler::new(0.25);
        let picked: Vec<bool> = (1..=10_000).map(|u| sampler.records(UserId(u))).collect();
        let share = picked.iter().filter(|&&p| p).count();
        assert!((2_200..=2_800).contains(&share), "{share} of 10,000");
        let again: Vec<bool> = (1..=10_000).map(|u| sampler.records(UserId(u))).collect();
        assert_eq!(picked, again, "one person is in or out for good");
        assert!((1..=100).all(|u| Sampler::new(1.0).records(UserId(u))));
        assert!((1..=100).all(|u| !Sampler::new(0.0).records(UserId(u))));
    }
}
