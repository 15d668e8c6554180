//! Arrivals at one session applied together: every arrival this instance receives while its
//! previous batch for the session is on the wire goes into the next batch, one
//! `enter_batch.lua` call (and one index pipeline), as leaves are (`departures.rs`). Nothing
//! waits on a timer: a lone arrival goes out at once, as before.
//!
//! Why: in a storm of arrivals (a sale opening) each arrival was its own script call, and each
//! call costs this process and Redis a command to frame, send, run and parse far more than the
//! few ZSET operations it makes (issue 14). A batch places its arrivals one after another in the
//! order they reached this instance, each exactly as `enter.lua` would (the two scripts share
//! `enter_body.lua`), so a caller's arrivals keep their order and every place stays distinct.
//!
//! The caller that finds no batch running runs the batches (its own arrival first, with
//! whatever is waiting) until none is waiting, so nothing runs outside a caller's task. A
//! runner dropped mid-batch releases the line ([`crate::storage::lines::Turn`]): the callers
//! waiting on it arrive again, which keeps the one place an arrival already made.

use tokio::sync::oneshot;

use super::keys::{IDLE_TTL_MS, RoomKeys};
use super::parse::text;
use super::{RedisWaitingRoom, admission};
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::domain::waiting_room::{Admission, Hears};
use crate::storage::lines::Lines;
use crate::storage::{RECENT_ADMISSIONS, StorageError, StorageResult};

/// One caller's arrival, waiting for a batch.
pub(super) struct Request {
    user: UserId,
    /// The stored holder token.
    holder: String,
    now: Millis,
    hears: Hears,
    answer: oneshot::Sender<StorageResult<Admission>>,
}

/// The arrivals waiting per session.
pub(super) type Entrances = Lines<Request>;

impl RedisWaitingRoom {
    /// Arrives at `session` in the next batch (see the module docs); `holder` is a stored token.
    pub(super) async fn enter_batched(
        &self,
        session: SessionId,
        user: UserId,
        holder: String,
        now: Millis,
        hears: Hears,
    ) -> StorageResult<Admission> {
        loop {
            let (tx, rx) = oneshot::channel();
            let request = Request {
                user,
                holder: holder.clone(),
                now,
                hears,
                answer: tx,
            };
            if self.entrances.join(session, request) {
                let turn = self.entrances.turn(session);
                loop {
                    let batch = self.entrances.take(session);
                    if batch.is_empty() {
                        break;
                    }
                    crate::metrics::waiting_room_batch("enter", batch.len());
                    self.enter_together(session, batch).await;
                }
                turn.finish();
            }
            match rx.await {
                Ok(answer) => return answer,
                // The caller running the batches was dropped before answering this arrival.
                Err(_) => continue,
            }
        }
    }

    /// Runs enter_batch.lua and the batch's index pipeline together (one exchange, as a lone
    /// arrival's script and index are) and answers each caller.
    async fn enter_together(&self, session: SessionId, batch: Vec<Request>) {
        let k = RoomKeys::new(&self.prefix, session);
        let rules = self.controls.rules(session);
        let keys = vec![
            k.page, k.queue, k.holder, k.seq, k.joined, k.admits, k.rules, k.told,
        ];
        let mut args = Vec::with_capacity(4 + 4 * batch.len());
        args.extend([
            rules.limit.to_string(),
            IDLE_TTL_MS.to_string(),
            rules.admits().to_string(),
            RECENT_ADMISSIONS.to_string(),
        ]);
        let instance = self.instance();
        let mut owners = Vec::with_capacity(batch.len());
        for r in &batch {
            args.push(r.user.to_string());
            args.push(r.holder.clone());
            args.push(r.now.to_string());
            args.push(
                match r.hears {
                    Hears::EachStep => "told",
                    Hears::Place => "asks",
                }
                .into(),
            );
            let owner = r.holder.split_once('/').map_or(instance.as_str(), |o| o.0);
            owners.push((r.user, owner));
        }
        // As for a lone arrival: an index entry without its place (the script failed) is
        // harmless, every reader of the index checks the place.
        let (reply, indexed) = tokio::join!(
            self.run(&self.scripts.enter_batch, keys, args),
            self.index_places_for(session, &owners)
        );
        let reply = match (reply, indexed) {
            (Ok(reply), Ok(())) => reply,
            (Err(e), _) | (_, Err(e)) => {
                let text = e.to_string();
                for r in batch {
                    let _ = r.answer.send(Err(StorageError::Unavailable(text.clone())));
                }
                return;
            }
        };
        for (i, r) in batch.into_iter().enumerate() {
            let kind = text(reply.at(3 * i));
            let answer = admission(
                &rules,
                &kind,
                reply.at(3 * i + 1),
                reply.at(3 * i + 2),
                r.now,
            );
            // A caller that gave up no longer needs its answer.
            let _ = r.answer.send(answer);
        }
    }
}
