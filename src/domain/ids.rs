//! Identifier newtypes, parsed once at the edge so a seat id can never be passed as a user id.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// An account.
    UserId
);
id_type!(
    /// A concert (one performer, several sessions).
    EventId
);
id_type!(
    /// One dated performance of an event; the unit that has a waiting room.
    SessionId
);
id_type!(
    /// A block of seats in a venue, priced per session.
    AreaId
);
id_type!(
    /// A physical seat (area, row, column).
    SeatId
);
id_type!(
    /// A placed order.
    OrderId
);
