//! `idle`: server memory per idle connection. Connects authenticated clients (one account each,
//! answering heartbeats, nothing else) in steps and reads the server's resident memory after
//! each step settles: (RSS − RSS before any connection) / connections.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Ctx, close_all, connect_all, machine};
use crate::error::{Result, err};
use crate::report::Report;
use crate::server::{ProcStat, Sampler};
use crate::sio::SioClient;
use crate::svg::{self, Axes, Series};

/// Options of `idle`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Connection counts to measure at, ascending (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,15000")]
    pub steps: Vec<usize>,
    /// Seconds to let each step settle before reading memory.
    #[arg(long, default_value_t = 3)]
    pub settle: u64,
    /// Fail when the server holds more than this many KB per connection at the last step. For
    /// CI: a generous bound that still catches losing the vendored engineioxide patch
    /// (`cargo tree -i engineioxide`) or a per-connection allocation gone wrong.
    #[arg(long)]
    pub max_kb_per_connection: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Step {
    connections: usize,
    connected: usize,
    connect_wall_s: f64,
    server_rss_kb: u64,
    server_kb_per_connection: f64,
    /// Server RSS growth since the previous step, per connection added: the marginal cost,
    /// without the one-off growth (runtime, allocator arenas, handshake bursts) of the first step.
    server_kb_per_added_connection: Option<f64>,
    loadgen_rss_kb: u64,
    loadgen_kb_per_connection: f64,
    server_threads: u64,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    let mut steps = opts.steps.clone();
    steps.sort_unstable();
    let max = *steps.last().ok_or_else(|| err("--steps is empty"))?;
    ctx.fits(max)?;
    eprintln!("== idle: steps {steps:?}");
    let (server, api) = ctx.server(100, "idle").await?;
    let info = machine(&server);
    let accounts = ctx.accounts(&api, "idle", max).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = server
        .stat()
        .ok_or_else(|| err("idle needs the server pid (--server-bin or --server-pid)"))?;
    let own_base = ProcStat::own().unwrap_or_default();
    let t0 = Instant::now();
    let sampler = Sampler::start(server.pids(), t0, Duration::from_millis(100));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut keepers = JoinSet::new();
    let mut results = Vec::new();
    let mut have = 0;
    for &target in &steps {
        let connected = connect_all(
            ctx,
            &[server.addr],
            &accounts[have..target],
            &format!("connect {target}"),
        )
        .await?;
        let wall = connected.wall_s;
        for (_, c) in connected.take() {
            keepers.spawn(keep(c, stop_rx.clone()));
        }
        have = target;
        tokio::time::sleep(Duration::from_secs(opts.settle)).await;
        let now = server.stat().unwrap_or_default();
        let own = ProcStat::own().unwrap_or_default();
        let n = keepers.len();
        let added = results.last().map(|prev: &Step| {
            (now.rss_kb as f64 - prev.server_rss_kb as f64)
                / n.saturating_sub(prev.connected).max(1) as f64
        });
        let step = Step {
            connections: target,
            connected: n,
            connect_wall_s: wall,
            server_rss_kb: now.rss_kb,
            server_kb_per_connection: (now.rss_kb as f64 - base.rss_kb as f64) / n.max(1) as f64,
            server_kb_per_added_connection: added,
            loadgen_rss_kb: own.rss_kb,
            loadgen_kb_per_connection: (own.rss_kb as f64 - own_base.rss_kb as f64)
                / n.max(1) as f64,
            server_threads: now.threads,
        };
        eprintln!(
            "  {} connections: server {:.2} KB each, load generator {:.2} KB each",
            n, step.server_kb_per_connection, step.loadgen_kb_per_connection
        );
        results.push(step);
    }
    let _ = stop_tx.send(true);
    let mut open = Vec::new();
    while let Some(joined) = keepers.join_next().await {
        if let Ok(Some(c)) = joined {
            open.push(c);
        }
    }
    close_all(open).await;
    let samples = sampler.finish();
    server.stop().await;

    let mut report = Report::new(&ctx.out, "idle", "Memory per idle connection");
    report.md(format!(
        "Authenticated Socket.IO connections (one account each) that only answer heartbeats. Baseline \
         server RSS before any connection (after the sign-ups): {:.1} MiB.\n",
        base.rss_kb as f64 / 1024.0
    ));
    report.md("| connections | connected | server RSS (MiB) | **server KB / connection** | server KB / connection added since the previous step | load generator KB / connection |\n|---:|---:|---:|---:|---:|---:|");
    for s in &results {
        let added = s
            .server_kb_per_added_connection
            .map_or_else(|| "–".to_string(), |kb| format!("{kb:.2}"));
        report.md(format!(
            "| {} | {} | {:.1} | **{:.2}** | {} | {:.2} |",
            s.connections,
            s.connected,
            s.server_rss_kb as f64 / 1024.0,
            s.server_kb_per_connection,
            added,
            s.loadgen_kb_per_connection
        ));
    }
    report.md("");
    let per: Vec<(f64, f64)> = results
        .iter()
        .map(|s| (s.connections as f64, s.server_kb_per_connection))
        .collect();
    let axes = Axes {
        title: "Server memory per idle connection",
        x: "connections",
        y: "KB per connection",
        log_x: false,
    };
    report.plot(
        "per-connection",
        "KB per connection",
        svg::line_chart(&axes, &[Series::new("server", per)]),
    )?;
    report.resources("idle", &samples)?;
    for s in &results {
        report.check(
            s.connected == s.connections,
            format!("{} of {} connections open", s.connected, s.connections),
        );
    }
    if let (Some(bound), Some(last)) = (opts.max_kb_per_connection, results.last()) {
        report.check(
            within_bound(last.server_kb_per_connection, bound),
            format!(
                "server {:.2} KB per connection at {} connections (bound {bound} KB)",
                last.server_kb_per_connection, last.connections
            ),
        );
    }
    report.write(json!({"scenario": "idle", "machine": info, "baseline_rss_kb": base.rss_kb, "steps": results, "samples": samples}))
}

/// Whether a measured cost per connection is within the bound (a NaN never is).
fn within_bound(kb_per_connection: f64, bound: f64) -> bool {
    kb_per_connection <= bound
}

/// Holds a connection open, answering heartbeats, until told to stop.
async fn keep(mut c: SioClient, mut stop: watch::Receiver<bool>) -> Option<SioClient> {
    loop {
        tokio::select! {
            event = c.next_event() => if event.is_err() { return None },
            _ = stop.wait_for(|s| *s) => return Some(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::within_bound;

    #[test]
    fn memory_per_connection_passes_up_to_the_bound_and_fails_past_it() {
        assert!(within_bound(12.0, 64.0));
        assert!(within_bound(64.0, 64.0));
        assert!(!within_bound(64.5, 64.0));
        assert!(!within_bound(f64::NAN, 64.0));
    }
}
