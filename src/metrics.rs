//! Prometheus metrics: what an operator watching an on-sale needs, named in this one place.
//!
//! The recorder is process-wide (the `metrics` facade); `/metrics` renders it. Counters and
//! histograms are recorded where things happen; the waiting-room gauges are refreshed by the
//! sweeper from storage, so every instance reports the shared rooms the same way.

use std::sync::OnceLock;
use std::time::Instant;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::domain::ids::SessionId;
use crate::domain::waiting_room::Place;

/// Latency buckets in seconds, from a fast cache hit to a slow database under load.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder once and returns the handle that renders it.
pub(crate) fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), BATCH_BUCKETS)
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    register_every_series();
                    handle
                }
                // Another recorder is installed (a host embedding the library): render an
                // empty registry rather than fail.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// How many arrivals or departures the waiting room applied in one call (one Lua script run on
/// Redis, one lock on the embedded room), by `op`: `enter` or `leave`. In a storm the batches
/// grow; how large they grow tells an operator how far the room is behind its callers.
const BATCH_SIZE: &str = "ticketclub_waiting_room_batch_size";

/// Buckets of [`BATCH_SIZE`]: a lone call up to a crowd's thousands.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// Seat transition kinds, the `kind` label of `ticketclub_seat_transitions_total`.
const SEAT_TRANSITION_KINDS: &[&str] = &[
    "select", "unselect", "lock", "unlock", "sell", "release", "expire",
];

/// Socket events that are timed, the `event` label of `ticketclub_socket_event_duration_seconds`.
const TIMED_EVENTS: &[&str] = &[
    "check limit",
    "join room",
    "select seat",
    "unselect seat",
    "lock seat",
    "sold seat",
    "unlock seat",
];

/// Registers every series whose labels are known in advance, at zero, so dashboards and alerts
/// see them before the first sale (a series that does not exist yet cannot alert). Adding zero
/// registers without changing a value. Series labelled by session or route appear with them.
fn register_every_series() {
    gauge!("ticketclub_sockets_connected").increment(0.0);
    for via in ["direct", "queue"] {
        counter!("ticketclub_admissions_total", "via" => via).increment(0);
    }
    counter!("ticketclub_queued_total").increment(0);
    for reason in [
        DepartureReason::Bought,
        DepartureReason::Left,
        DepartureReason::WindowExpired,
        DepartureReason::CrashedInstance,
    ] {
        for from in ["page", "queue"] {
            counter!("ticketclub_departures_total", "reason" => reason.label(), "from" => from)
                .increment(0);
        }
    }
    for kind in SEAT_TRANSITION_KINDS {
        counter!("ticketclub_seat_transitions_total", "kind" => *kind).increment(0);
    }
    for name in [
        "ticketclub_orders_total",
        "ticketclub_tickets_sold_total",
        "ticketclub_seat_conflicts_total",
        "ticketclub_db_pool_timeouts_total",
        "ticketclub_attempts_refused_total",
        "ticketclub_record_dropped_total",
        "ticketclub_record_files_written_total",
        "ticketclub_promotions_withdrawn_total",
    ] {
        counter!(name).increment(0);
    }
    // A registered histogram renders its buckets at zero until the first sample.
    let _ = histogram!("ticketclub_db_pool_wait_seconds");
    for op in ["enter", "leave"] {
        let _ = histogram!(BATCH_SIZE, "op" => op);
    }
    for event in TIMED_EVENTS {
        let _ = histogram!("ticketclub_socket_event_duration_seconds", "event" => *event);
    }
}

/// Why a visit to the waiting room ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DepartureReason {
    /// The visitor disconnected after buying.
    Bought,
    /// The visitor disconnected (or left) without buying.
    Left,
    /// The server ended the visit when the purchase window ran out.
    WindowExpired,
    /// The instance holding the visit died and a survivor ended it.
    CrashedInstance,
}

impl DepartureReason {
    fn label(self) -> &'static str {
        match self {
            DepartureReason::Bought => "bought",
            DepartureReason::Left => "left",
            DepartureReason::WindowExpired => "window_expired",
            DepartureReason::CrashedInstance => "crashed_instance",
        }
    }
}

/// A recorded exchange or frame was dropped: the recorder's buffer was full.
pub(crate) fn record_dropped() {
    counter!("ticketclub_record_dropped_total").increment(1);
}

/// A visit's HAR file was written (or rewritten with what came since).
pub(crate) fn record_file_written() {
    counter!("ticketclub_record_files_written_total").increment(1);
}

/// A socket connected (+1) or disconnected (-1).
pub(crate) fn socket_connected(delta: f64) {
    gauge!("ticketclub_sockets_connected").increment(delta);
}

/// Someone got onto a buying page: straight away (`queued == false`) or from the queue.
pub(crate) fn admitted(queued: bool) {
    let via = if queued { "queue" } else { "direct" };
    counter!("ticketclub_admissions_total", "via" => via).increment(1);
}

/// One call to a storage engine (`engine`: `database` or `waiting_room`), by its name.
pub(crate) fn storage_call(engine: &'static str, call: &'static str) {
    counter!("ticketclub_storage_calls_total", "engine" => engine, "call" => call).increment(1);
}

/// Redis promoted someone onto a buying page whose own departure had already reached this
/// instance (it arrived while the batch of leaves that promoted them was on the wire): the
/// promotion is withdrawn (nobody is told or counts it as an admission) and their departure,
/// applied next, admits the next person instead.
pub(crate) fn promotion_withdrawn() {
    counter!("ticketclub_promotions_withdrawn_total").increment(1);
}

/// The waiting room applied `size` arrivals (`op` `enter`) or departures (`leave`) together.
pub(crate) fn waiting_room_batch(op: &'static str, size: usize) {
    histogram!(BATCH_SIZE, "op" => op).record(size as f64);
}

/// Someone joined the queue.
pub(crate) fn queued() {
    counter!("ticketclub_queued_total").increment(1);
}

/// A visit ended.
pub(crate) fn departed(reason: DepartureReason, from: Place) {
    let from = match from {
        Place::Page => "page",
        Place::Queue(_) => "queue",
    };
    counter!("ticketclub_departures_total", "reason" => reason.label(), "from" => from)
        .increment(1);
}

/// Seats changed state: `kind` is select, unselect, lock, unlock, sell, release or expire.
pub(crate) fn seat_transitions(kind: &'static str, seats: usize) {
    counter!("ticketclub_seat_transitions_total", "kind" => kind).increment(seats as u64);
}

/// An order was placed.
pub(crate) fn order_placed(tickets: usize) {
    counter!("ticketclub_orders_total").increment(1);
    counter!("ticketclub_tickets_sold_total").increment(tickets as u64);
}

/// A sign-in or sign-up attempt was refused for being over its limit (429).
pub(crate) fn attempt_refused() {
    counter!("ticketclub_attempts_refused_total").increment(1);
}

/// Someone lost a race for a seat.
pub(crate) fn seat_conflict() {
    counter!("ticketclub_seat_conflicts_total").increment(1);
}

/// The current page occupancy and queue length of a session.
pub(crate) fn room_size(session: SessionId, page: usize, queue: usize) {
    let session = session.to_string();
    gauge!("ticketclub_page_occupancy", "session" => session.clone()).set(page as f64);
    gauge!("ticketclub_queue_length", "session" => session).set(queue as f64);
}

/// Time spent waiting for a database connection; `timed_out` when none came in time.
pub(crate) fn pool_wait(started: Instant, timed_out: bool) {
    histogram!("ticketclub_db_pool_wait_seconds").record(started.elapsed().as_secs_f64());
    if timed_out {
        counter!("ticketclub_db_pool_timeouts_total").increment(1);
    }
}

/// An HTTP request finished.
pub(crate) fn http_request(route: String, method: String, status: u16, started: Instant) {
    histogram!(
        "ticketclub_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => status.to_string()
    )
    .record(started.elapsed().as_secs_f64());
}

/// Times one socket event handler; records when dropped.
pub(crate) struct EventTimer {
    event: &'static str,
    started: Instant,
}

impl EventTimer {
    /// Starts timing `event`.
    pub(crate) fn start(event: &'static str) -> Self {
        Self {
            event,
            started: Instant::now(),
        }
    }
}

impl Drop for EventTimer {
    fn drop(&mut self) {
        histogram!("ticketclub_socket_event_duration_seconds", "event" => self.event)
            .record(self.started.elapsed().as_secs_f64());
    }
}
