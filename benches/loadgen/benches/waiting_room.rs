//! Micro-benchmarks of the waiting room: the pure model (`Room`) on a 100k queue, and the
//! in-process engine (`MemoryWaitingRoom`) that wraps it behind a mutex.
//!
//! Run: `CARGO_TARGET_DIR=target cargo bench --manifest-path benches/loadgen/Cargo.toml` (the
//! variable, not `--target-dir`, so criterion also writes its reports to `target/criterion`).

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ticketclub::domain::ids::{SessionId, UserId};
use ticketclub::domain::waiting_room::{Holder, Room, Rules};
use ticketclub::storage::WaitingRoom;
use ticketclub::storage::memory::MemoryWaitingRoom;

const QUEUE: i64 = 100_000;
const LIMIT: usize = 100;
const NOW: i64 = 1_800_000_000_000;

fn rules() -> Rules {
    Rules {
        limit: LIMIT,
        window_ms: 600_000,
        buffer_s: 10,
        paused: false,
    }
}

fn holder(user: i64) -> Holder {
    Holder(format!("h{user}"))
}

/// A room with a full page (users 0..LIMIT) and `QUEUE` people queued behind it.
fn full_room() -> Room {
    let rules = rules();
    let mut room = Room::new();
    for u in 0..LIMIT as i64 + QUEUE {
        room.enter(&rules, UserId(u), holder(u), NOW + u);
    }
    room
}

/// Polls a future that never waits (the memory engine's) to completion.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    match f.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the memory engine never waits"),
    }
}

fn room_model(c: &mut Criterion) {
    let rules = rules();
    let room = full_room();
    let mut g = c.benchmark_group("room (page 100, queue 100k)");
    g.sample_size(20);

    let mut r = room.clone();
    let newcomer = UserId(10_000_000);
    g.bench_function("enter a newcomer (then leave from the back)", |b| {
        b.iter(|| {
            let a = r.enter(&rules, newcomer, holder(0), NOW);
            let d = r.leave(&rules, newcomer, None, NOW);
            black_box((a, d))
        })
    });
    g.bench_function("enter again while queued (estimate for the middle)", |b| {
        let mut r = room.clone();
        let middle = UserId(LIMIT as i64 + QUEUE / 2);
        b.iter(|| black_box(r.enter(&rules, middle, holder(middle.0), NOW)))
    });
    g.bench_function("place of the last in the queue", |b| {
        let last = UserId(LIMIT as i64 + QUEUE - 1);
        b.iter(|| black_box(room.place(last)))
    });
    g.bench_function("leave from the middle of the queue (50k notices)", |b| {
        let middle = UserId(LIMIT as i64 + QUEUE / 2);
        b.iter_batched(
            || room.clone(),
            // Return the room so dropping its 100k entries is not timed.
            |mut r| {
                let d = r.leave(&rules, middle, None, NOW);
                (r, d)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("leave the page: promote + 100k notices", |b| {
        b.iter_batched(
            || room.clone(),
            |mut r| {
                let d = r.leave(&rules, UserId(0), None, NOW);
                (r, d)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    c.bench_function("estimate (Rules::seconds)", |b| {
        b.iter(|| black_box(rules.seconds(black_box(NOW - 5_000), black_box(7), black_box(NOW))))
    });
}

fn memory_engine(c: &mut Criterion) {
    let rules = rules();
    let engine = MemoryWaitingRoom::new(rules, 610_000);
    let session = SessionId(1);
    for u in 0..LIMIT as i64 + 10_000 {
        ready(engine.enter(session, UserId(u), holder(u), NOW)).expect("enter");
    }
    let mut g = c.benchmark_group("memory engine (page 100, queue 10k)");
    g.sample_size(30);
    let newcomer = UserId(10_000_000);
    g.bench_function("enter + leave a newcomer", |b| {
        b.iter(|| {
            let a = ready(engine.enter(session, newcomer, holder(0), NOW));
            let d = ready(engine.leave(session, newcomer, None, NOW));
            black_box((a, d))
        })
    });
    g.bench_function("place (validation lookup)", |b| {
        let last = UserId(LIMIT as i64 + 9_999);
        b.iter(|| black_box(ready(engine.place(session, last))))
    });
    g.bench_function(
        "leave the page (promote + 10k notices) + re-enter at the back",
        |b| {
            let mut next = 0i64;
            b.iter(|| {
                // The page's oldest leaves (admitting the head of the queue) and queues again.
                let user = UserId(next);
                next = (next + 1) % (LIMIT as i64 + 10_000);
                let d = ready(engine.leave(session, user, None, NOW));
                let a = ready(engine.enter(session, user, holder(user.0), NOW));
                black_box((d, a))
            })
        },
    );
    g.finish();
}

criterion_group!(benches, room_model, memory_engine);
criterion_main!(benches);
