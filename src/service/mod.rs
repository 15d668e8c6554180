//! The use cases of a visit, protocol-neutral: arriving at a session's waiting room, leaving it,
//! picking, holding and buying seats, and the server's own endings (window expiry, reaping).
//!
//! Every adapter (the HTTP routes, the legacy Socket.IO namespace, the app namespaces) parses its
//! wire format into typed ids, calls one function here, and maps the typed outcome or
//! [`ServiceError`] back to its own words. The rules and their order live here once; wire
//! strings never do. What others must hear about is published through [`news`].

pub(crate) mod admin;
pub(crate) mod attempts;
pub(crate) mod estimate;
pub(crate) mod fair;
pub(crate) mod news;
pub(crate) mod resume;
pub(crate) mod seats;
pub(crate) mod sweeper;
pub(crate) mod visit;
pub(crate) mod warmup;

use crate::domain::ids::SeatId;
use crate::storage::StorageError;

/// Why a use case refused, or could not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    /// No such session.
    #[error("no such session")]
    UnknownSession,
    /// The area is not in the session's venue.
    #[error("no such area in this session")]
    UnknownArea,
    /// No seat at a requested position (the first such position, in request order).
    #[error("no seat at row {row}, column {column}")]
    UnknownSeat {
        /// The index of the request item.
        index: usize,
        /// 1-based row asked for.
        row: i64,
        /// 1-based column asked for.
        column: i64,
    },
    /// No seat with this id.
    #[error("no seat {0}")]
    NoSuchSeat(SeatId),
    /// The session has taken place already.
    #[error("the session has ended")]
    SaleEnded,
    /// Tickets are not on sale yet.
    #[error("the sale has not opened")]
    SaleNotOpen,
    /// The account already has a place in the session's waiting room.
    #[error("already in the waiting room")]
    AlreadyInside,
    /// The action needs a place on the session's buying page.
    #[error("not on the buying page")]
    NotAdmitted,
    /// Someone else holds or bought the seat.
    #[error("the seat is taken")]
    SeatTaken,
    /// The seat is not held by the caller in the state the action needs.
    #[error("seat {0} is not held by this account")]
    NotYours(SeatId),
    /// Unlock of a seat that is not locked at all.
    #[error("seat {0} is not locked")]
    NotLocked(SeatId),
    /// The per-account ticket limit: `more` further tickets fit (0: none).
    #[error("ticket limit reached ({more} more allowed)")]
    LimitReached {
        /// How many more tickets the account may still take.
        more: u32,
    },
    /// The seats have no price in this session.
    #[error("no price for these seats in this session")]
    Unpriced,
    /// An operator blocked the account from this session.
    #[error("this account may not take part in this session")]
    Blocked,
    /// The account has no place in the session's waiting room.
    #[error("not in this session's waiting room")]
    NotInside,
    /// An operator's request is out of bounds (the text says how).
    #[error("{0}")]
    Invalid(String),
    /// Storage failed; the detail is for logs only.
    #[error(transparent)]
    Unavailable(#[from] StorageError),
}

/// Shorthand for use-case results.
pub(crate) type ServiceResult<T> = Result<T, ServiceError>;
