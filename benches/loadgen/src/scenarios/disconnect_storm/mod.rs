//! `disconnect-storm`: N connected buyers, `queue-limit` of them on the buying page and the rest
//! queued, all leave at the same instant. Measures how long the server stays busy (its CPU time
//! sampled every 5 ms from `/proc`), the CPU-seconds and memory it spends, and how an unrelated
//! join (a probe on another session) is answered meanwhile. Then checks that the waiting room
//! is really empty: every account validates again, and a fresh entrant passes straight in. It
//! reports how many promotions Redis made of people whose departure had already reached the
//! server (`ticketclub_promotions_withdrawn_total`: the server withdraws them, so none of them
//! is admitted; `waiting_room_contract` tests that). `--production` runs it on MySQL + Redis (a fresh
//! database and key prefix) instead of the embedded engines. Memory is read before, at its peak,
//! right after the drain and `--after-s` seconds later (does the server give it back?).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use super::deploy::{Deploy, Deployment, SharedEngines};
use super::{Ctx, check_limit, connect_all, machine, ms};
use crate::error::{Result, err};
use crate::progress::Progress;
use crate::server::{Sample, Sampler};
use crate::sio::SioClient;
use crate::stats::Summary;

/// Options of `disconnect-storm`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Clients that leave (one account each).
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Server queue limit: this many are on the page, the rest queue.
    #[arg(long, default_value_t = 100)]
    pub queue_limit: u32,
    /// The session everyone is in.
    #[arg(long, default_value_t = 1)]
    pub session: i64,
    /// The session the responsiveness probe joins (must differ).
    #[arg(long, default_value_t = 2)]
    pub probe_session: i64,
    /// Milliseconds without server CPU activity that count as idle.
    #[arg(long, default_value_t = 500)]
    pub quiet_ms: u64,
    /// Seconds after the drain at which memory is read again.
    #[arg(long, default_value_t = 10)]
    pub after_s: u64,
    /// Run on MySQL + Redis (one instance, fresh database and key prefix) instead of the
    /// embedded engines.
    #[arg(long)]
    pub production: bool,
    /// The shared engines of `--production`.
    #[command(flatten)]
    pub engines: SharedEngines,
}

/// The figures of a storm.
#[derive(Debug, Serialize)]
struct StormResult {
    clients: usize,
    connected: usize,
    on_page: usize,
    queued: usize,
    close_sent_ms: f64,
    drain_ms: f64,
    server_cpu_s_drain: f64,
    server_rss_before_kb: u64,
    server_rss_peak_during_kb: u64,
    server_rss_after_kb: u64,
    server_rss_later_kb: u64,
    server_peak_rss_kb: u64,
    engines: &'static str,
    admitted_during_storm: f64,
    promotions_withdrawn: f64,
    probe_rtt_ms: Summary,
    still_inside_after: usize,
    fresh_entrant_passed: bool,
    samples: Vec<Sample>,
    probe: Vec<(f64, f64)>,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    if opts.session == opts.probe_session {
        return Err(err("--probe-session must differ from --session"));
    }
    eprintln!(
        "== disconnect-storm: {} clients, queue limit {}",
        opts.clients, opts.queue_limit
    );
    let deploy = match opts.production {
        true => Deploy::Shared(opts.engines.clone(), vec![None]),
        false => Deploy::Embedded,
    };
    let deployment = Deployment::open(ctx, &deploy, opts.queue_limit, "disconnect-storm").await?;
    let outcome = storm(ctx, opts, &deployment).await;
    deployment.stop().await;
    outcome
}

async fn storm(ctx: &Ctx, opts: &Opts, deployment: &Deployment) -> Result<bool> {
    let (server, api) = (&deployment.servers[0], &deployment.apis[0]);
    let info = machine(server);
    let accounts = ctx.accounts(api, "disconnect", opts.clients + 1).await?;
    let connected = connect_all(ctx, &[server.addr], &accounts, "connect").await?;
    let mut clients = connected.take();
    let (probe_index, mut probe) = clients.pop().ok_or_else(|| err("no clients"))?;
    if probe_index != opts.clients {
        return Err(err("the probe did not connect"));
    }
    let connected_n = clients.len();
    let (entered, on_page, queued) = enter_all(ctx, opts, clients).await?;
    let before = server.stat().unwrap_or_default();
    let admissions = r#"ticketclub_admissions_total{via="queue"}"#;
    let leaving = "ticketclub_promotions_withdrawn_total";
    let admitted_before = api.metric(admissions).await.map_err(err)?;
    let leaving_before = api.metric(leaving).await.map_err(err)?;

    let t0 = Instant::now();
    let sampler = Sampler::start(server.pids(), t0, Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stop_probe = Arc::new(AtomicBool::new(false));
    let probe_task = tokio::spawn(probe_loop(
        probe,
        opts.probe_session,
        t0,
        stop_probe.clone(),
        ctx.reply_timeout,
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let perf = ctx.profile(server, "disconnect-storm").await;
    let storm = Instant::now();
    let mut closing = JoinSet::new();
    for c in entered {
        closing.spawn(c.close());
    }
    while closing.join_next().await.is_some() {}
    let close_sent_ms = ms(storm.elapsed());
    let storm_s = storm.duration_since(t0).as_secs_f64();
    let last_busy = wait_idle(&sampler_view(&sampler), storm_s, opts.quiet_ms).await;
    perf.stop().await;
    stop_probe.store(true, Ordering::Relaxed);
    let (returned_probe, probe_points) = probe_task.await.map_err(|e| err(e.to_string()))?;
    probe = returned_probe.ok_or_else(|| err("the probe lost its connection"))?;
    let samples = sampler.finish();
    let after = server.stat().unwrap_or_default();
    let admitted_during_storm = api.metric(admissions).await.map_err(err)? - admitted_before;
    let promotions_withdrawn = api.metric(leaving).await.map_err(err)? - leaving_before;
    // Does the server give its memory back once the crowd is gone?
    tokio::time::sleep(Duration::from_secs(opts.after_s)).await;
    let later = server.stat().unwrap_or_default();

    let still_inside = still_inside(api, &accounts[..opts.clients], opts.session).await;
    let fresh = check_limit(&mut probe, opts.session, ctx.reply_timeout).await;
    let fresh_entrant_passed = matches!(&fresh, Ok(e) if e.arg()["pass"] == true);
    probe.close().await;

    let during: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= storm_s && s.t <= last_busy + 0.05)
        .collect();
    let cpu_at = |t: f64| {
        samples
            .iter()
            .rev()
            .find(|s| s.t <= t)
            .map_or(0.0, |s| s.server.cpu_s)
    };
    let rtts: Vec<f64> = probe_points
        .iter()
        .filter(|p| p.0 >= storm_s && p.0 <= last_busy)
        .map(|p| p.1)
        .collect();
    let result = StormResult {
        clients: opts.clients,
        connected: connected_n,
        on_page,
        queued,
        close_sent_ms,
        drain_ms: ((last_busy - storm_s) * 1000.0).max(0.0),
        server_cpu_s_drain: cpu_at(last_busy + 0.05) - cpu_at(storm_s),
        server_rss_before_kb: before.rss_kb,
        server_rss_peak_during_kb: during.iter().map(|s| s.server.rss_kb).max().unwrap_or(0),
        server_rss_after_kb: after.rss_kb,
        server_rss_later_kb: later.rss_kb,
        server_peak_rss_kb: after.peak_rss_kb,
        engines: if opts.production {
            "MySQL + Redis"
        } else {
            "memory + SQLite"
        },
        admitted_during_storm,
        promotions_withdrawn,
        probe_rtt_ms: Summary::of(&rtts),
        still_inside_after: still_inside,
        fresh_entrant_passed,
        samples,
        probe: probe_points,
    };
    eprintln!(
        "  drained in {:.0} ms ({:.2} CPU-s), closes sent in {:.0} ms; probe p99 {:.1} ms",
        result.drain_ms, result.server_cpu_s_drain, result.close_sent_ms, result.probe_rtt_ms.p99
    );
    eprintln!(
        "  RSS before {:.1} / peak {:.1} / after {:.1} / {} s later {:.1} MiB; admitted from the queue during the storm {}, promotions of people already leaving withdrawn {}",
        result.server_rss_before_kb as f64 / 1024.0,
        result.server_rss_peak_during_kb as f64 / 1024.0,
        result.server_rss_after_kb as f64 / 1024.0,
        opts.after_s,
        result.server_rss_later_kb as f64 / 1024.0,
        result.admitted_during_storm,
        result.promotions_withdrawn
    );
    report::write_report(ctx, opts, info, result, storm_s)
}

/// Every client sends `check limit`; returns them with the counts of page and queue places.
async fn enter_all(
    ctx: &Ctx,
    opts: &Opts,
    clients: Vec<(usize, SioClient)>,
) -> Result<(Vec<SioClient>, usize, usize)> {
    let progress = Progress::start("enter", clients.len());
    let mut tasks = JoinSet::new();
    for (_, mut c) in clients {
        let (session, limit, progress) = (opts.session, ctx.reply_timeout, progress.clone());
        tasks.spawn(async move {
            let reply = check_limit(&mut c, session, limit).await;
            progress.inc();
            (c, reply.map(|e| e.arg()["pass"] == true))
        });
    }
    let (mut entered, mut page, mut queue) = (Vec::new(), 0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (c, pass) = joined.map_err(|e| err(e.to_string()))?;
        match pass {
            Ok(true) => page += 1,
            Ok(false) => queue += 1,
            Err(e) => return Err(err(format!("entering before the storm: {e}"))),
        }
        entered.push(c);
    }
    progress.finish();
    Ok((entered, page, queue))
}

/// Joins another session every 20 ms and times the reply, until told to stop.
async fn probe_loop(
    mut probe: SioClient,
    session: i64,
    t0: Instant,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> (Option<SioClient>, Vec<(f64, f64)>) {
    let mut points = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        if check_limit(&mut probe, session, limit).await.is_err() {
            return (None, points);
        }
        points.push((sent.duration_since(t0).as_secs_f64(), ms(sent.elapsed())));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (Some(probe), points)
}

/// A way to look at the sampler's samples while it runs.
type SampleView = Box<dyn Fn() -> Vec<Sample> + Send + Sync>;

fn sampler_view(sampler: &Sampler) -> SampleView {
    let samples = sampler.shared();
    Box::new(move || samples.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Waits until the server has used no CPU for `quiet_ms` (at most 60 s) and returns the time of
/// its last busy sample: busy = at least two clock ticks (20 ms) of CPU within 50 ms.
async fn wait_idle(view: &SampleView, from_s: f64, quiet_ms: u64) -> f64 {
    let quiet = quiet_ms as f64 / 1000.0;
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let samples = view();
        let last_busy = last_busy(&samples, from_s);
        let now = samples.last().map_or(0.0, |s| s.t);
        if now - last_busy.max(from_s) >= quiet || started.elapsed() > Duration::from_secs(60) {
            return last_busy.max(from_s);
        }
    }
}

fn last_busy(samples: &[Sample], from_s: f64) -> f64 {
    let mut last = from_s;
    let mut j = 0;
    for s in samples {
        while samples[j].t < s.t - 0.05 {
            j += 1;
        }
        if s.t >= from_s && s.server.cpu_s - samples[j].server.cpu_s >= 0.0199 {
            last = s.t;
        }
    }
    last
}

/// How many of the accounts the server still counts as inside the waiting room.
async fn still_inside(
    api: &crate::http::Api,
    accounts: &[crate::http::Account],
    session: i64,
) -> usize {
    let mut tasks = JoinSet::new();
    for a in accounts {
        let (api, token) = (api.clone(), a.token.clone());
        tasks.spawn(async move { api.validate(&token, session).await });
    }
    let mut inside = 0;
    while let Some(joined) = tasks.join_next().await {
        if !matches!(joined, Ok(Ok(()))) {
            inside += 1;
        }
    }
    inside
}

mod report;
