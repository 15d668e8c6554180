//! Fair start on Redis: early entrants in a per-session hash, a draw run by one instance under
//! a lock, its record and positions kept beside the room (same hash tag).
//!
//! The draw places each entrant with the ordinary `enter.lua`, in the drawn order, while it
//! holds the lock; every other arrival after the on-sale time waits for the record first (the
//! service layer sees to that), so nobody who arrived late can get in between.

use std::collections::HashMap;

use fred::prelude::*;

use super::{RedisWaitingRoom, StorageResult, unavailable};
use crate::domain::draw::{self, DrawRecord};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Hears, Holder};
use crate::storage::Drawn;

/// How long a draw may hold its lock before another instance may take over (an instance that
/// died mid-draw must not block the sale).
const DRAW_LOCK_MS: i64 = 30_000;

/// The fair-start keys of one session (the room's hash tag) and the deployment-wide index.
struct FairKeys {
    early: String,
    record: String,
    positions: String,
    lock: String,
    index: String,
}

impl FairKeys {
    fn new(prefix: &str, session: SessionId) -> Self {
        let tag = format!("{prefix}{{{session}}}");
        Self {
            early: format!("{tag}:early"),
            record: format!("{tag}:draw"),
            positions: format!("{tag}:draw:positions"),
            lock: format!("{tag}:draw:lock"),
            index: format!("{prefix}early_sessions"),
        }
    }
}

impl RedisWaitingRoom {
    pub(super) async fn fair_enter_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Holder,
    ) -> StorageResult<()> {
        let k = FairKeys::new(&self.prefix, session);
        let _: () = self
            .client
            .hset(&k.early, (user.to_string(), self.holder(&holder)))
            .await
            .map_err(unavailable)?;
        let _: () = self
            .client
            .sadd(&k.index, session.0)
            .await
            .map_err(unavailable)?;
        // Like every waiting-room key, these expire a while after their last use.
        for key in [&k.early, &k.index] {
            let _: () = self
                .client
                .pexpire(key, super::keys::IDLE_TTL_MS, None)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    pub(super) async fn fair_is_early(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<bool> {
        let k = FairKeys::new(&self.prefix, session);
        self.client
            .hexists(&k.early, user.to_string())
            .await
            .map_err(unavailable)
    }

    pub(super) async fn fair_leave_early(
        &self,
        session: SessionId,
        user: UserId,
        holder: Option<Holder>,
    ) -> StorageResult<bool> {
        let k = FairKeys::new(&self.prefix, session);
        let holder = holder.map(|h| self.holder(&h)).unwrap_or_default();
        let reply = self
            .run(
                &self.scripts.leave_early,
                vec![k.early],
                vec![user.to_string(), holder],
            )
            .await?;
        Ok(super::parse::int(reply.at(0)) == 1)
    }

    pub(super) async fn fair_early_sessions(&self) -> StorageResult<Vec<SessionId>> {
        let index = FairKeys::new(&self.prefix, SessionId(0)).index;
        let ids: Vec<i64> = self.client.smembers(index).await.map_err(unavailable)?;
        Ok(ids.into_iter().map(SessionId).collect())
    }

    async fn record(&self, k: &FairKeys) -> StorageResult<Option<DrawRecord>> {
        let fields: HashMap<String, String> =
            self.client.hgetall(&k.record).await.map_err(unavailable)?;
        let number = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
        Ok(match (number("seed"), number("count"), number("at")) {
            (Some(seed), Some(count), Some(at)) => Some(DrawRecord {
                seed,
                count: count as usize,
                hash: fields.get("hash").cloned().unwrap_or_default(),
                at: at as Millis,
            }),
            _ => None,
        })
    }

    pub(super) async fn fair_draw(
        &self,
        session: SessionId,
        seed: u64,
        now: Millis,
    ) -> StorageResult<Option<Drawn>> {
        let k = FairKeys::new(&self.prefix, session);
        if let Some(record) = self.record(&k).await? {
            return Ok(Some(Drawn {
                record,
                fresh: false,
                placed: Vec::new(),
            }));
        }
        let locked: Option<String> = self
            .client
            .set(
                &k.lock,
                self.instance(),
                Some(Expiration::PX(DRAW_LOCK_MS)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .map_err(unavailable)?;
        if locked.is_none() {
            return Ok(None);
        }
        let entrants: HashMap<String, String> =
            self.client.hgetall(&k.early).await.map_err(unavailable)?;
        let ids: Vec<UserId> = entrants
            .keys()
            .filter_map(|u| u.parse().ok().map(UserId))
            .collect();
        let (record, order) = draw::draw(&ids, seed, now);
        let mut placed = Vec::with_capacity(order.len());
        for user in &order {
            let Some(holder) = entrants.get(&user.to_string()) else {
                continue;
            };
            let admission = self
                .enter_stored(session, *user, holder.clone(), now, Hears::Place)
                .await?;
            placed.push((*user, admission));
        }
        if !order.is_empty() {
            let positions: Vec<(String, String)> = order
                .iter()
                .enumerate()
                .map(|(i, u)| (u.to_string(), (i + 1).to_string()))
                .collect();
            let _: () = self
                .client
                .hset(&k.positions, positions)
                .await
                .map_err(unavailable)?;
        }
        let fields = vec![
            ("seed", record.seed.to_string()),
            ("count", record.count.to_string()),
            ("hash", record.hash.clone()),
            ("at", record.at.to_string()),
        ];
        let _: () = self
            .client
            .hset(&k.record, fields)
            .await
            .map_err(unavailable)?;
        // The record lives as long as a visit could, then goes with the room's other keys.
        let keep_s = (self.controls.effective(session).lifetime_ms / 1000).max(3600) * 2;
        for key in [&k.record, &k.positions] {
            let _: () = self
                .client
                .expire(key, keep_s, None)
                .await
                .map_err(unavailable)?;
        }
        let _: () = self.client.del(&k.early).await.map_err(unavailable)?;
        let _: () = self
            .client
            .srem(&k.index, session.0)
            .await
            .map_err(unavailable)?;
        let _: () = self.client.del(&k.lock).await.map_err(unavailable)?;
        Ok(Some(Drawn {
            record,
            fresh: true,
            placed,
        }))
    }

    pub(super) async fn fair_drawn(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<Option<(DrawRecord, Option<usize>)>> {
        let k = FairKeys::new(&self.prefix, session);
        let Some(record) = self.record(&k).await? else {
            return Ok(None);
        };
        let position: Option<u64> = self
            .client
            .hget(&k.positions, user.to_string())
            .await
            .map_err(unavailable)?;
        Ok(Some((record, position.map(|p| p as usize))))
    }
}
