//! `smoke`: every scenario with a few hundred clients, for CI. Only correctness is asserted
//! (every join answered, exact queue positions and notices, no seat granted twice, an empty
//! room after a storm), never a time. Ends with a `N passed, N failed` line.

use super::{
    Ctx, Protocol, disconnect_storm, estimate, fanout, fleet, idle, join_storm, seat_rush,
};
use crate::error::{Result, err};

/// Server KB per idle connection the smoke accepts. Release builds measure about 11 KB at 5,000
/// connections (vendor/engineioxide/PATCHES.md) and a debug build about 16 KB at 300 (2026-12);
/// the bound is four times that, because a small run is noisy: it is there to catch a many-fold
/// regression, not to benchmark.
const IDLE_KB_BOUND: f64 = 64.0;

/// Runs each scenario small; `Ok(true)` when all passed.
pub async fn run(ctx: &Ctx) -> Result<bool> {
    if ctx.target.server_bin.is_none() {
        return Err(err(
            "smoke needs --server-bin: it starts a server per scenario with the queue limit each needs",
        ));
    }
    let mut outcomes: Vec<(&str, Result<bool>)> = Vec::new();
    let join = join_storm::Opts {
        clients: 300,
        mode: join_storm::Mode::All,
        rate: 300.0,
        storm_rate: 3000.0,
        session: 1,
        queue_limit: 20,
        no_validate: false,
        protocol: super::Protocol::Legacy,
        production: false,
        engine_pids: Vec::new(),
        engines: super::deploy::SharedEngines::default(),
    };
    outcomes.push(("join-storm", join_storm::run(ctx, &join).await));
    let storm = disconnect_storm::Opts {
        clients: 300,
        queue_limit: 20,
        session: 1,
        probe_session: 2,
        quiet_ms: 300,
        after_s: 1,
        production: false,
        engines: super::deploy::SharedEngines::default(),
    };
    outcomes.push(("disconnect-storm", disconnect_storm::run(ctx, &storm).await));
    let rush = seat_rush::Opts {
        clients: 200,
        one_seat_session: 1,
        random_session: 2,
        seed: 7,
        protocol: super::Protocol::Legacy,
        production: false,
        engine_pids: Vec::new(),
        engines: super::deploy::SharedEngines::default(),
    };
    outcomes.push(("seat-rush", seat_rush::run(ctx, &rush).await));
    let fan = fanout::Opts {
        queued: 300,
        queue_limit: 10,
        admissions: 5,
        rate: 10.0,
        session: 1,
        settle: 10,
    };
    outcomes.push(("fanout", fanout::run(ctx, &fan).await));
    let estimate = estimate::Opts {
        queued: 40,
        queue_limit: 5,
        rates: vec![20.0, 10.0],
        session: 1,
    };
    outcomes.push(("estimate", estimate::run(ctx, &estimate).await));
    let idle = idle::Opts {
        steps: vec![100, 300],
        settle: 1,
        max_kb_per_connection: Some(IDLE_KB_BOUND),
    };
    outcomes.push(("idle", idle::run(ctx, &idle).await));
    let app = fleet::Opts::smoke(Protocol::App);
    outcomes.push(("fleet", fleet::run(ctx, &app).await));
    let legacy = fleet::Opts::smoke(Protocol::Legacy);
    outcomes.push(("fleet-legacy", fleet::run(ctx, &legacy).await));

    let mut failed = 0;
    for (name, outcome) in &outcomes {
        match outcome {
            Ok(true) => eprintln!("smoke {name}: ok"),
            Ok(false) => {
                failed += 1;
                eprintln!("smoke {name}: FAILED (a correctness check failed)");
            }
            Err(e) => {
                failed += 1;
                eprintln!("smoke {name}: FAILED ({e})");
            }
        }
    }
    println!("smoke: {} passed, {failed} failed", outcomes.len() - failed);
    Ok(failed == 0)
}
