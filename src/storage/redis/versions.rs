//! Seat-map versions shared by every instance: one counter per (session, area), so an app
//! client watching a map sees one gap-free sequence whichever instance made the change.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::*;
use fred::types::scripts::Script;

use super::{connect, unavailable};
use crate::domain::ids::{AreaId, SessionId};
use crate::storage::{SeatVersions, StorageResult};

/// How long an idle counter is kept (a week: longer than any sale).
const TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Counters in Redis under the deployment's prefix.
pub struct RedisSeatVersions {
    client: Client,
    prefix: String,
    bump: Script,
}

impl RedisSeatVersions {
    /// Connects its own client (versions must not queue behind waiting-room scripts).
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> StorageResult<Self> {
        let client = connect(url, timeout).await?;
        let bump = Script::from_lua(include_str!("lua/seat_version.lua"));
        bump.load(&client).await.map_err(unavailable)?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            bump,
        })
    }

    fn key(&self, session: SessionId, area: AreaId) -> String {
        super::keys::seat_version(&self.prefix, session, area)
    }
}

#[async_trait]
impl SeatVersions for RedisSeatVersions {
    async fn current(&self, session: SessionId, area: AreaId) -> StorageResult<u64> {
        let v: Option<u64> = self
            .client
            .get(self.key(session, area))
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    async fn bump(&self, session: SessionId, area: AreaId) -> StorageResult<u64> {
        self.bump
            .evalsha_with_reload(
                &self.client,
                vec![self.key(session, area)],
                vec![TTL_MS.to_string()],
            )
            .await
            .map_err(unavailable)
    }
}
