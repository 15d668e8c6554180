//! `loadgen`: on-sale load scenarios against a TicketClub server on loopback, each writing a JSON
//! result, a Markdown summary and SVG plots. See `benches/RESULTS.md` for how it is run.

mod error;
mod http;
mod probe;
mod procstat;
mod progress;
mod report;
mod scenarios;
mod server;
mod sio;
mod stats;
mod svg;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};

use scenarios::{
    Ctx, disconnect_storm, estimate, fanout, fanout_app, fleet, idle, join_storm, scaling,
    seat_rush, smoke,
};
use server::Target;

/// Load scenarios for TicketClub (Socket.IO v5 over WebSocket, loopback only).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    target: Target,
    /// Directory for `<scenario>.json`, `<scenario>.md` and the SVG plots.
    #[arg(long, global = true, default_value = "target/loadgen")]
    out: PathBuf,
    /// Connection attempts in flight at once.
    #[arg(long, global = true, default_value_t = 128)]
    connect_concurrency: usize,
    /// HTTP requests in flight at once.
    #[arg(long, global = true, default_value_t = 128)]
    http_concurrency: usize,
    /// Seconds one reply may take before it counts as unanswered.
    #[arg(long, global = true, default_value_t = 30)]
    reply_timeout: u64,
    /// Record the server with `perf record` during each measured phase into this directory.
    #[arg(long, global = true)]
    perf: Option<PathBuf>,
    /// The server runs under `valgrind --tool=callgrind --instr-atstart=no` (a `--server-bin`
    /// wrapper that execs it): count its instructions during each measured phase only, one
    /// callgrind dump per phase. Instructions are the same on a busy machine as on a quiet
    /// one, so small differences between two builds or settings show.
    #[arg(long, global = true)]
    callgrind: bool,
    /// Hard bound on the whole run, in seconds: everything is dropped and the run fails after it.
    #[arg(long, global = true, default_value_t = 1800)]
    deadline: u64,
    /// Also measure what a real browser client sees: join-storm (burst and storm modes),
    /// seat-rush and fanout run `benches/probe/probe.mjs` (socket.io-client 4.5.1 on Node)
    /// beside their load, with its own accounts. Needs `node` 20+ and `npm ci --prefix tests/js`.
    #[arg(long, global = true)]
    js_probes: bool,
}

#[derive(Subcommand)]
enum Scenario {
    /// N clients join a session's waiting room at once and paced.
    JoinStorm(join_storm::Opts),
    /// N connected clients, most of them queued, all leave at once.
    DisconnectStorm(disconnect_storm::Opts),
    /// Admitted clients select seats at once: one seat, then random seats.
    SeatRush(seat_rush::Opts),
    /// Many queued clients; admissions at a steady rate; position freshness.
    Fanout(fanout::Opts),
    /// Queued app clients on `/queue`; admissions at a steady rate; `position` lag and rate.
    FanoutApp(fanout_app::Opts),
    /// Queued app clients; departures at changing paces; estimated vs true wait.
    Estimate(estimate::Opts),
    /// Server memory per idle connection at several connection counts.
    Idle(idle::Opts),
    /// The join storm on one instance vs several pinned instances sharing MySQL + Redis.
    Scaling(scaling::Opts),
    /// Instances sharing MySQL + Redis, clients over them (several processes), one killed.
    Fleet(fleet::Opts),
    /// One process's share of `fleet`'s clients (started by `fleet`).
    #[command(hide = true)]
    FleetWorker(fleet::worker::Opts),
    /// Every scenario with a few hundred clients, checking correctness only (for CI).
    Smoke,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => eprintln!("open-file limit: {n}"),
        Err(e) => eprintln!("could not raise the open-file limit: {e}"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            r = tokio::time::timeout(Duration::from_secs(cli.deadline), run(&cli)) => {
                r.unwrap_or_else(|_| Err(error::err(format!("deadline of {} s passed", cli.deadline))))
            }
            _ = tokio::signal::ctrl_c() => Err(error::err("interrupted")),
        }
    });
    // Dropping the runtime aborts every client task and kills servers started here.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("FAILED: a correctness check failed (see the reports)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: &Cli) -> error::Result<bool> {
    std::fs::create_dir_all(&cli.out)?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let js_probes = match cli.js_probes {
        true => Some(probe::Setup::locate().await?),
        false => None,
    };
    let ctx = Ctx {
        target: cli.target.clone(),
        out: cli.out.clone(),
        tag: format!("lg{stamp}"),
        connect_concurrency: cli.connect_concurrency,
        http_concurrency: cli.http_concurrency,
        reply_timeout: Duration::from_secs(cli.reply_timeout),
        perf: cli.perf.clone(),
        callgrind: cli.callgrind,
        js_probes,
    };
    match &cli.scenario {
        Scenario::JoinStorm(o) => join_storm::run(&ctx, o).await,
        Scenario::DisconnectStorm(o) => disconnect_storm::run(&ctx, o).await,
        Scenario::SeatRush(o) => seat_rush::run(&ctx, o).await,
        Scenario::Fanout(o) => fanout::run(&ctx, o).await,
        Scenario::FanoutApp(o) => fanout_app::run(&ctx, o).await,
        Scenario::Estimate(o) => estimate::run(&ctx, o).await,
        Scenario::Idle(o) => idle::run(&ctx, o).await,
        Scenario::Scaling(o) => scaling::run(&ctx, o).await,
        Scenario::Fleet(o) => fleet::run(&ctx, o).await,
        Scenario::FleetWorker(o) => fleet::worker::run(o).await,
        Scenario::Smoke => smoke::run(&ctx).await,
    }
}
