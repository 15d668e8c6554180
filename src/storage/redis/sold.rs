//! The sold-count tally on Redis: one hash per session (the room's hash tag), shared by every
//! instance, so an order on one is seen by a validation on another at once. Each write is one
//! Lua script under `lua/`; the read is one HMGET.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;

use super::{connect, keys, unavailable};
use crate::domain::ids::{SessionId, UserId};
use crate::storage::model::Tallied;
use crate::storage::{SoldCounts, StorageResult};

/// Counts per `sold_load.lua` call, so a session with many buyers is loaded in parts that do
/// not hold Redis for long.
const LOAD_PART: usize = 1_000;

/// The tally in Redis under the deployment's prefix.
pub struct RedisSoldCounts {
    client: Client,
    prefix: String,
    load: Script,
    ordering: Script,
    ordered: Script,
}

impl RedisSoldCounts {
    /// Connects its own client and loads the scripts.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> StorageResult<Self> {
        let client = connect(url, timeout).await?;
        let load = Script::from_lua(include_str!("lua/sold_load.lua"));
        let ordering = Script::from_lua(include_str!("lua/sold_ordering.lua"));
        let ordered = Script::from_lua(include_str!("lua/sold_ordered.lua"));
        for script in [&load, &ordering, &ordered] {
            script.load(&client).await.map_err(unavailable)?;
        }
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            load,
            ordering,
            ordered,
        })
    }

    fn key(&self, session: SessionId) -> String {
        keys::sold(&self.prefix, session)
    }

    async fn run(
        &self,
        script: &Script,
        session: SessionId,
        args: Vec<String>,
    ) -> StorageResult<()> {
        let _: i64 = script
            .evalsha_with_reload(&self.client, vec![self.key(session)], args)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// The tally's fields that answer for `user`, in the order [`tallied`] reads them: orders in
/// flight (`f:<user>`), the count, and whether the session is loaded. The waiting room's
/// `place.lua` reads the same fields beside the place (one exchange per legacy validation).
pub(super) fn fields(user: UserId) -> [String; 3] {
    [format!("f:{user}"), user.to_string(), "loaded".to_string()]
}

/// What [`fields`]' values say (nil read as `None`).
pub(super) fn tallied(in_flight: Option<i64>, count: Option<u32>, loaded: Option<i64>) -> Tallied {
    match (in_flight, count, loaded) {
        (Some(n), _, _) if n > 0 => Tallied::InFlight,
        (_, Some(n), _) => Tallied::Count(n),
        (_, None, Some(_)) => Tallied::Count(0),
        (_, None, None) => Tallied::NotLoaded,
    }
}

fn ttl() -> String {
    keys::IDLE_TTL_MS.to_string()
}

#[async_trait]
impl SoldCounts for RedisSoldCounts {
    async fn read(&self, session: SessionId, user: UserId) -> StorageResult<Tallied> {
        let (in_flight, count, loaded): (Option<i64>, Option<u32>, Option<i64>) = self
            .client
            .hmget(self.key(session), fields(user).to_vec())
            .await
            .map_err(unavailable)?;
        Ok(tallied(in_flight, count, loaded))
    }

    async fn load(&self, session: SessionId, counts: Vec<(UserId, u32)>) -> StorageResult<()> {
        let mut parts: Vec<&[(UserId, u32)]> = counts.chunks(LOAD_PART).collect();
        if parts.is_empty() {
            parts.push(&[]);
        }
        let last = parts.len() - 1;
        for (i, part) in parts.into_iter().enumerate() {
            let mut args = vec![ttl(), if i == last { "1" } else { "0" }.to_string()];
            for (user, n) in part {
                args.push(user.to_string());
                args.push(n.to_string());
            }
            self.run(&self.load, session, args).await?;
        }
        Ok(())
    }

    async fn ordering(&self, session: SessionId, user: UserId) -> StorageResult<()> {
        self.run(&self.ordering, session, vec![user.to_string(), ttl()])
            .await
    }

    async fn ordered(
        &self,
        session: SessionId,
        user: UserId,
        sold: Option<u32>,
    ) -> StorageResult<()> {
        let sold = sold.map_or(-1, i64::from).to_string();
        self.run(&self.ordered, session, vec![user.to_string(), sold, ttl()])
            .await
    }
}
