//! Instance leases and the reaper: how the survivors free the places of a dead instance.
//!
//! Each instance renews `instance:<id>` (a key with a TTL) on every sweep and lists the places
//! it takes under `instance:<id>:places`. Holder tokens are stored as `<id>/<token>`. When a
//! lease is gone, leave.lua runs for each listed place in prefix mode, so only visits still held
//! through the dead instance end; a user who already came back through another instance keeps
//! their place. Two survivors reaping at once is harmless: each leave is atomic.

use fred::prelude::*;

use super::keys::IDLE_TTL_MS;
use super::{RedisWaitingRoom, unavailable};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::Holder;
use crate::storage::{Expiry, StorageResult};

/// How this instance identifies itself and how long its lease lasts unrenewed.
#[derive(Clone, Debug)]
pub struct Lease {
    /// A unique id for this process.
    pub instance: String,
    /// Lease lifetime in ms; renewed by every sweep.
    pub ttl_ms: Millis,
}

impl Lease {
    /// The stored form of a connection's holder token.
    pub fn holder(&self, holder: &Holder) -> String {
        format!("{}/{}", self.instance, holder.0)
    }
}

impl RedisWaitingRoom {
    pub(super) async fn renew_lease(&self, now: Millis) -> StorageResult<()> {
        self.extend_lease(now, self.lease.ttl_ms).await
    }

    /// Sets our lease to last `ttl_ms` from now.
    pub(super) async fn extend_lease(&self, now: Millis, ttl_ms: Millis) -> StorageResult<()> {
        let keys = self.keys();
        let expire = Some(Expiration::PX(ttl_ms));
        let _: () = self
            .client
            .set(keys.lease(&self.lease.instance), now, expire, None, false)
            .await
            .map_err(unavailable)?;
        let pipe = self.client.pipeline();
        let _: () = pipe
            .sadd(keys.instances(), self.lease.instance.as_str())
            .await
            .map_err(unavailable)?;
        // The indexes live as long as they are used: every renewal refreshes them.
        for key in [keys.instances(), keys.places(&self.lease.instance)] {
            let _: () = pipe
                .pexpire(key, IDLE_TTL_MS, None)
                .await
                .map_err(unavailable)?;
        }
        let _: Vec<Value> = pipe.all().await.map_err(unavailable)?;
        Ok(())
    }

    /// Lists a new place in the indexes the sweep, the reaper and resumption walk.
    pub(super) async fn index_place(&self, session: SessionId, user: UserId) -> StorageResult<()> {
        let keys = self.keys();
        let pipe = self.client.pipeline();
        let _: () = pipe
            .sadd(keys.sessions(), session.0)
            .await
            .map_err(unavailable)?;
        let place = format!("{session}:{user}");
        let _: () = pipe
            .sadd(keys.places(&self.lease.instance), place)
            .await
            .map_err(unavailable)?;
        let _: () = pipe
            .sadd(keys.user(user), session.0)
            .await
            .map_err(unavailable)?;
        for key in [
            keys.sessions(),
            keys.places(&self.lease.instance),
            keys.user(user),
        ] {
            let _: () = pipe
                .pexpire(key, IDLE_TTL_MS, None)
                .await
                .map_err(unavailable)?;
        }
        let _: Vec<Value> = pipe.all().await.map_err(unavailable)?;
        Ok(())
    }

    /// Forgets a departed visit in the per-user index (the others are cleaned lazily).
    pub(super) async fn unindex_place(
        &self,
        session: SessionId,
        user: UserId,
    ) -> StorageResult<()> {
        let _: i64 = self
            .client
            .srem(self.keys().user(user), session.0)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Renews our lease, then reaps every instance whose lease is gone.
    pub(super) async fn reap_dead(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        self.renew_lease(now).await?;
        let keys = self.keys();
        let instances: Vec<String> = self
            .client
            .smembers(keys.instances())
            .await
            .map_err(unavailable)?;
        let mut ended = Vec::new();
        for other in instances.iter().filter(|i| **i != self.lease.instance) {
            let alive: i64 = self
                .client
                .exists(keys.lease(other))
                .await
                .map_err(unavailable)?;
            if alive == 0 {
                ended.extend(self.reap_instance(other, now).await?);
            }
        }
        Ok(ended)
    }

    /// Ends the visits still held through one dead instance, then forgets it.
    async fn reap_instance(&self, dead: &str, now: Millis) -> StorageResult<Vec<Expiry>> {
        let keys = self.keys();
        let places: Vec<String> = self
            .client
            .smembers(keys.places(dead))
            .await
            .map_err(unavailable)?;
        let prefix = format!("{dead}/");
        let mut ended = Vec::new();
        for place in places {
            let Some((session, user)) = parse_place(&place) else {
                continue;
            };
            if let Some(departure) = self
                .leave_as(session, user, prefix.clone(), true, now)
                .await?
            {
                ended.push(Expiry {
                    session,
                    user,
                    departure,
                });
            }
        }
        let _: i64 = self
            .client
            .del(keys.places(dead))
            .await
            .map_err(unavailable)?;
        let _: i64 = self
            .client
            .srem(keys.instances(), dead)
            .await
            .map_err(unavailable)?;
        tracing::warn!(
            instance = dead,
            ended = ended.len(),
            "reaped the visits of a dead instance"
        );
        Ok(ended)
    }
}

fn parse_place(place: &str) -> Option<(SessionId, UserId)> {
    let (session, user) = place.split_once(':')?;
    Some((SessionId(session.parse().ok()?), UserId(user.parse().ok()?)))
}
