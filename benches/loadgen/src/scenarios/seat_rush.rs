//! `seat-rush`: N buyers, all admitted to the buying page and watching their area, emit
//! `select seat` at the same instant: first all on one seat, then on random seats of another
//! session. Counts successes and "taken" answers, times every `self select seat` reply, and
//! checks that no seat has two owners: no seat was granted twice, and the seat maps
//! (`POST /seat`) show exactly the granted seats as selected.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::deploy::{Deploy, Deployment};
use super::{
    Ctx, Protocol, QUEUE_NS, app_ok, app_request, check_limit, close_all, connect_all_to, event_ns,
    machine, ms,
};
use crate::error::{Result, err};
use crate::http::{Account, Api};
use crate::probe::{self, Figures, HEADING, epoch_ms};
use crate::progress::Progress;
use crate::report::Report;
use crate::server::{Sampler, Server, ThreadCpu};
use crate::sio::SioClient;
use crate::stats::{self, Summary};
use crate::svg::{self, Axes, Series};

/// The room news of a grant, sent to every other watcher of the area.
const NEWS: &str = "other select seat";
/// How long each client keeps reading room news after its own answer. On MySQL + Redis the
/// random-seat rush's last news reaches some watchers 1.2 s after the rush began (p99), so
/// within 1 s of an early answer 0.4–2.6 % of the news had not come yet and was counted lost
/// (two runs of three; none with 3 s in three).
const NEWS_WINDOW: Duration = Duration::from_secs(3);

/// The answer the server gives to the losers of a race.
const TAKEN: &str = "座位已經被搶走了～請重新選位!";
/// The JS client probe (`--js-probes`): 8 lanes, each a selector and a watcher in its own area
/// of a session no rusher uses, one select/unselect cycle every 50 ms per lane.
const PROBE_LANES: usize = 8;
const PROBE_INTERVAL_MS: u64 = 50;
/// Probe samples before the rush, with every rusher on the page and in its room: the baseline.
const PROBE_BASELINE: Duration = Duration::from_secs(1);
/// Areas per session and rows/columns per area in the seed.
const AREAS: u64 = 9;
const SIDE: u64 = 9;

/// Options of `seat-rush`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Clients (one account each), all admitted (the server's queue limit is set to this).
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Session of the one-seat rush.
    #[arg(long, default_value_t = 1)]
    pub one_seat_session: i64,
    /// Session of the random-seat rush.
    #[arg(long, default_value_t = 2)]
    pub random_session: i64,
    /// Seed of the random seat choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// `legacy`: `check limit`, `join room`, `select seat` on the default namespace; `app`:
    /// `join` on `/queue`, then `/event-{id}` on the same WebSocket, `watch`, `select` (acks),
    /// with the `seats` pushes as the room news.
    #[arg(long, value_enum, default_value = "legacy")]
    pub protocol: Protocol,
    /// Run on MySQL + Redis (one instance, fresh database and key prefix) instead of the
    /// embedded engines.
    #[arg(long)]
    pub production: bool,
    /// Other processes whose CPU time each rush also reports, as `name=pid` (comma-separated),
    /// e.g. `redis=812,mariadb=640`, as `join-storm`'s. Shared engines serve other clients too:
    /// their figures are upper bounds.
    #[arg(long, value_delimiter = ',')]
    pub engine_pids: Vec<String>,
    /// The shared engines of `--production`.
    #[command(flatten)]
    pub engines: super::deploy::SharedEngines,
}

impl Opts {
    fn report_name(&self) -> &'static str {
        match self.protocol {
            Protocol::Legacy => "seat-rush",
            Protocol::App => "seat-rush-app",
        }
    }
}

/// A seat: (area, row, column).
type Seat = (i64, i64, i64);

#[derive(Debug, Default, Serialize)]
struct RushResult {
    kind: &'static str,
    session: i64,
    clients: usize,
    admitted: usize,
    answered: usize,
    granted: usize,
    taken: usize,
    other_errors: usize,
    error_examples: Vec<String>,
    distinct_seats_asked: usize,
    rush_wall_ms: f64,
    last_sent_ms: f64,
    select_ms: Summary,
    seats_granted_twice: usize,
    selected_on_map: usize,
    map_matches_grants: bool,
    /// `other select seat` messages the watchers should have heard (grants in their area by
    /// others), heard, and missing.
    news_expected: usize,
    news_received: usize,
    news_missing: usize,
    /// Per watcher: when the last piece of room news arrived, since the rush began (its seat
    /// map is complete from then on).
    map_settled_ms: Summary,
    server_cpu_s: f64,
    /// The same to the nanosecond, per thread: the request path (every thread but the HAR
    /// recorder's writer) and the writer. What recording costs a rush is the request path's
    /// part; the writer runs at the lowest priority on what the cores leave.
    server_threads: ThreadCpu,
    /// CPU-seconds of each `--engine-pids` process during the rush.
    engine_cpu_s: std::collections::BTreeMap<String, f64>,
    server_peak_rss_kb: u64,
    /// What the real JS client saw beside the rush (`--js-probes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    js_probe: Option<Figures>,
    #[serde(skip)]
    latencies: Vec<f64>,
    #[serde(skip)]
    samples: Vec<crate::server::Sample>,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    eprintln!("== {}: {} clients", opts.report_name(), opts.clients);
    let deploy = match opts.production {
        true => Deploy::Shared(opts.engines.clone(), vec![None]),
        false => Deploy::Embedded,
    };
    let deployment =
        Deployment::open(ctx, &deploy, opts.clients.max(1) as u32, opts.report_name()).await?;
    let (server, api) = (&deployment.servers[0], &deployment.apis[0]);
    let engines = crate::procstat::engine_pids(&opts.engine_pids)?;
    let info = machine(server);
    let accounts = ctx.accounts(api, "seat", opts.clients).await?;
    let one: Vec<Seat> = vec![(1, 5, 5); opts.clients];
    let mut rng = XorShift(opts.seed.max(1));
    let random: Vec<Seat> = (0..opts.clients)
        .map(|_| {
            (
                1 + rng.below(AREAS) as i64,
                1 + rng.below(SIDE) as i64,
                1 + rng.below(SIDE) as i64,
            )
        })
        .collect();
    let probe_session = probe::spare_session(&[opts.one_seat_session, opts.random_session]);
    let probe_accounts = match ctx.js_probes {
        Some(_) => ctx.accounts(api, "seat-js", 4 * PROBE_LANES).await?,
        None => Vec::new(),
    };
    let (probe_first, probe_second) = probe_accounts.split_at(probe_accounts.len() / 2);
    let first = Plan {
        kind: "one seat",
        session: opts.one_seat_session,
        seats: &one,
        probe_session,
        probe_accounts: probe_first,
        protocol: opts.protocol,
        engines: &engines,
    };
    let first = rush(ctx, server, api, &accounts, first).await?;
    let second = Plan {
        kind: "random seats",
        session: opts.random_session,
        seats: &random,
        probe_session,
        probe_accounts: probe_second,
        protocol: opts.protocol,
        engines: &engines,
    };
    let second = rush(ctx, server, api, &accounts, second).await?;
    deployment.stop().await;

    let mut report = match opts.protocol {
        Protocol::Legacy => Report::new(&ctx.out, "seat-rush", "Seat rush"),
        Protocol::App => Report::new(&ctx.out, "seat-rush-app", "Seat rush (app protocol)"),
    };
    report.md(match opts.protocol {
        Protocol::Legacy => format!(
            "{} clients, all on the buying page and in their area's seat room, emit `select seat` at the same instant.\n",
            opts.clients
        ),
        Protocol::App => format!(
            "{} clients, each admitted through `join` on `/queue` and connected to `/event-{{id}}` \
             on the same WebSocket with its area watched (`watch`), emit `select` at the same \
             instant and wait for its ack. Room news = `seats` pushes (every watcher, the \
             winner included, hears each grant).\n",
            opts.clients
        ),
    });
    report.md("| figure | one seat | random seats |\n|---|---:|---:|");
    let row = |k: &str, f: &dyn Fn(&RushResult) -> String| {
        format!("| {k} | {} | {} |", f(&first), f(&second))
    };
    report.md(row("admitted", &|r| r.admitted.to_string()));
    report.md(row("answered", &|r| r.answered.to_string()));
    report.md(row("granted", &|r| r.granted.to_string()));
    report.md(row("taken", &|r| r.taken.to_string()));
    report.md(row("other errors", &|r| r.other_errors.to_string()));
    report.md(row("distinct seats asked", &|r| {
        r.distinct_seats_asked.to_string()
    }));
    report.md(row("last select sent after", &|r| {
        format!("{:.1} ms", r.last_sent_ms)
    }));
    report.md(row("last reply after", &|r| {
        format!("{:.1} ms", r.rush_wall_ms)
    }));
    report.md(row("**select p99**", &|r| {
        format!("**{:.1} ms**", r.select_ms.p99)
    }));
    report.md(row("room news heard / expected", &|r| {
        format!("{} / {}", r.news_received, r.news_expected)
    }));
    report.md(row("watchers' maps complete after (p50 / p99)", &|r| {
        format!(
            "{:.1} / {:.1} ms",
            r.map_settled_ms.p50, r.map_settled_ms.p99
        )
    }));
    report.md(row("seats granted twice", &|r| {
        r.seats_granted_twice.to_string()
    }));
    report.md(row("selected seats on the maps", &|r| {
        r.selected_on_map.to_string()
    }));
    report.md(row("server CPU during the rush", &|r| {
        format!("{:.2} s", r.server_cpu_s)
    }));
    report.md(row(
        "of it the request path / the recorder's writer",
        &|r| {
            format!(
                "{:.1} / {:.1} ms",
                r.server_threads.request_path_ms, r.server_threads.writer_ms
            )
        },
    ));
    for name in first.engine_cpu_s.keys() {
        report.md(row(&format!("{name} CPU during the rush"), &|r| {
            format!("{:.2} s", r.engine_cpu_s.get(name).copied().unwrap_or(0.0))
        }));
    }
    report.md("");
    report.latencies(
        "select",
        "select seat reply latency",
        &[
            ("one seat", &first.latencies),
            ("random seats", &second.latencies),
        ],
    )?;
    let axes = Axes {
        title: "Replies per second (random seats)",
        x: "time since the rush (s)",
        y: "replies/s",
        log_x: false,
    };
    let times: Vec<f64> = second.latencies.iter().map(|l| l / 1000.0).collect();
    report.plot(
        "throughput",
        "replies over time",
        svg::line_chart(
            &axes,
            &[Series::new(
                "replies/s",
                stats::rate_over_time(&times, 0.005),
            )],
        ),
    )?;
    report.resources("random", &second.samples)?;
    if first.js_probe.is_some() || second.js_probe.is_some() {
        report.md(format!("\n## {HEADING}\n"));
    }
    for r in [&first, &second] {
        if let Some(js) = &r.js_probe {
            js.describe(&mut report, &format!("### {} rush", r.kind));
            report.check(
                js.errors == 0,
                format!(
                    "{}: the real JS client's seat clicks succeeded ({} errors)",
                    r.kind, js.errors
                ),
            );
        }
    }
    for r in [&first, &second] {
        let k = r.kind;
        report.check(
            r.admitted == opts.clients,
            format!(
                "{k}: {} of {} admitted to the page",
                r.admitted, opts.clients
            ),
        );
        report.check(
            r.answered == r.admitted,
            format!("{k}: {} of {} selects answered", r.answered, r.admitted),
        );
        report.check(
            r.other_errors == 0,
            format!("{k}: {} answers other than granted/taken", r.other_errors),
        );
        report.check(
            r.news_missing == 0 && r.news_received == r.news_expected,
            format!(
                "{k}: every watcher heard every grant in its area ({} of {} `other select seat`)",
                r.news_received, r.news_expected
            ),
        );
        report.check(
            r.seats_granted_twice == 0,
            format!(
                "{k}: {} seats granted to two clients",
                r.seats_granted_twice
            ),
        );
        report.check(
            r.map_matches_grants,
            format!(
                "{k}: the seat maps show exactly the {} granted seats as selected",
                r.granted
            ),
        );
    }
    report.check(
        first.granted == 1,
        format!("one seat: exactly one winner ({} granted)", first.granted),
    );
    report.check(
        second.granted == second.distinct_seats_asked,
        format!(
            "random: every asked seat granted once ({} of {})",
            second.granted, second.distinct_seats_asked
        ),
    );
    report.write(json!({
        "scenario": opts.report_name(),
        "machine": info,
        "options": {"clients": opts.clients, "seed": opts.seed, "js_probes": ctx.js_probes.is_some(),
                    "protocol": opts.protocol},
        "runs": [first, second],
    }))
}

/// What one rush races for.
struct Plan<'a> {
    kind: &'static str,
    session: i64,
    /// The seat of each client.
    seats: &'a [Seat],
    /// The JS probe's session (no rusher uses it) and accounts (none without `--js-probes`).
    probe_session: i64,
    probe_accounts: &'a [Account],
    /// What the rushers speak.
    protocol: Protocol,
    /// The `--engine-pids`.
    engines: &'a [(String, u32)],
}

/// One rush: connect, enter, watch the area, then everyone selects `seats[i]` at once.
async fn rush(
    ctx: &Ctx,
    server: &Server,
    api: &Api,
    accounts: &[Account],
    plan: Plan<'_>,
) -> Result<RushResult> {
    let Plan {
        kind,
        session,
        seats,
        protocol,
        ..
    } = plan;
    eprintln!("-- {kind} (session {session})");
    let ns = match protocol {
        Protocol::Legacy => "/",
        Protocol::App => QUEUE_NS,
    };
    let clients = connect_all_to(ctx, &[server.addr], accounts, ns, "connect")
        .await?
        .take();
    let progress = Progress::start("enter + watch", clients.len());
    let (go_tx, go_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<bool>(clients.len().max(1));
    let mut tasks = JoinSet::new();
    for (i, mut c) in clients {
        let seat = seats[i];
        let (mut go, ready, limit, progress) = (
            go_rx.clone(),
            ready_tx.clone(),
            ctx.reply_timeout,
            progress.clone(),
        );
        let token = accounts[i].token.clone();
        tasks.spawn(async move {
            if protocol == Protocol::App {
                let admitted = app_enter(&mut c, &token, session, seat.0, limit).await.is_ok();
                progress.inc();
                let _ = ready.send(admitted).await;
                if !admitted || go.wait_for(|g| *g).await.is_err() {
                    return (c, seat, admitted, None, Vec::new());
                }
                let (sent, latency, answer, news) = app_select(&mut c, session, seat, limit).await;
                return (c, seat, admitted, Some((sent, latency, answer)), news);
            }
            let admitted = matches!(check_limit(&mut c, session, limit).await, Ok(e) if e.arg()["pass"] == true);
            let _ = c.emit("join room", &json!({"sessionId": session, "areaId": seat.0})).await;
            progress.inc();
            let _ = ready.send(admitted).await;
            if !admitted || go.wait_for(|g| *g).await.is_err() {
                return (c, seat, admitted, None, Vec::new());
            }
            let (row, column) = (seat.1, seat.2);
            let body = json!({"sessionId": session, "areaId": seat.0, "row": row, "column": column,
                              "rowIndex": row - 1, "columnIndex": column - 1});
            let sent = Instant::now();
            let mut news = Vec::new();
            let answer = match c.emit("select seat", &body).await {
                Ok(()) => {
                    let reply = c.next_event_named_noting("self select seat", NEWS, &mut news);
                    match tokio::time::timeout(limit, reply).await {
                        Ok(reply) => reply.map(|e| e.arg().clone()),
                        Err(_) => Err(crate::sio::SioError::Timeout),
                    }
                }
                Err(e) => Err(e),
            };
            let latency = ms(sent.elapsed());
            // Keep reading as a browser would, to time the room news and count it.
            let _ = tokio::time::timeout(NEWS_WINDOW, c.note_events(NEWS, &mut news)).await;
            (c, seat, admitted, Some((sent, latency, answer)), news)
        });
    }
    drop(ready_tx);
    let mut admitted = 0;
    for _ in 0..accounts.len() {
        match ready_rx.recv().await {
            Some(true) => admitted += 1,
            Some(false) => {}
            None => break,
        }
    }
    progress.finish();
    let js = match &ctx.js_probes {
        Some(setup) if !plan.probe_accounts.is_empty() => {
            let spec = probe::Spec {
                kind: probe::Kind::Seat,
                accounts: plan.probe_accounts,
                session: plan.probe_session,
                area: 1,
                seat: (5, 5),
                interval_ms: PROBE_INTERVAL_MS,
                max_duration: Duration::from_secs(ctx.reply_timeout.as_secs() * 4 + 600),
            };
            Some(setup.start(server.addr, &spec).await?)
        }
        _ => None,
    };
    // Let every `join room` land before the rush (and the probe take its baseline).
    let lead = match js {
        Some(_) => PROBE_BASELINE,
        None => Duration::from_millis(300),
    };
    tokio::time::sleep(lead).await;
    let before = server.stat().unwrap_or_default();
    let threads_before = ThreadCpu::sum(&server.pids());
    let engines_before = crate::procstat::engine_cpu(plan.engines);
    let t0 = Instant::now();
    let sampler = Sampler::start(server.pids(), t0, Duration::from_millis(5));
    let perf = ctx
        .profile(server, &format!("seat-rush-{}", kind.replace(' ', "-")))
        .await;
    let _ = go_tx.send(true);
    let mut r = RushResult {
        kind,
        session,
        clients: accounts.len(),
        admitted,
        ..RushResult::default()
    };
    let mut grants: HashMap<Seat, usize> = HashMap::new();
    let mut open = Vec::new();
    // (area, won a seat, arrival times of room news) per watcher.
    let mut watchers: Vec<(i64, bool, Vec<Instant>)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (c, seat, _, outcome, news) = joined.map_err(|e| err(e.to_string()))?;
        open.push(c);
        let Some((sent, latency, answer)) = outcome else {
            continue;
        };
        r.last_sent_ms = r.last_sent_ms.max(ms(sent.saturating_duration_since(t0)));
        r.rush_wall_ms = r
            .rush_wall_ms
            .max(ms(sent.saturating_duration_since(t0)) + latency);
        let won = matches!(&answer, Ok(body) if body.get("error").is_none());
        watchers.push((seat.0, won, news));
        match answer {
            Ok(body) => {
                r.answered += 1;
                r.latencies.push(latency);
                match body.get("error").and_then(|e| e.as_str()) {
                    None => *grants.entry(seat).or_default() += 1,
                    Some(TAKEN) => r.taken += 1,
                    Some(other) => {
                        r.other_errors += 1;
                        r.error_examples.push(other.to_string());
                    }
                }
            }
            Err(e) => r.error_examples.push(e.to_string()),
        }
    }
    // An app watcher hears its own grant too; the legacy winner hears only the others'.
    tally_news(&mut r, &grants, &watchers, t0, protocol == Protocol::App);
    perf.stop().await;
    r.samples = sampler.finish();
    let after = server.stat().unwrap_or_default();
    r.server_threads = ThreadCpu::sum(&server.pids()).since(threads_before);
    r.engine_cpu_s = crate::procstat::engine_cpu(plan.engines)
        .into_iter()
        .map(|(name, cpu)| {
            let was = engines_before.get(&name).copied().unwrap_or(cpu);
            (name, cpu - was)
        })
        .collect();
    if let Some(js) = js {
        let out = js.stop().await?;
        let from = epoch_ms(t0);
        r.js_probe = Some(Figures::around(
            &out,
            format!(
                "A Node process kept {} lanes busy on session {}, each a selector and a watcher in \
                 their own area: `select seat` until the `self select seat` echo, `unselect seat` \
                 until the watcher saw its broadcast, then {PROBE_INTERVAL_MS} ms of rest. No \
                 rusher uses that session, so the rush's grants, maps and checks are unchanged.",
                plan.probe_accounts.len().div_ceil(2),
                plan.probe_session
            ),
            format!(
                "{admitted} admitted clients racing for {kind} in session {session}, all at the \
                 same instant"
            ),
            (from, from + r.rush_wall_ms),
            (
                "before the rush (rushers on the page, idle)",
                "**during the rush**",
            ),
        ));
    }
    r.server_cpu_s = after.cpu_s - before.cpu_s;
    r.server_peak_rss_kb = after.peak_rss_kb;
    r.error_examples.truncate(10);
    r.granted = grants.values().sum();
    r.seats_granted_twice = grants.values().filter(|n| **n > 1).count();
    r.distinct_seats_asked = seats.iter().collect::<BTreeSet<_>>().len();
    r.select_ms = Summary::of(&r.latencies);
    let on_map = selected_on_maps(api, &accounts[0].token, session, seats).await?;
    r.selected_on_map = on_map.len();
    r.map_matches_grants = on_map == grants.keys().copied().collect::<BTreeSet<Seat>>();
    close_all(open).await;
    eprintln!(
        "  {} granted, {} taken, p99 {:.1} ms, {} seats granted twice, map matches: {}, \
         news {}/{}, maps complete p99 {:.1} ms",
        r.granted,
        r.taken,
        r.select_ms.p99,
        r.seats_granted_twice,
        r.map_matches_grants,
        r.news_received,
        r.news_expected,
        r.map_settled_ms.p99
    );
    Ok(r)
}

/// The app protocol's way onto the buying page: `join` on `/queue` (must answer `admitted`),
/// `/event-{session}` on the same WebSocket, `watch` of the area.
async fn app_enter(
    c: &mut SioClient,
    token: &str,
    session: i64,
    area: i64,
    limit: Duration,
) -> std::result::Result<(), String> {
    let joined = app_request(c, QUEUE_NS, "join", &json!({"sessionId": session}), limit).await?;
    if joined["state"] != "admitted" {
        return Err(format!("join: {}", joined["state"]));
    }
    let ns = event_ns(session);
    tokio::time::timeout(limit, c.join_namespace(&ns, token))
        .await
        .map_err(|_| "connect: timed out".to_string())?
        .map_err(|e| format!("connect {ns}: {e}"))?;
    app_request(c, &ns, "watch", &json!({"areaId": area}), limit).await?;
    Ok(())
}

/// One app `select` at the rush: when it was sent, its ack latency, the ack in the legacy
/// reply's shape (`{}` granted, `{error: TAKEN}` taken, `{error: code}` otherwise) and the
/// arrival of each granted seat in the `seats` pushes, heard until [`NEWS_WINDOW`] after it.
async fn app_select(
    c: &mut SioClient,
    session: i64,
    seat: Seat,
    limit: Duration,
) -> (
    Instant,
    f64,
    std::result::Result<serde_json::Value, crate::sio::SioError>,
    Vec<Instant>,
) {
    let ns = event_ns(session);
    let body = json!({"areaId": seat.0, "row": seat.1, "column": seat.2});
    let mut news = Vec::new();
    let mut note = |at: Instant, data: &str| {
        let selected = selected_changes(data);
        news.extend(std::iter::repeat_n(at, selected));
    };
    let sent = Instant::now();
    let answer = match tokio::time::timeout(
        limit,
        c.request(&ns, "select", &body, "seats", &mut note),
    )
    .await
    {
        Ok(Ok(ack)) => Ok(match app_ok("select", ack) {
            Ok(_) => json!({}),
            Err(e) if e.ends_with("seat_taken") => json!({"error": TAKEN}),
            Err(e) => json!({"error": e}),
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(crate::sio::SioError::Timeout),
    };
    let latency = ms(sent.elapsed());
    let _ = tokio::time::timeout(NEWS_WINDOW, c.note_app_events("seats", &mut note)).await;
    (sent, latency, answer, news)
}

/// How many seats a `seats` push (`["seats", {changes: [{status}]}]`) shows as newly selected.
/// Counted without parsing the JSON, as the legacy rush counts its news: every watcher reads
/// dozens of pushes during the rush, and the generator's CPU is the server's too.
fn selected_changes(data: &str) -> usize {
    data.matches(r#""status":"selected""#).count()
}

/// Checks that every watcher heard of every grant in its area (others' grants: the winner is
/// not told of its own), and when each watcher's map was complete.
fn tally_news(
    r: &mut RushResult,
    grants: &HashMap<Seat, usize>,
    watchers: &[(i64, bool, Vec<Instant>)],
    t0: Instant,
    own_heard: bool,
) {
    let mut per_area: HashMap<i64, usize> = HashMap::new();
    for (seat, n) in grants {
        *per_area.entry(seat.0).or_default() += n;
    }
    let mut settled = Vec::new();
    for (area, won, news) in watchers {
        let expected = per_area
            .get(area)
            .copied()
            .unwrap_or(0)
            .saturating_sub(usize::from(*won && !own_heard));
        r.news_expected += expected;
        r.news_received += news.len();
        r.news_missing += expected.saturating_sub(news.len());
        if let Some(last) = news.iter().max() {
            settled.push(ms(last.saturating_duration_since(t0)));
        }
    }
    r.map_settled_ms = Summary::of(&settled);
}

/// Seats shown as selected (status 5) on the seat maps of every area asked about.
async fn selected_on_maps(
    api: &Api,
    token: &str,
    session: i64,
    seats: &[Seat],
) -> Result<BTreeSet<Seat>> {
    let areas: BTreeSet<i64> = seats.iter().map(|s| s.0).collect();
    let mut selected = BTreeSet::new();
    for area in areas {
        let cells = api.seat_map(token, session, area).await.map_err(err)?;
        selected.extend(
            cells
                .iter()
                .filter(|c| c.status == 5)
                .map(|c| (area, c.row, c.column)),
        );
    }
    Ok(selected)
}

/// xorshift64*: reproducible seat choices without a dependency.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selected_seats_are_counted_in_a_seats_push() {
        let push = r#"["seats",{"areaId":1,"version":7,"changes":[{"row":1,"column":2,"status":"selected"},{"row":1,"column":3,"status":"empty"},{"row":2,"column":2,"status":"selected"}]}]"#;
        assert_eq!(selected_changes(push), 2);
        assert_eq!(selected_changes(r#"["seats",{"changes":[]}]"#), 0);
    }
}
