//! Events from one socket are handled in the order they were sent.
//!
//! socketioxide runs every incoming event as its own task, so a `select seat` sent right behind
//! `check limit` could overtake it. Each handler takes a [`Turn`] as its first extractor:
//! extractors run synchronously, in arrival order, before the handler's task is spawned, so the
//! ticket a turn draws is the event's arrival rank. The handler then waits until every earlier
//! event of the socket has finished. A turn that is dropped (finished, panicked, or cancelled
//! at shutdown) lets the next one go.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use socketioxide::adapter::Adapter;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value;
use tokio::sync::watch;

use super::intake::{self, Refusal};

/// One socket's queue of events: tickets handed out, and the ticket being served.
#[derive(Clone)]
pub(crate) struct Turnstile(Arc<Inner>);

struct Inner {
    next: AtomicU64,
    serving: watch::Sender<u64>,
    /// Tickets dropped before their turn came; skipped when reached.
    abandoned: Mutex<BTreeSet<u64>>,
}

impl Default for Turnstile {
    fn default() -> Self {
        Self(Arc::new(Inner {
            next: AtomicU64::new(0),
            serving: watch::Sender::new(0),
            abandoned: Mutex::new(BTreeSet::new()),
        }))
    }
}

impl Turnstile {
    /// Draws the next ticket.
    pub(crate) fn draw(&self) -> Turn {
        let ticket = self.0.next.fetch_add(1, Ordering::Relaxed);
        Turn {
            gate: Some(self.clone()),
            ticket,
            served: false,
        }
    }

    /// Events that arrived and have not finished yet (the tests check nothing is left waiting).
    #[cfg(test)]
    fn backlog(&self) -> u64 {
        self.0.next.load(Ordering::Relaxed) - *self.0.serving.borrow()
    }

    /// Moves past `ticket` and past every abandoned ticket right behind it.
    fn advance(&self, ticket: u64) {
        let mut abandoned = self.0.abandoned.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = ticket + 1;
        while abandoned.remove(&next) {
            next += 1;
        }
        self.0.serving.send_replace(next);
    }
}

/// An event's place in its socket's queue; [`Turn::wait`] resolves when the place is reached.
pub(crate) struct Turn {
    gate: Option<Turnstile>,
    ticket: u64,
    served: bool,
}

impl Turn {
    /// A turn that never waits (a socket without a turnstile).
    pub(crate) fn free() -> Self {
        Self {
            gate: None,
            ticket: 0,
            served: true,
        }
    }

    /// Waits until every earlier event of the socket has been handled.
    pub(crate) async fn wait(&mut self) {
        let Some(gate) = &self.gate else { return };
        let mut serving = gate.0.serving.subscribe();
        let ticket = self.ticket;
        // The sender lives in `gate`, which this turn holds: the channel cannot close.
        let _ = serving.wait_for(|now| *now >= ticket).await;
        self.served = true;
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(gate) = self.gate.take() else { return };
        if self.served {
            gate.advance(self.ticket);
            return;
        }
        let mut abandoned = gate.0.abandoned.lock().unwrap_or_else(|e| e.into_inner());
        if *gate.0.serving.borrow() == self.ticket {
            drop(abandoned);
            gate.advance(self.ticket);
        } else {
            abandoned.insert(self.ticket);
        }
    }
}

impl<A: Adapter> FromMessageParts<A> for Turn {
    type Error = Refusal;

    /// Lets the event in through [`intake::admit`] first: a refused event is answered there
    /// and draws no ticket, so its handler's task is never spawned.
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        raw: &mut Value,
        ack: &Option<i64>,
    ) -> Result<Self, Refusal> {
        intake::admit(s, raw, *ack)?;
        Ok(s.extensions
            .get::<Turnstile>()
            .map_or_else(Turn::free, |gate| gate.draw()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turns_run_one_at_a_time_in_the_order_they_were_drawn() {
        let gate = Turnstile::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let turns: Vec<Turn> = (0..50).map(|_| gate.draw()).collect();
        // Spawned in reverse, so without the turnstile the later ones would tend to run first.
        for (i, mut turn) in turns.into_iter().enumerate().rev() {
            let seen = seen.clone();
            tasks.push(tokio::spawn(async move {
                turn.wait().await;
                seen.lock().expect("lock").push(i);
                tokio::time::sleep(Duration::from_micros(50)).await;
                drop(turn);
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*seen.lock().expect("lock"), (0..50).collect::<Vec<_>>());
        assert_eq!(gate.backlog(), 0);
    }

    #[tokio::test]
    async fn a_turn_dropped_before_its_time_does_not_block_the_ones_behind_it() {
        let gate = Turnstile::default();
        let first = gate.draw();
        let second = gate.draw();
        let mut third = gate.draw();
        drop(second);
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), third.wait())
            .await
            .expect("the third turn comes");
    }
}
