//! Leaves of one session applied together: every leave this instance receives while its
//! previous batch for the session is on the wire goes into the next batch, one
//! `leave_batch.lua` call. Nothing waits on a timer: a lone leave goes out at once, as before.
//!
//! Why: in a storm of departures (a crowd closing its tabs at once) one call per leaver made
//! Redis return everyone behind each leaver, so the notices and their messages grew with the
//! square of the crowd; and a page leaver's promotion went to the head of the queue even when
//! that person's own leave was already waiting here (their socket gone). A batch removes every
//! leaver first, then promotes, and describes who moved with one list for the whole batch.
//!
//! A batch's promotions are made by Redis, which cannot know of leaves still on their way to it:
//! a leave that reaches this instance while the batch is on the wire may be for the very person
//! the batch promotes (in a storm the head of the queue is often leaving too). Such a promotion
//! is withdrawn: it is handed to no departure, so nobody announces it or counts it as an
//! admission, and the page leaver whose place it took waits, unanswered, for the next
//! promotion. That person's own leave is already waiting here, so the next batch removes them
//! from the page and promotes the next in line in the same script, and that promotion goes to
//! the waiting page leaver. The place is never free in between, so no newcomer can take it
//! ahead of the queue (`enter.lua` admits straight onto a page with room). Only the page
//! leavers wait; everyone else is answered when their batch returns.
//!
//! The caller that finds no batch running runs the batches (its own leave first, with whatever
//! is waiting) until none is waiting, so nothing runs outside a caller's task (no background
//! task to drain at shutdown). In a storm that first caller's leave returns last.

use std::collections::{HashSet, VecDeque};

use tokio::sync::oneshot;

use super::keys::{IDLE_TTL_MS, RoomKeys};
use super::parse::{int, text};
use super::{RedisWaitingRoom, unavailable};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Departure, Notice, Place, Rules};
use crate::storage::lines::Lines;
use crate::storage::{RECENT_ADMISSIONS, StorageError, StorageResult};

/// One caller's leave, waiting for a batch.
pub(super) struct Request {
    user: UserId,
    /// The stored holder token, or empty for whoever holds the place.
    holder: String,
    now: Millis,
    answer: oneshot::Sender<Answer>,
}

/// A waiting caller's answer: its leave was applied.
type Answer = StorageResult<Option<Departure>>;

/// The leaves waiting per session.
pub(super) type Departures = Lines<Request>;

/// What a caller running the batches keeps between them: the page leavers still owed the
/// promotion their place made, and the promotions withdrawn because the promoted person's leave
/// had reached this instance (see the module docs).
#[derive(Default)]
struct Owed {
    /// Page departures applied but not answered yet, oldest first.
    page_leavers: VecDeque<(Request, Departure)>,
    /// People promoted whose own leave was waiting here; each one's leave frees their place
    /// again and promotes the next in line.
    withdrawn: Vec<UserId>,
    /// Queue news of batches none of whose departures could be answered yet.
    notices: Vec<Notice>,
}

impl Owed {
    /// Answers `request`; the first departure answered carries the queue news waiting. News
    /// goes with a departure answered now, not with one held for its promotion: the announcer
    /// tells nobody who left before the news's departure was answered, and a held answer would
    /// make everyone who left meanwhile count as still queued (one publish each, for nobody).
    fn answer(&mut self, request: Request, departure: Option<Departure>) {
        let departure = departure.map(|mut d| {
            if !self.notices.is_empty() {
                let mut notices = std::mem::take(&mut self.notices);
                notices.append(&mut d.notices);
                d.notices = notices;
            }
            d
        });
        // A caller that gave up no longer needs its answer.
        let _ = request.answer.send(Ok(departure));
    }
}

/// A batch's departures (`promoted` left empty: see [`RedisWaitingRoom::leave_together`]) and
/// the people it promoted, in order.
pub(super) struct Applied {
    departures: Vec<Option<Departure>>,
    promoted: Vec<UserId>,
}

impl RedisWaitingRoom {
    /// Leaves `session` in the next batch (see the module docs); `holder` is a stored token or
    /// empty for whoever holds the place.
    pub(super) async fn leave_batched(
        &self,
        session: SessionId,
        user: UserId,
        holder: String,
        now: Millis,
    ) -> StorageResult<Option<Departure>> {
        let request = |answer| Request {
            user,
            holder: holder.clone(),
            now,
            answer,
        };
        loop {
            let (tx, rx) = oneshot::channel();
            if self.departures.join(session, request(tx)) {
                // This caller runs batches until none is waiting (its own leave is in the
                // first); a caller dropped meanwhile releases the line through `Turn`.
                let turn = self.departures.turn(session);
                let mut owed = Owed::default();
                loop {
                    let batch = self.departures.take(session);
                    if batch.is_empty() {
                        break;
                    }
                    crate::metrics::waiting_room_batch("leave", batch.len());
                    self.apply(session, batch, &mut owed).await;
                }
                // Every withdrawn promotion's leave was waiting, so the last batch applied it.
                while let Some((request, departure)) = owed.page_leavers.pop_front() {
                    owed.answer(request, Some(departure));
                }
                turn.finish();
            }
            match rx.await {
                Ok(answer) => return answer,
                // The caller running the batches was dropped before applying this leave.
                Err(_) => continue,
            }
        }
    }

    /// Applies one batch and answers its callers: the page leavers once a promotion is theirs
    /// (or none can come), everyone else at once.
    async fn apply(&self, session: SessionId, batch: Vec<Request>, owed: &mut Owed) {
        if batch.is_empty() {
            return;
        }
        let now = batch.iter().map(|r| r.now).max().unwrap_or_default();
        let leavers: Vec<(UserId, String)> =
            batch.iter().map(|r| (r.user, r.holder.clone())).collect();
        let applied = match self.apply_batch(session, &leavers, now).await {
            Ok(applied) => applied,
            Err(e) => {
                let text = e.to_string();
                for request in batch {
                    let _ = request
                        .answer
                        .send(Err(StorageError::Unavailable(text.clone())));
                }
                // The withdrawn promotions' leaves were in this batch and not applied: their
                // places stay taken until the window ends. Nothing more can be promised.
                owed.withdrawn.clear();
                while let Some((request, departure)) = owed.page_leavers.pop_front() {
                    owed.answer(request, Some(departure));
                }
                return;
            }
        };
        let mut departures = applied.departures;
        departures.resize(batch.len(), None);
        for d in departures.iter_mut().flatten() {
            owed.notices.append(&mut d.notices);
        }
        // A withdrawn promotion whose leave removed nothing (a newer connection of the account
        // holds the place, on another instance) stands after all.
        let left: HashSet<UserId> = batch
            .iter()
            .zip(&departures)
            .filter(|(_, d)| d.is_some())
            .map(|(r, _)| r.user)
            .collect();
        let mut promotions = Vec::new();
        for request in &batch {
            if let Some(i) = owed.withdrawn.iter().position(|u| *u == request.user) {
                let user = owed.withdrawn.swap_remove(i);
                if !left.contains(&user) {
                    promotions.push(user);
                }
            }
        }
        promotions.extend(applied.promoted);
        for (request, departure) in batch.into_iter().zip(departures) {
            match departure {
                Some(d) if d.from == Place::Page => owed.page_leavers.push_back((request, d)),
                other => owed.answer(request, other),
            }
        }
        for user in promotions {
            if self.departures.any_waiting(session, |r| r.user == user) {
                // Their leave reached this instance while the batch was on the wire.
                crate::metrics::promotion_withdrawn();
                owed.withdrawn.push(user);
                continue;
            }
            match owed.page_leavers.pop_front() {
                Some((request, mut departure)) => {
                    departure.promoted = Some(user);
                    owed.answer(request, Some(departure));
                }
                // Every promotion follows a page departure that is owed it.
                None => tracing::error!(%session, %user, "a promotion with no page departure"),
            }
        }
        // Page leavers beyond the withdrawn promotions get none: the page is at what it may
        // hold (a lowered limit, a pause) or the queue is empty.
        while owed.page_leavers.len() > owed.withdrawn.len() {
            if let Some((request, departure)) = owed.page_leavers.pop_back() {
                owed.answer(request, Some(departure));
            }
        }
    }

    /// Applies the leaves of `leavers` (with a holder: only that connection's place) as one
    /// batch, as concurrent leaves are; one departure per leaver, in order (`None` where nothing
    /// was removed). For tests and tools: the server's leaves batch themselves.
    pub async fn leave_all(
        &self,
        session: SessionId,
        leavers: &[(UserId, Option<crate::domain::waiting_room::Holder>)],
        now: Millis,
    ) -> StorageResult<Vec<Option<Departure>>> {
        let stored: Vec<(UserId, String)> = leavers
            .iter()
            .map(|(user, holder)| {
                let holder = holder.as_ref().map(|h| self.holder(h)).unwrap_or_default();
                (*user, holder)
            })
            .collect();
        self.leave_together(session, &stored, now).await
    }

    /// Runs leave_batch.lua for `leavers` (user, stored holder or empty): one departure per
    /// leaver, in order (`None` where nothing was removed), each page departure promoting the
    /// next of the people promoted, in order.
    pub(super) async fn leave_together(
        &self,
        session: SessionId,
        leavers: &[(UserId, String)],
        now: Millis,
    ) -> StorageResult<Vec<Option<Departure>>> {
        let applied = self.apply_batch(session, leavers, now).await?;
        let mut promoted = applied.promoted.into_iter();
        Ok(applied
            .departures
            .into_iter()
            .map(|d| {
                d.map(|mut d| {
                    if d.from == Place::Page {
                        d.promoted = promoted.next();
                    }
                    d
                })
            })
            .collect())
    }

    /// Runs leave_batch.lua for `leavers` and splits its answer into one departure per leaver,
    /// in order (`None` where nothing was removed, `promoted` always empty), and the people it
    /// promoted. The list of everyone who moved goes with the first departure only, each person
    /// once with the number of places they moved: announcing it once per leaver would repeat the
    /// whole queue.
    async fn apply_batch(
        &self,
        session: SessionId,
        leavers: &[(UserId, String)],
        now: Millis,
    ) -> StorageResult<Applied> {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let mut args = vec![
            now.to_string(),
            rules.limit.to_string(),
            IDLE_TTL_MS.to_string(),
            rules.admits().to_string(),
            RECENT_ADMISSIONS.to_string(),
        ];
        for (user, holder) in leavers {
            args.push(user.to_string());
            args.push(holder.clone());
        }
        let mut reply = self
            .run(&self.scripts.leave_batch, k.departure(), args)
            .await?;
        let n = int(reply.next_value()).max(0) as usize;
        let outcomes: Vec<Option<Place>> = (0..n)
            .map(|_| {
                let v = reply.next_value();
                match text(v).as_str() {
                    "none" => None,
                    "page" => Some(Place::Page),
                    _ => Some(Place::Queue(int(v).max(0) as usize)),
                }
            })
            .collect();
        let promoted = reply.users();
        let times = reply.times();
        let start = int(reply.next_value());
        let movers = reply.ranked();
        let departed: Vec<UserId> = leavers
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_some())
            .map(|((u, _), _)| *u)
            .collect();
        self.unindex_places(session, &departed).await?;
        let mut queue_ranks: Vec<usize> = outcomes
            .iter()
            .filter_map(|o| match o {
                Some(Place::Queue(rank)) => Some(*rank),
                _ => None,
            })
            .collect();
        queue_ranks.sort_unstable();
        let mut notices = if start >= 0 {
            Self::moved(&rules, &times, &movers, &queue_ranks, promoted.len(), now)
        } else {
            Vec::new()
        };
        let departures = outcomes
            .into_iter()
            .map(|outcome| {
                Some(Departure {
                    from: outcome?,
                    promoted: None,
                    notices: std::mem::take(&mut notices),
                })
            })
            .collect();
        Ok(Applied {
            departures,
            promoted,
        })
    }

    /// Notices for `members` (with their new queue indexes, ascending), after the queue leavers
    /// at (pre-batch, sorted) `queue_ranks` left and `promoted` people went onto the page: each
    /// moved by the leavers ahead of them plus the promoted.
    fn moved(
        rules: &Rules,
        times: &[Millis],
        members: &[(UserId, usize)],
        queue_ranks: &[usize],
        promoted: usize,
        now: Millis,
    ) -> Vec<Notice> {
        let mut ahead_left = 0;
        members
            .iter()
            .map(|&(user, index)| {
                // This person's index before the batch: their new index, plus everyone
                // promoted, plus the queue leavers who stood ahead of them.
                while ahead_left < queue_ranks.len()
                    && queue_ranks[ahead_left] <= index + promoted + ahead_left
                {
                    ahead_left += 1;
                }
                Notice {
                    user,
                    seconds: Self::seconds_at(rules, times, index, now),
                    ahead: index,
                    steps: (ahead_left + promoted) as u32,
                }
            })
            .collect()
    }

    /// Forgets departed visits in the per-user index, in one pipeline.
    async fn unindex_places(&self, session: SessionId, users: &[UserId]) -> StorageResult<()> {
        use fred::prelude::*;
        if users.is_empty() {
            return Ok(());
        }
        let pipe = self.client.pipeline();
        for user in users {
            let _: () = pipe
                .srem(self.keys().user(*user), session.0)
                .await
                .map_err(unavailable)?;
        }
        let _: Vec<Value> = pipe.all().await.map_err(unavailable)?;
        Ok(())
    }
}
