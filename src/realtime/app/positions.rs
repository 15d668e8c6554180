//! `position` pushes, coalesced: at most one per person per second, always the newest value.
//!
//! Two ways to learn a place, chosen by the waiting room:
//! - **Told** (the in-process room, one instance): departures report everyone whose place in
//!   the queue improved. Sending each one would flood a long queue during a departure storm,
//!   so the newest value per person is kept here and a flusher sends what is due: at once when
//!   the person heard nothing in the last second, otherwise when that second is over.
//! - **Asked** (a waiting room shared by several instances, on Redis): an instance hears only
//!   the departures it made itself, and each instance reaching everyone through the adapter
//!   would give a person one push per instance a second, stale values after fresh ones, or a
//!   place after `admitted` (issue 11). So each instance watches only its own queued
//!   connections: once a second per person it asks the shared room where they stand (one
//!   exchange per session for everyone due, [`WaitingRoom::places`]) and pushes a changed
//!   place to its own sockets only. Someone found on the page or out of line is dropped (the
//!   `admitted` or `removed` push is theirs); someone with no connection here any more too
//!   (their resume, wherever it lands, watches them again). Once a second each instance also
//!   looks for admissions left unsaid for a few seconds (the admitting instance died between
//!   the admission and its `admitted` push) and says them to its own connections.
//!
//! Either way `admitted` is said here too ([`Positions::admit`], reached from every instance
//! through `admissions`), under the lock each `position` push is sent under: no place is shown
//! after `admitted`, however long its answer was under way.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::json;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio_util::sync::CancellationToken;

use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Departure, Place};
use crate::realtime::rooms;
use crate::service::estimate::Estimator;
use crate::storage::WaitingRoom;
use crate::storage::controls::RoomControls;

/// The push of a changed place.
const POSITION_EVENT: &str = "position";
/// The push of an admission.
const ADMITTED_EVENT: &str = "admitted";

/// Shortest time between two `position` pushes to one person.
pub(crate) const EVERY: Duration = Duration::from_secs(1);
/// Most people an instance asks about, and so pushes a `position` to, in a second. A line
/// that moves changes everyone's place every second, so each watched person costs a push a
/// second: about 18 µs of the server's CPU each (`benches/capacity.json`), and as much again
/// in the client's reading. The fleet at 100,000 (14,000 people per instance, 7 instances on
/// two cores) spent the cores on pushes and left admissions at 1.3 a second and 6,308 resumes
/// unanswered. Past this many, people hear their place less often than once a second, and the
/// line keeps moving.
pub(crate) const MOST_ASKS_PER_SECOND: usize = 5_000;

/// How often each of `watched` people is asked about: a second, or as long as asking
/// [`MOST_ASKS_PER_SECOND`] a second takes to reach everyone.
fn ask_period(watched: usize) -> Duration {
    let spread = Duration::from_secs_f64(watched as f64 / MOST_ASKS_PER_SECOND as f64);
    spread.max(EVERY)
}

/// How long an admission may go unsaid before the instance holding the person's connection
/// says it: the admitting instance says it within milliseconds, unless it died.
const SAY_AFTER_MS: Millis = 3_000;
/// Two window ends this close belong to one admission (each instance derives it from the
/// admission time the room stored; an ack's and a push's may differ by rounding).
const SAME_ADMISSION_MS: Millis = 1_000;
/// An admission said here is remembered this long (an admission's news can reach an instance
/// twice: through the channel and through the look for unsaid ones).
const FORGET_AFTER_MS: Millis = 120_000;
/// An admission still unsaid this long after it was made has nobody on `/queue` to hear it
/// (a legacy visitor, or someone between connections): every instance holding a connection of
/// theirs says it [`SAY_AFTER_MS`] after the admission, within a second. It leaves the shared
/// room's list of unsaid admissions, which every instance reads each second; a client that
/// comes back reads its place from its `status` ack.
const NOBODY_TO_HEAR_MS: Millis = 15_000;
/// How often the flusher looks for due pushes: a push waits at most this long past its
/// second, so a place shown is at most about `EVERY + TICK` behind the truth (a scan of the
/// table is microseconds even for 10,000 people).
const TICK: Duration = Duration::from_millis(20);
/// How much short of a second a person's rest may be at the tick that ends it. A push is marked
/// sent when it leaves, a little after its tick began; without this slack the tick one second
/// later finds the second not quite over, so each push waited for the tick after, and a
/// person's pushes came every 1.02 s and slipped a tick further from the line's moves each
/// second: the place shown was 0.8 s behind at one moment and 1.02 s behind ten seconds later
/// (fanout-app's lag p99 over 1 s at 10,000 queued). With it the pushes keep the tick they
/// began on, and two pushes to one person are still at least `EVERY - REST_SLACK` apart.
const REST_SLACK: Duration = Duration::from_millis(10);

/// How long after a move a flush goes on giving people their first push. Each person hears
/// a place once a second, so the moves they miss are the rest of that second's: a push that
/// leaves just before the line's next move shows a place almost a second old by the push
/// after. People keep the offset from the move their first push had (the next comes a
/// second later, on the same tick): a crowd's first flush of 10,000, 190 ms long, spread them
/// over the whole 200 ms between two moves at 5 a second, and fanout-app's lag p99 was
/// 1.00–1.02 s. So a first flush that runs past this leaves the people it did not reach for
/// the line's next move: the crowd settles into groups, each pushed right after one move.
const GATHER: Duration = Duration::from_millis(50);
/// The longest someone waits for their first push that way: four moves of the line, and at
/// most this (the first news of someone left for a later move is then at most this late).
const FIRST_WAIT_MOST: Duration = Duration::from_millis(800);

/// A line that has not moved for this long is forgotten ([`Move`]): a long-running instance
/// sees many sessions come and go. Its next move counts as its first (first pushes gathered
/// after it), as for a new line.
const FORGET_MOVE_AFTER: Duration = Duration::from_secs(60);

/// Pushes sent between two yields of the flusher: a flush of 10,000 takes a few hundred ms.
const YIELD_EVERY: usize = 256;

/// Whether a second (`period`) since `since` is over at `now`, give or take [`REST_SLACK`].
fn rested(since: Instant, now: Instant, period: Duration) -> bool {
    now.saturating_duration_since(since) + REST_SLACK >= period
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Latest {
    ahead: usize,
    seconds: i64,
    sent_at: Option<Instant>,
    unsent: bool,
    /// When they first had a place to hear and had heard none yet.
    waiting_since: Instant,
}

/// When a session's line last moved here (told mode), and the time between its last two
/// moves: a line moving more than once a second has first pushes gathered after its moves.
#[derive(Clone, Copy, Debug)]
struct Move {
    at: Instant,
    interval: Option<Duration>,
    /// A flush has offered first pushes since this move: those it left wait for the next.
    offered: bool,
}

impl Move {
    /// Whether first pushes are gathered after this line's moves: it moves more than once a
    /// second, or has moved only once so far.
    fn gathers(&self) -> bool {
        self.interval.is_none_or(|i| i < EVERY)
    }

    /// How long someone waits for their first push at most ([`FIRST_WAIT_MOST`]).
    fn first_wait(&self) -> Duration {
        self.interval
            .map_or(FIRST_WAIT_MOST, |i| i * 4)
            .min(FIRST_WAIT_MOST)
    }
}

/// One of this instance's own queued people, watched on a shared waiting room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watched {
    /// The place they were last shown and whether admissions were paused then (`None`: not
    /// yet known here): a pause or resume is news too, said in the `estimate`.
    shown: Option<(usize, bool)>,
    /// When their place was last asked or shown: the next ask is a second later.
    asked_at: Instant,
    /// Joined before the on-sale time: out of line until the draw, and still watched.
    early: bool,
}

/// The newest position of everyone waiting, and when each last heard one; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Positions {
    latest: Arc<Mutex<HashMap<(SessionId, UserId), Latest>>>,
    /// Each session's last move (taken after `latest`, when both are).
    moves: Arc<Mutex<HashMap<SessionId, Move>>>,
    /// On a shared waiting room: this instance's own queued people, and the room to ask.
    watched: Arc<Mutex<HashMap<(SessionId, UserId), Watched>>>,
    /// Every session someone was watched in here: where unsaid admissions are looked for.
    sessions: Arc<Mutex<HashSet<SessionId>>>,
    /// The admissions said here lately, by a push or an ack ([`Said`]). On a shared room the
    /// same admission can reach an instance twice (the admissions channel and the look for
    /// unsaid ones; a resumed client's ack and the channel's news of an admission made while it
    /// reconnected): it is said once. Either way an ack read before one of them is not sent
    /// ([`Positions::unless_admitted_since`]).
    said: Arc<Mutex<HashMap<(SessionId, UserId), Said>>>,
    /// Counts the admissions said here: [`Positions::mark`].
    admissions: Arc<AtomicU64>,
    room: Option<Arc<dyn WaitingRoom>>,
    /// Turns a place into the pushed `estimate` (the line's observed pace).
    estimator: Estimator,
    /// Whether a session's admissions are paused (said in the `estimate`), and its rules.
    controls: Option<Arc<RoomControls>>,
}

/// An admission said here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Said {
    /// The end of the window said (ms).
    ends: Millis,
    /// When it was said (ms).
    at: Millis,
    /// Its number among the admissions said here ([`Positions::mark`]).
    number: u64,
    /// Whether a connection here heard it. One nobody here heard is not said for this
    /// instance: the instance holding the person's connection says it, through the channel or,
    /// when the channel lost it, a few seconds later ([`Positions::say_unsaid`]).
    heard: bool,
}

/// The lock [`Positions::admit`] takes first, in either mode: held while an ack is sent
/// ([`Positions::unless_admitted_since`]).
#[expect(dead_code, reason = "the guards are held for their drop, never read")]
enum Held<'a> {
    /// Told mode: the table of places.
    Told(MutexGuard<'a, HashMap<(SessionId, UserId), Latest>>),
    /// Asked mode: the watched people.
    Asked(MutexGuard<'a, HashMap<(SessionId, UserId), Watched>>),
}

/// One push to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    /// The session.
    pub session: SessionId,
    /// Who.
    pub user: UserId,
    /// People in front.
    pub ahead: usize,
    /// Estimated wait, seconds.
    pub seconds: i64,
    /// A first push gathered after a move: left for the next move if the flush runs past
    /// [`GATHER`].
    gathered: bool,
}

impl Positions {
    /// Positions whose pushes carry `estimator`'s estimates; asked of `room` when other
    /// instances share it ([`WaitingRoom::shared`]), told by departures otherwise.
    pub(crate) fn new(
        estimator: Estimator,
        controls: Arc<RoomControls>,
        room: Arc<dyn WaitingRoom>,
    ) -> Self {
        Self {
            room: room.shared().then_some(room),
            estimator,
            controls: Some(controls),
            ..Self::default()
        }
    }

    /// Whether places are asked of a shared room rather than told by departures.
    fn asks(&self) -> bool {
        self.room.is_some()
    }

    fn watched(&self) -> MutexGuard<'_, HashMap<(SessionId, UserId), Watched>> {
        self.watched.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `user` waits in `session`'s line through a connection of this instance, `ahead` people
    /// in front as their ack just said (`None`: early, or not known). On a shared room their
    /// place is asked again a second later; a room that tells departures needs no watch.
    pub(crate) fn watch(
        &self,
        session: SessionId,
        user: UserId,
        ahead: Option<usize>,
        early: bool,
    ) {
        if !self.asks() {
            return;
        }
        let paused = self.paused(session);
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session);
        self.watched().insert(
            (session, user),
            Watched {
                shown: ahead.map(|ahead| (ahead, paused)),
                asked_at: Instant::now(),
                early,
            },
        );
    }

    /// `user` is no longer in `session`'s line (left, or admitted by this instance).
    fn unwatch(&self, session: SessionId, user: UserId) {
        if self.asks() {
            self.watched().remove(&(session, user));
        }
    }

    /// Takes the watched people whose period is over at `now`, by session, marking them asked.
    /// The period is a second, or longer when this instance watches more people than it asks
    /// about in a second ([`MOST_ASKS_PER_SECOND`]).
    fn due_to_ask(&self, now: Instant) -> HashMap<SessionId, Vec<UserId>> {
        let mut due: HashMap<SessionId, Vec<UserId>> = HashMap::new();
        let mut watched = self.watched();
        let period = ask_period(watched.len());
        for ((session, user), watched) in watched.iter_mut() {
            if rested(watched.asked_at, now, period) {
                watched.asked_at = now;
                due.entry(*session).or_default().push(*user);
            }
        }
        due
    }

    /// What the room answered for a watched person, admissions `paused` or not: if their place
    /// or the pause changed (and they are still watched: a leave or an admission handled
    /// meanwhile wins), `push` sends the new place, and the place pushed is returned. Someone
    /// on the page or out of line is watched no more, unless they wait for the draw.
    ///
    /// `push` runs under the lock [`Positions::admit`] takes to say `admitted`: an answer read
    /// before an admission is either pushed before `admitted` or not at all.
    fn answered(
        &self,
        session: SessionId,
        user: UserId,
        place: Option<Place>,
        paused: bool,
        push: impl FnOnce(usize),
    ) -> Option<usize> {
        let mut watched = self.watched();
        let entry = watched.get_mut(&(session, user))?;
        match place {
            Some(Place::Queue(ahead)) => {
                entry.early = false;
                if entry.shown == Some((ahead, paused)) {
                    return None;
                }
                entry.shown = Some((ahead, paused));
                push(ahead);
                // The next ask is a second after this push left, not after this ask began: an
                // answer slower than the last one would otherwise bring two pushes closer
                // than a second (the fleet saw 2,634 such pairs at 10,000 clients).
                entry.asked_at = Instant::now();
                Some(ahead)
            }
            None if entry.early => None,
            _ => {
                watched.remove(&(session, user));
                None
            }
        }
    }

    /// Records that an ack told `user` they are on `session`'s page until `ends`: that
    /// admission is said, and is not pushed to them again.
    pub(crate) fn acked_on_page(&self, session: SessionId, user: UserId, ends: Millis) {
        if self.asks() {
            let said = Said {
                ends,
                at: crate::domain::time::now_millis(),
                number: self.admissions.load(Ordering::Acquire),
                heard: true,
            };
            self.said().insert((session, user), said);
        }
    }

    /// Where the count of admissions said here stands: an ack that reads where someone stands
    /// takes a mark before the read, and [`Positions::unless_admitted_since`] tells whether
    /// their admission was said while it read.
    pub(crate) fn mark(&self) -> u64 {
        self.admissions.load(Ordering::Acquire)
    }

    /// Unless `admitted` was said here to `user` of `session` since `mark`, a lock that holds
    /// off [`Positions::admit`] while the caller sends an ack read after the mark. An ack that
    /// says someone waits, sent after the `admitted` push, would put an app back in a line it
    /// already left, and no later push would correct it (the fleet's smoke saw one in five
    /// runs): such an ack is read again instead.
    pub(crate) fn unless_admitted_since(
        &self,
        session: SessionId,
        user: UserId,
        mark: u64,
    ) -> Option<impl Sized + '_> {
        // The lock `admit` takes first, so the check and the ack are one step for it.
        let lock = if self.asks() {
            Held::Asked(self.watched())
        } else {
            Held::Told(self.map())
        };
        let admitted = self
            .said()
            .get(&(session, user))
            .is_some_and(|said| said.number > mark);
        (!admitted).then_some(lock)
    }

    fn said(&self) -> MutexGuard<'_, HashMap<(SessionId, UserId), Said>> {
        self.said.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the admission of `user` whose window ends at `ends` was said here already.
    fn said_here(&self, session: SessionId, user: UserId, ends: Millis) -> bool {
        self.said()
            .get(&(session, user))
            .is_some_and(|said| said.heard && (said.ends - ends).abs() <= SAME_ADMISSION_MS)
    }

    /// Forgets the admissions said more than [`FORGET_AFTER_MS`] ago.
    fn forget_said(&self, now: Millis) {
        self.said()
            .retain(|_, said| now - said.at < FORGET_AFTER_MS);
    }

    /// Notes `admitted` said here to `user` of `session` (`heard`: by at least one connection).
    fn note_said(&self, session: SessionId, user: UserId, ends: Millis, heard: bool) {
        let said = Said {
            ends,
            at: crate::domain::time::now_millis(),
            number: self.admissions.fetch_add(1, Ordering::AcqRel) + 1,
            heard,
        };
        self.said().insert((session, user), said);
    }

    /// Says `admitted` (the buying-page window ending at `ends`) to `user`'s `/queue`
    /// connections on this instance, and ends their `position` pushes; returns how many
    /// connections heard it.
    ///
    /// Every `position` push is sent under the same lock, after checking that its person is
    /// still in line here: so no place, however long its answer was under way, is shown
    /// after `admitted` (the fleet saw 3–6 per run while `admitted` came through the adapter).
    pub(crate) fn admit<A: Adapter>(
        &self,
        io: &SocketIo<A>,
        session: SessionId,
        user: UserId,
        ends: Millis,
    ) -> usize {
        let sockets = local_entrants(io, session, user);
        let body = json!({"sessionId": session, "windowEndsAt": ends});
        let say = || {
            for socket in &sockets {
                emit_to(socket, ADMITTED_EVENT, &body);
            }
        };
        if self.asks() {
            let mut watched = self.watched();
            watched.remove(&(session, user));
            if self.said_here(session, user, ends) {
                // Heard already (see `said`); the caller may still record it said.
                return sockets.len();
            }
            say();
            self.note_said(session, user, ends, !sockets.is_empty());
        } else {
            let mut latest = self.map();
            latest.remove(&(session, user));
            say();
            self.note_said(session, user, ends, !sockets.is_empty());
        }
        sockets.len()
    }

    /// The original formula's wait at queue index `ahead` with every page place fresh (the
    /// estimate's fallback until the line's pace is known; asking for the page's entry times
    /// too would cost the shared room a range read per session and second).
    fn rough_seconds(&self, session: SessionId, ahead: usize, now: Millis) -> i64 {
        let Some(controls) = &self.controls else {
            return 0;
        };
        let rules = controls.rules(session);
        rules.seconds(now, (ahead / rules.limit.max(1)) as i64, now)
    }

    fn paused(&self, session: SessionId) -> bool {
        self.controls
            .as_ref()
            .is_some_and(|c| c.effective(session).paused)
    }

    fn map(&self) -> MutexGuard<'_, HashMap<(SessionId, UserId), Latest>> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records what a departure changed: the departed and the admitted leave the table,
    /// everyone behind gets their new place.
    pub(crate) fn departure(&self, session: SessionId, departed: UserId, departure: &Departure) {
        self.departure_of(session, Some(departed), departure);
    }

    /// [`Positions::departure`], also for an admission nobody's departure made (`None`).
    pub(crate) fn departure_of(
        &self,
        session: SessionId,
        departed: Option<UserId>,
        departure: &Departure,
    ) {
        self.departure_at(session, departed, departure, Instant::now());
    }

    /// [`Positions::departure_of`] at `at`.
    fn departure_at(
        &self,
        session: SessionId,
        departed: Option<UserId>,
        departure: &Departure,
        at: Instant,
    ) {
        if self.asks() {
            // The people this instance saw leave or admitted are out of line; everyone
            // else's place is asked, not told.
            for user in departed.into_iter().chain(departure.promoted) {
                self.unwatch(session, user);
            }
            return;
        }
        let mut map = self.map();
        if let Some(departed) = departed {
            map.remove(&(session, departed));
        }
        if let Some(promoted) = departure.promoted {
            map.remove(&(session, promoted));
        }
        for notice in &departure.notices {
            let latest = map.entry((session, notice.user)).or_insert(Latest {
                ahead: usize::MAX,
                seconds: 0,
                sent_at: None,
                unsent: false,
                waiting_since: at,
            });
            latest.ahead = notice.ahead;
            latest.seconds = notice.seconds;
            latest.unsent = true;
        }
        self.moved(session, at);
    }

    /// `session`'s line moved at `at`. Moves within a tick of each other (a crowd leaving
    /// at once) are one move.
    fn moved(&self, session: SessionId, at: Instant) {
        let mut moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        let last = moves.entry(session).or_insert(Move {
            at,
            interval: None,
            offered: false,
        });
        let since = at.saturating_duration_since(last.at);
        if since >= TICK {
            last.at = at;
            last.interval = Some(since);
        }
        last.offered = false;
    }

    /// Records a place given outright (the fair-start draw): `ahead` people in front.
    pub(crate) fn placed(&self, session: SessionId, user: UserId, ahead: usize, seconds: i64) {
        if self.asks() {
            // Their instance, whichever it is, asks within a second.
            return;
        }
        let mut map = self.map();
        let latest = map.entry((session, user)).or_insert(Latest {
            ahead: usize::MAX,
            seconds: 0,
            sent_at: None,
            unsent: false,
            waiting_since: Instant::now(),
        });
        latest.ahead = ahead;
        latest.seconds = seconds;
        latest.unsent = true;
        // The draw moves the line too: its crowd's first pushes are gathered as a move's, not
        // left behind a move whose flush is over.
        self.moved(session, Instant::now());
    }

    /// Sends `due` to its person's connections on this instance if they are still in line
    /// here (a departure or an admission handled since it was taken wins), under the lock
    /// [`Positions::admit`] says `admitted` under. The second until their next push counts from
    /// here: a flush of thousands of pushes takes a while, and counting from when it began
    /// would let the last of a batch hear its next push early.
    fn tell<A: Adapter>(&self, io: &SocketIo<A>, due: Due) {
        let paused = self.paused(due.session);
        let sockets = local_entrants(io, due.session, due.user);
        let body = body(&self.estimator, due.session, due.ahead, due.seconds, paused);
        let mut map = self.map();
        let Some(latest) = map.get_mut(&(due.session, due.user)) else {
            return;
        };
        for socket in &sockets {
            emit_to(socket, POSITION_EVENT, &body);
        }
        latest.sent_at = Some(Instant::now());
    }

    /// Takes the pushes due at `now`, marking them sent.
    pub(crate) fn due(&self, now: Instant) -> Vec<Due> {
        self.take(now, false)
    }

    /// Takes every unsent push, due or not, marking them sent: at shutdown the newest place
    /// goes out at once rather than with a connection that is about to close.
    fn pending(&self, now: Instant) -> Vec<Due> {
        self.take(now, true)
    }

    /// The pushes due at `now` (all unsent ones with `all`), marked sent; first pushes
    /// gathered after a move ([`Due::gathered`]) come last, offered once per move: someone a
    /// flush left waits for the line's next move (or until [`Move::first_wait`] has passed).
    fn take(&self, now: Instant, all: bool) -> Vec<Due> {
        let mut map = self.map();
        let mut moves = self.moves.lock().unwrap_or_else(|e| e.into_inner());
        let (mut due, mut gathered) = (Vec::new(), Vec::new());
        for ((session, user), latest) in map.iter_mut() {
            let rested = all || latest.sent_at.is_none_or(|t| rested(t, now, EVERY));
            if !latest.unsent || !rested {
                continue;
            }
            // A first push on a line that gathers them, before its wait is over.
            let first = latest.sent_at.is_none() && !all;
            let line = moves
                .get(session)
                .filter(|m| first && m.gathers())
                .filter(|m| now.saturating_duration_since(latest.waiting_since) < m.first_wait());
            if line.is_some_and(|m| m.offered) {
                continue;
            }
            latest.unsent = false;
            latest.sent_at = Some(now);
            let push = Due {
                session: *session,
                user: *user,
                ahead: latest.ahead,
                seconds: latest.seconds,
                gathered: line.is_some(),
            };
            if push.gathered {
                gathered.push(push);
            } else {
                due.push(push);
            }
        }
        for push in &gathered {
            if let Some(line) = moves.get_mut(&push.session) {
                line.offered = true;
            }
        }
        moves.retain(|_, line| now.saturating_duration_since(line.at) < FORGET_MOVE_AFTER);
        due.append(&mut gathered);
        due
    }

    /// Puts back first pushes a flush did not reach in time: they wait for the next move.
    fn put_back(&self, pushes: impl Iterator<Item = Due>) {
        let mut map = self.map();
        for push in pushes {
            if let Some(latest) = map.get_mut(&(push.session, push.user)) {
                latest.unsent = true;
                latest.sent_at = None;
            }
        }
    }

    /// Sends due pushes through `io` until `stop`, then whatever is still unsent.
    pub(crate) async fn flush<A: Adapter>(self, io: SocketIo<A>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(TICK);
        // A tick that overran (a flush of thousands) must not move the ticks after it: each
        // person's pushes keep to the tick they began on, a second apart.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut looked_for_unsaid = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => break,
            }
            let look_for_unsaid = looked_for_unsaid.elapsed() >= EVERY;
            if look_for_unsaid {
                looked_for_unsaid = Instant::now();
            }
            if let Some(room) = &self.room {
                self.ask(&io, room.as_ref()).await;
                if look_for_unsaid {
                    self.say_unsaid(&io, room.as_ref()).await;
                }
                continue;
            }
            if look_for_unsaid {
                // Nothing is unsaid on a room of one instance; the admissions said are kept
                // only for the acks under way (`unless_admitted_since`).
                self.forget_said(crate::domain::time::now_millis());
            }
            let began = Instant::now();
            let mut pushes = self.due(began).into_iter();
            let mut n = 0;
            while let Some(due) = pushes.next() {
                if n > 0 && n % YIELD_EVERY == 0 {
                    tokio::task::yield_now().await;
                    // Past the gathering time after a move, the rest wait for the next one.
                    if due.gathered && began.elapsed() > GATHER {
                        self.put_back(std::iter::once(due).chain(pushes));
                        break;
                    }
                }
                self.tell(&io, due);
                n += 1;
            }
        }
        self.send_pending(&io);
    }

    /// Says `admitted` to this instance's connections of people whose admission went unsaid
    /// for [`SAY_AFTER_MS`]: the instance that admitted them died before it spoke (a slow one
    /// that speaks later repeats a whole value, which is harmless).
    async fn say_unsaid<A: Adapter>(&self, io: &SocketIo<A>, room: &dyn WaitingRoom) {
        self.forget_said(crate::domain::time::now_millis());
        let sessions: Vec<SessionId> = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .copied()
            .collect();
        for session in sessions {
            let unsaid = match room.unannounced(session).await {
                Ok(unsaid) => unsaid,
                Err(e) => {
                    tracing::debug!(error = %e, %session, "looking for unsaid admissions failed");
                    continue;
                }
            };
            let now = crate::domain::time::now_millis();
            let window = self
                .controls
                .as_ref()
                .map_or(0, |c| c.effective(session).window_ms);
            let mut said = Vec::new();
            for (user, at) in unsaid {
                let heard_here = self.said_here(session, user, at + window);
                let connected = || !local_entrants(io, session, user).is_empty();
                match unsaid_step(now - at, heard_here, connected) {
                    Unsaid::Wait => continue,
                    Unsaid::Done => {}
                    Unsaid::Say => {
                        tracing::info!(%session, %user, "saying an admission nobody said");
                        self.admit(io, session, user, at + window);
                    }
                }
                said.push(user);
            }
            if said.is_empty() {
                continue;
            }
            if let Err(e) = room.announced(session, &said).await {
                tracing::debug!(error = %e, %session, "recording said admissions failed");
            }
        }
    }

    /// One round on a shared room: asks where the watched people whose second is over stand,
    /// and pushes each changed place to their connections on this instance.
    async fn ask<A: Adapter>(&self, io: &SocketIo<A>, room: &dyn WaitingRoom) {
        for (session, users) in self.due_to_ask(Instant::now()) {
            // People with no connection here any more are not asked about; the others'
            // connections are kept, so each push goes straight to them.
            let mut here = Vec::with_capacity(users.len());
            for user in users {
                let sockets = local_entrants(io, session, user);
                if sockets.is_empty() {
                    self.unwatch(session, user);
                } else {
                    here.push((user, sockets));
                }
            }
            if here.is_empty() {
                continue;
            }
            let asked: Vec<UserId> = here.iter().map(|(user, _)| *user).collect();
            let places = match room.places(session, &asked).await {
                Ok(places) => places,
                Err(e) => {
                    // Asked again in a second; the shown places stay as they were.
                    tracing::warn!(error = %e, %session, "asking where queued people stand failed");
                    continue;
                }
            };
            let now = crate::domain::time::now_millis();
            let paused = self.paused(session);
            for ((user, sockets), place) in here.into_iter().zip(places) {
                self.answered(session, user, place, paused, |ahead| {
                    let seconds = self.rough_seconds(session, ahead, now);
                    let body = body(&self.estimator, session, ahead, seconds, paused);
                    for socket in &sockets {
                        emit_to(socket, POSITION_EVENT, &body);
                    }
                });
            }
        }
    }

    /// Sends every unsent push now, rate limit or not (shutdown: the sockets close next).
    pub(crate) fn send_pending<A: Adapter>(&self, io: &SocketIo<A>) {
        for due in self.pending(Instant::now()) {
            self.tell(io, due);
        }
    }
}

/// What the look for unsaid admissions does with one.
#[derive(Debug, PartialEq, Eq)]
enum Unsaid {
    /// Recorded said in the shared room: said here already (by a push or an ack; the pushes
    /// record theirs only here, all of a session's in one call), or nobody is there to hear it.
    Done,
    /// Said to this instance's connections of the person now, then recorded said.
    Say,
    /// Left for the admitting instance, or for the instance holding the person's connection.
    Wait,
}

/// The step for an admission made `age` ms ago, `heard_here` already, the person `connected`
/// here or not (asked only when it matters: it is a room lookup).
fn unsaid_step(age: Millis, heard_here: bool, connected: impl FnOnce() -> bool) -> Unsaid {
    if heard_here || age >= NOBODY_TO_HEAR_MS {
        Unsaid::Done
    } else if age >= SAY_AFTER_MS && connected() {
        Unsaid::Say
    } else {
        Unsaid::Wait
    }
}

/// The `/queue` connections of `user` in `session`'s line on this instance.
fn local_entrants<A: Adapter>(
    io: &SocketIo<A>,
    session: SessionId,
    user: UserId,
) -> Vec<socketioxide::extract::SocketRef<A>> {
    rooms::to_in(io, rooms::QUEUE_NAMESPACE, rooms::entrant(session, user))
        .map(|to| to.local().sockets())
        .unwrap_or_default()
}

/// Emits one push to one connection, telling the recorder's tap of it.
fn emit_to<A: Adapter>(
    socket: &socketioxide::extract::SocketRef<A>,
    event: &'static str,
    body: &serde_json::Value,
) {
    if let Some(tap) = crate::realtime::tap::of(socket) {
        tap.emitted(event, &[body]);
    }
    if let Err(e) = socket.emit(event, body) {
        tracing::debug!(error = %e, event, "a push failed");
    }
}

/// A `position` push's body: `ahead` people in front, the wait from the line's pace (or
/// `seconds`, the original formula's, until the pace is known).
fn body(
    estimator: &Estimator,
    session: SessionId,
    ahead: usize,
    seconds: i64,
    paused: bool,
) -> serde_json::Value {
    let wait = estimator.estimate(session, ahead, seconds);
    let estimate = super::queue::estimate(wait, paused);
    json!({"sessionId": session, "ahead": ahead, "estimate": estimate})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::waiting_room::{Notice, Place};

    fn moved(from: Place, notified: &[i64]) -> Departure {
        let start = match from {
            Place::Queue(index) => index,
            Place::Page => 0,
        };
        Departure {
            from,
            promoted: None,
            notices: notified
                .iter()
                .enumerate()
                .map(|(k, u)| Notice {
                    user: UserId(*u),
                    seconds: 30,
                    ahead: start + k,
                    steps: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_person_hears_at_most_once_a_second_and_always_the_newest_place() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        positions.departure(s, UserId(3), &moved(Place::Queue(0), &[7]));
        assert!(positions.due(t0 + Duration::from_millis(500)).is_empty());
        let later = positions.due(t0 + EVERY);
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].ahead, 0);
        assert!(
            positions.due(t0 + EVERY * 3).is_empty(),
            "nothing new, nothing sent"
        );
    }

    #[test]
    fn at_shutdown_a_held_back_place_goes_out_at_once_and_only_once() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        let soon = t0 + Duration::from_millis(10);
        assert!(
            positions.due(soon).is_empty(),
            "held back by the rate limit"
        );
        let pending = positions.pending(soon);
        assert_eq!(pending.len(), 1);
        assert!(positions.pending(soon).is_empty(), "sent once");
    }

    #[test]
    fn the_second_counts_from_when_a_push_left_not_from_when_its_flush_began() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        positions.departure(s, UserId(1), &moved(Place::Queue(0), &[7]));
        assert_eq!(positions.due(t0).len(), 1);
        // The flush reached this person's socket 300 ms after it began.
        positions
            .map()
            .get_mut(&(s, UserId(7)))
            .expect("queued")
            .sent_at = Some(t0 + Duration::from_millis(300));
        positions.departure(s, UserId(2), &moved(Place::Queue(0), &[7]));
        assert!(
            positions.due(t0 + EVERY).is_empty(),
            "a second after the flush began is 700 ms after the push left"
        );
        assert_eq!(
            positions.due(t0 + EVERY + Duration::from_millis(300)).len(),
            1
        );
    }

    #[test]
    fn a_line_that_moves_each_200_ms_is_shown_every_second_on_the_same_tick() {
        // The flusher's ticks every 20 ms; each push leaves 1 ms after its tick began (as
        // `tell` marks it); the line moves every 200 ms.
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        let mut pushed = Vec::new();
        for n in 0..600u32 {
            let tick = t0 + TICK * n;
            if n % 10 == 0 {
                let ahead = 1_000 - n as usize / 10;
                let departure = moved(Place::Queue(ahead), &[7]);
                positions.departure_at(s, Some(UserId(1)), &departure, tick);
            }
            for due in positions.due(tick) {
                assert_eq!(due.user, UserId(7));
                positions
                    .map()
                    .get_mut(&(s, due.user))
                    .expect("queued")
                    .sent_at = Some(tick + Duration::from_millis(1));
                pushed.push(n);
            }
        }
        let gaps: Vec<u32> = pushed.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(pushed[0], 0);
        assert!(
            gaps.iter().all(|g| *g == 50),
            "every push 50 ticks (1 s) after the one before, on the tick the line moved: {gaps:?}"
        );
    }

    #[test]
    fn a_crowd_s_first_pushes_left_by_a_long_flush_wait_for_the_next_move() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let crowd = [7, 8, 9];
        // The line moves every 200 ms; the crowd's first news comes with the second move.
        positions.departure_at(s, Some(UserId(1)), &moved(Place::Queue(10), &[]), ms(0));
        positions.departure_at(s, Some(UserId(2)), &moved(Place::Queue(0), &crowd), ms(200));
        let first = positions.due(ms(201));
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|d| d.gathered), "{first:?}");
        // The flush ran out of time after one of them.
        positions.put_back(first.into_iter().skip(1));
        assert!(
            positions.due(ms(260)).is_empty(),
            "the two left wait for the next move, not the next tick"
        );
        positions.departure_at(s, Some(UserId(3)), &moved(Place::Queue(0), &crowd), ms(400));
        let next = positions.due(ms(401));
        assert_eq!(
            next.len(),
            2,
            "the two go out right after the next move: {next:?}"
        );
        // One more is left, and the line stalls: it waits four moves' time at most.
        positions.put_back(next.into_iter().skip(1));
        assert!(positions.due(ms(500)).is_empty());
        let last = positions.due(ms(1_000));
        assert_eq!(last.len(), 1, "waited 800 ms since its news: {last:?}");
        assert!(!last[0].gathered, "and is not left again");
        // Pushes after the first are never held back for a move.
        positions.departure_at(
            s,
            Some(UserId(4)),
            &moved(Place::Queue(0), &crowd),
            ms(1_100),
        );
        // At 2 s all three have rested; the move is 900 ms old, and nobody waits for another.
        assert_eq!(positions.due(ms(2_000)).len(), 3);
    }

    #[test]
    fn a_line_that_stopped_moving_is_forgotten_and_its_next_move_is_a_first() {
        let positions = Positions::default();
        let (s, other) = (SessionId(1), SessionId(2));
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        positions.departure_at(s, Some(UserId(1)), &moved(Place::Queue(10), &[7]), ms(0));
        positions.departure_at(
            other,
            Some(UserId(2)),
            &moved(Place::Queue(5), &[8]),
            ms(50_000),
        );
        positions.due(ms(59_000));
        assert_eq!(positions.moves.lock().expect("lock").len(), 2);
        positions.due(ms(60_000));
        let lines: Vec<SessionId> = positions
            .moves
            .lock()
            .expect("lock")
            .keys()
            .copied()
            .collect();
        assert_eq!(lines, [other], "a minute without a move forgets the line");
        // Its next move gathers first pushes again, as a new line's does.
        positions.departure_at(
            s,
            Some(UserId(3)),
            &moved(Place::Queue(0), &[9]),
            ms(61_000),
        );
        let first = positions.due(ms(61_001));
        assert!(
            first.iter().any(|d| d.user == UserId(9) && d.gathered),
            "{first:?}"
        );
    }

    #[test]
    fn people_placed_by_the_draw_are_not_left_behind_a_move_already_flushed() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        let at = |n: u64| t0 + Duration::from_millis(n);
        positions.departure_at(s, Some(UserId(1)), &moved(Place::Queue(10), &[7]), at(0));
        assert_eq!(
            positions.due(at(1)).len(),
            1,
            "the move's flush offered its pushes"
        );
        positions.placed(s, UserId(8), 3, 30);
        let drawn = positions.due(Instant::now());
        assert_eq!(
            drawn.iter().map(|d| d.user).collect::<Vec<_>>(),
            [UserId(8)],
            "the draw is a move of its own"
        );
    }

    #[test]
    fn a_line_moving_less_than_once_a_second_pushes_everyone_at_once() {
        let positions = Positions::default();
        let s = SessionId(1);
        let t0 = Instant::now();
        let at = |n: u64| t0 + Duration::from_millis(n);
        positions.departure_at(s, Some(UserId(1)), &moved(Place::Queue(10), &[]), at(0));
        positions.departure_at(
            s,
            Some(UserId(2)),
            &moved(Place::Queue(0), &[7, 8]),
            at(2_000),
        );
        let due = positions.due(at(2_001));
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|d| !d.gathered), "{due:?}");
    }

    /// Positions that ask a shared room (an in-process one stands in; only `asks` matters).
    fn asking() -> Positions {
        let room = crate::storage::memory::MemoryWaitingRoom::new(
            crate::domain::waiting_room::Rules {
                limit: 1,
                window_ms: 600_000,
                buffer_s: 10,
                paused: false,
            },
            610_000,
        );
        Positions {
            room: Some(Arc::new(room)),
            ..Positions::default()
        }
    }

    #[test]
    fn a_watched_person_is_asked_about_once_a_second() {
        let positions = asking();
        let s = SessionId(1);
        positions.watch(s, UserId(7), Some(5), false);
        let t0 = Instant::now();
        assert!(positions.due_to_ask(t0).is_empty(), "the join just said it");
        let due = positions.due_to_ask(t0 + EVERY);
        assert_eq!(due.get(&s), Some(&vec![UserId(7)]));
        assert!(positions.due_to_ask(t0 + EVERY + TICK).is_empty());
        assert_eq!(positions.due_to_ask(t0 + EVERY * 2).len(), 1);
    }

    #[test]
    fn only_a_changed_place_is_pushed_and_the_admitted_or_gone_are_watched_no_more() {
        let positions = asking();
        let s = SessionId(1);
        positions.watch(s, UserId(7), Some(5), false);
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Queue(5)), false, |_| {}),
            None
        );
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Queue(3)), false, |_| {}),
            Some(3)
        );
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Queue(3)), true, |_| {}),
            Some(3),
            "a pause is said, in the estimate"
        );
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Page), false, |_| {}),
            None
        );
        assert!(
            positions.watched().is_empty(),
            "admitted: `admitted` is theirs"
        );
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Queue(0)), false, |_| {}),
            None,
            "an answer for someone no longer watched (left meanwhile) is not pushed"
        );
        positions.watch(s, UserId(8), Some(2), false);
        assert_eq!(positions.answered(s, UserId(8), None, false, |_| {}), None);
        assert!(positions.watched().is_empty(), "out of line");
    }

    #[test]
    fn an_early_person_is_watched_through_the_draw_and_a_departure_ends_a_watch() {
        let positions = asking();
        let s = SessionId(1);
        positions.watch(s, UserId(7), None, true);
        assert_eq!(positions.answered(s, UserId(7), None, false, |_| {}), None);
        assert_eq!(positions.watched().len(), 1, "still waiting for the draw");
        assert_eq!(
            positions.answered(s, UserId(7), Some(Place::Queue(40)), false, |_| {}),
            Some(40)
        );
        positions.departure(s, UserId(7), &moved(Place::Queue(0), &[8]));
        assert!(positions.watched().is_empty());
        assert!(
            positions.due(Instant::now()).is_empty(),
            "an asking instance pushes nothing it was told"
        );
    }

    #[test]
    fn the_next_ask_waits_a_second_from_when_the_push_left() {
        let positions = asking();
        let s = SessionId(1);
        let asked = Instant::now();
        positions.watch(s, UserId(7), Some(5), false);
        // The push took 80 ms to leave.
        let pushed = positions.answered(s, UserId(7), Some(Place::Queue(3)), false, |_| {
            std::thread::sleep(Duration::from_millis(80))
        });
        assert_eq!(pushed, Some(3));
        assert!(
            positions.due_to_ask(asked + EVERY).is_empty(),
            "a second after the ask is less than a second after the push"
        );
        assert_eq!(positions.due_to_ask(Instant::now() + EVERY).len(), 1);
    }

    #[test]
    fn an_admission_said_while_an_answer_was_under_way_stops_its_push() {
        let positions = asking();
        let s = SessionId(1);
        positions.watch(s, UserId(7), Some(5), false);
        assert_eq!(positions.due_to_ask(Instant::now() + EVERY).len(), 1);
        // The room answered `ahead 0`; before the push, `admitted` was said here (through
        // the admissions channel when another instance admitted them).
        let io = SocketIo::new_svc().1;
        assert_eq!(
            positions.admit(&io, s, UserId(7), 60_000),
            0,
            "no connection here"
        );
        let mut pushed = false;
        let answer = positions.answered(s, UserId(7), Some(Place::Queue(0)), false, |_| {
            pushed = true;
        });
        assert_eq!(answer, None);
        assert!(!pushed, "no place after `admitted`");
    }

    /// A server with a `/queue` whose connections wait in `session`'s line as user 8, and one
    /// such connection: the packets it is sent come out of the receiver.
    async fn connected_as_8(
        session: SessionId,
    ) -> (
        SocketIo,
        tokio::sync::mpsc::Receiver<engineioxide::Packet>,
        tokio::sync::mpsc::Sender<engineioxide::Packet>,
    ) {
        let (_, io) = SocketIo::new_svc();
        io.ns(
            rooms::QUEUE_NAMESPACE,
            move |s: socketioxide::extract::SocketRef| async move {
                rooms::join(&s, rooms::entrant(session, UserId(8)));
            },
        );
        let (to_server, from_server) = io.new_dummy_sock(rooms::QUEUE_NAMESPACE, ()).await;
        (io, from_server, to_server)
    }

    /// The `admitted` pushes `from_server` brings within 50 ms (the dummy socket hands its
    /// packets over through a task of its own).
    async fn admitted_sent(
        from_server: &mut tokio::sync::mpsc::Receiver<engineioxide::Packet>,
    ) -> usize {
        let mut admitted = 0;
        let wait = Duration::from_millis(50);
        while let Ok(Some(packet)) = tokio::time::timeout(wait, from_server.recv()).await {
            if let engineioxide::Packet::Message(text) = packet
                && text.contains(&format!("[\"{ADMITTED_EVENT}\""))
            {
                admitted += 1;
            }
        }
        admitted
    }

    #[tokio::test]
    async fn an_admission_said_here_is_not_said_again_but_a_later_one_is() {
        let positions = asking();
        let s = SessionId(1);
        positions.acked_on_page(s, UserId(7), 600_000);
        assert!(
            positions.said_here(s, UserId(7), 600_400),
            "the same admission"
        );
        assert!(
            !positions.said_here(s, UserId(7), 660_000),
            "a later admission of the same person"
        );
        let (io, mut from_server, _to_server) = connected_as_8(s).await;
        assert_eq!(positions.admit(&io, s, UserId(8), 700_000), 1);
        assert!(positions.said_here(s, UserId(8), 700_000), "said by a push");
        assert_eq!(positions.admit(&io, s, UserId(8), 700_300), 1);
        assert_eq!(admitted_sent(&mut from_server).await, 1, "said once");
        let later = crate::domain::time::now_millis() + FORGET_AFTER_MS;
        positions.forget_said(later);
        assert!(
            !positions.said_here(s, UserId(8), 700_000),
            "forgotten in time"
        );
    }

    #[test]
    fn an_admission_no_connection_here_heard_is_left_to_the_instance_holding_one() {
        // The admitting instance (or one that heard the channel while the person was between
        // connections) says it to nobody: it must not record it said, or its next look for
        // unsaid admissions marks it said in the shared room, and an instance holding the
        // person's connection that missed the channel's news never says it.
        let positions = asking();
        let s = SessionId(1);
        let io = SocketIo::new_svc().1;
        assert_eq!(positions.admit(&io, s, UserId(7), 60_000), 0);
        assert!(!positions.said_here(s, UserId(7), 60_000));
    }

    #[test]
    fn an_unsaid_admission_is_said_by_the_instance_holding_a_connection_and_dropped_when_none_does()
    {
        let never = || -> bool { panic!("no room lookup needed") };
        assert_eq!(unsaid_step(500, true, never), Unsaid::Done, "heard here");
        assert_eq!(
            unsaid_step(500, false, || true),
            Unsaid::Wait,
            "the admitting instance speaks first"
        );
        assert_eq!(unsaid_step(SAY_AFTER_MS, false, || true), Unsaid::Say);
        assert_eq!(
            unsaid_step(SAY_AFTER_MS, false, || false),
            Unsaid::Wait,
            "another instance may hold their connection"
        );
        assert_eq!(
            unsaid_step(NOBODY_TO_HEAR_MS, false, never),
            Unsaid::Done,
            "a legacy visitor or someone offline: the list does not keep them for minutes"
        );
    }

    #[test]
    fn an_ack_read_before_an_admission_said_here_is_held_back_in_either_mode() {
        let s = SessionId(1);
        let io = SocketIo::new_svc().1;
        for positions in [asking(), Positions::default()] {
            let before = positions.mark();
            assert!(
                positions
                    .unless_admitted_since(s, UserId(7), before)
                    .is_some()
            );
            positions.admit(&io, s, UserId(7), 60_000);
            assert!(
                positions
                    .unless_admitted_since(s, UserId(7), before)
                    .is_none(),
                "an ack read before `admitted` would take them back to the line"
            );
            assert!(
                positions
                    .unless_admitted_since(s, UserId(8), before)
                    .is_some(),
                "someone else's admission does not hold it back"
            );
            let after = positions.mark();
            assert!(
                positions
                    .unless_admitted_since(s, UserId(7), after)
                    .is_some()
            );
        }
    }

    #[tokio::test]
    async fn an_admission_waits_for_an_ack_being_sent() {
        let positions = asking();
        let s = SessionId(1);
        let (io, mut from_server, _to_server) = connected_as_8(s).await;
        let held = positions.unless_admitted_since(s, UserId(8), positions.mark());
        let admitting = std::thread::spawn({
            let positions = positions.clone();
            let io = io.clone();
            move || positions.admit(&io, s, UserId(8), 60_000)
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!admitting.is_finished(), "`admitted` waited for the ack");
        drop(held);
        assert_eq!(admitting.join().ok(), Some(1));
        assert_eq!(admitted_sent(&mut from_server).await, 1);
    }

    #[test]
    fn a_crowd_larger_than_a_seconds_asks_is_asked_about_less_often() {
        assert_eq!(ask_period(10), EVERY);
        assert_eq!(ask_period(MOST_ASKS_PER_SECOND), EVERY);
        assert_eq!(ask_period(MOST_ASKS_PER_SECOND * 3), EVERY * 3);
        let positions = asking();
        let s = SessionId(1);
        let crowd = MOST_ASKS_PER_SECOND * 2;
        for user in 0..crowd {
            positions.watch(s, UserId(user as i64), Some(user), false);
        }
        let t0 = Instant::now();
        assert!(positions.due_to_ask(t0 + EVERY + TICK).is_empty());
        let due = positions.due_to_ask(t0 + EVERY * 2 + TICK);
        assert_eq!(due.get(&s).map(Vec::len), Some(crowd));
    }

    #[test]
    fn a_told_instance_watches_nobody() {
        let positions = Positions::default();
        positions.watch(SessionId(1), UserId(7), Some(5), false);
        assert!(positions.watched().is_empty());
    }

    #[test]
    fn places_count_from_where_the_departure_was() {
        let positions = Positions::default();
        positions.departure(SessionId(1), UserId(1), &moved(Place::Queue(4), &[8, 9]));
        let mut due = positions.due(Instant::now());
        due.sort_by_key(|d| d.ahead);
        assert_eq!(
            due.iter().map(|d| (d.user.0, d.ahead)).collect::<Vec<_>>(),
            vec![(8, 4), (9, 5)]
        );
    }
}
