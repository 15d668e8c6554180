//! The in-process waiting room of the embedded default: one [`Room`] per session under one lock.
//!
//! Each call is a single critical section, so a transition is atomic like its Redis Lua twin.
//! Leaves that arrive together (every leave ready to run when the first one's task yields) are
//! applied as one batch, as on Redis (`redis/departures.rs`): everyone behind them is told once.
//! The lock is a plain mutex held for microseconds and never across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use tokio::sync::oneshot;

use super::controls::RoomControls;
use super::lines::Lines;
use super::{Drawn, Expiry, RECENT_ADMISSIONS, SeatVersions, StorageResult, WaitingRoom};
use crate::domain::draw::{self, DrawRecord};
use crate::domain::ids::{AreaId, SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{
    Admission, Admitted, Departure, Holder, Moves, Place, Room, Rules,
};

/// Waiting rooms kept in this process's memory.
pub struct MemoryWaitingRoom {
    /// Each session's rules and page lifetime (operator settings over the defaults).
    controls: Arc<RoomControls>,
    rooms: Mutex<HashMap<SessionId, Room>>,
    /// People who left the front of each session's queue so far (see `WaitingRoom::progress`);
    /// kept apart from the rooms, which are dropped when they empty.
    progress: Mutex<HashMap<SessionId, u64>>,
    /// Fair start: early entrants per session, and the draws that placed them.
    early: Mutex<Early>,
    /// The latest admissions per session, newest first (kept apart from the rooms too).
    recent: Mutex<HashMap<SessionId, VecDeque<Admitted>>>,
    /// Leaves waiting to be applied together: in a crowd's departure one leave per call told
    /// everyone behind each leaver, so the notices grew with the square of the crowd.
    leaving: Lines<Leave>,
}

/// One caller's leave, waiting for a batch.
struct Leave {
    user: UserId,
    /// Only this connection's place; `None`: whoever holds it.
    holder: Option<Holder>,
    now: Millis,
    answer: oneshot::Sender<Option<Departure>>,
}

/// Early entrants waiting for their session's draw, and the draws that ran.
#[derive(Default)]
struct Early {
    entrants: HashMap<SessionId, HashMap<UserId, Holder>>,
    draws: HashMap<SessionId, (DrawRecord, HashMap<UserId, usize>)>,
}

impl MemoryWaitingRoom {
    /// Empty rooms with these rules; page visits last `lifetime_ms` (window plus grace).
    pub fn new(rules: Rules, lifetime_ms: Millis) -> Self {
        Self {
            controls: Arc::new(RoomControls::from_rules(rules, lifetime_ms)),
            rooms: Mutex::new(HashMap::new()),
            progress: Mutex::new(HashMap::new()),
            early: Mutex::new(Early::default()),
            recent: Mutex::new(HashMap::new()),
            leaving: Lines::default(),
        }
    }

    /// Takes each session's rules from `controls` (the operator's settings) from now on.
    pub fn with_controls(mut self, controls: Arc<RoomControls>) -> Self {
        self.controls = controls;
        self
    }

    /// Remembers what `room` admitted since the last look.
    fn keep_admissions(&self, session: SessionId, room: &mut Room) {
        let admitted = room.take_admissions();
        if admitted.is_empty() {
            return;
        }
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let list = recent.entry(session).or_default();
        for a in admitted {
            list.push_front(a);
        }
        list.truncate(RECENT_ADMISSIONS);
    }

    fn early(&self) -> MutexGuard<'_, Early> {
        self.early.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn progress_of(&self) -> MutexGuard<'_, HashMap<SessionId, u64>> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `n` more people off the front of `session`'s queue.
    fn moved(&self, session: SessionId, n: u64) {
        if n > 0 {
            *self.progress_of().entry(session).or_default() += n;
        }
    }

    /// Applies leaves that arrived together in one critical section ([`Room::leave_many`]) and
    /// answers each caller.
    fn leave_batch(&self, session: SessionId, batch: Vec<Leave>) {
        let rules = self.controls.rules(session);
        let leavers: Vec<(UserId, Option<Holder>)> =
            batch.iter().map(|l| (l.user, l.holder.clone())).collect();
        let now = batch.iter().map(|l| l.now).max().unwrap_or_default();
        let mut rooms = self.rooms();
        let departures = match rooms.get_mut(&session) {
            Some(room) => {
                let departures = room.leave_many(&rules, &leavers, now);
                self.keep_admissions(session, room);
                if room.is_empty() {
                    rooms.remove(&session);
                }
                departures
            }
            None => Vec::new(),
        };
        drop(rooms);
        let moved: u64 = departures
            .iter()
            .flatten()
            .map(|d| u64::from(matches!(d.from, Place::Queue(_))) + u64::from(d.promoted.is_some()))
            .sum();
        self.moved(session, moved);
        let mut departures = departures.into_iter();
        for leave in batch {
            // A caller that gave up no longer needs its answer.
            let _ = leave.answer.send(departures.next().flatten());
        }
    }

    /// Applies the leaves of `leavers` (with a holder: only that connection's place) as one
    /// batch, as leaves arriving together are; one departure per leaver, in order (`None` where
    /// nothing was removed). For tests and tools: the server's leaves batch themselves.
    pub fn leave_all(
        &self,
        session: SessionId,
        leavers: &[(UserId, Option<Holder>)],
        now: Millis,
    ) -> Vec<Option<Departure>> {
        let (batch, answers): (Vec<Leave>, Vec<_>) = leavers
            .iter()
            .map(|(user, holder)| {
                let (answer, rx) = oneshot::channel();
                let leave = Leave {
                    user: *user,
                    holder: holder.clone(),
                    now,
                    answer,
                };
                (leave, rx)
            })
            .unzip();
        self.leave_batch(session, batch);
        answers
            .into_iter()
            .map(|mut rx| rx.try_recv().ok().flatten())
            .collect()
    }

    fn rooms(&self) -> MutexGuard<'_, HashMap<SessionId, Room>> {
        // A panic elsewhere cannot leave a Room half-updated (every method completes or does
        // nothing), so the data behind a poisoned lock is still sound.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl WaitingRoom for MemoryWaitingRoom {
    async fn enter(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
    ) -> StorageResult<Admission> {
        let rules = self.controls.rules(session);
        let mut rooms = self.rooms();
        let room = rooms.entry(session).or_default();
        let admission = room.enter(&rules, user, holder, now);
        self.keep_admissions(session, room);
        Ok(admission)
    }

    async fn leave(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
        now: Millis,
    ) -> StorageResult<Option<Departure>> {
        loop {
            let (answer, rx) = oneshot::channel();
            let request = Leave {
                user,
                holder: holder.clone(),
                now,
                answer,
            };
            if self.leaving.join(session, request) {
                let turn = self.leaving.turn(session);
                loop {
                    // Lets the other leaves that are ready to run (a crowd closing at once)
                    // join this batch first; a lone leave is applied after one yield.
                    tokio::task::yield_now().await;
                    let batch = self.leaving.take(session);
                    if batch.is_empty() {
                        break;
                    }
                    crate::metrics::waiting_room_batch("leave", batch.len());
                    self.leave_batch(session, batch);
                }
                turn.finish();
            }
            match rx.await {
                Ok(departure) => return Ok(departure),
                // The caller running the line was dropped before applying this leave.
                Err(_) => continue,
            }
        }
    }

    async fn place(&self, session: SessionId, user: UserId) -> StorageResult<Option<Place>> {
        Ok(self.rooms().get(&session).and_then(|room| room.place(user)))
    }

    async fn admitted_at(&self, session: SessionId, user: UserId) -> StorageResult<Option<Millis>> {
        Ok(self
            .rooms()
            .get(&session)
            .and_then(|room| room.admitted_at(user)))
    }

    async fn sessions_of(&self, user: UserId) -> StorageResult<Vec<SessionId>> {
        let rooms = self.rooms();
        Ok(rooms
            .iter()
            .filter(|(_, room)| room.place(user).is_some())
            .map(|(session, _)| *session)
            .collect())
    }

    async fn reap(&self, _now: Millis) -> StorageResult<Vec<Expiry>> {
        Ok(Vec::new())
    }

    async fn enter_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
    ) -> StorageResult<()> {
        let mut early = self.early();
        early
            .entrants
            .entry(session)
            .or_default()
            .insert(user, holder);
        Ok(())
    }

    async fn is_early(&self, session: SessionId, user: UserId) -> StorageResult<bool> {
        let early = self.early();
        Ok(early
            .entrants
            .get(&session)
            .is_some_and(|line| line.contains_key(&user)))
    }

    async fn leave_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
    ) -> StorageResult<bool> {
        let mut early = self.early();
        let Some(line) = early.entrants.get_mut(&session) else {
            return Ok(false);
        };
        let held = line
            .get(&user)
            .is_some_and(|h| holder.as_ref().is_none_or(|want| want == h));
        if held {
            line.remove(&user);
        }
        Ok(held)
    }

    async fn early_sessions(&self) -> StorageResult<Vec<SessionId>> {
        Ok(self.early().entrants.keys().copied().collect())
    }

    async fn draw(
        &self,
        session: SessionId,
        seed: u64,
        now: Millis,
    ) -> StorageResult<Option<Drawn>> {
        let mut early = self.early();
        if let Some((record, _)) = early.draws.get(&session) {
            return Ok(Some(Drawn {
                record: record.clone(),
                fresh: false,
                placed: Vec::new(),
            }));
        }
        let entrants = early.entrants.remove(&session).unwrap_or_default();
        let ids: Vec<UserId> = entrants.keys().copied().collect();
        let (record, order) = draw::draw(&ids, seed, now);
        let rules = self.controls.rules(session);
        let mut rooms = self.rooms();
        let room = rooms.entry(session).or_default();
        let mut placed = Vec::with_capacity(order.len());
        let mut positions = HashMap::with_capacity(order.len());
        for (i, user) in order.iter().enumerate() {
            if let Some(holder) = entrants.get(user) {
                placed.push((*user, room.enter(&rules, *user, holder.clone(), now)));
                positions.insert(*user, i + 1);
            }
        }
        self.keep_admissions(session, room);
        if room.is_empty() {
            rooms.remove(&session);
        }
        early.draws.insert(session, (record.clone(), positions));
        Ok(Some(Drawn {
            record,
            fresh: true,
            placed,
        }))
    }

    async fn drawn(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<Option<(DrawRecord, Option<usize>)>> {
        let early = self.early();
        Ok(early
            .draws
            .get(&session)
            .map(|(record, positions)| (record.clone(), positions.get(&user).copied())))
    }

    async fn progress(&self, session: SessionId) -> StorageResult<u64> {
        Ok(self.progress_of().get(&session).copied().unwrap_or(0))
    }

    async fn occupancy(&self) -> StorageResult<Vec<(SessionId, usize, usize)>> {
        let rooms = self.rooms();
        Ok(rooms
            .iter()
            .map(|(session, room)| (*session, room.page_len(), room.queue_len()))
            .collect())
    }

    async fn ready(&self) -> StorageResult<()> {
        Ok(())
    }

    async fn warm_up(&self) -> StorageResult<()> {
        Ok(())
    }

    async fn hand_over(&self, _now: Millis, _grace_ms: Millis) -> StorageResult<()> {
        // Nothing outlives this process: there is nobody to hand over to.
        Ok(())
    }

    async fn fill(&self, session: SessionId, now: Millis) -> StorageResult<Moves> {
        let rules = self.controls.rules(session);
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(&session) else {
            return Ok(Moves::default());
        };
        let moves = room.fill(&rules, now);
        self.keep_admissions(session, room);
        drop(rooms);
        self.moved(session, moves.departures.len() as u64);
        Ok(moves)
    }

    async fn extend(
        &self,
        session: SessionId,
        by_ms: Millis,
    ) -> StorageResult<Vec<(UserId, Millis)>> {
        let mut rooms = self.rooms();
        Ok(rooms
            .get_mut(&session)
            .map(|room| room.extend(by_ms))
            .unwrap_or_default())
    }

    async fn close_queue(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(&session) else {
            return Ok(Vec::new());
        };
        let closed = room.close_queue();
        if room.is_empty() {
            rooms.remove(&session);
        }
        drop(rooms);
        self.moved(session, closed.len() as u64);
        Ok(closed)
    }

    async fn share_admits(&self, _session: SessionId) -> StorageResult<()> {
        // One process: the settings in `controls` are the ones every transition reads.
        Ok(())
    }

    async fn queued(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        Ok(self
            .rooms()
            .get(&session)
            .map(Room::queued)
            .unwrap_or_default())
    }

    async fn sizes(&self, session: SessionId) -> StorageResult<(usize, usize)> {
        Ok(self
            .rooms()
            .get(&session)
            .map_or((0, 0), |room| (room.page_len(), room.queue_len())))
    }

    async fn recent_admissions(&self, session: SessionId) -> StorageResult<Vec<Admitted>> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        Ok(recent
            .get(&session)
            .map(|list| list.iter().copied().collect())
            .unwrap_or_default())
    }

    async fn expire(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        let mut rooms = self.rooms();
        let mut expired = Vec::new();
        for (session, room) in rooms.iter_mut() {
            let (rules, lifetime) = (
                self.controls.rules(*session),
                self.controls.effective(*session).lifetime_ms,
            );
            for (user, departure) in room.expire(&rules, lifetime, now) {
                expired.push(Expiry {
                    session: *session,
                    user,
                    departure,
                });
            }
            self.keep_admissions(*session, room);
        }
        rooms.retain(|_, room| !room.is_empty());
        drop(rooms);
        for e in &expired {
            self.moved(e.session, u64::from(e.departure.promoted.is_some()));
        }
        Ok(expired)
    }
}

/// Seat-map versions of the embedded default, in this process.
#[derive(Default)]
pub struct MemorySeatVersions(Mutex<HashMap<(SessionId, AreaId), u64>>);

#[async_trait]
impl SeatVersions for MemorySeatVersions {
    async fn current(&self, session: SessionId, area: AreaId) -> StorageResult<u64> {
        let versions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(versions.get(&(session, area)).copied().unwrap_or(0))
    }

    async fn bump(&self, session: SessionId, area: AreaId) -> StorageResult<u64> {
        let mut versions = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let v = versions.entry((session, area)).or_insert(0);
        *v += 1;
        Ok(*v)
    }
}
