//! The waiting room of one session: who is on the buying page, who queues, and what each is told.
//!
//! This is the original's Redis model (a page list, an entry-time hash and a FIFO queue list) as a
//! pure value, with its two bugs fixed: a departure promotes someone only when a page place was
//! really freed, and arriving twice never takes two places. Every storage engine either wraps
//! [`Room`] (memory) or mirrors it step for step (Redis Lua), and both compute the wait estimate
//! with [`Rules::seconds`].

use std::collections::{HashMap, HashSet, VecDeque};

use super::ids::UserId;
use super::time::Millis;

/// The numbers that shape a waiting room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// People allowed on the buying page at once.
    pub limit: usize,
    /// The purchase window, in milliseconds (600 000 in the original).
    pub window_ms: Millis,
    /// Seconds added to every estimate (10 in the original).
    pub buffer_s: i64,
    /// Admissions are paused by the operator: arrivals queue and departures promote nobody,
    /// until they resume (issue 13). Places are kept.
    pub paused: bool,
}

impl Rules {
    /// The original estimate: wait for the page user in the same "column" (`page[i % limit]`,
    /// entered at `base_ms`) to use up their window, plus one whole window per full round of
    /// `limit` people ahead, plus the buffer. Floors like JavaScript's `Math.floor`.
    pub fn seconds(&self, base_ms: Millis, round: i64, now_ms: Millis) -> i64 {
        let due = base_ms + round * self.window_ms + self.window_ms - now_ms;
        due.div_euclid(1000) + self.buffer_s
    }

    /// What the original sends with `pass: true`: the formula with a zero base, a large negative
    /// number the client ignores. Kept so recorded sessions replay byte for byte.
    pub fn pass_seconds(&self, now_ms: Millis) -> i64 {
        self.seconds(0, 0, now_ms)
    }

    /// How many people the page may hold before arrivals queue: the limit, or none while paused.
    /// The estimates keep using [`Rules::limit`], the page's size when admissions run.
    pub fn admits(&self) -> usize {
        if self.paused { 0 } else { self.limit }
    }

    fn round_of(&self, queue_index: usize) -> i64 {
        (queue_index / self.limit) as i64
    }
}

/// How someone in line learns where they stand, which decides whether departures list them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Hears {
    /// Every step forward, one message each (the original protocol counts them): every
    /// departure ahead lists them among its notices.
    #[default]
    EachStep,
    /// Their place, when it is asked for (the app protocol's `position` pushes). An engine
    /// shared by several instances leaves them out of departures' notices: listing a crowd of
    /// such people with every departure would cost each departure the whole line.
    Place,
}

/// An opaque token naming the connection that holds a place, so that a stale connection of the
/// same account cannot give away the place its newer connection holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Holder(pub String);

/// Where an account stands in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// On the buying page.
    Page,
    /// Waiting, with this 0-based index in the queue.
    Queue(usize),
}

/// The answer to an arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Straight onto the buying page.
    Pass,
    /// Queued: `wait_people` is the 1-based position, `seconds` the estimate.
    Queued {
        /// People ahead, counting oneself (the original's `waitPeople`).
        wait_people: usize,
        /// Estimated wait in seconds.
        seconds: i64,
    },
}

/// A new place and estimate for someone whose position improved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Who to tell.
    pub user: UserId,
    /// Their new estimate in seconds.
    pub seconds: i64,
    /// Their new 0-based queue index.
    pub ahead: usize,
    /// How many places they moved up (1 for a single departure; a batch of departures applied
    /// together moves someone by every leaver and admission ahead of them). The original
    /// protocol sends one `minus waiting people` per place.
    pub steps: u32,
}

/// What a departure changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departure {
    /// Where the departing account was.
    pub from: Place,
    /// Who moved from the queue onto the page, if anyone.
    pub promoted: Option<UserId>,
    /// Everyone whose position improved, in queue order.
    pub notices: Vec<Notice>,
}

#[derive(Clone, Debug)]
struct Visitor {
    user: UserId,
    since: Millis,
    holder: Holder,
}

#[derive(Clone, Debug)]
struct Waiter {
    user: UserId,
    holder: Holder,
    /// When they joined the queue (for the operator's wait figures).
    joined: Millis,
}

/// One admission onto the page: when, and how long the person had queued (0 straight in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// When they reached the page (ms).
    pub at: Millis,
    /// How long they queued (ms).
    pub waited_ms: Millis,
}

/// What an operator's action did to the queue: who went onto the page, and what everyone
/// still queued is told. Departure `i` of [`Moves::departures`] admits the `i`-th person.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Moves {
    /// One page departure per person admitted, each with the queue's notices after it.
    pub departures: Vec<Departure>,
}

/// One session's page and queue.
#[derive(Clone, Debug, Default)]
pub struct Room {
    page: Vec<Visitor>,
    queue: VecDeque<Waiter>,
    /// Admissions since the owner last took them ([`Room::take_admissions`]).
    admissions: Vec<Admitted>,
}

impl Room {
    /// An empty room.
    pub fn new() -> Self {
        Self::default()
    }

    /// Admits `user` to the page if there is room, else queues them at the back. An account that
    /// is already inside keeps its place (the new connection becomes its holder).
    pub fn enter(&mut self, rules: &Rules, user: UserId, holder: Holder, now: Millis) -> Admission {
        if let Some(visitor) = self.page.iter_mut().find(|v| v.user == user) {
            visitor.holder = holder;
            return Admission::Pass;
        }
        if let Some(index) = self.queue.iter().position(|w| w.user == user) {
            self.queue[index].holder = holder;
            return self.queued_at(rules, index, now);
        }
        if self.page.len() < rules.admits() {
            self.page.push(Visitor {
                user,
                since: now,
                holder,
            });
            self.admissions.push(Admitted {
                at: now,
                waited_ms: 0,
            });
            return Admission::Pass;
        }
        self.queue.push_back(Waiter {
            user,
            holder,
            joined: now,
        });
        self.queued_at(rules, self.queue.len() - 1, now)
    }

    fn queued_at(&self, rules: &Rules, index: usize, now: Millis) -> Admission {
        Admission::Queued {
            wait_people: index + 1,
            seconds: self.estimate(rules, index, now),
        }
    }

    /// The estimate for queue index `index`. A missing page "column" (only possible in a room
    /// that shrank oddly) counts as a full window from now.
    fn estimate(&self, rules: &Rules, index: usize, now: Millis) -> i64 {
        let base = self.page.get(index % rules.limit).map_or(now, |v| v.since);
        rules.seconds(base, rules.round_of(index), now)
    }

    /// Where `user` stands, if inside.
    pub fn place(&self, user: UserId) -> Option<Place> {
        if self.page.iter().any(|v| v.user == user) {
            return Some(Place::Page);
        }
        self.queue
            .iter()
            .position(|w| w.user == user)
            .map(Place::Queue)
    }

    /// When `user` reached the buying page, if they are on it.
    pub fn admitted_at(&self, user: UserId) -> Option<Millis> {
        self.page.iter().find(|v| v.user == user).map(|v| v.since)
    }

    /// Removes `user`. With `holder` given, only if that connection holds the place. Returns
    /// `None` when nothing was removed, and then nobody is promoted (the original's bug).
    pub fn leave(
        &mut self,
        rules: &Rules,
        user: UserId,
        holder: Option<&Holder>,
        now: Millis,
    ) -> Option<Departure> {
        let holds = |h: &Holder| holder.is_none_or(|want| want == h);
        if let Some(index) = self.queue.iter().position(|w| w.user == user) {
            if !holds(&self.queue[index].holder) {
                return None;
            }
            self.queue.remove(index);
            return Some(Departure {
                from: Place::Queue(index),
                promoted: None,
                notices: self.notices_from(rules, index, now),
            });
        }
        let index = self.page.iter().position(|v| v.user == user)?;
        if !holds(&self.page[index].holder) {
            return None;
        }
        self.page.remove(index);
        Some(self.promote(rules, now))
    }

    /// Several accounts leave together (leaves that arrived at once), as leave_batch.lua does:
    /// every leaver is removed before anyone is promoted, so nobody leaving in the batch is
    /// admitted, then one person from the head of the queue per page leaver takes a page place
    /// (while the page holds fewer than the rules admit). One departure per leaver, in order
    /// (`None` where nothing was removed, or the account already left earlier in the batch);
    /// the page departures promote the people promoted, in order. Everyone still queued whose
    /// position improved is told once, with the places they moved, in the first departure:
    /// a notice list per leaver would repeat the whole queue for each of them.
    pub fn leave_many(
        &mut self,
        rules: &Rules,
        leavers: &[(UserId, Option<Holder>)],
        now: Millis,
    ) -> Vec<Option<Departure>> {
        let queued: HashMap<UserId, usize> = self
            .queue
            .iter()
            .enumerate()
            .map(|(i, w)| (w.user, i))
            .collect();
        let mut gone: HashSet<UserId> = HashSet::new();
        let mut queue_ranks = Vec::new();
        let mut outcomes: Vec<Option<Place>> = Vec::with_capacity(leavers.len());
        for (user, holder) in leavers {
            let holds = |h: &Holder| holder.as_ref().is_none_or(|want| want == h);
            let outcome = if gone.contains(user) {
                None
            } else if let Some(&index) = queued.get(user) {
                holds(&self.queue[index].holder).then_some(Place::Queue(index))
            } else {
                self.page
                    .iter()
                    .find(|v| v.user == *user)
                    .filter(|v| holds(&v.holder))
                    .map(|_| Place::Page)
            };
            if let Some(place) = outcome {
                gone.insert(*user);
                if let Place::Queue(index) = place {
                    queue_ranks.push(index);
                }
            }
            outcomes.push(outcome);
        }
        self.queue.retain(|w| !gone.contains(&w.user));
        self.page.retain(|v| !gone.contains(&v.user));
        let page_left = outcomes.iter().filter(|o| **o == Some(Place::Page)).count();
        let mut promoted = Vec::new();
        while promoted.len() < page_left && self.page.len() < rules.admits() {
            let Some(user) = self.admit_next(now) else {
                break;
            };
            promoted.push(user);
        }
        queue_ranks.sort_unstable();
        let start = match (promoted.is_empty(), queue_ranks.first()) {
            (false, _) => Some(0),
            (true, first) => first.copied(),
        };
        let mut notices = start.map_or_else(Vec::new, |start| {
            self.moved_from(rules, start, &queue_ranks, promoted.len(), now)
        });
        let mut promotions = promoted.into_iter();
        outcomes
            .into_iter()
            .map(|outcome| {
                let from = outcome?;
                Some(Departure {
                    from,
                    promoted: match from {
                        Place::Page => promotions.next(),
                        Place::Queue(_) => None,
                    },
                    notices: std::mem::take(&mut notices),
                })
            })
            .collect()
    }

    /// Notices for the queue from index `start` on, after the queue leavers at (pre-batch,
    /// sorted) `queue_ranks` left and `promoted` people went onto the page: each moved by the
    /// leavers ahead of them plus the promoted.
    fn moved_from(
        &self,
        rules: &Rules,
        start: usize,
        queue_ranks: &[usize],
        promoted: usize,
        now: Millis,
    ) -> Vec<Notice> {
        let mut ahead_left = 0;
        (start..self.queue.len())
            .map(|index| {
                // This person's index before the batch: their new index, plus everyone
                // promoted, plus the queue leavers who stood ahead of them.
                while ahead_left < queue_ranks.len()
                    && queue_ranks[ahead_left] <= index + promoted + ahead_left
                {
                    ahead_left += 1;
                }
                Notice {
                    user: self.queue[index].user,
                    seconds: self.estimate(rules, index, now),
                    ahead: index,
                    steps: (ahead_left + promoted) as u32,
                }
            })
            .collect()
    }

    /// Fills the freed page place from the queue (while admissions run and the page is under
    /// its limit, which an operator may have lowered) and builds the page departure's notices.
    fn promote(&mut self, rules: &Rules, now: Millis) -> Departure {
        let promoted = if self.page.len() < rules.admits() {
            self.admit_next(now)
        } else {
            None
        };
        let notices = match promoted {
            Some(_) => self.notices_from(rules, 0, now),
            None => Vec::new(),
        };
        Departure {
            from: Place::Page,
            promoted,
            notices,
        }
    }

    /// Moves the head of the queue onto the page, recording the admission.
    fn admit_next(&mut self, now: Millis) -> Option<UserId> {
        let w = self.queue.pop_front()?;
        self.page.push(Visitor {
            user: w.user,
            since: now,
            holder: w.holder,
        });
        self.admissions.push(Admitted {
            at: now,
            waited_ms: (now - w.joined).max(0),
        });
        Some(w.user)
    }

    /// Admits from the queue while the page is under the rules' admissions (after an operator
    /// raised the limit or resumed admissions): one departure per person admitted, as if a
    /// page place had been freed for each, in queue order.
    pub fn fill(&mut self, rules: &Rules, now: Millis) -> Moves {
        let mut promoted = Vec::new();
        while self.page.len() < rules.admits() {
            let Some(user) = self.admit_next(now) else {
                break;
            };
            promoted.push(user);
        }
        let departures = (0..promoted.len())
            .map(|i| Departure {
                from: Place::Page,
                promoted: Some(promoted[i]),
                notices: self.estimates(rules, &promoted[i + 1..], now),
            })
            .collect();
        Moves { departures }
    }

    /// Moves every page visitor's entry time (and so their deadline) `by_ms` later; returns who
    /// is on the page with their new entry times.
    pub fn extend(&mut self, by_ms: Millis) -> Vec<(UserId, Millis)> {
        self.page
            .iter_mut()
            .map(|v| {
                v.since += by_ms;
                (v.user, v.since)
            })
            .collect()
    }

    /// Empties the queue (the sale is over); returns who was in it, in queue order.
    pub fn close_queue(&mut self) -> Vec<UserId> {
        self.queue.drain(..).map(|w| w.user).collect()
    }

    /// The admissions since the last call, oldest first.
    pub fn take_admissions(&mut self) -> Vec<Admitted> {
        std::mem::take(&mut self.admissions)
    }

    fn notices_from(&self, rules: &Rules, start: usize, now: Millis) -> Vec<Notice> {
        (start..self.queue.len())
            .map(|j| Notice {
                user: self.queue[j].user,
                seconds: self.estimate(rules, j, now),
                ahead: j,
                steps: 1,
            })
            .collect()
    }

    /// Ends every page visit that began at or before `now - lifetime_ms`, then fills the freed
    /// places from the queue in FIFO order: one departure per ended visit, oldest first.
    ///
    /// All due visits leave before anyone is promoted, exactly as expire.lua does, so every
    /// estimate is taken from the page as it stands after the sweep. (Promoting after each single
    /// removal measured the queue against visits that were about to end in the same sweep, and
    /// told people negative waits.) Departure `i` promotes the `i`-th person promoted, if any,
    /// and tells everyone still behind that person their new estimate.
    pub fn expire(
        &mut self,
        rules: &Rules,
        lifetime_ms: Millis,
        now: Millis,
    ) -> Vec<(UserId, Departure)> {
        let (mut due, kept): (Vec<Visitor>, Vec<Visitor>) = std::mem::take(&mut self.page)
            .into_iter()
            .partition(|v| v.since + lifetime_ms <= now);
        self.page = kept;
        // The Redis page is a sorted set: entry time first, then the member's text. Ending ties
        // in that order pairs the same ended visit with the same promotion on both engines.
        due.sort_by_cached_key(|v| (v.since, v.user.to_string()));
        let mut promoted = Vec::new();
        while self.page.len() < rules.admits() {
            let Some(user) = self.admit_next(now) else {
                break;
            };
            promoted.push(user);
        }
        due.into_iter()
            .enumerate()
            .map(|(i, visit)| {
                let next = promoted.get(i).copied();
                let notices = match next {
                    Some(_) => self.estimates(rules, &promoted[i + 1..], now),
                    None => Vec::new(),
                };
                let departure = Departure {
                    from: Place::Page,
                    promoted: next,
                    notices,
                };
                (visit.user, departure)
            })
            .collect()
    }

    /// Estimates for a queue made of `ahead` (people already promoted in this sweep, told as if
    /// still queued) followed by the real queue, from index 0 on.
    fn estimates(&self, rules: &Rules, ahead: &[UserId], now: Millis) -> Vec<Notice> {
        let queued = self.queue.iter().map(|w| w.user);
        ahead
            .iter()
            .copied()
            .chain(queued)
            .enumerate()
            .map(|(j, user)| Notice {
                user,
                seconds: self.estimate(rules, j, now),
                ahead: j,
                steps: 1,
            })
            .collect()
    }

    /// People on the page.
    pub fn page_len(&self) -> usize {
        self.page.len()
    }

    /// People queued.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// True when nobody is inside (the room can be dropped).
    pub fn is_empty(&self) -> bool {
        self.page.is_empty() && self.queue.is_empty()
    }

    /// Who is queued, in order.
    pub fn queued(&self) -> Vec<UserId> {
        self.queue.iter().map(|w| w.user).collect()
    }
}

#[cfg(test)]
mod tests;
