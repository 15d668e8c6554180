//! What the per-socket event budget (issue 15, `src/realtime/intake.rs`) adds to every incoming
//! event: the extension lookup of the socket's budget, the cut flag and one GCRA check
//! (`governor`'s direct limiter at the defaults, 50 events/s with a burst of 100), done the way
//! `intake::admit` does them. The end-to-end figures (join storm, seat rush with the limits on
//! and off) are in `benches/RESULTS.md`; on a shared 2-core VM their noise is far above a few
//! per cent, so this gives the per-event cost to set against a join's server CPU time.

#![allow(missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use socketioxide::extensions::Extensions;

/// The server's `EventBudget`: the same fields, the same check.
#[derive(Clone)]
struct Budget(Arc<Inner>);

struct Inner {
    events: DefaultDirectRateLimiter,
    refusals: DefaultDirectRateLimiter,
    cut: AtomicBool,
}

impl Budget {
    fn new(rate: u32, burst: u32) -> Self {
        let (rate, burst) = (nz(rate), nz(burst));
        Self(Arc::new(Inner {
            events: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            refusals: RateLimiter::direct(Quota::per_second(rate).allow_burst(nz(rate.get() * 5))),
            cut: AtomicBool::new(false),
        }))
    }

    fn admit(&self) -> bool {
        !self.0.cut.load(Ordering::Relaxed)
            && (self.0.events.check().is_ok() || self.0.refusals.check().is_err())
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

fn event_budget(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_budget");
    // Within the budget (a rate no benchmark reaches): the path of every normal event.
    let extensions = Extensions::new();
    extensions.insert(Budget::new(1_000_000_000, 1_000_000_000));
    group.bench_function("admit (lookup + check, within budget)", |b| {
        b.iter(|| black_box(&extensions).get::<Budget>().map(|b| b.admit()))
    });
    // The budget off: the lookup that finds nothing.
    let none = Extensions::new();
    group.bench_function("lookup (limit off)", |b| {
        b.iter(|| black_box(&none).get::<Budget>().is_some())
    });
    group.finish();
}

criterion_group!(benches, event_budget);
criterion_main!(benches);
