//! The waiting room exists twice: the Rust `Room` (behind the in-process engine) and the Redis Lua
//! scripts (behind the Redis engine). This test drives both with the same random operation
//! sequences (arrivals, departures, position queries, clock steps and sweeps) and requires every
//! answer and the final state to agree, so the two copies cannot drift apart unnoticed.
//!
//! The seed is fixed (`TICKETCLUB_DIFF_SEED` overrides it) and the number of cases bounded, so a
//! run is reproducible and short; proptest shrinks a failure to a minimal operation sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use ticketclub::domain::ids::{SessionId, UserId};
use ticketclub::domain::waiting_room::{Holder, Rules};
use ticketclub::storage::memory::MemoryWaitingRoom;
use ticketclub::storage::redis::{Lease, RedisWaitingRoom};
use ticketclub::storage::{Expiry, WaitingRoom};

use crate::databases::TestRedis;
use crate::differential::runner;

/// Accounts and sessions one case plays with: few, so that they meet often.
const USERS: i64 = 8;
const SESSIONS: i64 = 2;
const WINDOW_MS: i64 = 10_000;
/// A visit lasts the window plus a grace, as in the server.
const LIFETIME_MS: i64 = 12_000;
/// Page limits a case may use (1 to this).
const MAX_LIMIT: usize = 4;
/// Where every case's clock starts.
const START_MS: i64 = 1_000_000;

/// One step of a case, in the ids of the case (offset to fresh ids when played).
#[derive(Clone, Debug)]
enum Op {
    Enter {
        session: i64,
        user: i64,
        conn: u8,
    },
    Leave {
        session: i64,
        user: i64,
        conn: Option<u8>,
    },
    /// Several leaves applied as one batch (a crowd leaving at once).
    LeaveMany {
        session: i64,
        leavers: Vec<(i64, Option<u8>)>,
    },
    Look {
        session: i64,
        user: i64,
    },
    Tick(i64),
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    let session = 0..SESSIONS;
    let user = 0..USERS;
    prop_oneof![
        5 => (session.clone(), user.clone(), 0..3u8)
            .prop_map(|(session, user, conn)| Op::Enter { session, user, conn }),
        2 => (session.clone(), user.clone(), proptest::option::of(0..3u8))
            .prop_map(|(session, user, conn)| Op::Leave { session, user, conn }),
        1 => (
            session.clone(),
            proptest::collection::vec((user.clone(), proptest::option::of(0..3u8)), 1..6)
        )
            .prop_map(|(session, leavers)| Op::LeaveMany { session, leavers }),
        1 => (session, user).prop_map(|(session, user)| Op::Look { session, user }),
        // Zero steps make ties: several visits entering, and so ending, at the same instant.
        2 => prop_oneof![Just(0), 1..8_000i64].prop_map(Op::Tick),
        2 => Just(Op::Sweep),
    ]
}

fn rules(limit: usize) -> Rules {
    Rules {
        limit,
        window_ms: WINDOW_MS,
        buffer_s: 10,
        paused: false,
    }
}

fn holder(conn: u8) -> Holder {
    Holder(format!("conn-{conn}"))
}

/// Ids no earlier case used, so cases share one Redis prefix and connection without meeting.
static NEXT_BASE: AtomicI64 = AtomicI64::new(1_000);

struct Case {
    memory: MemoryWaitingRoom,
    redis: Arc<RedisWaitingRoom>,
    base: i64,
    now: i64,
}

impl Case {
    fn session(&self, s: i64) -> SessionId {
        SessionId(self.base + s)
    }

    fn user(&self, u: i64) -> UserId {
        UserId(self.base + u)
    }

    async fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = self.now;
        match *op {
            Op::Enter {
                session,
                user,
                conn,
            } => {
                let (s, u) = (self.session(session), self.user(user));
                let rust = self.memory.enter(s, u, holder(conn), now).await;
                let lua = self.redis.enter(s, u, holder(conn), now).await;
                prop_assert_eq!(rust.expect("memory"), lua.expect("redis"), "{:?}", op);
            }
            Op::Leave {
                session,
                user,
                conn,
            } => {
                let (s, u) = (self.session(session), self.user(user));
                let rust = self.memory.leave(s, u, conn.map(holder), now).await;
                let lua = self.redis.leave(s, u, conn.map(holder), now).await;
                prop_assert_eq!(rust.expect("memory"), lua.expect("redis"), "{:?}", op);
            }
            Op::LeaveMany {
                session,
                ref leavers,
            } => {
                let s = self.session(session);
                let leavers: Vec<(UserId, Option<Holder>)> = leavers
                    .iter()
                    .map(|(u, conn)| (self.user(*u), conn.map(holder)))
                    .collect();
                let rust = self.memory.leave_all(s, &leavers, now);
                let lua = self.redis.leave_all(s, &leavers, now).await;
                prop_assert_eq!(rust, lua.expect("redis"), "{:?}", op);
            }
            Op::Look { session, user } => {
                let (s, u) = (self.session(session), self.user(user));
                self.same_standing(s, u).await?;
            }
            Op::Tick(ms) => self.now += ms,
            Op::Sweep => {
                let rust = by_session(self.memory.expire(now).await.expect("memory"));
                let lua = by_session(self.redis.expire(now).await.expect("redis"));
                prop_assert_eq!(rust, lua, "sweep at {}", now - START_MS);
            }
        }
        Ok(())
    }

    /// The same place and admission time for `user` in `session`.
    async fn same_standing(&self, s: SessionId, u: UserId) -> Result<(), TestCaseError> {
        let rust = self.memory.place(s, u).await.expect("memory");
        let lua = self.redis.place(s, u).await.expect("redis");
        prop_assert_eq!(rust, lua, "place of {:?} in {:?}", u, s);
        let rust = self.memory.admitted_at(s, u).await.expect("memory");
        let lua = self.redis.admitted_at(s, u).await.expect("redis");
        prop_assert_eq!(rust, lua, "admission time of {:?} in {:?}", u, s);
        Ok(())
    }

    /// The final state: everyone's standing, everyone's sessions, and the rooms' sizes.
    async fn same_final_state(&self) -> Result<(), TestCaseError> {
        for user in 0..USERS {
            let u = self.user(user);
            for session in 0..SESSIONS {
                self.same_standing(self.session(session), u).await?;
            }
            let mut rust = self.memory.sessions_of(u).await.expect("memory");
            let mut lua = self.redis.sessions_of(u).await.expect("redis");
            rust.sort();
            lua.sort();
            prop_assert_eq!(rust, lua, "sessions of {:?}", u);
        }
        let rust = self.occupancy(&self.memory).await;
        let lua = self.occupancy(self.redis.as_ref()).await;
        prop_assert_eq!(rust, lua, "occupancy");
        Ok(())
    }

    /// This case's non-empty rooms and their sizes (Redis lists an emptied room until the next
    /// sweep forgets it; an empty room is no room).
    async fn occupancy(&self, room: &dyn WaitingRoom) -> Vec<(SessionId, usize, usize)> {
        let mut sizes: Vec<_> = room
            .occupancy()
            .await
            .expect("occupancy")
            .into_iter()
            .filter(|(s, page, queue)| {
                (self.base..self.base + SESSIONS).contains(&s.0) && page + queue > 0
            })
            .collect();
        sizes.sort();
        sizes
    }

    /// Empties this case's Redis rooms, so later sweeps never see them.
    async fn clear(&self) {
        for session in 0..SESSIONS {
            for user in 0..USERS {
                let _ = self
                    .redis
                    .leave(self.session(session), self.user(user), None, self.now)
                    .await;
            }
        }
    }
}

/// Sweep results grouped by session: the engines visit sessions in different orders, but within
/// a session the order (oldest visit first) is part of the answer.
fn by_session(mut ended: Vec<Expiry>) -> Vec<Expiry> {
    ended.sort_by_key(|e| e.session);
    ended
}

#[test]
fn the_rust_room_and_the_lua_scripts_agree_on_random_operation_sequences() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let redis = TestRedis::new();
    let lease = Lease {
        instance: "diff".into(),
        ttl_ms: 600_000,
    };
    let timeout = std::time::Duration::from_secs(2);
    // One Redis engine per page limit (the rules are fixed when it connects), all on one prefix.
    let engines: Vec<Arc<RedisWaitingRoom>> = rt.block_on(async {
        let mut engines = Vec::new();
        for limit in 1..=MAX_LIMIT {
            let room = RedisWaitingRoom::connect(
                &redis.url,
                &redis.prefix,
                rules(limit),
                LIFETIME_MS,
                lease.clone(),
                timeout,
            )
            .await
            .expect("the test Redis answers (scripts/services.sh starts it)");
            engines.push(Arc::new(room));
        }
        engines
    });
    let mut runner = runner(128);
    let strategy = (1..=MAX_LIMIT, proptest::collection::vec(op(), 1..80));
    let result = runner.run(&strategy, |(limit, ops)| {
        rt.block_on(async {
            let mut case = Case {
                memory: MemoryWaitingRoom::new(rules(limit), LIFETIME_MS),
                redis: engines[limit - 1].clone(),
                base: NEXT_BASE.fetch_add(SESSIONS.max(USERS), Ordering::Relaxed),
                now: START_MS,
            };
            let mut outcome = Ok(());
            for op in &ops {
                outcome = case.step(op).await;
                if outcome.is_err() {
                    break;
                }
            }
            if outcome.is_ok() {
                outcome = case.same_final_state().await;
            }
            case.clear().await;
            outcome
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
