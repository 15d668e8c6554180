//! `fanout`: a full buying page and a long queue behind it; page visitors leave at a steady
//! rate, and each departure admits the head of the queue and sends every queued buyer its new
//! position (`minus waiting people`). Measures, per admission, the time from the departure to
//! the last queued buyer hearing of it (position freshness), and deliveries per second. Checks
//! that every queued buyer heard exactly the notices and admission it should have.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Ctx, check_limit, close_all, connect_all, machine};
use crate::error::{Result, err};
use crate::probe::{self, Figures, epoch_ms};
use crate::progress::Progress;
use crate::server::{ProcStat, Sample, Sampler};
use crate::sio::SioClient;
use crate::stats::Summary;

/// Users the JS client probe (`--js-probes`) queues at the back of the line.
const PROBE_USERS: usize = 4;

/// Options of `fanout`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Queued clients.
    #[arg(long, default_value_t = 10_000)]
    pub queued: usize,
    /// Server queue limit: this many page visitors, who leave one by one.
    #[arg(long, default_value_t = 100)]
    pub queue_limit: u32,
    /// Admissions (page departures); at most the queue limit.
    #[arg(long, default_value_t = 25)]
    pub admissions: usize,
    /// Admissions per second.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// The session.
    #[arg(long, default_value_t = 1)]
    pub session: i64,
    /// Seconds to wait after the last admission for late notices.
    #[arg(long, default_value_t = 15)]
    pub settle: u64,
}

/// What one queued client heard.
struct Heard {
    /// 0-based queue index when the admissions began.
    index: usize,
    minus: Vec<Instant>,
    ready: Option<Instant>,
}

#[derive(Debug, Serialize)]
struct FanoutResult {
    queued: usize,
    page: usize,
    admissions: usize,
    rate: f64,
    expected_notices: usize,
    received_notices: usize,
    clients_with_wrong_count: usize,
    ready_expected: usize,
    ready_received: usize,
    freshness_ms: Summary,
    per_admission_last_ms: Vec<f64>,
    delivery_ms: Summary,
    ready_ms: Summary,
    deliveries_per_s: f64,
    delivery_span_s: f64,
    fanout_rate_per_s: Summary,
    server_cpu_s: f64,
    server_peak_rss_kb: u64,
    loadgen_cpu_s: f64,
    /// What the real JS client saw at the back of the queue (`--js-probes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    js_probe: Option<Figures>,
    #[serde(skip)]
    deliveries: Vec<f64>,
    #[serde(skip)]
    delivery_times: Vec<f64>,
    #[serde(skip)]
    samples: Vec<Sample>,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    let page_n = opts.queue_limit as usize;
    if opts.admissions > page_n {
        return Err(err(
            "--admissions must not exceed --queue-limit (only page visitors leave)",
        ));
    }
    eprintln!(
        "== fanout: {} queued behind {page_n}, {} admissions at {}/s",
        opts.queued, opts.admissions, opts.rate
    );
    let (server, api) = ctx.server(opts.queue_limit, "fanout").await?;
    let info = machine(&server);
    let accounts = ctx.accounts(&api, "fanout", page_n + opts.queued).await?;
    let probe_accounts = match ctx.js_probes {
        Some(_) => ctx.accounts(&api, "fanout-js", PROBE_USERS).await?,
        None => Vec::new(),
    };
    let mut clients = connect_all(ctx, &[server.addr], &accounts, "connect")
        .await?
        .every_one()?;
    let queued_clients = clients.split_off(page_n);
    let page = enter(ctx, opts, clients, "enter page").await?;
    if page.iter().any(|(_, w)| *w != 0) {
        return Err(err("a page visitor was queued: is the queue limit right?"));
    }
    let queued = enter(ctx, opts, queued_clients, "enter queue").await?;
    // The probe's users join last: everyone the scenario counts is ahead of them, so their
    // places and notices are what they would be without the probe.
    let js = match &ctx.js_probes {
        Some(setup) => {
            let spec = probe::Spec {
                kind: probe::Kind::Position,
                accounts: &probe_accounts,
                session: opts.session,
                area: 1,
                seat: (1, 1),
                interval_ms: 100,
                max_duration: Duration::from_secs(ctx.reply_timeout.as_secs() * 4 + 600),
            };
            Some(setup.start(server.addr, &spec).await?)
        }
        None => None,
    };

    let k = opts.admissions;
    let expected: usize = queued
        .iter()
        .map(|(_, w)| ((*w as usize).saturating_sub(1)).min(k))
        .sum();
    let received = Arc::new(AtomicUsize::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut listeners = JoinSet::new();
    for (c, wait_people) in queued {
        let (stop, received) = (stop_rx.clone(), received.clone());
        listeners.spawn(listen(
            c,
            (wait_people as usize).saturating_sub(1),
            stop,
            received,
        ));
    }
    let (turn_tx, turn_rx) = watch::channel(0usize);
    let mut leavers = JoinSet::new();
    for (j, (c, _)) in page.into_iter().enumerate() {
        leavers.spawn(leave_on_turn(c, j, turn_rx.clone()));
    }

    let before = server.stat().unwrap_or_default();
    let own_before = ProcStat::own().unwrap_or_default();
    let perf = ctx.profile(&server, "fanout").await;
    let t0 = Instant::now() + Duration::from_millis(500);
    let sampler = Sampler::start(server.pids(), t0, Duration::from_millis(20));
    let progress = Progress::start("notices", expected);
    for n in 0..k {
        tokio::time::sleep_until((t0 + Duration::from_secs_f64(n as f64 / opts.rate)).into()).await;
        let _ = turn_tx.send(n + 1);
        progress.set(received.load(Ordering::Relaxed));
    }
    let settle_until = Instant::now() + Duration::from_secs(opts.settle);
    while received.load(Ordering::Relaxed) < expected && Instant::now() < settle_until {
        progress.set(received.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A little longer, to catch notices beyond the expected count.
    tokio::time::sleep(Duration::from_millis(300)).await;
    progress.set(received.load(Ordering::Relaxed));
    progress.finish();
    perf.stop().await;
    let _ = stop_tx.send(true);
    drop(turn_tx);
    let after = server.stat().unwrap_or_default();
    let own_after = ProcStat::own().unwrap_or_default();
    let samples = sampler.finish();
    let js_out = match js {
        Some(js) => Some(js.stop().await?),
        None => None,
    };

    let mut departures: Vec<(usize, Instant)> = Vec::new();
    let mut stayed = Vec::new();
    while let Some(joined) = leavers.join_next().await {
        match joined.map_err(|e| err(e.to_string()))? {
            (j, Ok(at)) => departures.push((j, at)),
            (_, Err(c)) => stayed.push(c),
        }
    }
    departures.sort_by_key(|d| d.0);
    let times: Vec<Instant> = departures.iter().map(|d| d.1).collect();
    let mut heard = Vec::new();
    while let Some(joined) = listeners.join_next().await {
        let (c, h) = joined.map_err(|e| err(e.to_string()))?;
        stayed.push(c);
        heard.push(h);
    }
    close_all(stayed).await;
    server.stop().await;

    let mut r = report::analyse(
        opts,
        &heard,
        &times,
        t0,
        expected,
        received.load(Ordering::Relaxed),
    );
    r.server_cpu_s = after.cpu_s - before.cpu_s;
    r.server_peak_rss_kb = after.peak_rss_kb;
    r.loadgen_cpu_s = own_after.cpu_s - own_before.cpu_s;
    r.samples = samples;
    r.js_probe = js_out.map(|out| {
        let departed: Vec<f64> = times.iter().map(|t| epoch_ms(*t)).collect();
        Figures::freshness(
            &out,
            format!(
                "A Node process queued {PROBE_USERS} users of its own at the back of the line \
                 (behind all {} queued clients) like the frontend (POST /session/validation, a \
                 new socket, `check limit`) and timestamped each `minus waiting people`.",
                opts.queued
            ),
            format!(
                "{} page visitors leaving at {}/s, each departure fanned out to about {} queued \
                 clients",
                opts.admissions, opts.rate, opts.queued
            ),
            &departed,
        )
    });
    eprintln!(
        "  freshness p50 {:.1} ms p99 {:.1} ms, {:.0} deliveries/s, {} clients with a wrong count",
        r.freshness_ms.p50, r.freshness_ms.p99, r.deliveries_per_s, r.clients_with_wrong_count
    );
    report::write_report(ctx, opts, info, r)
}

/// Sends `check limit` from every client; returns them with their `waitPeople` (0 = page).
async fn enter(
    ctx: &Ctx,
    opts: &Opts,
    clients: Vec<(usize, SioClient)>,
    label: &str,
) -> Result<Vec<(SioClient, i64)>> {
    let progress = Progress::start(label, clients.len());
    let mut tasks = JoinSet::new();
    for (_, mut c) in clients {
        let (session, limit, progress) = (opts.session, ctx.reply_timeout, progress.clone());
        tasks.spawn(async move {
            let reply = check_limit(&mut c, session, limit).await;
            progress.inc();
            (c, reply)
        });
    }
    let mut out = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (c, reply) = joined.map_err(|e| err(e.to_string()))?;
        let reply = reply.map_err(|e| err(format!("{label}: {e}")))?;
        let arg = reply.arg();
        let wait = if arg["pass"] == true {
            0
        } else {
            arg["waitPeople"].as_i64().unwrap_or(-1)
        };
        if wait < 0 {
            return Err(err(format!("{label}: unexpected reply {arg}")));
        }
        out.push((c, wait));
    }
    progress.finish();
    Ok(out)
}

/// A queued client: records every `minus waiting people` and `ready to go` until told to stop.
async fn listen(
    mut c: SioClient,
    index: usize,
    mut stop: watch::Receiver<bool>,
    received: Arc<AtomicUsize>,
) -> (SioClient, Heard) {
    let mut heard = Heard {
        index,
        minus: Vec::new(),
        ready: None,
    };
    loop {
        tokio::select! {
            event = c.next_event() => match event {
                Ok(e) if e.name == "minus waiting people" => {
                    heard.minus.push(Instant::now());
                    received.fetch_add(1, Ordering::Relaxed);
                }
                Ok(e) if e.name == "ready to go" => heard.ready = Some(Instant::now()),
                Ok(_) => {}
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    (c, heard)
}

/// A page visitor: answers heartbeats until its turn `j` comes, then leaves; returns when it
/// sent its goodbye (or itself, if its turn never came).
async fn leave_on_turn(
    mut c: SioClient,
    j: usize,
    mut turn: watch::Receiver<usize>,
) -> (usize, Result<Instant, SioClient>) {
    loop {
        tokio::select! {
            event = c.next_event() => if event.is_err() { return (j, Err(c)) },
            changed = turn.changed() => {
                if changed.is_err() {
                    return (j, Err(c));
                }
                if *turn.borrow() > j {
                    let at = Instant::now();
                    c.close().await;
                    return (j, Ok(at));
                }
            }
        }
    }
}

mod report;
