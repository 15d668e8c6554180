//! When a peer instance whose lease is missing may be reaped.
//!
//! A lease can lapse because its instance died, or because Redis stalled longer than the lease
//! and the instance could not renew it. The second must not cost the peer its visitors, so a
//! peer is declared dead only after its lease was seen missing for a whole lease lifetime of
//! looks in which Redis answered; any look that failed, or a gap between looks longer than two
//! leases, starts the count again.

use std::collections::HashMap;

use super::time::Millis;

/// What one instance has seen of its peers' leases.
#[derive(Debug, Default)]
pub struct PeerWatch {
    /// When each peer's lease was first seen missing, in the current unbroken run of looks.
    missing_since: HashMap<String, Millis>,
    /// The last look at which Redis answered.
    last_look: Option<Millis>,
}

impl PeerWatch {
    /// A look failed (Redis did not answer): nothing seen so far counts any more.
    pub fn blind(&mut self) {
        self.missing_since.clear();
        self.last_look = None;
    }

    /// A look starts at `now`. After a gap longer than two leases (this instance itself
    /// stalled) the earlier sightings no longer prove a peer stayed silent. Two, not one: looks
    /// come about once a second, so with a one-second lease a single lease would be no gap.
    pub fn look(&mut self, now: Millis, ttl: Millis) {
        if self.last_look.is_some_and(|last| now - last > 2 * ttl) {
            self.missing_since.clear();
        }
        self.last_look = Some(now);
    }

    /// Records whether `peer`'s lease exists at `now`; true when it has been missing for a
    /// whole `ttl` of answered looks (the peer may then be fenced and reaped).
    pub fn seen(&mut self, peer: &str, alive: bool, now: Millis, ttl: Millis) -> bool {
        if alive {
            self.missing_since.remove(peer);
            return false;
        }
        let since = *self.missing_since.entry(peer.to_string()).or_insert(now);
        now - since >= ttl
    }

    /// Stops watching `peer` (reaped, or fenced by someone else).
    pub fn forget(&mut self, peer: &str) {
        self.missing_since.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Millis = 2_000;

    #[test]
    fn a_lease_missing_for_a_whole_ttl_of_answered_looks_is_dead() {
        let mut watch = PeerWatch::default();
        for now in (0..TTL).step_by(500) {
            watch.look(now, TTL);
            assert!(!watch.seen("b", false, now, TTL), "at {now}");
        }
        watch.look(TTL, TTL);
        assert!(watch.seen("b", false, TTL, TTL));
    }

    #[test]
    fn a_lease_that_comes_back_starts_the_count_again() {
        let mut watch = PeerWatch::default();
        watch.look(0, TTL);
        watch.seen("b", false, 0, TTL);
        watch.look(1_000, TTL);
        watch.seen("b", true, 1_000, TTL);
        watch.look(2_500, TTL);
        assert!(!watch.seen("b", false, 2_500, TTL));
    }

    #[test]
    fn a_failed_look_or_a_long_gap_forgets_what_was_seen() {
        let mut watch = PeerWatch::default();
        watch.look(0, TTL);
        watch.seen("b", false, 0, TTL);
        watch.blind();
        watch.look(TTL, TTL);
        assert!(!watch.seen("b", false, TTL, TTL), "after a failed look");

        let mut watch = PeerWatch::default();
        watch.look(0, TTL);
        watch.seen("b", false, 0, TTL);
        // This instance stalled for longer than two leases: the first look after.
        watch.look(5_000, TTL);
        assert!(!watch.seen("b", false, 5_000, TTL), "after a gap");

        // Looks a little more than one lease apart still count (a one-second lease).
        let mut watch = PeerWatch::default();
        for now in [0, 1_100, 2_200] {
            watch.look(now, 1_000);
            watch.seen("b", false, now, 1_000);
        }
        assert!(watch.seen("b", false, 2_200, 1_000));
    }
}
