//! Keeps the Redis adapter subscribed across Redis restarts.
//!
//! socketioxide-redis subscribes its channels once, with `SSUBSCRIBE` (sharded pub/sub). A
//! restarted Redis forgets every subscription, so without this no broadcast from another
//! instance would reach this one again. fred's own `manage_subscriptions` cannot be used: it
//! also runs on the first connect, before anything is tracked, and sends a `SUBSCRIBE` without
//! channels, whose error reply then answers the adapter's own first `SSUBSCRIBE`. So this task
//! acts on reconnects only, and sends a command only for a kind that has tracked channels.

use fred::clients::SubscriberClient;
use fred::interfaces::{EventInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Subscribes the tracked shard channels, channels and patterns again after every reconnect,
/// until `stop`.
pub(crate) async fn run(client: SubscriberClient, stop: CancellationToken) {
    let mut reconnects = client.reconnect_rx();
    loop {
        tokio::select! {
            got = reconnects.recv() => match got {
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            () = stop.cancelled() => break,
        }
        match subscribe_again(&client).await {
            Ok(count) => tracing::info!(count, "Redis reconnected: adapter channels subscribed"),
            Err(e) => {
                tracing::error!(error = %e, "subscribing the adapter's channels again failed")
            }
        }
    }
}

/// Sends the subscriptions the client tracks; returns how many channels and patterns.
async fn subscribe_again(client: &SubscriberClient) -> Result<usize, fred::error::Error> {
    let mut count = 0;
    // One SSUBSCRIBE per channel: on a cluster, channels of different slots cannot share one.
    for channel in client.tracked_shard_channels() {
        client.ssubscribe(channel.to_string()).await?;
        count += 1;
    }
    let channels: Vec<String> = strings(client.tracked_channels());
    if !channels.is_empty() {
        count += channels.len();
        client.subscribe(channels).await?;
    }
    let patterns: Vec<String> = strings(client.tracked_patterns());
    if !patterns.is_empty() {
        count += patterns.len();
        client.psubscribe(patterns).await?;
    }
    Ok(count)
}

fn strings(set: std::collections::BTreeSet<fred::bytes_utils::Str>) -> Vec<String> {
    set.into_iter().map(|s| s.to_string()).collect()
}
