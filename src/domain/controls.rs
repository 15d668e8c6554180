//! Per-session settings an operator changes during a sale (issue 13): the page size, the
//! purchase window, the ticket limit, whether admissions are paused and whether the sale was
//! closed. Each session stores only what differs from the deployment's defaults (the
//! environment), so a default changed at the next deploy reaches every session not overridden.

use serde::{Deserialize, Serialize};

use super::time::Millis;
use super::waiting_room::Rules;

/// What an operator set for one session; `None` keeps the deployment's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionSettings {
    /// People on the buying page at once.
    pub limit: Option<u32>,
    /// The purchase window, in seconds.
    pub window_seconds: Option<u64>,
    /// Tickets per account.
    pub ticket_limit: Option<u32>,
    /// Admissions stopped: arrivals queue, departures admit nobody.
    pub paused: bool,
    /// The sale was ended by the operator: nobody new may join.
    pub closed: bool,
    /// How many times an operator gave the page's visitors more time (every instance that
    /// sees it rise tells its own buying-page connections their new deadline).
    #[serde(default)]
    pub window_version: u32,
}

impl SessionSettings {
    /// True when nothing differs from the defaults (no row needs keeping).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The deployment's defaults, from the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// People on the buying page at once.
    pub limit: u32,
    /// The purchase window (ms).
    pub window_ms: Millis,
    /// How long past the window a page place lasts before the server ends it (ms).
    pub grace_ms: Millis,
    /// Tickets per account per session.
    pub ticket_limit: u32,
    /// Seconds added to every estimate.
    pub buffer_s: i64,
}

/// The settings in force for one session: its overrides over the defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effective {
    /// People on the buying page at once.
    pub limit: u32,
    /// The purchase window (ms).
    pub window_ms: Millis,
    /// How long a page place lasts before the server ends it: window plus grace (ms).
    pub lifetime_ms: Millis,
    /// Tickets per account.
    pub ticket_limit: u32,
    /// Admissions stopped.
    pub paused: bool,
    /// The sale was ended by the operator.
    pub closed: bool,
}

impl Defaults {
    /// The settings in force for a session with `overrides`.
    pub fn apply(&self, overrides: &SessionSettings) -> Effective {
        let window_ms = overrides
            .window_seconds
            .map_or(self.window_ms, |s| (s as Millis).saturating_mul(1000));
        Effective {
            limit: overrides.limit.unwrap_or(self.limit).max(1),
            window_ms,
            lifetime_ms: window_ms + self.grace_ms,
            ticket_limit: overrides.ticket_limit.unwrap_or(self.ticket_limit),
            paused: overrides.paused,
            closed: overrides.closed,
        }
    }

    /// The waiting-room rules of a session with `overrides`.
    pub fn rules(&self, overrides: &SessionSettings) -> Rules {
        let e = self.apply(overrides);
        Rules {
            limit: e.limit as usize,
            window_ms: e.window_ms,
            buffer_s: self.buffer_s,
            paused: e.paused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: Defaults = Defaults {
        limit: 3,
        window_ms: 600_000,
        grace_ms: 10_000,
        ticket_limit: 4,
        buffer_s: 10,
    };

    #[test]
    fn a_session_without_overrides_follows_the_defaults() {
        let e = DEFAULTS.apply(&SessionSettings::default());
        assert_eq!((e.limit, e.window_ms, e.lifetime_ms), (3, 600_000, 610_000));
        assert_eq!((e.ticket_limit, e.paused, e.closed), (4, false, false));
        assert!(SessionSettings::default().is_default());
    }

    #[test]
    fn overrides_replace_each_default_and_a_paused_room_admits_nobody() {
        let o = SessionSettings {
            limit: Some(10),
            window_seconds: Some(60),
            ticket_limit: Some(2),
            paused: true,
            closed: false,
            window_version: 0,
        };
        let e = DEFAULTS.apply(&o);
        assert_eq!((e.limit, e.window_ms, e.lifetime_ms), (10, 60_000, 70_000));
        assert_eq!(e.ticket_limit, 2);
        let rules = DEFAULTS.rules(&o);
        assert_eq!((rules.limit, rules.admits()), (10, 0));
        let running = DEFAULTS.rules(&SessionSettings { paused: false, ..o });
        assert_eq!(running.admits(), 10);
    }
}
