//! The shared waiting room on Redis (fred): every transition is one Lua script under `lua/`,
//! loaded once and called by SHA. A session's keys share the hash tag `{<session>}` so each
//! script touches one Redis Cluster slot. Scripts return the raw facts (ranks, entry times,
//! affected members); the wait estimates are computed here with the domain's [`Rules`].

mod departures;
mod entrances;
mod fair;
mod keys;
mod lease;
mod parse;
mod sold;
mod versions;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;

use super::controls::RoomControls;
use super::model::Tallied;
use super::{Drawn, Expiry, RECENT_ADMISSIONS, StorageError, StorageResult, WaitingRoom};
use crate::domain::draw::DrawRecord;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{
    Admission, Admitted, Departure, Hears, Holder, Moves, Notice, Place, Rules,
};
use keys::RoomKeys;
pub use lease::Lease;
use parse::{Reply, int, text};
pub use sold::RedisSoldCounts;
pub use versions::RedisSeatVersions;

struct Scripts {
    enter: Script,
    enter_batch: Script,
    leave: Script,
    leave_batch: Script,
    expire: Script,
    place: Script,
    places: Script,
    leave_early: Script,
    renew: Script,
    fence: Script,
    fill: Script,
    extend: Script,
    close: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            // One body for both, so a lone arrival and a batched one cannot drift apart.
            enter: Script::from_lua(concat!(
                include_str!("lua/enter_body.lua"),
                include_str!("lua/enter.lua")
            )),
            enter_batch: Script::from_lua(concat!(
                include_str!("lua/enter_body.lua"),
                include_str!("lua/enter_batch.lua")
            )),
            leave: Script::from_lua(include_str!("lua/leave.lua")),
            leave_batch: Script::from_lua(include_str!("lua/leave_batch.lua")),
            expire: Script::from_lua(include_str!("lua/expire.lua")),
            place: Script::from_lua(include_str!("lua/place.lua")),
            places: Script::from_lua(include_str!("lua/places.lua")),
            leave_early: Script::from_lua(include_str!("lua/leave_early.lua")),
            renew: Script::from_lua(include_str!("lua/renew.lua")),
            fence: Script::from_lua(include_str!("lua/fence.lua")),
            fill: Script::from_lua(include_str!("lua/fill.lua")),
            extend: Script::from_lua(include_str!("lua/extend.lua")),
            close: Script::from_lua(include_str!("lua/close.lua")),
        }
    }

    /// Makes the scripts resident on every node, so the first call of a sale is a plain EVALSHA.
    async fn load(&self, client: &Client) -> Result<(), Error> {
        for script in [
            &self.enter,
            &self.enter_batch,
            &self.leave,
            &self.leave_batch,
            &self.expire,
            &self.place,
            &self.leave_early,
            &self.renew,
            &self.fence,
            &self.fill,
            &self.extend,
            &self.close,
        ] {
            script.load(client).await?;
        }
        Ok(())
    }
}

/// The admission an enter script's answer (`kind`, `rank`, `base`) names, with its estimate.
fn admission(
    rules: &Rules,
    kind: &str,
    rank: &Value,
    base: &Value,
    now: Millis,
) -> StorageResult<Admission> {
    match kind {
        "page" => Ok(Admission::Pass),
        "queue" => {
            let rank = int(rank).max(0) as usize;
            let base = int(base);
            let base = if base < 0 { now } else { base };
            let round = (rank / rules.limit) as i64;
            Ok(Admission::Queued {
                wait_people: rank + 1,
                seconds: rules.seconds(base, round, now),
            })
        }
        other => Err(StorageError::Unavailable(format!(
            "the enter script answered {other:?}"
        ))),
    }
}

/// The place a place.lua reply names.
fn placed(reply: &Reply) -> Option<Place> {
    match reply.kind().as_str() {
        "page" => Some(Place::Page),
        "queue" => Some(Place::Queue(int(reply.at(1)).max(0) as usize)),
        _ => None,
    }
}

/// Waiting rooms shared by every instance through Redis.
///
/// Crash safety: each instance renews a lease key; the places it holds are indexed under its id
/// and their holder tokens start with it. When a lease stays missing for a whole lease lifetime
/// (the instance died), a survivor fences it and ends those visits, freeing their places for
/// the next in line (see `lease.rs`).
pub struct RedisWaitingRoom {
    client: Client,
    prefix: String,
    /// Each session's rules and page lifetime (operator settings over the defaults).
    controls: std::sync::Arc<RoomControls>,
    scripts: Scripts,
    lease: Lease,
    /// The id this instance holds places under now: the lease's, or a new one after a peer
    /// fenced it (see `lease.rs`).
    instance: std::sync::RwLock<String>,
    /// What this instance has seen of its peers' leases.
    watch: std::sync::Mutex<crate::domain::lease::PeerWatch>,
    /// Leaves waiting to be applied together (see `departures.rs`).
    departures: departures::Departures,
    /// Arrivals waiting to be applied together (see `entrances.rs`).
    entrances: entrances::Entrances,
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

/// A fred builder for `redis://…` or `redis-cluster://…` that survives Redis faults: every
/// command fails after `timeout` instead of waiting (a stalled Redis costs a request an
/// error, not a hang), and a lost connection is re-opened with backoff, forever (a Redis that
/// restarts must not wedge the instance until it restarts too). Scripts a restarted Redis
/// forgot are re-loaded by `evalsha_with_reload` on their next call.
pub fn builder(url: &str, timeout: Duration) -> StorageResult<Builder> {
    let config = Config::from_url(url).map_err(|e| StorageError::Config(e.to_string()))?;
    let mut builder = Builder::from_config(config);
    // 0 attempts = no limit; 50 ms doubling to 1 s, so a restart is noticed within a second.
    builder.set_policy(ReconnectPolicy::new_exponential(0, 50, 1_000, 2));
    builder.with_performance_config(|p| p.default_command_timeout = timeout);
    builder.with_connection_config(|c| {
        c.connection_timeout = timeout;
        c.internal_command_timeout = timeout;
        // A connection that stops answering for this long (a host gone without a reset) is
        // replaced rather than trusted forever.
        c.unresponsive.max_timeout = Some(timeout * 5);
        c.unresponsive.interval = timeout.min(Duration::from_secs(1));
    });
    Ok(builder)
}

/// Connects a fred client built by [`builder`].
pub async fn connect(url: &str, timeout: Duration) -> StorageResult<Client> {
    let client = builder(url, timeout)?.build().map_err(unavailable)?;
    client.init().await.map_err(unavailable)?;
    Ok(client)
}

impl RedisWaitingRoom {
    /// Connects, loads the scripts, takes the lease, and namespaces every key under `prefix`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        rules: Rules,
        lifetime_ms: Millis,
        lease: Lease,
        timeout: Duration,
    ) -> StorageResult<Self> {
        let client = connect(url, timeout).await?;
        let scripts = Scripts::new();
        scripts.load(&client).await.map_err(unavailable)?;
        let room = Self {
            client,
            prefix: prefix.to_string(),
            controls: std::sync::Arc::new(RoomControls::from_rules(rules, lifetime_ms)),
            scripts,
            instance: std::sync::RwLock::new(lease.instance.clone()),
            lease,
            watch: Default::default(),
            departures: Default::default(),
            entrances: Default::default(),
        };
        room.renew_lease(crate::domain::time::now_millis()).await?;
        Ok(room)
    }

    /// Takes each session's rules from `controls` (the operator's settings) from now on.
    pub fn with_controls(mut self, controls: std::sync::Arc<RoomControls>) -> Self {
        self.controls = controls;
        self
    }

    fn keys(&self) -> keys::Keys<'_> {
        keys::Keys(&self.prefix)
    }

    /// Runs enter.lua with a holder token in its stored form (the draw places entrants with
    /// the tokens their own instances stored), and indexes the place under that instance.
    async fn enter_stored(
        &self,
        session: SessionId,
        user: UserId,
        holder: String,
        now: Millis,
        hears: Hears,
    ) -> StorageResult<Admission> {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let keys = vec![
            k.page, k.queue, k.holder, k.seq, k.joined, k.admits, k.rules, k.told,
        ];
        let told = match hears {
            Hears::EachStep => "told",
            Hears::Place => "asks",
        };
        let args = vec![
            user.to_string(),
            holder.clone(),
            now.to_string(),
            rules.limit.to_string(),
            keys::IDLE_TTL_MS.to_string(),
            rules.admits().to_string(),
            RECENT_ADMISSIONS.to_string(),
            told.into(),
        ];
        let owner = match holder.split_once('/') {
            Some((owner, _)) => owner.to_owned(),
            None => self.instance(),
        };
        // The place and its index entries travel together, one exchange: an index entry without
        // its place (the script failed) is harmless, as every reader of the index checks the
        // place and cleans up after it.
        let (reply, indexed) = tokio::join!(
            self.run(&self.scripts.enter, keys, args),
            self.index_place_for(session, user, &owner)
        );
        let reply = reply?;
        indexed?;
        admission(&rules, &reply.kind(), reply.at(1), reply.at(2), now)
    }

    async fn run(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> StorageResult<Reply> {
        let values: Vec<Value> = script
            .evalsha_with_reload(&self.client, keys, args)
            .await
            .map_err(unavailable)?;
        Ok(Reply::new(values))
    }

    /// The original formula's wait of whoever stands at queue `index`, from the page's entry
    /// times `times` (in page order).
    pub(super) fn seconds_at(rules: &Rules, times: &[Millis], index: usize, now: Millis) -> i64 {
        let base = times.get(index % rules.limit).copied().unwrap_or(now);
        rules.seconds(base, (index / rules.limit) as i64, now)
    }

    /// Estimates for queue members `members`, each at its queue index plus `shift`.
    fn notices(
        rules: &Rules,
        times: &[Millis],
        members: &[(UserId, usize)],
        shift: usize,
        now: Millis,
    ) -> Vec<Notice> {
        members
            .iter()
            .map(|&(user, index)| {
                let index = index + shift;
                Notice {
                    user,
                    seconds: Self::seconds_at(rules, times, index, now),
                    ahead: index,
                    steps: 1,
                }
            })
            .collect()
    }

    /// Estimates for the people promoted after the one at `i` (still queued when that promotion
    /// is told, at the front) and the queue's `rest` behind them.
    fn notices_after_promotion(
        rules: &Rules,
        times: &[Millis],
        promoted: &[UserId],
        i: usize,
        rest: &[(UserId, usize)],
        now: Millis,
    ) -> Vec<Notice> {
        let ahead: Vec<(UserId, usize)> = promoted[i + 1..]
            .iter()
            .enumerate()
            .map(|(j, user)| (*user, j))
            .collect();
        let mut notices = Self::notices(rules, times, &ahead, 0, now);
        notices.extend(Self::notices(rules, times, rest, ahead.len(), now));
        notices
    }

    /// Runs leave.lua; `holder` is a stored token or, with `by_prefix`, an instance prefix.
    async fn leave_as(
        &self,
        session: SessionId,
        user: UserId,
        holder: String,
        by_prefix: bool,
        now: Millis,
    ) -> StorageResult<Option<Departure>> {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let mode = if by_prefix { "prefix" } else { "exact" };
        let args = vec![
            user.to_string(),
            holder,
            now.to_string(),
            rules.limit.to_string(),
            mode.into(),
            keys::IDLE_TTL_MS.to_string(),
            rules.admits().to_string(),
            RECENT_ADMISSIONS.to_string(),
        ];
        let mut reply = self.run(&self.scripts.leave, k.departure(), args).await?;
        let kind = reply.kind();
        if kind == "none" {
            return Ok(None);
        }
        self.unindex_place(session, user).await?;
        reply.skip(1);
        let head = text(reply.next_value());
        let times = reply.times();
        let members = reply.ranked();
        if kind == "queue" {
            let rank = head.parse().unwrap_or(0);
            let notices = Self::notices(&rules, &times, &members, 0, now);
            return Ok(Some(Departure {
                from: Place::Queue(rank),
                promoted: None,
                notices,
            }));
        }
        let promoted = head.parse().ok().map(UserId);
        let notices = match promoted {
            Some(_) => Self::notices(&rules, &times, &members, 0, now),
            None => Vec::new(),
        };
        Ok(Some(Departure {
            from: Place::Page,
            promoted,
            notices,
        }))
    }

    /// Splits one expire.lua answer into one departure per ended visit, each telling the queue
    /// as it stood right after that visit's promotion (the client counts one step per message).
    fn departures(rules: &Rules, mut reply: Reply, now: Millis) -> Vec<(UserId, Departure)> {
        let expired = reply.users();
        let promoted = reply.users();
        let times = reply.times();
        let rest = reply.ranked();
        expired
            .into_iter()
            .enumerate()
            .map(|(i, user)| {
                let Some(next) = promoted.get(i) else {
                    return (
                        user,
                        Departure {
                            from: Place::Page,
                            promoted: None,
                            notices: Vec::new(),
                        },
                    );
                };
                let notices =
                    Self::notices_after_promotion(rules, &times, &promoted, i, &rest, now);
                (
                    user,
                    Departure {
                        from: Place::Page,
                        promoted: Some(*next),
                        notices,
                    },
                )
            })
            .collect()
    }

    async fn expire_session(&self, session: SessionId, now: Millis) -> StorageResult<Vec<Expiry>> {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let lifetime = self.controls.effective(session).lifetime_ms;
        let keys = k.departure();
        let args = vec![
            now.to_string(),
            lifetime.to_string(),
            rules.limit.to_string(),
            keys::IDLE_TTL_MS.to_string(),
            rules.admits().to_string(),
            RECENT_ADMISSIONS.to_string(),
        ];
        let reply = self.run(&self.scripts.expire, keys, args).await?;
        if int(reply.at(0)) < 0 {
            self.forget_if_empty(session, &k.page, &k.queue).await?;
            return Ok(Vec::new());
        }
        let mut ended = Vec::new();
        for (user, departure) in Self::departures(&rules, reply, now) {
            self.unindex_place(session, user).await?;
            ended.push(Expiry {
                session,
                user,
                departure,
            });
        }
        Ok(ended)
    }

    /// Drops an empty session from the sweep set. An arrival lists its session after entering,
    /// so re-checking after the removal can only err towards keeping the session listed.
    async fn forget_if_empty(
        &self,
        session: SessionId,
        page: &str,
        queue: &str,
    ) -> StorageResult<()> {
        let sessions = self.keys().sessions();
        let _: i64 = self
            .client
            .srem(&sessions, session.0)
            .await
            .map_err(unavailable)?;
        let present: i64 = self
            .client
            .exists(vec![page.to_string(), queue.to_string()])
            .await
            .map_err(unavailable)?;
        if present > 0 {
            let _: i64 = self
                .client
                .sadd(&sessions, session.0)
                .await
                .map_err(unavailable)?;
            // The removal may have emptied (deleted) the set, and SADD made it anew.
            let _: bool = self
                .client
                .pexpire(&sessions, keys::IDLE_TTL_MS, None)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[async_trait]
impl WaitingRoom for RedisWaitingRoom {
    async fn enter(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
    ) -> StorageResult<Admission> {
        self.enter_as(session, user, holder, now, Hears::EachStep)
            .await
    }

    async fn enter_as(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
        now: Millis,
        hears: Hears,
    ) -> StorageResult<Admission> {
        self.enter_batched(session, user, self.holder(&holder), now, hears)
            .await
    }

    async fn enter_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
    ) -> StorageResult<()> {
        self.fair_enter_early(session, user, holder).await
    }

    async fn is_early(&self, session: SessionId, user: UserId) -> StorageResult<bool> {
        self.fair_is_early(session, user).await
    }

    async fn leave_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
    ) -> StorageResult<bool> {
        self.fair_leave_early(session, user, holder).await
    }

    async fn early_sessions(&self) -> StorageResult<Vec<SessionId>> {
        self.fair_early_sessions().await
    }

    async fn draw(
        &self,
        session: SessionId,
        seed: u64,
        now: Millis,
    ) -> StorageResult<Option<Drawn>> {
        self.fair_draw(session, seed, now).await
    }

    async fn drawn(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<Option<(DrawRecord, Option<usize>)>> {
        self.fair_drawn(session, user).await
    }

    async fn leave(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
        now: Millis,
    ) -> StorageResult<Option<Departure>> {
        let holder = holder.map(|h| self.holder(&h)).unwrap_or_default();
        self.leave_batched(session, user, holder, now).await
    }

    async fn place(&self, session: SessionId, user: UserId) -> StorageResult<Option<Place>> {
        let k = RoomKeys::new(&self.prefix, session);
        let reply = self
            .run(
                &self.scripts.place,
                vec![k.page, k.queue],
                vec![user.to_string()],
            )
            .await?;
        Ok(placed(&reply))
    }

    /// One place.lua run with the session's tally named: a script rather than a pipeline of
    /// the script and an HMGET, so the exchange is one command and one reply for both ends to
    /// frame and parse, and the two answers are of the same instant. The tally shares the
    /// room's hash tag, so this stays one slot on Redis Cluster.
    async fn place_and_tally(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<(Option<Place>, Option<Tallied>)> {
        let k = RoomKeys::new(&self.prefix, session);
        let mut args = vec![user.to_string()];
        args.extend(sold::fields(user));
        let reply = self
            .run(
                &self.scripts.place,
                vec![k.page, k.queue, keys::sold(&self.prefix, session)],
                args,
            )
            .await?;
        let field = |i: usize| {
            let v = reply.at(i);
            (!v.is_null()).then(|| int(v))
        };
        let tally = sold::tallied(field(2), field(3).map(|n| n.max(0) as u32), field(4));
        Ok((placed(&reply), Some(tally)))
    }

    /// One exchange per [`super::PLACES_PER_CALL`] people, each chunk one script run.
    async fn places(
        &self,
        session: SessionId,
        users: &[UserId],
    ) -> StorageResult<Vec<Option<Place>>> {
        let k = RoomKeys::new(&self.prefix, session);
        let mut places = Vec::with_capacity(users.len());
        for chunk in users.chunks(super::PLACES_PER_CALL) {
            let reply = self
                .run(
                    &self.scripts.places,
                    vec![k.page.clone(), k.queue.clone()],
                    chunk.iter().map(ToString::to_string).collect(),
                )
                .await?;
            for i in 0..chunk.len() {
                // A missing answer (never, from this script) reads as "not inside", not as
                // the front of the queue.
                let answer = reply.at(i);
                places.push(match int(answer) {
                    _ if answer.is_null() => None,
                    -1 => Some(Place::Page),
                    rank if rank >= 0 => Some(Place::Queue(rank as usize)),
                    _ => None,
                });
            }
        }
        Ok(places)
    }

    fn shared(&self) -> bool {
        true
    }

    async fn unannounced(&self, session: SessionId) -> StorageResult<Vec<(UserId, Millis)>> {
        let k = RoomKeys::new(&self.prefix, session);
        let marks: HashMap<String, String> = self
            .client
            .hgetall(&k.unannounced)
            .await
            .map_err(unavailable)?;
        Ok(marks
            .into_iter()
            .filter_map(|(user, at)| Some((UserId(user.parse().ok()?), at.parse().ok()?)))
            .collect())
    }

    async fn announced(&self, session: SessionId, users: &[UserId]) -> StorageResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let k = RoomKeys::new(&self.prefix, session);
        let users: Vec<String> = users.iter().map(ToString::to_string).collect();
        let _: i64 = self
            .client
            .hdel(&k.unannounced, users)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn admitted_at(&self, session: SessionId, user: UserId) -> StorageResult<Option<Millis>> {
        let k = RoomKeys::new(&self.prefix, session);
        let since: Option<f64> = self
            .client
            .zscore(&k.page, user.to_string())
            .await
            .map_err(unavailable)?;
        Ok(since.map(|t| t as Millis))
    }

    async fn expire(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        let sessions: Vec<i64> = self
            .client
            .smembers(self.keys().sessions())
            .await
            .map_err(unavailable)?;
        let mut ended = Vec::new();
        for sid in sessions {
            ended.extend(self.expire_session(SessionId(sid), now).await?);
        }
        Ok(ended)
    }

    async fn sessions_of(&self, user: UserId) -> StorageResult<Vec<SessionId>> {
        let listed: Vec<i64> = self
            .client
            .smembers(self.keys().user(user))
            .await
            .map_err(unavailable)?;
        let mut inside = Vec::new();
        for sid in listed.into_iter().map(SessionId) {
            if self.place(sid, user).await?.is_some() {
                inside.push(sid);
            } else {
                self.unindex_place(sid, user).await?;
            }
        }
        Ok(inside)
    }

    async fn reap(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        self.reap_dead(now).await
    }

    async fn progress(&self, session: SessionId) -> StorageResult<u64> {
        // Queue tickets come from one counter in arrival order, so everyone holding a ticket
        // below the head's has left the queue; with nobody queued, every ticket has.
        let k = RoomKeys::new(&self.prefix, session);
        let head: Vec<(String, f64)> = self
            .client
            .zrange(&k.queue, 0, 0, None, false, None, true)
            .await
            .map_err(unavailable)?;
        if let Some((_, ticket)) = head.first() {
            return Ok((*ticket as u64).saturating_sub(1));
        }
        let issued: Option<u64> = self.client.get(&k.seq).await.map_err(unavailable)?;
        Ok(issued.unwrap_or(0))
    }

    async fn occupancy(&self) -> StorageResult<Vec<(SessionId, usize, usize)>> {
        let sessions: Vec<i64> = self
            .client
            .smembers(self.keys().sessions())
            .await
            .map_err(unavailable)?;
        let mut sizes = Vec::with_capacity(sessions.len());
        for sid in sessions.into_iter().map(SessionId) {
            let k = RoomKeys::new(&self.prefix, sid);
            let page: i64 = self.client.zcard(&k.page).await.map_err(unavailable)?;
            let queue: i64 = self.client.zcard(&k.queue).await.map_err(unavailable)?;
            sizes.push((sid, page as usize, queue as usize));
        }
        Ok(sizes)
    }

    async fn fill(&self, session: SessionId, now: Millis) -> StorageResult<Moves> {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let args = vec![
            now.to_string(),
            rules.admits().to_string(),
            rules.limit.to_string(),
            keys::IDLE_TTL_MS.to_string(),
            RECENT_ADMISSIONS.to_string(),
        ];
        let keys = vec![
            k.page,
            k.queue,
            k.joined,
            k.admits,
            k.rules,
            k.told,
            k.unannounced,
        ];
        let mut reply = self.run(&self.scripts.fill, keys, args).await?;
        let promoted = reply.users();
        let times = reply.times();
        let rest = reply.ranked();
        let departures = (0..promoted.len())
            .map(|i| Departure {
                from: Place::Page,
                promoted: Some(promoted[i]),
                notices: Self::notices_after_promotion(&rules, &times, &promoted, i, &rest, now),
            })
            .collect();
        Ok(Moves { departures })
    }

    async fn extend(
        &self,
        session: SessionId,
        by_ms: Millis,
    ) -> StorageResult<Vec<(UserId, Millis)>> {
        let k = RoomKeys::new(&self.prefix, session);
        let reply = self
            .run(&self.scripts.extend, vec![k.page], vec![by_ms.to_string()])
            .await?;
        let mut reply = reply;
        let flat = reply.rest();
        Ok(flat
            .chunks(2)
            .filter_map(|pair| {
                let user = pair.first()?.parse().ok()?;
                let since = pair.get(1)?.parse::<f64>().ok()? as Millis;
                Some((UserId(user), since))
            })
            .collect())
    }

    async fn close_queue(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        let k = RoomKeys::new(&self.prefix, session);
        let mut reply = self
            .run(
                &self.scripts.close,
                vec![k.queue, k.holder, k.joined],
                vec![],
            )
            .await?;
        let users: Vec<UserId> = reply
            .rest()
            .iter()
            .filter_map(|u| u.parse().ok().map(UserId))
            .collect();
        for user in &users {
            self.unindex_place(session, *user).await?;
        }
        Ok(users)
    }

    async fn queued(&self, session: SessionId) -> StorageResult<Vec<UserId>> {
        let k = RoomKeys::new(&self.prefix, session);
        let members: Vec<String> = self
            .client
            .zrange(&k.queue, 0, -1, None, false, None, false)
            .await
            .map_err(unavailable)?;
        Ok(members
            .iter()
            .filter_map(|u| u.parse().ok().map(UserId))
            .collect())
    }

    async fn sizes(&self, session: SessionId) -> StorageResult<(usize, usize)> {
        let k = RoomKeys::new(&self.prefix, session);
        let page: i64 = self.client.zcard(&k.page).await.map_err(unavailable)?;
        let queue: i64 = self.client.zcard(&k.queue).await.map_err(unavailable)?;
        Ok((page as usize, queue as usize))
    }

    async fn recent_admissions(&self, session: SessionId) -> StorageResult<Vec<Admitted>> {
        let k = RoomKeys::new(&self.prefix, session);
        let items: Vec<String> = self
            .client
            .lrange(&k.admits, 0, -1)
            .await
            .map_err(unavailable)?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let (at, waited) = item.split_once(':')?;
                Some(Admitted {
                    at: at.parse().ok()?,
                    waited_ms: waited.parse().ok()?,
                })
            })
            .collect())
    }

    async fn share_admits(&self, session: SessionId) -> StorageResult<()> {
        let k = RoomKeys::new(&self.prefix, session);
        let admits = self.controls.rules(session).admits();
        let _: () = self
            .client
            .hset(&k.rules, ("admits", admits as i64))
            .await
            .map_err(unavailable)?;
        let _: bool = self
            .client
            .pexpire(&k.rules, keys::IDLE_TTL_MS, None)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn hand_over(&self, now: Millis, grace_ms: Millis) -> StorageResult<()> {
        self.extend_lease(now, grace_ms.max(self.lease.ttl_ms))
            .await
    }

    async fn warm_up(&self) -> StorageResult<()> {
        self.scripts.load(&self.client).await.map_err(unavailable)
    }

    async fn ready(&self) -> StorageResult<()> {
        let _: String = self.client.ping(None).await.map_err(unavailable)?;
        Ok(())
    }
}
