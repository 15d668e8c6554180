//! `join-storm`: N connected buyers join a session's waiting room at once (burst) or at a steady
//! pace. A join is what the original frontend does on "buy": `POST /session/validation`, then
//! `check limit` on the open socket until its reply. Connections are opened beforehand (their
//! cost is reported separately), so the join figures isolate the on-sale moment.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::deploy::{Deploy, Deployment};
use super::{
    Ctx, Protocol, QUEUE_NS, app_request, check_limit, close_all, connect_all_to, machine, ms,
};
use crate::error::{Result, err};
use crate::http::Api;
use crate::probe::{self, Figures, epoch_ms};
use crate::progress::Progress;
use crate::report::Report;
use crate::server::{ProcStat, Sampler, ThreadCpu};
use crate::sio::SioClient;
use crate::stats::Summary;

/// The JS client probe (`--js-probes`): one join every 20 ms on 48 accounts of its own, so an
/// account rests about a second between joins (the server must have handled its disconnect).
const PROBE_INTERVAL_MS: u64 = 20;
const PROBE_ACCOUNTS: usize = 48;
/// Probe samples before the storm, on the same idle connections: the baseline.
const PROBE_BASELINE: Duration = Duration::from_secs(1);

/// How joins are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Everyone at the same instant (closed burst: measures the most the server can take).
    Burst,
    /// One after another at `--rate` per second (100 by default: a gentle on-sale).
    Paced,
    /// One after another at `--storm-rate` per second (10,000 by default: the target's
    /// arrival rate; latency then shows whether the server keeps up).
    Storm,
    /// Burst, paced and storm, each on a fresh server.
    All,
}

impl Mode {
    fn label(self, opts: &Opts) -> String {
        match self {
            Mode::Burst => "burst".into(),
            Mode::Paced => format!("paced-{}", opts.rate),
            Mode::Storm => format!("paced-{}", opts.storm_rate),
            Mode::All => "all".into(),
        }
    }

    fn rate(self, opts: &Opts) -> Option<f64> {
        match self {
            Mode::Paced => Some(opts.rate),
            Mode::Storm => Some(opts.storm_rate),
            _ => None,
        }
    }
}

/// Options of `join-storm`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Clients (one account each).
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
    /// Burst, paced, storm or all three.
    #[arg(long, value_enum, default_value = "all")]
    pub mode: Mode,
    /// Joins per second in paced mode.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Joins per second in storm mode.
    #[arg(long, default_value_t = 10_000.0)]
    pub storm_rate: f64,
    /// Session joined (1–9 are on sale in the seed).
    #[arg(long, default_value_t = 1)]
    pub session: i64,
    /// Server queue limit (people on the buying page); the rest queue.
    #[arg(long, default_value_t = 100)]
    pub queue_limit: u32,
    /// Skip `POST /session/validation` (socket round trip only).
    #[arg(long)]
    pub no_validate: bool,
    /// `legacy`: `POST /session/validation` then `check limit` on the default namespace, as the
    /// original frontend; `app`: `join` on `/queue` until its ack (no validation step).
    #[arg(long, value_enum, default_value = "legacy")]
    pub protocol: Protocol,
    /// Run on MySQL + Redis (one instance, fresh database and key prefix) instead of the
    /// embedded engines.
    #[arg(long)]
    pub production: bool,
    /// Other processes whose CPU time the measured phase also reports, as `name=pid`
    /// (comma-separated), e.g. `redis=812,mariadb=640`: the per-join cost of each engine.
    /// Shared engines serve other clients too: their figures are upper bounds.
    #[arg(long, value_delimiter = ',')]
    pub engine_pids: Vec<String>,
    /// The shared engines of `--production`.
    #[command(flatten)]
    pub engines: super::deploy::SharedEngines,
}

impl Opts {
    /// The report's name: the app protocol's runs get their own files.
    pub fn report_name(&self) -> &'static str {
        match self.protocol {
            Protocol::Legacy => "join-storm",
            Protocol::App => "join-storm-app",
        }
    }

    /// Whether each join starts with `POST /session/validation`.
    fn validates(&self) -> bool {
        self.protocol == Protocol::Legacy && !self.no_validate
    }
}

/// What one client saw.
#[derive(Clone, Debug, Default, Serialize)]
struct Join {
    /// Seconds after the storm began that this join started / finished.
    start_s: f64,
    done_s: f64,
    validation_ms: f64,
    check_limit_ms: f64,
    total_ms: f64,
    pass: bool,
    wait_people: i64,
    error: Option<String>,
}

/// The figures of one mode.
#[derive(Debug, Serialize)]
pub struct RunResult {
    mode: Mode,
    pub(crate) label: String,
    arrival_rate: Option<f64>,
    clients: usize,
    connected: usize,
    connect_wall_s: f64,
    connect_rate_per_s: f64,
    connect_ms: Summary,
    pub(crate) answered: usize,
    pub(crate) failures: usize,
    failure_examples: Vec<String>,
    passed: usize,
    queued: usize,
    join_wall_s: f64,
    pub(crate) joins_per_s: f64,
    validation_ms: Summary,
    check_limit_ms: Summary,
    pub(crate) join_ms: Summary,
    pub(crate) server_cpu_s: f64,
    /// The same to the nanosecond, per thread: the request path (every thread but the HAR
    /// recorder's writer) and the writer.
    pub(crate) server_threads: ThreadCpu,
    server_peak_rss_kb: u64,
    server_rss_after_kb: u64,
    pub(crate) loadgen_cpu_s: f64,
    /// CPU-seconds of each `--engine-pids` process over the measured phase.
    engine_cpu_s: std::collections::BTreeMap<String, f64>,
    /// The load average (1, 5, 15 min) when the measured phase began.
    loadavg_at_join: String,
    /// What the real JS client saw beside the storm (`--js-probes`, burst and storm modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    js_probe: Option<Figures>,
    #[serde(skip)]
    joins: Vec<Join>,
    #[serde(skip)]
    samples: Vec<crate::server::Sample>,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    let modes: &[Mode] = match opts.mode {
        Mode::All => &[Mode::Burst, Mode::Storm, Mode::Paced],
        Mode::Burst => &[Mode::Burst],
        Mode::Paced => &[Mode::Paced],
        Mode::Storm => &[Mode::Storm],
    };
    let title = match opts.protocol {
        Protocol::Legacy => "Join storm",
        Protocol::App => "Join storm (app protocol, `/queue`)",
    };
    let mut report = Report::new(&ctx.out, opts.report_name(), title);
    let deploy = match opts.production {
        true => Deploy::Shared(opts.engines.clone(), vec![None]),
        false => Deploy::Embedded,
    };
    let (results, machine_info) = measure_modes(ctx, opts, modes, &deploy, "", &mut report).await?;
    report.write(serde_json::json!({
        "scenario": opts.report_name(),
        "machine": machine_info,
        "options": options(ctx, opts),
        "runs": results,
    }))
}

/// The options of a run, for the JSON.
pub fn options(ctx: &Ctx, opts: &Opts) -> serde_json::Value {
    serde_json::json!({"clients": opts.clients, "rate": opts.rate, "storm_rate": opts.storm_rate, "session": opts.session,
                       "queue_limit": opts.queue_limit, "validate": opts.validates(), "protocol": opts.protocol,
                       "connect_concurrency": ctx.connect_concurrency, "http_concurrency": ctx.http_concurrency,
                       "js_probes": ctx.js_probes.is_some()})
}

/// Runs each mode on a fresh deployment and adds its section to `report`; labels start with
/// `prefix`.
pub async fn measure_modes(
    ctx: &Ctx,
    opts: &Opts,
    modes: &[Mode],
    deploy: &Deploy,
    prefix: &str,
    report: &mut Report,
) -> Result<(Vec<RunResult>, serde_json::Value)> {
    let mut results = Vec::new();
    let mut machine_info = serde_json::Value::Null;
    for &mode in modes {
        let (result, info) = run_mode(ctx, opts, mode, deploy, prefix).await?;
        machine_info = info;
        report::describe(report, opts, &result)?;
        results.push(result);
    }
    Ok((results, machine_info))
}

async fn run_mode(
    ctx: &Ctx,
    opts: &Opts,
    mode: Mode,
    deploy: &Deploy,
    prefix: &str,
) -> Result<(RunResult, serde_json::Value)> {
    let label = format!("{prefix}{}", mode.label(opts));
    let name = format!("{}-{label}", opts.report_name());
    eprintln!(
        "== {name}: {} clients, queue limit {}",
        opts.clients, opts.queue_limit
    );
    let deployment = Deployment::open(ctx, deploy, opts.queue_limit, &name).await?;
    let info = machine(&deployment.servers[0]);
    let accounts = ctx
        .accounts(&deployment.apis[0], &name, opts.clients)
        .await?;
    let probing = ctx
        .js_probes
        .as_ref()
        .filter(|_| matches!(mode, Mode::Burst | Mode::Storm));
    let probe_accounts = match probing {
        Some(_) => {
            let api = &deployment.apis[0];
            ctx.accounts(api, &format!("{name}-js"), PROBE_ACCOUNTS)
                .await?
        }
        None => Vec::new(),
    };
    let ns = match opts.protocol {
        Protocol::Legacy => "/",
        Protocol::App => QUEUE_NS,
    };
    let connected = connect_all_to(ctx, &deployment.addrs(), &accounts, ns, "connect").await?;
    let (connect_wall_s, connect_ms) = (connected.wall_s, Summary::of(&connected.latencies));
    let connect_failures = connected.failures.clone();
    let clients = connected.take();
    let probe_session = probe::spare_session(&[opts.session]);
    let js = match probing {
        Some(setup) => {
            let spec = probe::Spec {
                kind: probe::Kind::Join,
                accounts: &probe_accounts,
                session: probe_session,
                area: 1,
                seat: (1, 1),
                interval_ms: PROBE_INTERVAL_MS,
                max_duration: Duration::from_secs(ctx.reply_timeout.as_secs() * 4 + 600),
            };
            Some(setup.start(deployment.addrs()[0], &spec).await?)
        }
        None => None,
    };
    let engine_pids = crate::procstat::engine_pids(&opts.engine_pids)?;
    let loadavg_at_join = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let perf = ctx.profile(&deployment.servers[0], &name).await;
    let lead = match js {
        Some(_) => PROBE_BASELINE,
        None => Duration::from_millis(200),
    };
    let t0 = Instant::now() + lead;
    // The CPU counters start when the first join leaves, not before the lead: the recorder's
    // writer spends the lead on the connections' backlog, which read as its work during the
    // storm (perf's time bins show it nearly idle in the storm itself).
    let counters_at_t0 = {
        let (pids, engine_pids) = (deployment.pids(), engine_pids.clone());
        tokio::spawn(async move {
            tokio::time::sleep_until(t0.into()).await;
            (
                crate::procstat::engine_cpu(&engine_pids),
                ProcStat::sum(&pids),
                ThreadCpu::sum(&pids),
                ProcStat::own().unwrap_or_default(),
            )
        })
    };
    let sampler = Sampler::start(deployment.pids(), t0, Duration::from_millis(50));
    let (joins, open) = storm(ctx, opts, mode, &deployment.apis, clients, &accounts, t0).await?;
    let (engines_before, before, threads_before, own_before) = counters_at_t0
        .await
        .map_err(|e| crate::error::err(format!("reading the counters at the start: {e}")))?;
    perf.stop().await;
    let after = deployment.stat();
    let server_threads = ThreadCpu::sum(&deployment.pids()).since(threads_before);
    let own_after = ProcStat::own().unwrap_or_default();
    let engine_cpu_s = crate::procstat::engine_cpu(&engine_pids)
        .into_iter()
        .map(|(name, cpu)| {
            let was = engines_before.get(&name).copied().unwrap_or(cpu);
            (name, cpu - was)
        })
        .collect();
    let samples = sampler.finish();
    let js_probe = match js {
        Some(js) => {
            let out = js.stop().await?;
            let last = joins.iter().map(|j| j.done_s).fold(0.0, f64::max);
            let from = epoch_ms(t0);
            let how = match mode.rate(opts) {
                Some(rate) => format!("started at {rate}/s"),
                None => "all at the same instant".into(),
            };
            Some(Figures::around(
                &out,
                format!(
                    "A Node process did the frontend's buy click (POST /session/validation, a new \
                     socket, `check limit` until its reply, disconnect), one every \
                     {PROBE_INTERVAL_MS} ms on {PROBE_ACCOUNTS} accounts of its own, on session \
                     {probe_session}: not the storm's session, so the storm's queue and its \
                     checks are unchanged."
                ),
                format!(
                    "{} clients joining session {} ({how}); {} of them passed, the rest queued",
                    opts.clients,
                    opts.session,
                    joins.iter().filter(|j| j.pass).count()
                ),
                (from, from + last * 1000.0),
                (
                    "before the storm (connections open, idle)",
                    "**during the storm**",
                ),
            ))
        }
        None => None,
    };
    close_all(open).await;
    deployment.stop().await;

    let mut failure_examples = connect_failures;
    failure_examples.extend(joins.iter().filter_map(|j| j.error.clone()));
    let ok: Vec<&Join> = joins.iter().filter(|j| j.error.is_none()).collect();
    let first = ok.iter().map(|j| j.start_s).fold(f64::INFINITY, f64::min);
    let last = ok.iter().map(|j| j.done_s).fold(0.0, f64::max);
    let wall = (last - first).max(1e-9);
    let col = |f: fn(&Join) -> f64| ok.iter().map(|j| f(j)).collect::<Vec<f64>>();
    let (validation_ms, check_limit_ms, join_ms) = (
        Summary::of(&col(|j| j.validation_ms)),
        Summary::of(&col(|j| j.check_limit_ms)),
        Summary::of(&col(|j| j.total_ms)),
    );
    let (answered, passed) = (ok.len(), ok.iter().filter(|j| j.pass).count());
    let result = RunResult {
        mode,
        label,
        arrival_rate: mode.rate(opts),
        clients: opts.clients,
        connected: connect_ms.count,
        connect_wall_s,
        connect_rate_per_s: connect_ms.count as f64 / connect_wall_s.max(1e-9),
        connect_ms,
        answered,
        failures: opts.clients - answered,
        failure_examples: failure_examples.into_iter().take(10).collect(),
        passed,
        queued: answered - passed,
        join_wall_s: wall,
        joins_per_s: answered as f64 / wall,
        validation_ms,
        check_limit_ms,
        join_ms,
        server_cpu_s: after.cpu_s - before.cpu_s,
        server_threads,
        server_peak_rss_kb: after.peak_rss_kb,
        server_rss_after_kb: after.rss_kb,
        loadgen_cpu_s: own_after.cpu_s - own_before.cpu_s,
        engine_cpu_s,
        loadavg_at_join: loadavg_at_join.trim().to_string(),
        js_probe,
        joins,
        samples,
    };
    eprintln!(
        "  {} joins in {:.2}s = {:.0}/s, join p50 {:.1} ms p99 {:.1} ms, {} failures",
        result.answered,
        result.join_wall_s,
        result.joins_per_s,
        result.join_ms.p50,
        result.join_ms.p99,
        result.failures
    );
    let per_join = |cpu: f64| cpu * 1e6 / result.answered.max(1) as f64;
    let mut costs = format!(
        "server {:.0} (request path {:.1}, recorder's writer {:.1})",
        per_join(result.server_cpu_s),
        per_join(result.server_threads.request_path_ms / 1000.0),
        per_join(result.server_threads.writer_ms / 1000.0)
    );
    for (name, cpu) in &result.engine_cpu_s {
        costs.push_str(&format!(", {name} {:.0}", per_join(*cpu)));
    }
    eprintln!(
        "  CPU per join (µs): {costs}; load generator {:.0}; load average at the start {}",
        per_join(result.loadgen_cpu_s),
        result.loadavg_at_join
    );
    Ok((result, info))
}

/// Every client joins at its start time; returns what each saw and the clients still open
/// (they stay, answering heartbeats, until every join is done).
async fn storm(
    ctx: &Ctx,
    opts: &Opts,
    mode: Mode,
    apis: &[Api],
    clients: Vec<(usize, SioClient)>,
    accounts: &[crate::http::Account],
    t0: Instant,
) -> Result<(Vec<Join>, Vec<SioClient>)> {
    let progress = Progress::start("join", clients.len());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for (n, (i, mut client)) in clients.into_iter().enumerate() {
        let start = match mode.rate(opts) {
            Some(rate) => t0 + Duration::from_secs_f64(n as f64 / rate),
            None => t0,
        };
        let (api, token, progress, stop) = (
            apis[i % apis.len()].clone(),
            accounts[i].token.clone(),
            progress.clone(),
            stop_rx.clone(),
        );
        let (session, validate, limit) = (opts.session, opts.validates(), ctx.reply_timeout);
        let protocol = opts.protocol;
        tasks.spawn(async move {
            // Answer heartbeats while waiting: a silent client is dropped after 45 s.
            if let Err(e) = idle_until(&mut client, start).await {
                let join = Join {
                    error: Some(format!("before the join: {e}")),
                    ..Join::default()
                };
                progress.inc();
                return (None, join);
            }
            let began = Instant::now();
            let mut join = Join {
                start_s: began.duration_since(t0).as_secs_f64(),
                ..Join::default()
            };
            if validate && let Err(e) = api.validate(&token, session).await {
                join.error = Some(format!("validation: {e}"));
            }
            let validated = Instant::now();
            join.validation_ms = ms(validated - began);
            if join.error.is_none() && protocol == Protocol::App {
                let body = serde_json::json!({"sessionId": session});
                match app_request(&mut client, QUEUE_NS, "join", &body, limit).await {
                    Ok(ack) => {
                        join.pass = ack["state"] == "admitted";
                        // `ahead` counts the people in front; the legacy `waitPeople` is
                        // the 1-based place, which the fairness check reads.
                        join.wait_people = ack["ahead"].as_i64().map_or(-1, |a| a + 1);
                    }
                    Err(e) => join.error = Some(e),
                }
            } else if join.error.is_none() {
                match check_limit(&mut client, session, limit).await {
                    Ok(reply) if reply.arg().get("error").is_none() => {
                        join.pass = reply.arg()["pass"] == true;
                        join.wait_people = reply.arg()["waitPeople"].as_i64().unwrap_or(-1);
                    }
                    Ok(reply) => join.error = Some(format!("check limit: {}", reply.arg())),
                    Err(e) => join.error = Some(format!("check limit: {e}")),
                }
            }
            let done = Instant::now();
            join.check_limit_ms = ms(done - validated);
            join.total_ms = ms(done - began);
            join.done_s = done.duration_since(t0).as_secs_f64();
            progress.inc();
            // Stay (answering heartbeats) until everyone has joined.
            (hold(client, stop).await, join)
        });
    }
    // Every task counts itself done before it starts holding its connection.
    let total = tasks.len();
    while progress.done() < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut joins, mut pending) = (Vec::new(), Vec::new());
    let _ = stop_tx.send(true);
    while let Some(joined) = tasks.join_next().await {
        let (client, join) = joined.map_err(|e| err(e.to_string()))?;
        pending.push(client);
        joins.push(join);
    }
    progress.finish();
    Ok((joins, pending.into_iter().flatten().collect()))
}

/// Answers heartbeats until `start`.
async fn idle_until(client: &mut SioClient, start: Instant) -> Result<(), crate::sio::SioError> {
    let sleep = tokio::time::sleep_until(start.into());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            _ = &mut sleep => return Ok(()),
            event = client.next_event() => { event?; }
        }
    }
}

/// Answers heartbeats until told to stop; `None` when the connection dropped.
async fn hold(mut client: SioClient, mut stop: watch::Receiver<bool>) -> Option<SioClient> {
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return Some(client),
            event = client.next_event() => if event.is_err() { return None },
        }
    }
}

mod report;
