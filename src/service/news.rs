//! The news port: what the use cases publish when something changed that people elsewhere
//! must hear about (a seat map moved, the queue moved, a visit ended). The service layer only
//! says *what* happened; the realtime adapter delivers it in each protocol's own words.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::waiting_room::{Admission, Departure};

/// One seat's new state, by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SeatChange {
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
    /// The state it is in now.
    pub status: SeatStatus,
}

/// Why seats changed: a buyer's own action, or the server freeing holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeatCause {
    /// Picked on the map.
    Select,
    /// Put back by its owner.
    Unselect,
    /// Held for the order page.
    Lock,
    /// Given back from the order page.
    Unlock,
    /// Bought.
    Sell,
    /// Freed from this state because the holder's visit ended (left, expired, reaped) or the
    /// hold's deadline passed.
    Release(SeatStatus),
}

/// Seats of one area that changed together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SeatsChanged {
    /// The session.
    pub session: SessionId,
    /// The area whose map changed.
    pub area: AreaId,
    /// Whose action (or whose holds were freed).
    pub by: UserId,
    /// What happened.
    pub cause: SeatCause,
    /// The seats, with their new states.
    pub changes: Vec<SeatChange>,
    /// True when the legacy protocol already tells its own watchers (the legacy adapter echoes
    /// a select or unselect itself, and the old client relays its own lock and sale).
    pub legacy_told: bool,
}

/// Why the server ended a visit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The purchase window ran out.
    WindowExpired,
    /// The instance that held the visit lost its lease (it died, or stalled longer than the
    /// lease) and the visit was ended for it.
    InstanceLost,
    /// An operator took the person off the page or out of the queue.
    Operator,
}

/// Something that changed, for the people who must hear of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum News {
    /// Seats of one area changed.
    Seats(SeatsChanged),
    /// Someone left a session's page or queue: who was admitted, whose position improved.
    QueueMoved {
        /// The session.
        session: SessionId,
        /// Who left.
        departed: UserId,
        /// What the departure changed.
        departure: Departure,
        /// When the waiting room applied it (its notices describe the queue at that moment).
        applied_at: Instant,
    },
    /// Someone's place ended at `at` (published the moment the waiting room applied the
    /// departure, before its seats are released and the queue hears): news that moved them
    /// and was made before `at` need not reach them.
    Left {
        /// The session.
        session: SessionId,
        /// Who left.
        user: UserId,
        /// When the waiting room applied the departure.
        at: Instant,
    },
    /// A fair-start draw placed the early entrants (in the drawn order).
    Drawn {
        /// The session.
        session: SessionId,
        /// Each entrant and where the draw put them.
        placed: Vec<(UserId, Admission)>,
    },
    /// An operator's change admitted people from the queue: departure `i` admits the `i`-th
    /// (nobody left; the page grew or admissions resumed).
    Promoted {
        /// The session.
        session: SessionId,
        /// One per person admitted, each with the queue's new estimates.
        departures: Vec<Departure>,
    },
    /// Everyone queued hears where they stand again (admissions paused or resumed).
    Restated {
        /// The session.
        session: SessionId,
        /// Each queued person, the people ahead of them, and a wait estimate (seconds).
        places: Vec<(UserId, usize, i64)>,
    },
    /// An operator moved the purchase deadline of everyone on the session's page: the page's
    /// connections to this instance hear their new deadline. Every instance publishes this for
    /// itself when it sees the change (a buying-page namespace exists only on the instances
    /// its visitors are connected to, so one instance cannot reach them all).
    WindowsMoved {
        /// The session.
        session: SessionId,
    },
    /// An operator ended the sale: everyone who was queued hears it.
    SaleClosed {
        /// The session.
        session: SessionId,
        /// Who was queued.
        users: Vec<UserId>,
    },
    /// This instance lost its waiting-room lease: peers ended every visit held through it, so
    /// each local connection that entered a waiting room is told its visit ended.
    LeaseLost,
    /// The server ended a visit: tell the visitor, then close their connections to it.
    VisitEnded {
        /// The session.
        session: SessionId,
        /// Whose visit.
        user: UserId,
        /// Why.
        reason: EndReason,
    },
}

/// Delivers news. Implemented by the realtime adapter; delivery keeps the publishing order.
pub(crate) trait Notifier: Send + Sync {
    /// Hands one piece of news over for delivery (never blocks).
    fn publish(&self, news: News);
}

/// The slot the realtime adapter plugs its [`Notifier`] into once it is built; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Newsroom(Arc<OnceLock<Arc<dyn Notifier>>>);

impl Newsroom {
    /// Connects the deliverer (only the first call has an effect).
    pub(crate) fn attach(&self, notifier: Arc<dyn Notifier>) {
        if self.0.set(notifier).is_err() {
            tracing::warn!("a second news deliverer was ignored");
        }
    }

    /// Publishes `news`; without a deliverer (a process that serves no sockets) it is dropped.
    pub(crate) fn publish(&self, news: News) {
        match self.0.get() {
            Some(notifier) => notifier.publish(news),
            None => tracing::debug!("news dropped: no deliverer attached"),
        }
    }
}
