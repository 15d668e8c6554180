//! Keeps the Redis adapter subscribed across Redis restarts.
//!
//! socketioxide-redis subscribes its channels once. A restarted Redis forgets every
//! subscription, so without this no broadcast from another instance would reach this one
//! again. fred's own `manage_subscriptions` cannot be used: it also runs on the first connect,
//! before anything is tracked, and sends a `SUBSCRIBE` without channels, whose error reply
//! then answers the adapter's own first `SUBSCRIBE`.

use fred::clients::SubscriberClient;
use fred::interfaces::{EventInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

/// Subscribes the tracked channels and patterns again after every reconnect, until `stop`.
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
        let channels: Vec<String> = client
            .tracked_channels()
            .into_iter()
            .map(|c| c.to_string())
            .collect();
        let patterns: Vec<String> = client
            .tracked_patterns()
            .into_iter()
            .map(|p| p.to_string())
            .collect();
        let mut result = Ok(());
        if !channels.is_empty() {
            result = client.subscribe(channels).await;
        }
        if result.is_ok() && !patterns.is_empty() {
            result = client.psubscribe(patterns).await;
        }
        match result {
            Ok(()) => tracing::info!("Redis reconnected: adapter channels subscribed"),
            Err(e) => {
                tracing::error!(error = %e, "subscribing the adapter's channels again failed")
            }
        }
    }
}
