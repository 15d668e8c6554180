//! Every Redis key name of the waiting room, made in this one place.

use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::time::Millis;

/// How long a waiting-room key outlives its last use (a day: longer than any queue or purchase
/// window). Every write refreshes it, so nothing this deployment leaves behind (a stopped
/// instance's indexes, an ended sale's counter) stays in Redis for good.
pub(super) const IDLE_TTL_MS: Millis = 24 * 3600 * 1000;

/// The keys of one session's room; they share the hash tag `{<session>}` (one cluster slot).
pub(super) struct RoomKeys {
    /// ZSET user → entry time (ms): the buying page.
    pub page: String,
    /// ZSET user → ticket: the FIFO queue.
    pub queue: String,
    /// HASH user → holder token.
    pub holder: String,
    /// STRING: the queue's ticket counter.
    pub seq: String,
    /// HASH user → when they joined the queue (ms): the operator's wait figures.
    pub joined: String,
    /// LIST of `at:waited` (ms) for the latest admissions onto the page, newest first.
    pub admits: String,
    /// HASH `admits` → how many the page may hold, as an operator last set it (shared, so a
    /// change is in force on every instance at once).
    pub rules: String,
    /// ZSET user → queue ticket of the people told every step forward (the legacy protocol):
    /// the only ones departures list, so a line of app clients costs a departure nothing.
    pub told: String,
    /// HASH user → when admitted (ms), for admitted people who ask where they stand, until the
    /// instance that admitted them said `admitted` (a crash in between is made good by the
    /// instance that holds their connection).
    pub unannounced: String,
}

impl RoomKeys {
    /// The keys of `session` under `prefix`.
    pub(super) fn new(prefix: &str, session: SessionId) -> Self {
        let tag = format!("{prefix}{{{session}}}");
        Self {
            page: format!("{tag}:page"),
            queue: format!("{tag}:queue"),
            holder: format!("{tag}:holder"),
            seq: format!("{tag}:seq"),
            joined: format!("{tag}:joined"),
            admits: format!("{tag}:admits"),
            rules: format!("{tag}:rules"),
            told: format!("{tag}:told"),
            unannounced: format!("{tag}:unannounced"),
        }
    }

    /// The keys of a departure script (leave.lua, leave_batch.lua, expire.lua), in their order.
    pub(super) fn departure(&self) -> Vec<String> {
        [
            &self.page,
            &self.queue,
            &self.holder,
            &self.joined,
            &self.admits,
            &self.rules,
            &self.told,
            &self.unannounced,
        ]
        .map(String::clone)
        .to_vec()
    }
}

/// STRING: the change counter of one area's seat map in one session (same hash tag as the
/// session's room).
pub(super) fn seat_version(prefix: &str, session: SessionId, area: AreaId) -> String {
    format!("{prefix}{{{session}}}:seats:{area}:version")
}

/// HASH: the session's sold-count tally (user → SOLD seats, `f:<user>` → orders in flight,
/// `loaded`), same hash tag as the session's room.
pub(super) fn sold(prefix: &str, session: SessionId) -> String {
    format!("{prefix}{{{session}}}:sold")
}

/// The deployment-wide keys (indexes and leases) under a prefix.
pub(super) struct Keys<'a>(pub &'a str);

impl Keys<'_> {
    /// SET of sessions whose rooms may be non-empty (walked by the expiry sweep).
    pub(super) fn sessions(&self) -> String {
        format!("{}sessions", self.0)
    }

    /// SET of instances that have held a lease.
    pub(super) fn instances(&self) -> String {
        format!("{}instances", self.0)
    }

    /// STRING with a TTL: an instance's lease (hash tag `{<instance>}`, shared with its fence).
    pub(super) fn lease(&self, instance: &str) -> String {
        format!("{}instance:{{{instance}}}", self.0)
    }

    /// STRING with a TTL: set when a peer declared the instance dead; its lease is then never
    /// renewed again.
    pub(super) fn fence(&self, instance: &str) -> String {
        format!("{}instance:{{{instance}}}:fenced", self.0)
    }

    /// SET of `session:user` places an instance has held.
    pub(super) fn places(&self, instance: &str) -> String {
        format!("{}instance:{instance}:places", self.0)
    }

    /// SET of sessions where an account may hold a place.
    pub(super) fn user(&self, user: UserId) -> String {
        format!("{}user:{user}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_keys_share_one_hash_tag() {
        let k = RoomKeys::new("tc:", SessionId(7));
        let sold = sold("tc:", SessionId(7));
        for key in [
            &k.page,
            &k.queue,
            &k.holder,
            &k.seq,
            &k.joined,
            &k.admits,
            &k.rules,
            &k.told,
            &k.unannounced,
            &sold,
        ] {
            assert!(key.starts_with("tc:{7}:"), "{key}");
        }
    }
}
