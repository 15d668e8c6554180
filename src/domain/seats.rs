//! Seat states and the per-account ticket limit.
//!
//! The numbers are the original wire values (`configs.js`): the database stores 1, 2, 3 and 5;
//! 4 ("my selection") exists only in the browser.

/// The state of one seat in one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeatStatus {
    /// Free to select.
    Empty,
    /// Held on the order page by its owner (`POST /seat/lock`).
    Locked,
    /// Bought; final.
    Sold,
    /// Picked on the seat map by its owner, not yet locked.
    Selected,
}

impl SeatStatus {
    /// The wire and storage number.
    pub fn id(self) -> i64 {
        match self {
            SeatStatus::Empty => 1,
            SeatStatus::Locked => 2,
            SeatStatus::Sold => 3,
            SeatStatus::Selected => 5,
        }
    }

    /// Reads a stored number; 4 is client-only and never stored.
    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            1 => Some(SeatStatus::Empty),
            2 => Some(SeatStatus::Locked),
            3 => Some(SeatStatus::Sold),
            5 => Some(SeatStatus::Selected),
            _ => None,
        }
    }
}

/// How many tickets one account may hold or buy per session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TicketLimit(pub u32);

/// Why an account may not take more seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitCheck {
    /// There is room for the request.
    Allowed,
    /// The account already has the whole allowance.
    Exhausted,
    /// Only this many more fit.
    OnlyMore(u32),
}

impl TicketLimit {
    /// Checks a request for `wanted` more seats when `already` count toward the limit.
    pub fn check(self, already: u32, wanted: u32) -> LimitCheck {
        if already >= self.0 {
            LimitCheck::Exhausted
        } else if wanted > self.0 - already {
            LimitCheck::OnlyMore(self.0 - already)
        } else {
            LimitCheck::Allowed
        }
    }
}

/// The seat id in the seed layout: areas of 9×9 seats numbered row by row.
pub fn seed_seat_id(area: i64, row: i64, column: i64) -> i64 {
    (area - 1) * 81 + (row - 1) * 9 + column
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbers_round_trip_and_four_is_never_stored() {
        for s in [
            SeatStatus::Empty,
            SeatStatus::Locked,
            SeatStatus::Sold,
            SeatStatus::Selected,
        ] {
            assert_eq!(SeatStatus::from_id(s.id()), Some(s));
        }
        assert_eq!(SeatStatus::from_id(4), None);
    }

    #[test]
    fn the_limit_counts_what_is_already_held() {
        let limit = TicketLimit(4);
        assert_eq!(limit.check(0, 4), LimitCheck::Allowed);
        assert_eq!(limit.check(1, 4), LimitCheck::OnlyMore(3));
        assert_eq!(limit.check(4, 1), LimitCheck::Exhausted);
        assert_eq!(limit.check(5, 0), LimitCheck::Exhausted);
    }

    #[test]
    fn seed_seat_ids_follow_the_original_layout() {
        assert_eq!(seed_seat_id(1, 1, 1), 1);
        assert_eq!(seed_seat_id(1, 9, 9), 81);
        assert_eq!(seed_seat_id(9, 9, 9), 729);
    }
}
