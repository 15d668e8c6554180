//! The per-session settings in force on this instance (issue 13), read synchronously by the
//! waiting-room engines on every transition. The database holds them; this copy is written
//! through when this instance changes them and reloaded from the database by a background task
//! a few times a second, so a change made through another instance takes effect here within a
//! second, and a restarted instance starts with them.

use std::collections::{HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{Operations, StorageResult};
use crate::domain::controls::{Defaults, Effective, SessionSettings};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::Rules;

#[derive(Default)]
struct Known {
    sessions: HashMap<SessionId, SessionSettings>,
    blocked: HashSet<(SessionId, UserId)>,
    /// The window version of each session whose visitors here heard their deadline last.
    windows_told: HashMap<SessionId, u32>,
    /// Changes made here; a reload that read the database before the newest of them would
    /// undo it, so it is dropped (the next one brings the database's view).
    writes: u64,
}

/// The defaults and every session's overrides and blocks, in memory.
pub struct RoomControls {
    defaults: Defaults,
    known: RwLock<Known>,
}

impl RoomControls {
    /// Only the defaults, until settings are set or loaded.
    pub fn new(defaults: Defaults) -> Self {
        Self {
            defaults,
            known: RwLock::new(Known::default()),
        }
    }

    /// Defaults taken from waiting-room `rules` and a page place's `lifetime_ms` (engines built
    /// on their own, as the contract tests do).
    pub fn from_rules(rules: Rules, lifetime_ms: Millis) -> Self {
        Self::new(Defaults {
            limit: rules.limit as u32,
            window_ms: rules.window_ms,
            grace_ms: (lifetime_ms - rules.window_ms).max(0),
            ticket_limit: 4,
            buffer_s: rules.buffer_s,
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Known> {
        // Every write replaces whole values: a panic cannot leave them half-made.
        self.known.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Known> {
        self.known.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The deployment's defaults.
    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// What an operator set for `session`.
    pub fn overrides(&self, session: SessionId) -> SessionSettings {
        self.read()
            .sessions
            .get(&session)
            .copied()
            .unwrap_or_default()
    }

    /// The settings in force for `session`.
    pub fn effective(&self, session: SessionId) -> Effective {
        self.defaults.apply(&self.overrides(session))
    }

    /// The waiting-room rules of `session`.
    pub fn rules(&self, session: SessionId) -> Rules {
        self.defaults.rules(&self.overrides(session))
    }

    /// The highest ticket limit of any session (a bound on seat lists before their session is
    /// known).
    pub fn most_tickets(&self) -> u32 {
        let known = self.read();
        let overridden = known.sessions.values().filter_map(|s| s.ticket_limit);
        overridden.fold(self.defaults.ticket_limit, u32::max)
    }

    /// Sessions with settings of their own (the sweeper fills their pages).
    pub fn sessions(&self) -> Vec<SessionId> {
        self.read().sessions.keys().copied().collect()
    }

    /// Replaces `session`'s settings here (after storing them).
    pub fn set(&self, session: SessionId, settings: SessionSettings) {
        let mut known = self.write();
        known.writes += 1;
        if settings.is_default() {
            known.sessions.remove(&session);
        } else {
            known.sessions.insert(session, settings);
        }
    }

    /// Whether an operator blocked `user` from `session`.
    pub fn is_blocked(&self, session: SessionId, user: UserId) -> bool {
        self.read().blocked.contains(&(session, user))
    }

    /// Records a block here (after storing it).
    pub fn block(&self, session: SessionId, user: UserId) {
        let mut known = self.write();
        known.writes += 1;
        known.blocked.insert((session, user));
    }

    /// Sessions whose purchase windows an operator extended since the last call (their
    /// visitors connected here must hear their new deadline). Called once at startup to take
    /// note of where each session stands.
    pub fn window_changes(&self) -> Vec<SessionId> {
        let mut known = self.write();
        let current: Vec<(SessionId, u32)> = known
            .sessions
            .iter()
            .map(|(s, settings)| (*s, settings.window_version))
            .collect();
        let mut changed = Vec::new();
        for (session, version) in current {
            let told = known.windows_told.insert(session, version);
            if told.is_some_and(|t| t != version) || (told.is_none() && version > 0) {
                changed.push(session);
            }
        }
        changed
    }

    /// Loads every session's settings and blocks from `db`, replacing what was known.
    pub async fn reload(&self, db: &dyn Operations) -> StorageResult<()> {
        let writes = self.read().writes;
        let sessions = db.session_settings().await?;
        let blocked = db.blocked_accounts().await?;
        let mut known = self.write();
        if known.writes != writes {
            return Ok(());
        }
        known.sessions = sessions.into_iter().collect();
        known.blocked = blocked.into_iter().collect();
        Ok(())
    }
}
