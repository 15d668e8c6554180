//! `admitted`, said on one ordered path with `position` (issue 11).
//!
//! A place shown after `admitted` sends an app back to a line it already left. Both pushes are
//! therefore sent by the instance holding the person's connection, under the lock of
//! [`Positions`]: an answer about a place that was read before the admission is either pushed
//! before `admitted` or dropped.
//!
//! The admitting instance is often another one. Through the Socket.IO adapter, its `admitted`
//! would reach the holding instance's sockets straight from the adapter's own task, past that
//! lock, and overtake a `position` whose answer was under way (the fleet saw 3–6 a run). So on
//! a waiting room shared through Redis an admission is also published on a channel of its own
//! (sharded pub/sub, like the adapter's); every instance hears it and says it to its own
//! connections through [`Positions::admit`].
//!
//! Whoever says it to a connection records it said in Redis at its next look for unsaid
//! admissions (`Positions::say_unsaid`, once a second, all of them in one call), so neither
//! the admitting instance nor this listener waits on Redis per admission. One the channel lost
//! stays unsaid, and the holding instance says it a few seconds later, as for an admitting
//! instance that died before publishing.

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use serde::{Deserialize, Serialize};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::positions::Positions;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;

/// How admissions reach the instance holding the admitted person's connection.
#[derive(Clone)]
pub(crate) enum Admissions {
    /// One instance: every connection is here.
    Local,
    /// Several instances: each admission is published on `channel` as well.
    Shared {
        /// Publishes.
        client: Client,
        /// The channel every instance listens on.
        channel: String,
        /// This instance, so that it does not say its own admissions twice.
        from: u64,
    },
}

/// One admission on the channel.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Admitted {
    /// The instance that admitted.
    from: u64,
    session: SessionId,
    user: UserId,
    /// When the buying-page window ends (milliseconds since the epoch).
    ends: Millis,
}

impl Admissions {
    /// Admissions published on the channel named after `prefix` through `client` (connected
    /// here), heard by [`listen`].
    pub(crate) async fn shared(client: Client, prefix: &str) -> anyhow::Result<Self> {
        // Random, not the lease's id: the two are independent, and this one is never stored.
        let mut from = [0u8; 8];
        getrandom::fill(&mut from)
            .map_err(|e| anyhow::anyhow!("no randomness for the instance id: {e}"))?;
        client.init().await?;
        Ok(Self::Shared {
            client,
            channel: channel(prefix),
            from: u64::from_le_bytes(from),
        })
    }

    /// Says `admitted` to `user`'s connections here and, on a shared room, to every other
    /// instance's.
    pub(crate) async fn say<A: Adapter>(
        &self,
        io: &SocketIo<A>,
        positions: &Positions,
        session: SessionId,
        user: UserId,
        ends: Millis,
    ) {
        positions.admit(io, session, user, ends);
        if let Self::Shared {
            client,
            channel,
            from,
        } = self
        {
            let admitted = Admitted {
                from: *from,
                session,
                user,
                ends,
            };
            let text = serde_json::to_string(&admitted).unwrap_or_default();
            if let Err(e) = client.spublish::<(), _, _>(channel.as_str(), text).await {
                // Still unsaid in Redis: the holding instance says it in a few seconds.
                tracing::warn!(error = %e, %session, "publishing an admission failed");
            }
        }
    }

    /// The instance id that marks this instance's own messages (0 when alone).
    fn from(&self) -> u64 {
        match self {
            Self::Local => 0,
            Self::Shared { from, .. } => *from,
        }
    }
}

/// The channel of the admissions under `prefix`: in braces, so that on a cluster it lives on
/// one shard, whichever node is asked.
fn channel(prefix: &str) -> String {
    format!("{{{prefix}}}admitted")
}

/// Hears the admissions every instance publishes and says them to this instance's
/// connections, until `stop`. `subscriber` is this task's own connection (its reconnects are
/// `resubscribe`'s business).
pub(crate) async fn listen<A: Adapter>(
    subscriber: SubscriberClient,
    prefix: String,
    admissions: Admissions,
    io: SocketIo<A>,
    positions: Positions,
    stop: CancellationToken,
) {
    let channel = channel(&prefix);
    let mut messages = subscriber.message_rx();
    let subscribed = async {
        subscriber.init().await?;
        subscriber.ssubscribe(channel.as_str()).await
    };
    if let Err(e) = subscribed.await {
        // Admissions from other instances are then said by `Positions::say_unsaid`.
        tracing::error!(error = %e, "subscribing to the admissions channel failed");
    }
    let own = admissions.from();
    loop {
        let message = tokio::select! {
            got = messages.recv() => match got {
                Ok(message) => message,
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "admissions channel lagged; they are said later");
                    continue;
                }
                Err(RecvError::Closed) => break,
            },
            () = stop.cancelled() => break,
        };
        if message.channel != channel.as_str() {
            continue;
        }
        let Some(admitted) = message
            .value
            .as_str()
            .and_then(|text| serde_json::from_str::<Admitted>(&text).ok())
        else {
            tracing::warn!("an unreadable message on the admissions channel");
            continue;
        };
        if admitted.from == own {
            continue;
        }
        positions.admit(&io, admitted.session, admitted.user, admitted.ends);
    }
    let _ = subscriber.quit().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admission_reads_back_as_it_was_published() {
        let admitted = Admitted {
            from: 7,
            session: SessionId(2),
            user: UserId(40),
            ends: 1_800_000_000_000,
        };
        let text = serde_json::to_string(&admitted).expect("serialises");
        assert_eq!(serde_json::from_str::<Admitted>(&text).ok(), Some(admitted));
    }

    #[test]
    fn the_channel_lives_on_one_shard_per_prefix() {
        assert_eq!(channel("tc:"), "{tc:}admitted");
    }
}
