//! Per-session lines of leaves waiting to be applied together, for the engines that batch their
//! departures (`redis/departures.rs`, `memory.rs`).
//!
//! Every leave joins its session's line; the caller that finds nobody running the line runs it
//! (its own leave first, with whatever is waiting) until nothing is waiting, so nothing runs
//! outside a caller's task and there is no background task to drain at shutdown. A caller
//! running a line that is dropped mid-batch releases it through [`Turn`]: the waiters' answer
//! channels close and they join again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::ids::SessionId;

struct Line<R> {
    /// A caller is running this session's batches.
    running: bool,
    waiting: Vec<R>,
}

/// The requests waiting per session.
pub(crate) struct Lines<R>(Mutex<HashMap<SessionId, Line<R>>>);

impl<R> Default for Lines<R> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<R> Lines<R> {
    fn lines(&self) -> MutexGuard<'_, HashMap<SessionId, Line<R>>> {
        // Each method completes or does nothing: the map behind a poisoned lock is sound.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `request`; true when the caller is to run the line (nobody was running it).
    pub(crate) fn join(&self, session: SessionId, request: R) -> bool {
        let mut lines = self.lines();
        let line = lines.entry(session).or_insert_with(|| Line {
            running: false,
            waiting: Vec::new(),
        });
        line.waiting.push(request);
        !std::mem::replace(&mut line.running, true)
    }

    /// The requests to apply now (all that are waiting); when none are, the line goes idle and
    /// the running caller stops.
    pub(crate) fn take(&self, session: SessionId) -> Vec<R> {
        let mut lines = self.lines();
        let batch = lines
            .get_mut(&session)
            .map(|l| std::mem::take(&mut l.waiting))
            .unwrap_or_default();
        if batch.is_empty() {
            lines.remove(&session);
        }
        batch
    }

    /// Whether a request waiting in `session`'s line matches `is`.
    pub(crate) fn any_waiting(&self, session: SessionId, is: impl Fn(&R) -> bool) -> bool {
        self.lines()
            .get(&session)
            .is_some_and(|l| l.waiting.iter().any(is))
    }

    /// Starts running `session`'s line; the turn must be [`Turn::finish`]ed once [`Lines::take`]
    /// came back empty.
    pub(crate) fn turn(&self, session: SessionId) -> Turn<'_, R> {
        Turn {
            lines: self,
            session,
            finished: false,
        }
    }
}

/// Resets a line if the caller running it is dropped before the line went idle: the waiters
/// are released (their answer channels close, they join again and one of them runs the line).
pub(crate) struct Turn<'a, R> {
    lines: &'a Lines<R>,
    session: SessionId,
    finished: bool,
}

impl<R> Turn<'_, R> {
    /// The line went idle.
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

impl<R> Drop for Turn<'_, R> {
    fn drop(&mut self) {
        if !self.finished {
            self.lines.lines().remove(&self.session);
        }
    }
}
