//! Instance leases and the reaper: how the survivors free the places of a dead instance.
//!
//! Each instance renews `instance:{<id>}` (a key with a TTL) on every sweep through renew.lua
//! and lists the places it takes under `instance:<id>:places`. Holder tokens are stored as
//! `<id>/<token>`. A lease can lapse because its instance died or because Redis stalled longer
//! than the lease; so a peer is reaped only after its lease was seen missing for a whole lease
//! lifetime while Redis answered ([`PeerWatch`]), and only once fence.lua has fenced it: the
//! fence makes renew.lua refuse the old id for good, so an instance that was merely slow learns
//! it lost its places ([`StorageError::LeaseLost`]), takes a new id and tells its sockets,
//! instead of renewing a lease whose visits are being ended. leave.lua then runs for each
//! listed place in prefix mode, so only visits still held through the dead instance end; a user
//! who already came back through another instance keeps their place. Two survivors reaping at
//! once is harmless: each leave is atomic.

use fred::prelude::*;

use super::keys::IDLE_TTL_MS;
use super::{RedisWaitingRoom, unavailable};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::lease::PeerWatch;
use crate::domain::time::Millis;
use crate::domain::waiting_room::Holder;
use crate::storage::{Expiry, StorageError, StorageResult};

/// How this instance identifies itself and how long its lease lasts unrenewed.
#[derive(Clone, Debug)]
pub struct Lease {
    /// A unique id for this process (the first one; a fenced instance takes `<id>.<n>`).
    pub instance: String,
    /// Lease lifetime in ms; renewed by every sweep.
    pub ttl_ms: Millis,
}

impl RedisWaitingRoom {
    /// The id this instance holds places under now.
    pub(super) fn instance(&self) -> String {
        self.instance
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The stored form of a connection's holder token.
    pub(super) fn holder(&self, holder: &Holder) -> String {
        format!("{}/{}", self.instance(), holder.0)
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, PeerWatch> {
        self.watch.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) async fn renew_lease(&self, now: Millis) -> StorageResult<()> {
        self.extend_lease(now, self.lease.ttl_ms).await
    }

    /// Sets our lease to last `ttl_ms` from now. When a peer fenced it, takes a new id, holds
    /// a lease under that one, and answers [`StorageError::LeaseLost`] with the old id.
    pub(super) async fn extend_lease(&self, now: Millis, ttl_ms: Millis) -> StorageResult<()> {
        let old = self.instance();
        if self.renew_as(&old, now, ttl_ms).await? {
            return Ok(());
        }
        let new = next_id(&self.lease.instance, &old);
        *self.instance.write().unwrap_or_else(|e| e.into_inner()) = new.clone();
        tracing::error!(
            old = %old,
            new = %new,
            "a peer declared this instance dead (Redis stalled longer than the lease?): its visits are ended; new id taken"
        );
        self.renew_as(&new, now, ttl_ms).await?;
        Err(StorageError::LeaseLost(old))
    }

    /// renew.lua for `instance`; false when it is fenced. Refreshes the indexes' lifetimes.
    async fn renew_as(&self, instance: &str, now: Millis, ttl_ms: Millis) -> StorageResult<bool> {
        let keys = self.keys();
        let lease = vec![keys.lease(instance), keys.fence(instance)];
        let args = vec![now.to_string(), ttl_ms.to_string()];
        let renewed: i64 = self
            .scripts
            .renew
            .evalsha_with_reload(&self.client, lease, args)
            .await
            .map_err(unavailable)?;
        if renewed == 0 {
            return Ok(false);
        }
        let pipe = self.client.pipeline();
        let _: () = pipe
            .sadd(keys.instances(), instance)
            .await
            .map_err(unavailable)?;
        // The indexes live as long as they are used: every renewal refreshes them.
        for key in [keys.instances(), keys.places(instance)] {
            let _: () = pipe
                .pexpire(key, IDLE_TTL_MS, None)
                .await
                .map_err(unavailable)?;
        }
        let _: Vec<Value> = pipe.all().await.map_err(unavailable)?;
        Ok(true)
    }

    /// Lists a new place in the indexes the sweep, the reaper and resumption walk, under the
    /// instance `owner` whose connection holds it (a draw run by one instance places
    /// connections of all of them).
    pub(super) async fn index_place_for(
        &self,
        session: SessionId,
        user: UserId,
        owner: &str,
    ) -> StorageResult<()> {
        self.index_places_for(session, &[(user, owner)]).await
    }

    /// [`RedisWaitingRoom::index_place_for`] for several places of one session, in one
    /// pipeline (a batch of arrivals).
    pub(super) async fn index_places_for(
        &self,
        session: SessionId,
        places: &[(UserId, &str)],
    ) -> StorageResult<()> {
        let keys = self.keys();
        let pipe = self.client.pipeline();
        let _: () = pipe
            .sadd(keys.sessions(), session.0)
            .await
            .map_err(unavailable)?;
        let mut touched = vec![keys.sessions()];
        for (user, owner) in places {
            let place = format!("{session}:{user}");
            let _: () = pipe
                .sadd(keys.places(owner), place)
                .await
                .map_err(unavailable)?;
            let _: () = pipe
                .sadd(keys.user(*user), session.0)
                .await
                .map_err(unavailable)?;
            if !touched.contains(&keys.places(owner)) {
                touched.push(keys.places(owner));
            }
            touched.push(keys.user(*user));
        }
        for key in touched {
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

    /// Renews our lease, then reaps every instance whose lease stayed missing for a whole
    /// lease lifetime of looks that Redis answered. A failed look forgets what was seen.
    pub(super) async fn reap_dead(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        let looked = self.look_at_peers(now).await;
        if matches!(looked, Err(StorageError::Unavailable(_))) {
            self.watch().blind();
        }
        looked
    }

    async fn look_at_peers(&self, now: Millis) -> StorageResult<Vec<Expiry>> {
        self.renew_lease(now).await?;
        let keys = self.keys();
        let me = self.instance();
        let instances: Vec<String> = self
            .client
            .smembers(keys.instances())
            .await
            .map_err(unavailable)?;
        let ttl = self.lease.ttl_ms;
        self.watch().look(now, ttl);
        let mut ended = Vec::new();
        for other in instances.iter().filter(|i| **i != me) {
            let alive: i64 = self
                .client
                .exists(keys.lease(other))
                .await
                .map_err(unavailable)?;
            if !self.watch().seen(other, alive > 0, now, ttl) {
                continue;
            }
            if self.fence(other).await? {
                ended.extend(self.reap_instance(other, now).await?);
            }
            self.watch().forget(other);
        }
        Ok(ended)
    }

    /// fence.lua: true when `other` is fenced now (its lease is still missing).
    async fn fence(&self, other: &str) -> StorageResult<bool> {
        let keys = self.keys();
        let fenced: i64 = self
            .scripts
            .fence
            .evalsha_with_reload(
                &self.client,
                vec![keys.lease(other), keys.fence(other)],
                vec![IDLE_TTL_MS.to_string()],
            )
            .await
            .map_err(unavailable)?;
        Ok(fenced == 1)
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

/// The id after `current` for an instance first known as `first`: `<first>.<n>`.
fn next_id(first: &str, current: &str) -> String {
    let n = current
        .strip_prefix(first)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    format!("{first}.{}", n + 1)
}

fn parse_place(place: &str) -> Option<(SessionId, UserId)> {
    let (session, user) = place.split_once(':')?;
    Some((SessionId(session.parse().ok()?), UserId(user.parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::next_id;

    #[test]
    fn a_fenced_instance_counts_its_ids_up() {
        assert_eq!(next_id("ab12", "ab12"), "ab12.1");
        assert_eq!(next_id("ab12", "ab12.1"), "ab12.2");
    }
}
