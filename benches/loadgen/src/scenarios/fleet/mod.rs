//! `fleet`: a production fleet on one box (issue 14). N instances share MySQL and Redis; the
//! clients are spread over them as a sticky balancer would (client `i` always on instance
//! `i % N`), and the generator is split over several `loadgen fleet-worker` processes so none
//! passes its open-file limit. Everyone joins one session (open loop, at a set rate), waits, is
//! admitted at a steady rate (a full page whose visitors buy a seat and leave after a dwell of
//! page / rate), and leaves. In the middle one instance is killed with SIGKILL: its people in
//! line come back through the others with their resume tokens; its page visitors do not come
//! back, and others ask until their places are freed.
//!
//! Checked (correctness, every size): every client joined, the places at join are 0..Q-1 once
//! each, every client ends exactly where the line says (its place at join minus the admissions
//! from the line: no place lost, none given twice), no seat sold twice (the clients' orders and
//! the database), every dead page place freed, every client admitted from the line heard
//! `admitted`, and no `join` or resume `status` ack said a client waits after its `admitted`
//! push had arrived (an ack read before the admission and sent after it). Measured and reported against the issue's
//! targets, never checked: join rate, position lag, server memory per connection, resume cost.

pub mod analysis;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::deploy::{Deploy, Deployment, SharedEngines};
use super::{Ctx, Protocol};
use crate::error::{Result, err};
use crate::http::Account;
use crate::report::Report;
use crate::server::{ProcStat, Sampler};
use crate::stats::Summary;
use crate::svg::{self, Axes, Series};
use analysis::{Final, View};
use worker::{Plan, Record, now_ms};

/// Gaps between two `position` pushes to one client shorter than this break "at most one a
/// second": 50 ms below it, for the delivery jitter of a loaded 2-core VM (as `fanout-app`).
const MIN_GAP_MS: u64 = 950;

/// Options of `fleet`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Clients (one account each), the first page included.
    #[arg(long, default_value_t = 100_000)]
    pub clients: usize,
    /// Server instances sharing MySQL and Redis.
    #[arg(long, default_value_t = 6)]
    pub instances: usize,
    /// The clients' protocol.
    #[arg(long, value_enum, default_value_t = Protocol::App)]
    pub protocol: Protocol,
    /// The buying page's size (the server's queue limit).
    #[arg(long, default_value_t = 100)]
    pub page: u32,
    /// Admissions per second (a page visitor stays page / rate seconds, buying included).
    #[arg(long, default_value_t = 50.0)]
    pub admission_rate: f64,
    /// Joins per second, all workers together (open loop).
    #[arg(long, default_value_t = 5_000.0)]
    pub join_rate: f64,
    /// Seconds of admissions; then the line stands still and every client's place is checked.
    #[arg(long, default_value_t = 60)]
    pub admit_seconds: u64,
    /// Seconds into the admissions at which one instance is killed with SIGKILL.
    #[arg(long, default_value_t = 20)]
    pub kill_after: u64,
    /// Kill nobody.
    #[arg(long)]
    pub no_kill: bool,
    /// Seconds an instance's lease lasts unrenewed (`TICKETCLUB_LEASE_TTL`).
    #[arg(long, default_value_t = 10)]
    pub lease_ttl: u64,
    /// Seconds a dropped app visitor keeps its place (`TICKETCLUB_RESUME_GRACE`).
    #[arg(long, default_value_t = 60)]
    pub resume_grace: u64,
    /// Clients per worker process (each holds one open file per client).
    #[arg(long, default_value_t = 15_000)]
    pub per_process: usize,
    /// The session.
    #[arg(long, default_value_t = 1)]
    pub session: i64,
    /// Seed of the seat choices.
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
    /// Seconds the line stands still after the admissions (nobody killed), its CPU measured:
    /// what holding a waiting crowd costs with nothing moving.
    #[arg(long, default_value_t = 3)]
    pub stand_seconds: u64,
    /// Other processes whose CPU time each phase (join, admit, stand) also reports, as
    /// `name=pid` (comma-separated), e.g. `redis=812,mariadb=640`, as `join-storm`'s. Shared
    /// engines serve other clients too: their figures are upper bounds.
    #[arg(long, value_delimiter = ',')]
    pub engine_pids: Vec<String>,
    /// The shared engines.
    #[command(flatten)]
    pub engines: SharedEngines,
}

impl Opts {
    /// The smoke's size: a few hundred clients on three instances, one killed.
    pub fn smoke(protocol: Protocol) -> Self {
        Self {
            clients: 300,
            instances: 3,
            protocol,
            page: 10,
            admission_rate: 20.0,
            join_rate: 1000.0,
            admit_seconds: 6,
            kill_after: 2,
            no_kill: protocol == Protocol::Legacy,
            lease_ttl: 2,
            resume_grace: 60,
            per_process: 150,
            session: 1,
            seed: 14,
            stand_seconds: 3,
            engine_pids: Vec::new(),
            engines: SharedEngines::default(),
        }
    }

    fn name(&self) -> &'static str {
        match self.protocol {
            Protocol::App => "fleet",
            Protocol::Legacy => "fleet-legacy",
        }
    }

    fn kills(&self) -> bool {
        // The legacy protocol has no resume: a dead instance's legacy visitors lose their places
        // by design, so killing one would only measure that.
        !self.no_kill && self.instances > 1 && self.protocol == Protocol::App
    }
}

/// One worker process and its pipes.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    records: PathBuf,
}

impl Worker {
    async fn order(&mut self, line: &str) -> Result<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(())
    }

    async fn answer(&mut self, expected: &str, limit: Duration) -> Result<String> {
        let line = tokio::time::timeout(limit, self.stdout.next_line())
            .await
            .map_err(|_| err(format!("a worker did not answer {expected:?} in time")))??
            .ok_or_else(|| err(format!("a worker ended before {expected:?}")))?;
        if !line.starts_with(expected) {
            return Err(err(format!(
                "a worker answered {line:?}, expected {expected:?}"
            )));
        }
        Ok(line)
    }
}

/// Orders every worker, then waits for each one's answer (when one is expected).
async fn order_all(
    workers: &mut [Worker],
    line: &str,
    expected: Option<&str>,
    limit: Duration,
) -> Result<Vec<String>> {
    for w in workers.iter_mut() {
        w.order(line).await?;
    }
    let mut answers = Vec::new();
    if let Some(expected) = expected {
        for w in workers.iter_mut() {
            answers.push(w.answer(expected, limit).await?);
        }
    }
    Ok(answers)
}

/// CPU used over one phase of a run: every instance together, the workers together and each
/// `--engine-pids` process. An instance killed during the phase drops out of the sum, so the
/// figures are meant for runs without a kill (`--no-kill`).
#[derive(Clone, Debug, Default, Serialize)]
struct Phase {
    wall_s: f64,
    servers_cpu_s: f64,
    workers_cpu_s: f64,
    engines_cpu_s: BTreeMap<String, f64>,
}

/// The CPU counters at one instant, to make a [`Phase`] from two of them.
struct Mark {
    at: Instant,
    servers: f64,
    workers: f64,
    engines: BTreeMap<String, f64>,
}

impl Mark {
    fn now(servers: &[u32], workers: &[u32], engines: &[(String, u32)]) -> Self {
        Self {
            at: Instant::now(),
            servers: ProcStat::sum(servers).cpu_s,
            workers: ProcStat::sum(workers).cpu_s,
            engines: crate::procstat::engine_cpu(engines),
        }
    }

    fn until(&self, later: &Mark) -> Phase {
        Phase {
            wall_s: later.at.duration_since(self.at).as_secs_f64(),
            servers_cpu_s: later.servers - self.servers,
            workers_cpu_s: later.workers - self.workers,
            engines_cpu_s: later
                .engines
                .iter()
                .map(|(name, cpu)| (name.clone(), cpu - self.engines.get(name).unwrap_or(cpu)))
                .collect(),
        }
    }
}

/// Redis's `used_memory` in bytes (`INFO memory`), when `redis-cli` answers. Redis is shared,
/// so a difference of two readings is the run's only when nobody else writes meanwhile.
async fn redis_used_memory(url: &str) -> Option<u64> {
    let out = Command::new("redis-cli")
        .args(["-u", url, "info", "memory"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
}

/// Everything a run measured.
#[derive(Debug, Default, Serialize)]
struct FleetResult {
    protocol: Option<Protocol>,
    clients: usize,
    instances: usize,
    workers: usize,
    page: u32,
    connected: usize,
    connect_s: f64,
    joined: usize,
    join_failures: usize,
    join_examples: Vec<String>,
    joins_per_s: f64,
    join_ms: Summary,
    page_at_join: usize,
    queued: usize,
    departures: usize,
    admitted_from_line: usize,
    /// Clients the server admitted from the line who never heard `admitted` (their `status`
    /// said so at the end).
    admitted_unheard: usize,
    /// `join` or resume `status` acks that said a client waits after its `admitted` push.
    stale_acks: usize,
    admissions_per_s: f64,
    bought: usize,
    /// Orders sent whose connection died before their ack (the killed instance's page
    /// visitors): each may or may not have sold its seat.
    orders_unanswered: usize,
    buy_errors: HashMap<String, usize>,
    lag_all: Option<analysis::Lags>,
    lag_all_p50_ms: f64,
    lag_all_p99_ms: f64,
    lag_survivors: Option<analysis::Lags>,
    lag_survivors_p50_ms: f64,
    lag_survivors_p99_ms: f64,
    line_messages: u64,
    /// Pushes that broke "at most one a second, always the newest, none once admitted".
    breaches: analysis::Breaches,
    line_messages_per_departure: f64,
    places: Option<analysis::Places>,
    sold_twice_by_clients: usize,
    sold_twice_in_database: Option<usize>,
    sold_in_database: Option<usize>,
    killed: Option<usize>,
    killed_in_line: usize,
    resumed: usize,
    resume_failures: usize,
    resume_ms_from_drop: Summary,
    resume_ms_from_kill: Summary,
    dead_page: usize,
    dead_page_freed: usize,
    freed_s_after_kill: Summary,
    lease_ttl_s: u64,
    server_rss_before_kb: u64,
    server_rss_joined_kb: u64,
    server_kb_per_connection: f64,
    server_cpu_s: f64,
    survivors_cores_before_kill: f64,
    survivors_cores_after_kill: f64,
    workers_cpu_s: f64,
    /// CPU per phase: `join` (the join order to every worker's answer), `admit` (the
    /// admissions) and `stand` (the line standing still, `--stand-seconds`, nobody killed).
    phases: BTreeMap<String, Phase>,
    /// Redis `used_memory` before the joins (everyone connected) and once everyone joined (bytes).
    redis_used_memory_before: Option<u64>,
    redis_used_memory_joined: Option<u64>,
    loadavg_at_start: String,
    loadavg_at_end: String,
}

/// Runs the scenario and writes `fleet.{json,md}` (or `fleet-legacy.*`); `Ok(true)` when every
/// correctness check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    let name = opts.name();
    let n = opts.instances.max(1);
    let workers_n = opts.clients.div_ceil(opts.per_process.max(1)).max(1);
    eprintln!(
        "== {name}: {} {:?} clients over {n} instances and {workers_n} worker processes, page {}, {}/s admissions for {} s{}",
        opts.clients,
        opts.protocol,
        opts.page,
        opts.admission_rate,
        opts.admit_seconds,
        if opts.kills() {
            format!(", kill -9 at {} s", opts.kill_after)
        } else {
            String::new()
        }
    );
    let loadavg_at_start = loadavg();
    let mut target = ctx.target.clone();
    target.server_env.extend([
        format!("TICKETCLUB_LEASE_TTL={}", opts.lease_ttl),
        format!("TICKETCLUB_RESUME_GRACE={}", opts.resume_grace),
    ]);
    let ctx = Ctx {
        target,
        ..ctx.clone()
    };
    let deploy = Deploy::Shared(opts.engines.clone(), vec![None; n]);
    let mut deployment = Deployment::open(&ctx, &deploy, opts.page, name).await?;
    let outcome = drive(&ctx, opts, &mut deployment, workers_n).await;
    let sold = match &outcome {
        Ok(_) => sold_twice(&deployment, opts.session).await,
        Err(_) => Err(err("no run")),
    };
    deployment.stop().await;
    let (mut r, records, samples) = outcome?;
    match sold {
        Ok((twice, total)) => {
            r.sold_twice_in_database = Some(twice);
            r.sold_in_database = Some(total);
        }
        Err(e) => eprintln!("  could not ask the database about sold seats: {e}"),
    }
    r.loadavg_at_start = loadavg_at_start;
    r.loadavg_at_end = loadavg();
    write_report(&ctx, opts, r, &records, &samples)
}

/// Whether `buy_error` is an `order` the server never answered: its connection broke or it
/// timed out, so the order may have been made (an error code is a refusal: nothing sold).
fn order_unanswered(buy_error: &str) -> bool {
    buy_error.strip_prefix("order: ").is_some_and(|e| {
        e.starts_with("transport:") || e == "closed by the server" || e == "timed out"
    })
}

/// Seats of `session` ordered twice, and seats ordered at all, in the run's database.
async fn sold_twice(deployment: &Deployment, session: i64) -> Result<(usize, usize)> {
    let twice = deployment
        .query(&format!(
            "SELECT d.seat_id FROM order_detail d JOIN `order` o ON o.id = d.order_id \
             WHERE o.session_id = {session} GROUP BY d.seat_id HAVING COUNT(*) > 1"
        ))
        .await?;
    let total = deployment
        .query(&format!(
            "SELECT COUNT(*) FROM order_detail d JOIN `order` o ON o.id = d.order_id \
             WHERE o.session_id = {session}"
        ))
        .await?;
    let total = total
        .first()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    Ok((twice.len(), total))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Signs up `n` accounts, spread over the instances.
async fn sign_up(ctx: &Ctx, deployment: &Deployment, n: usize) -> Result<Vec<Account>> {
    let apis = &deployment.apis;
    let per = n.div_ceil(apis.len());
    let mut jobs = Vec::new();
    for (k, api) in apis.iter().enumerate() {
        let count = per.min(n.saturating_sub(k * per));
        let tag = format!("{}-fleet{k}", ctx.tag);
        jobs.push(async move { api.sign_up_many(&tag, count, 16).await });
    }
    let chunks = futures_util::future::try_join_all(jobs).await?;
    Ok(chunks.into_iter().flatten().collect())
}

/// The run itself, on an open deployment: the result, every client's record and the servers'
/// samples.
async fn drive(
    ctx: &Ctx,
    opts: &Opts,
    deployment: &mut Deployment,
    workers_n: usize,
) -> Result<(FleetResult, Vec<Record>, Vec<crate::server::Sample>)> {
    let n = deployment.servers.len();
    let mut r = FleetResult {
        protocol: Some(opts.protocol),
        clients: opts.clients,
        instances: n,
        workers: workers_n,
        page: opts.page,
        lease_ttl_s: opts.lease_ttl,
        ..FleetResult::default()
    };
    let accounts = sign_up(ctx, deployment, opts.clients).await?;
    r.server_rss_before_kb = deployment.stat().rss_kb;

    // The workers: consecutive blocks of clients, so each worker's clients are spread over every
    // instance (with `i % workers` a worker's clients all lived on one instance when there were
    // as many workers as instances, and its resumes after the kill took two files each at once).
    let block = accounts.len().div_ceil(workers_n).max(1);
    let dir = ctx.out.join(format!("{}-workers", opts.name()));
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    let dwell_ms = (f64::from(opts.page) * 1000.0 / opts.admission_rate.max(1e-9)) as u64;
    let mut workers = Vec::new();
    for w in 0..workers_n {
        let plan = Plan {
            protocol: opts.protocol,
            addrs: deployment.addrs(),
            session: opts.session,
            clients: accounts
                .iter()
                .enumerate()
                .filter(|(i, _)| i / block == w)
                .map(|(i, a)| (i, a.token.clone()))
                .collect(),
            join_rate: opts.join_rate / workers_n as f64,
            dwell_ms,
            reply_timeout_ms: ctx.reply_timeout.as_millis() as u64,
            connect_concurrency: ctx.connect_concurrency.div_ceil(workers_n).max(8),
            seed: opts.seed,
            records: dir.join(format!("records-{w}.jsonl")),
        };
        let plan_path = dir.join(format!("plan-{w}.json"));
        std::fs::write(
            &plan_path,
            serde_json::to_vec(&plan).map_err(|e| err(e.to_string()))?,
        )?;
        let mut child = Command::new(&exe)
            .arg("fleet-worker")
            .arg("--plan")
            .arg(&plan_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| err(format!("starting a worker: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(err("a worker without pipes"));
        };
        workers.push(Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            records: plan.records,
        });
    }
    let worker_pids: Vec<u32> = workers.iter().filter_map(|w| w.child.id()).collect();
    let long = Duration::from_secs(900);

    eprintln!("  connecting");
    let t = Instant::now();
    for w in workers.iter_mut() {
        let line = w.answer("connected", long).await?;
        r.connected += line
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
    }
    r.connect_s = t.elapsed().as_secs_f64();
    eprintln!(
        "  {} connected in {:.1} s; joining",
        r.connected, r.connect_s
    );

    let engine_pids = crate::procstat::engine_pids(&opts.engine_pids)?;
    let server_pids = deployment.pids();
    let mark = || Mark::now(&server_pids, &worker_pids, &engine_pids);
    r.redis_used_memory_before = redis_used_memory(&opts.engines.redis_url).await;
    let join_mark = mark();
    let join_at = now_ms() + 1000;
    order_all(
        &mut workers,
        &format!("join {join_at}"),
        Some("joined"),
        long,
    )
    .await?;
    r.phases.insert("join".into(), join_mark.until(&mark()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.redis_used_memory_joined = redis_used_memory(&opts.engines.redis_url).await;
    r.server_rss_joined_kb = deployment.stat().rss_kb;
    r.server_kb_per_connection =
        (r.server_rss_joined_kb as f64 - r.server_rss_before_kb as f64) / r.connected.max(1) as f64;
    let cpu_before = deployment.stat().cpu_s;
    let workers_before = ProcStat::sum(&worker_pids).cpu_s;

    eprintln!("  admitting");
    let t0 = Instant::now();
    let admit_at = now_ms() + 500;
    let sampler = Sampler::start(deployment.pids(), t0, Duration::from_millis(500));
    let admit_mark = mark();
    order_all(&mut workers, &format!("admit {admit_at}"), None, long).await?;
    let hold_at = admit_at + opts.admit_seconds * 1000;
    let mut killed_at = None;
    let mut cpu_gone = 0.0;
    if opts.kills() {
        let k = n - 1;
        let survivors: Vec<u32> = deployment
            .servers
            .iter()
            .take(k)
            .filter_map(|s| s.pid)
            .collect();
        let kill_at = admit_at + opts.kill_after * 1000;
        let window = (opts.kill_after * 1000).clamp(1000, 10_000);
        worker::sleep_until_ms(kill_at - window).await;
        let before = ProcStat::sum(&survivors).cpu_s;
        worker::sleep_until_ms(kill_at).await;
        let at_kill = ProcStat::sum(&survivors).cpu_s;
        cpu_gone = deployment.servers[k].stat().map_or(0.0, |s| s.cpu_s);
        deployment.servers[k].kill9().await;
        killed_at = Some(now_ms());
        r.killed = Some(k);
        eprintln!("  killed instance {k} (SIGKILL)");
        worker::sleep_until_ms(kill_at + window).await;
        let after = ProcStat::sum(&survivors).cpu_s;
        r.survivors_cores_before_kill = (at_kill - before) / (window as f64 / 1000.0);
        r.survivors_cores_after_kill = (after - at_kill) / (window as f64 / 1000.0);
    }
    worker::sleep_until_ms(hold_at).await;
    order_all(&mut workers, "hold", None, long).await?;
    r.phases.insert("admit".into(), admit_mark.until(&mark()));
    // Let the last pushes land, and a dead instance's page places be freed (its lease missing
    // for a lease, then fenced and reaped) before the line is checked.
    match killed_at {
        Some(k) => {
            worker::sleep_until_ms((k + opts.lease_ttl * 3000 + 3000).max(now_ms() + 3000)).await;
        }
        None => {
            // A second for the last pushes, then the line stands still, measured.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let stand_mark = mark();
            tokio::time::sleep(Duration::from_secs(opts.stand_seconds.max(1))).await;
            r.phases.insert("stand".into(), stand_mark.until(&mark()));
        }
    }
    eprintln!("  asking everyone's status");
    order_all(&mut workers, "status", Some("statused"), long).await?;
    let after = deployment.stat();
    r.server_cpu_s = after.cpu_s - cpu_before + cpu_gone;
    r.workers_cpu_s = ProcStat::sum(&worker_pids).cpu_s - workers_before;
    let samples = sampler.finish();
    order_all(&mut workers, "quit", Some("done"), long).await?;
    let mut records = Vec::new();
    for mut w in workers {
        let _ = w.child.wait().await;
        let text = std::fs::read_to_string(&w.records)?;
        for line in text.lines() {
            records.push(serde_json::from_str::<Record>(line).map_err(|e| err(e.to_string()))?);
        }
    }
    records.sort_by_key(|rec| rec.index);
    analyse(&mut r, &records, killed_at);
    Ok((r, records, samples))
}

/// Fills the result from every client's record.
fn analyse(r: &mut FleetResult, records: &[Record], killed_at: Option<u64>) {
    let joined: Vec<&Record> = records.iter().filter(|x| x.join_acked.is_some()).collect();
    r.joined = joined.len();
    r.join_failures = records.len() - joined.len();
    r.join_examples = records
        .iter()
        .filter_map(|x| x.error.clone().filter(|_| x.join_acked.is_none()))
        .take(5)
        .collect();
    let first = joined.iter().filter_map(|x| x.join_sent).min().unwrap_or(0);
    let last = joined
        .iter()
        .filter_map(|x| x.join_acked)
        .max()
        .unwrap_or(0);
    r.joins_per_s = r.joined as f64 / ((last.saturating_sub(first)) as f64 / 1000.0).max(1e-3);
    r.join_ms = Summary::of(
        &joined
            .iter()
            .filter_map(|x| Some(x.join_acked?.saturating_sub(x.join_sent?) as f64))
            .collect::<Vec<_>>(),
    );
    r.page_at_join = records.iter().filter(|x| x.page_at_join).count();
    let queued: Vec<&Record> = records
        .iter()
        .filter(|x| x.ahead_at_join.is_some())
        .collect();
    r.queued = queued.len();
    let mut departures: Vec<u64> = records.iter().filter_map(|x| x.departed).collect();
    let mut admissions: Vec<u64> = queued.iter().filter_map(|x| x.admitted).collect();
    r.departures = departures.len();
    r.admitted_from_line = queued
        .iter()
        .filter(|x| x.admitted.is_some() || x.final_state.as_deref() == Some("admitted"))
        .count();
    r.admitted_unheard = queued
        .iter()
        .filter(|x| x.admitted.is_none() && x.final_state.as_deref() == Some("admitted"))
        .count();
    r.stale_acks = records.iter().filter(|x| x.stale_ack).count();
    if let (Some(a), Some(b)) = (admissions.iter().min(), admissions.iter().max())
        && b > a
    {
        r.admissions_per_s = (admissions.len() - 1) as f64 / ((b - a) as f64 / 1000.0);
    }
    r.bought = records.iter().filter(|x| x.bought.is_some()).count();
    for e in records.iter().filter_map(|x| x.buy_error.as_ref()) {
        *r.buy_errors.entry(e.clone()).or_default() += 1;
    }
    r.orders_unanswered = records
        .iter()
        .filter_map(|x| x.buy_error.as_deref())
        .filter(|e| order_unanswered(e))
        .count();
    let mut seats: Vec<(i64, i64, i64)> = records.iter().filter_map(|x| x.bought).collect();
    seats.sort_unstable();
    let before = seats.len();
    seats.dedup();
    r.sold_twice_by_clients = before - seats.len();

    let moves = analysis::moves(&mut departures, &mut admissions);
    let view = |x: &&Record| View {
        ahead_at_join: x.ahead_at_join.unwrap_or(-1),
        shown: x.shown.clone(),
    };
    let all: Vec<View> = queued.iter().map(view).collect();
    let lag = analysis::lags(&all, &moves);
    (r.lag_all_p50_ms, r.lag_all_p99_ms) = (lag.percentile(50.0), lag.percentile(99.0));
    r.lag_all = Some(lag);
    let survivors: Vec<View> = queued
        .iter()
        .filter(|x| Some(x.home) != r.killed)
        .map(view)
        .collect();
    let lag = analysis::lags(&survivors, &moves);
    (r.lag_survivors_p50_ms, r.lag_survivors_p99_ms) = (lag.percentile(50.0), lag.percentile(99.0));
    r.lag_survivors = Some(lag);
    r.line_messages = records.iter().map(|x| x.messages).sum();
    for x in &queued {
        r.breaches.add(&x.shown, MIN_GAP_MS);
    }
    r.line_messages_per_departure = r.line_messages as f64 / moves.len().max(1) as f64;

    if r.protocol == Some(Protocol::App) {
        let ends: Vec<(i64, Final)> = queued
            .iter()
            .map(|x| {
                let end = match (
                    x.admitted,
                    x.final_state.as_deref(),
                    x.resume_state.as_deref(),
                ) {
                    (Some(_), _, _) | (_, Some("admitted"), _) => Final::Admitted,
                    (_, _, Some("none")) | (_, Some("none"), _) => Final::None,
                    (_, Some("queued"), _) => Final::Queued(x.final_ahead.unwrap_or(-2)),
                    _ => Final::Unknown,
                };
                (x.ahead_at_join.unwrap_or(-1), end)
            })
            .collect();
        r.places = Some(analysis::places(&ends, r.admitted_from_line));
    }

    if let (Some(k), Some(killed_at)) = (r.killed, killed_at) {
        let dropped: Vec<&Record> = records
            .iter()
            .filter(|x| x.home == k && x.dropped.is_some())
            .collect();
        // On the page when the connection dropped: admitted before it (or by the join).
        let on_page = |x: &Record| {
            x.page_at_join || x.admitted.is_some_and(|a| x.dropped.is_some_and(|d| a < d))
        };
        let in_line: Vec<&&Record> = dropped
            .iter()
            .filter(|x| x.ahead_at_join.is_some() && !on_page(x))
            .collect();
        r.killed_in_line = in_line.len();
        r.resumed = in_line.iter().filter(|x| x.resumed.is_some()).count();
        r.resume_failures = in_line
            .iter()
            .filter(|x| !matches!(x.resume_state.as_deref(), Some("queued" | "admitted")))
            .count();
        let from = |base: fn(&Record) -> Option<u64>| -> Vec<f64> {
            in_line
                .iter()
                .filter_map(|x| Some(x.resumed?.saturating_sub(base(x)?) as f64))
                .collect()
        };
        r.resume_ms_from_drop = Summary::of(&from(|x| x.dropped));
        r.resume_ms_from_kill = Summary::of(
            &in_line
                .iter()
                .filter_map(|x| Some(x.resumed?.saturating_sub(killed_at) as f64))
                .collect::<Vec<_>>(),
        );
        let dead_page: Vec<&&Record> = dropped
            .iter()
            .filter(|x| on_page(x) && x.departed.is_none())
            .collect();
        r.dead_page = dead_page.len();
        r.dead_page_freed = dead_page.iter().filter(|x| x.freed.is_some()).count();
        r.freed_s_after_kill = Summary::of(
            &dead_page
                .iter()
                .filter_map(|x| Some(x.freed?.saturating_sub(killed_at) as f64 / 1000.0))
                .collect::<Vec<_>>(),
        );
    }
}

fn write_report(
    ctx: &Ctx,
    opts: &Opts,
    r: FleetResult,
    records: &[Record],
    samples: &[crate::server::Sample],
) -> Result<bool> {
    let title = match opts.protocol {
        Protocol::App => "Fleet: app clients over several instances, one killed",
        Protocol::Legacy => "Fleet: legacy clients over several instances",
    };
    let mut report = Report::new(&ctx.out, opts.name(), title);
    report.md(format!(
        "{} {:?} clients over {} instances (MySQL + Redis shared, lease {} s, resume grace {} s), \
         driven by {} worker processes; page {}, admissions at {}/s for {} s (dwell {:.1} s), \
         joins opened at {}/s. {} Load average at the start {}, at the end {}.\n",
        r.clients,
        opts.protocol,
        r.instances,
        opts.lease_ttl,
        opts.resume_grace,
        r.workers,
        r.page,
        opts.admission_rate,
        opts.admit_seconds,
        f64::from(opts.page) / opts.admission_rate,
        opts.join_rate,
        match r.killed {
            Some(k) => format!(
                "Instance {k} was killed with SIGKILL {} s into the admissions.",
                opts.kill_after
            ),
            None => "Nobody was killed.".into(),
        },
        r.loadavg_at_start,
        r.loadavg_at_end,
    ));
    report.md(Summary::md_header());
    report.md(r.join_ms.md_row("join (sent to ack)"));
    report.md(r
        .resume_ms_from_drop
        .md_row("resume (drop to `status` ack)"));
    report.md(r
        .resume_ms_from_kill
        .md_row("resume (kill to `status` ack)"));
    let lag_all = r.lag_all.clone().unwrap_or_default();
    let lag_surv = r.lag_survivors.clone().unwrap_or_default();
    report.md(format!(
        "\n| figure | value |\n|---|---:|\n\
         | connected | {} of {} in {:.1} s |\n\
         | joins/s (first sent to last answered) | {:.0} |\n\
         | first page / in line | {} / {} |\n\
         | departures sent / admitted from the line | {} / {} |\n\
         | admissions/s heard | {:.1} |\n\
         | seats bought | {} |\n\
         | position lag p50 / p99, everyone (ms) | {:.0} / {:.0} ({} samples, {} never shown) |\n\
         | position lag p50 / p99, the survivors' clients (ms) | {:.0} / {:.0} ({} samples, {} never shown) |\n\
         | line messages heard (per move of the line) | {} ({:.1}) |\n\
         | `position` values that went back / came under {MIN_GAP_MS} ms apart / came after `admitted` | {} / {} / {} |\n\
         | server RSS before connecting / joined (MiB, all instances) | {:.0} / {:.0} |\n\
         | server memory per connection (KB) | {:.1} |\n\
         | server CPU-s (admissions to the end) / worker CPU-s | {:.1} / {:.1} |\n\
         | survivors' cores in use before / after the kill | {:.2} / {:.2} |\n\
         | killed instance's clients in line / resumed / failed | {} / {} / {} |\n\
         | killed instance's page places / freed / freed after kill (s, max) | {} / {} / {:.1} |\n",
        r.connected,
        r.clients,
        r.connect_s,
        r.joins_per_s,
        r.page_at_join,
        r.queued,
        r.departures,
        r.admitted_from_line,
        r.admissions_per_s,
        r.bought,
        r.lag_all_p50_ms,
        r.lag_all_p99_ms,
        lag_all.samples,
        lag_all.never_shown,
        r.lag_survivors_p50_ms,
        r.lag_survivors_p99_ms,
        lag_surv.samples,
        lag_surv.never_shown,
        r.line_messages,
        r.line_messages_per_departure,
        r.breaches.went_back,
        r.breaches.too_close,
        r.breaches.after_admitted,
        r.server_rss_before_kb as f64 / 1024.0,
        r.server_rss_joined_kb as f64 / 1024.0,
        r.server_kb_per_connection,
        r.server_cpu_s,
        r.workers_cpu_s,
        r.survivors_cores_before_kill,
        r.survivors_cores_after_kill,
        r.killed_in_line,
        r.resumed,
        r.resume_failures,
        r.dead_page,
        r.dead_page_freed,
        r.freed_s_after_kill.max,
    ));
    report.md(format!(
        "Targets (measured, never asserted): joins >= 5,000/s: {:.0}; position lag p99 <= 2 s: \
         {:.0} ms (survivors' clients {:.0} ms); server memory <= 12 KB per connection: {:.1} KB; \
         dead page places freed within the lease ({} s): {:.1} s at most.\n",
        r.joins_per_s,
        r.lag_all_p99_ms,
        r.lag_survivors_p99_ms,
        r.server_kb_per_connection,
        opts.lease_ttl,
        r.freed_s_after_kill.max,
    ));
    if !r.phases.is_empty() {
        let mut table = String::from(
            "\n| phase | wall s | servers CPU-s | workers CPU-s | engines CPU-s |\n|---|---:|---:|---:|---|\n",
        );
        for (name, p) in &r.phases {
            let engines: Vec<String> = p
                .engines_cpu_s
                .iter()
                .map(|(e, cpu)| format!("{e} {cpu:.2}"))
                .collect();
            table.push_str(&format!(
                "| {name} | {:.1} | {:.2} | {:.2} | {} |\n",
                p.wall_s,
                p.servers_cpu_s,
                p.workers_cpu_s,
                engines.join(", ")
            ));
        }
        if let (Some(a), Some(b)) = (r.redis_used_memory_before, r.redis_used_memory_joined) {
            table.push_str(&format!(
                "\nRedis `used_memory` before the joins / joined: {:.1} / {:.1} MiB ({:.0} bytes per joined client; Redis is shared).\n",
                a as f64 / 1048576.0,
                b as f64 / 1048576.0,
                (b as f64 - a as f64) / r.joined.max(1) as f64
            ));
        }
        report.md(table);
    }
    if !r.buy_errors.is_empty() {
        report.md(format!(
            "Buying ended without a seat: {:?}.\n",
            r.buy_errors
        ));
    }
    let cdf = |l: &analysis::Lags| l.cdf();
    report.plot(
        "lag",
        "position lag CDF",
        svg::line_chart(
            &Axes {
                title: "From a move of the line to the client showing it",
                x: "lag (s)",
                y: "share of (client, move) pairs",
                log_x: false,
            },
            &[
                Series::new("everyone", cdf(&lag_all)),
                Series::new("survivors' clients", cdf(&lag_surv)),
            ],
        ),
    )?;
    let resumes: Vec<(f64, f64)> = {
        let mut at: Vec<f64> = records
            .iter()
            .filter_map(|x| Some(x.resumed?.saturating_sub(x.dropped?) as f64 / 1000.0))
            .collect();
        at.sort_by(f64::total_cmp);
        let total = at.len().max(1) as f64;
        analysis::thin(
            at.iter()
                .enumerate()
                .map(|(i, s)| (*s, (i + 1) as f64 / total))
                .collect(),
        )
    };
    if !resumes.is_empty() {
        report.plot(
            "resume",
            "resume CDF",
            svg::line_chart(
                &Axes {
                    title: "From the dropped connection to the resumed place",
                    x: "time (s)",
                    y: "share of resumed clients",
                    log_x: false,
                },
                &[Series::new("resumed", resumes)],
            ),
        )?;
    }
    report.resources("servers", samples)?;

    report.check(
        r.connected == r.clients && r.join_failures == 0,
        format!(
            "every client connected and joined ({} of {} connected, {} joins failed: {:?})",
            r.connected, r.clients, r.join_failures, r.join_examples
        ),
    );
    report.check(
        r.page_at_join == opts.page as usize,
        format!(
            "the first {} joiners filled the page ({})",
            opts.page, r.page_at_join
        ),
    );
    if let Some(p) = &r.places {
        // A join that failed (a storage timeout) may still have taken its place: the places
        // its client was never told are gaps, one at most per failed join.
        report.check(
            p.given_twice == 0 && p.skipped <= r.join_failures,
            format!(
                "the places at join are 0..{} once each, but for failed joins' ({} given twice, \
                 {} skipped, {} joins failed)",
                r.queued, p.given_twice, p.skipped, r.join_failures
            ),
        );
        report.check(
            p.lost == 0 && p.wrong_ahead == 0 && p.not_admitted == 0 && p.unknown == 0,
            format!(
                "every client in line ended where the line says ({} exact of {}; {} lost, {} wrong ahead, {} not admitted, {} unanswered)",
                p.exact, p.checked, p.lost, p.wrong_ahead, p.not_admitted, p.unknown
            ),
        );
    }
    report.check(
        r.admitted_unheard == 0,
        format!(
            "every client admitted from the line heard `admitted` ({} did not)",
            r.admitted_unheard
        ),
    );
    report.check(
        r.stale_acks == 0,
        format!(
            "no ack said a client waits after its `admitted` push ({} did)",
            r.stale_acks
        ),
    );
    report.check(
        r.sold_twice_by_clients == 0 && r.sold_twice_in_database.unwrap_or(0) == 0,
        format!(
            "no seat sold twice ({} by the clients' orders, {:?} in the database; {} bought, {:?} sold in the database)",
            r.sold_twice_by_clients, r.sold_twice_in_database, r.bought, r.sold_in_database
        ),
    );
    if r.protocol == Some(Protocol::App) {
        report.check(
            r.sold_in_database
                .is_none_or(|s| (r.bought..=r.bought + r.orders_unanswered).contains(&s)),
            format!(
                "the database sold the seats the clients' orders got, and at most one more for \
                 each order whose connection died before its ack ({:?} vs {} + {} unanswered)",
                r.sold_in_database, r.bought, r.orders_unanswered
            ),
        );
    }
    if r.killed.is_some() {
        report.check(
            r.resume_failures == 0 && r.resumed == r.killed_in_line,
            format!(
                "every client in line on the killed instance resumed ({} of {}, {} failed)",
                r.resumed, r.killed_in_line, r.resume_failures
            ),
        );
        report.check(
            r.dead_page_freed == r.dead_page,
            format!(
                "every page place of the killed instance was freed ({} of {})",
                r.dead_page_freed, r.dead_page
            ),
        );
    }
    let options = json!({
        "clients": opts.clients, "instances": opts.instances, "protocol": opts.protocol,
        "page": opts.page, "admission_rate": opts.admission_rate, "join_rate": opts.join_rate,
        "admit_seconds": opts.admit_seconds, "kill_after": opts.kill_after, "kills": opts.kills(),
        "lease_ttl": opts.lease_ttl, "resume_grace": opts.resume_grace,
        "per_process": opts.per_process, "session": opts.session,
        "stand_seconds": opts.stand_seconds, "engine_pids": opts.engine_pids,
    });
    report.write(json!({"scenario": opts.name(), "options": options, "result": r}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_unanswered_only_when_no_answer_came() {
        for unanswered in [
            "order: transport: WebSocket protocol error: Connection reset without closing handshake",
            "order: closed by the server",
            "order: timed out",
        ] {
            assert!(order_unanswered(unanswered), "{unanswered}");
        }
        for refused in ["order: seat_taken", "lock: timed out", "no free seat found"] {
            assert!(!order_unanswered(refused), "{refused}");
        }
    }
}
