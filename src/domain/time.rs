//! Wall-clock instants as the original API shows them: UTC, ISO-8601 with milliseconds and `Z`.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};

/// Milliseconds since the Unix epoch, the unit the waiting room formula works in.
pub type Millis = i64;

/// A database `DATETIME`, read as UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub NaiveDateTime);

/// The storage text format shared by SQLite and MySQL (`YYYY-MM-DD HH:MM:SS`).
pub const DB_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

impl Instant {
    /// Parses the database text form; fractional seconds are accepted and kept.
    pub fn parse_db(text: &str) -> Option<Self> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(Self)
    }

    /// Milliseconds since the epoch.
    pub fn millis(&self) -> Millis {
        self.0.and_utc().timestamp_millis()
    }

    /// `2027-03-17T11:00:00.000Z`, as Express serialised a JS `Date`.
    pub fn iso(&self) -> String {
        self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// From milliseconds since the epoch.
    pub fn from_millis(ms: Millis) -> Option<Self> {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|d| Self(d.naive_utc()))
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.iso())
    }
}

/// The current time in milliseconds; the one place the domain's callers read the clock.
pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_times_print_like_express() {
        let t = Instant::parse_db("2027-03-17 11:00:00").expect("valid");
        assert_eq!(t.iso(), "2027-03-17T11:00:00.000Z");
        assert_eq!(Instant::from_millis(t.millis()), Some(t));
    }

    #[test]
    fn garbage_is_not_a_time() {
        assert!(Instant::parse_db("yesterday").is_none());
    }
}
