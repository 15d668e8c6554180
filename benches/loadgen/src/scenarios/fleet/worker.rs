//! `fleet-worker`: one process's share of the fleet's clients (the parent splits them so no
//! process passes its open-file limit). It reads its plan from a file, then takes orders, one a
//! line on stdin, and answers each phase on stdout:
//!
//! | order | what the clients do | answer |
//! |---|---|---|
//! | (start) | connect to their home instance (client `i` to instance `i % N`, as a sticky balancer keeps a client on one) | `connected OK FAILED` |
//! | `join T` | join the session, open loop from epoch-ms `T` at the plan's rate | `joined` |
//! | `admit T` | page visitors buy and leave, each `dwell` after its admission (the first page's spread over one dwell from `T`) | |
//! | `hold` | nobody leaves any more: the line stands still | |
//! | `status` | every client in line asks `status` (app protocol) | `statused` |
//! | `quit` | every client closes; the records are written | `done` |
//!
//! A client whose connection drops (its instance was killed) comes back through another
//! instance: in line, with its resume token (app protocol); on the page, it does not come back
//! but watches, through another instance, until its place is freed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::super::{Protocol, QUEUE_NS, app_request, app_request_noting, event_ns};
use crate::error::{Result, err};
use crate::sio::SioClient;

/// Areas per session and rows/columns per area in the seed.
const AREAS: u64 = 9;
/// Seats a buyer tries before it leaves without one.
const BUY_ATTEMPTS: usize = 4;
/// How often a dead page visitor asks whether its place was freed.
const FREED_POLL: Duration = Duration::from_millis(250);
/// How long it asks.
const FREED_GIVE_UP: Duration = Duration::from_secs(180);
/// Final `status` requests in flight at once per worker.
const STATUS_IN_FLIGHT: usize = 256;
/// Times a final `status` is asked when the answer is `internal`.
const STATUS_ATTEMPTS: usize = 5;

/// Options of `fleet-worker` (started by `fleet`, not by hand).
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// The plan the parent wrote.
    #[arg(long)]
    pub plan: PathBuf,
}

/// What the parent tells a worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The clients' protocol.
    pub protocol: Protocol,
    /// Every instance, in order (client `i` lives on `addrs[i % len]`).
    pub addrs: Vec<SocketAddr>,
    /// The session everyone joins.
    pub session: i64,
    /// (fleet-wide index, access token) of this worker's clients.
    pub clients: Vec<(usize, String)>,
    /// This worker's joins per second.
    pub join_rate: f64,
    /// How long a page visitor stays (buying included), ms.
    pub dwell_ms: u64,
    /// How long one reply may take, ms.
    pub reply_timeout_ms: u64,
    /// Connection attempts in flight at once.
    pub connect_concurrency: usize,
    /// Seed of the seat choices.
    pub seed: u64,
    /// Where the records go (JSON, one record a line).
    pub records: PathBuf,
}

/// What one client did and saw. Times are epoch ms.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    /// Fleet-wide index.
    pub index: usize,
    /// Its instance.
    pub home: usize,
    /// Connected before the join.
    pub connected: bool,
    /// When the join was sent and answered.
    pub join_sent: Option<u64>,
    /// When the join was answered.
    pub join_acked: Option<u64>,
    /// People ahead in the join ack (`None`: admitted at once, or no answer).
    pub ahead_at_join: Option<i64>,
    /// Admitted at once by the join (the first page).
    pub page_at_join: bool,
    /// (arrival, `ahead`) of every value shown after the join: pushes and resume answers, `-1`
    /// for admitted.
    pub shown: Vec<(u64, i64)>,
    /// Pushes about the line heard (`position` / `admitted`; legacy: `minus waiting people` /
    /// `ready to go`).
    pub messages: u64,
    /// When the admission was heard (a push or a resume answer).
    pub admitted: Option<u64>,
    /// The seat bought: (area, row, column).
    pub bought: Option<(i64, i64, i64)>,
    /// Why buying failed.
    pub buy_error: Option<String>,
    /// When the departure was sent.
    pub departed: Option<u64>,
    /// When the connection dropped under it.
    pub dropped: Option<u64>,
    /// When the resume answered, and what it said.
    pub resumed: Option<u64>,
    /// The resume answer's `state`.
    pub resume_state: Option<String>,
    /// Dead page visitors: when another instance first said the place was gone.
    pub freed: Option<u64>,
    /// The last `status`: `state`.
    pub final_state: Option<String>,
    /// The last `status`: `ahead`.
    pub final_ahead: Option<i64>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// A `join` or resume `status` ack said the client waits in line after its `admitted`
    /// push had arrived: an app trusting the ack would go back to a line it already left.
    #[serde(default)]
    pub stale_ack: bool,
}

/// The phase the parent ordered.
#[derive(Clone, Debug, Default)]
struct Phase {
    join_at: Option<u64>,
    admit_at: Option<u64>,
    hold: bool,
    status: bool,
    quit: bool,
}

/// How many clients are past each phase.
#[derive(Default)]
struct Counters {
    joined: AtomicUsize,
    statused: AtomicUsize,
}

/// Which phases one client has counted itself past (each once, also when it ends early).
struct Marks {
    counters: Arc<Counters>,
    joined: bool,
    statused: bool,
}

impl Marks {
    fn joined(&mut self) {
        if !std::mem::replace(&mut self.joined, true) {
            self.counters.joined.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn statused(&mut self) {
        if !std::mem::replace(&mut self.statused, true) {
            self.counters.statused.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Marks {
    fn drop(&mut self) {
        self.joined();
        self.statused();
    }
}

/// Now, in epoch ms.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Sleeps until epoch-ms `at`.
pub async fn sleep_until_ms(at: u64) {
    let now = now_ms();
    if at > now {
        tokio::time::sleep(Duration::from_millis(at - now)).await;
    }
}

/// A small deterministic generator for seat choices and departure spreads.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Runs one worker: connect, then follow the parent's orders.
pub async fn run(opts: &Opts) -> Result<bool> {
    let plan: Plan = serde_json::from_slice(&std::fs::read(&opts.plan)?)
        .map_err(|e| err(format!("plan {}: {e}", opts.plan.display())))?;
    let plan = Arc::new(plan);
    let limit = Duration::from_millis(plan.reply_timeout_ms);
    let ns = match plan.protocol {
        Protocol::App => QUEUE_NS,
        Protocol::Legacy => "/",
    };

    // Connect everyone to their home instance.
    let gate = Arc::new(Semaphore::new(plan.connect_concurrency.max(1)));
    let mut connecting = JoinSet::new();
    for (n, (i, token)) in plan.clients.iter().cloned().enumerate() {
        let (gate, plan) = (gate.clone(), plan.clone());
        connecting.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let addr = plan.addrs[i % plan.addrs.len()];
            (n, SioClient::connect_to(addr, ns, &token, limit).await)
        });
    }
    let mut clients: Vec<Option<SioClient>> = (0..plan.clients.len()).map(|_| None).collect();
    let mut failed = 0;
    let mut first_failure = None;
    while let Some(joined) = connecting.join_next().await {
        let (n, c) = joined.map_err(|e| err(e.to_string()))?;
        match c {
            Ok(c) => clients[n] = Some(c),
            Err(e) => {
                failed += 1;
                first_failure.get_or_insert(e.to_string());
            }
        }
    }
    if let Some(e) = first_failure {
        eprintln!("  worker: {failed} connections failed, the first: {e}");
    }
    println!("connected {} {failed}", plan.clients.len() - failed);

    let (phase_tx, phase_rx) = watch::channel(Phase::default());
    let status_gate = Arc::new(Semaphore::new(STATUS_IN_FLIGHT));
    let counters = Arc::new(Counters::default());
    let mut tasks = JoinSet::new();
    let total = clients.len();
    for (n, c) in clients.into_iter().enumerate() {
        let marks = Marks {
            counters: counters.clone(),
            joined: false,
            statused: false,
        };
        tasks.spawn(client(
            plan.clone(),
            n,
            c,
            phase_rx.clone(),
            marks,
            status_gate.clone(),
        ));
    }
    drop(phase_rx);

    // Orders from the parent; answers once every client is past the phase.
    let mut lines = stdin_lines();
    while let Some(line) = lines.recv().await {
        let mut words = line.split_whitespace();
        let (order, arg) = (words.next().unwrap_or(""), words.next());
        let at = arg.and_then(|a| a.parse::<u64>().ok());
        match order {
            "join" => {
                phase_tx.send_modify(|p| p.join_at = at);
                wait_count(&counters.joined, total).await;
                println!("joined");
            }
            "admit" => phase_tx.send_modify(|p| p.admit_at = at),
            "hold" => phase_tx.send_modify(|p| p.hold = true),
            "status" => {
                phase_tx.send_modify(|p| p.status = true);
                wait_count(&counters.statused, total).await;
                println!("statused");
            }
            "quit" => break,
            other => eprintln!("  worker: unknown order {other:?}"),
        }
    }
    phase_tx.send_modify(|p| p.quit = true);
    let mut records = Vec::with_capacity(total);
    let mut open = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (c, record) = joined.map_err(|e| err(e.to_string()))?;
        open.extend(c);
        records.push(record);
    }
    super::super::close_all(open).await;
    let mut text = String::new();
    for r in &records {
        text.push_str(&serde_json::to_string(r).map_err(|e| err(e.to_string()))?);
        text.push('\n');
    }
    std::fs::write(&plan.records, text)?;
    println!("done");
    Ok(true)
}

/// The lines of stdin, read on a thread of their own (a blocking read has no place on the
/// runtime's threads); the channel closes when stdin does.
fn stdin_lines() -> tokio::sync::mpsc::UnboundedReceiver<String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn wait_count(counter: &AtomicUsize, total: usize) {
    while counter.load(Ordering::SeqCst) < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where a client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// In line.
    Queued,
    /// On the buying page.
    Page,
    /// Gone (left, lost, removed or failed).
    Gone,
}

/// One client's whole life; returns its connection if still open (closed by the worker after
/// everyone's `status`) and its record.
async fn client(
    plan: Arc<Plan>,
    n: usize,
    c: Option<SioClient>,
    mut phase: watch::Receiver<Phase>,
    mut marks: Marks,
    gate: Arc<Semaphore>,
) -> (Option<SioClient>, Record) {
    let (index, token) = plan.clients[n].clone();
    let mut r = Record {
        index,
        home: index % plan.addrs.len(),
        connected: c.is_some(),
        ..Record::default()
    };
    let Some(mut c) = c else {
        r.error = Some("not connected".into());
        return (None, r);
    };
    let limit = Duration::from_millis(plan.reply_timeout_ms);
    let mut rng = Rng(plan.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));

    // Wait for the join order, then for this client's turn, answering heartbeats.
    let join_at = loop {
        if let Some(at) = phase.borrow().join_at {
            break at;
        }
        tokio::select! {
            e = c.next_event() => if let Err(e) = e {
                r.error = Some(format!("before the join: {e}"));
                return (None, r);
            },
            changed = phase.changed() => if changed.is_err() { return (Some(c), r) },
        }
    };
    let turn = join_at + (n as f64 * 1000.0 / plan.join_rate.max(1e-9)) as u64;
    loop {
        tokio::select! {
            () = sleep_until_ms(turn) => break,
            e = c.next_event() => if let Err(e) = e {
                r.error = Some(format!("before the join: {e}"));
                return (None, r);
            },
        }
    }
    r.join_sent = Some(now_ms());
    let mut resume_token = Value::Null;
    let mut role = match join(&plan, &mut c, limit).await {
        Ok((ahead, resume, admitted)) => {
            let at = now_ms();
            r.join_acked = Some(at);
            resume_token = resume;
            match ahead {
                None => {
                    r.page_at_join = true;
                    Role::Page
                }
                Some(a) => {
                    r.ahead_at_join = Some(a);
                    r.shown.push((at, a));
                    match admitted {
                        Some(heard) => heard_before_a_stale_ack(&mut r, heard, at),
                        None => Role::Queued,
                    }
                }
            }
        }
        Err(e) => {
            r.error = Some(e);
            Role::Gone
        }
    };
    marks.joined();

    let mut leave_at: Option<u64> = None;
    let mut shown_ahead = r.ahead_at_join.unwrap_or(0);
    while role != Role::Gone {
        let now = phase.borrow().clone();
        if now.quit {
            break;
        }
        // A page visitor buys once the admissions have begun (the first page) or as soon as it
        // is admitted, then stays until its dwell is up.
        if role == Role::Page && leave_at.is_none() {
            let since = match (r.admitted, now.admit_at) {
                (Some(admitted), _) => Some(admitted),
                (None, Some(admit_at)) => Some(admit_at + rng.next() % plan.dwell_ms.max(1)),
                (None, None) => None,
            };
            if let Some(since) = since {
                let leave = match r.admitted {
                    Some(_) => since + plan.dwell_ms,
                    None => since,
                };
                leave_at = Some(leave);
                if plan.protocol == Protocol::App {
                    match buy(&plan, &mut c, &token, &mut rng, limit).await {
                        Ok(seat) => r.bought = Some(seat),
                        Err(e) => r.buy_error = Some(e),
                    }
                }
            }
        }
        if now.status && !marks.statused {
            if plan.protocol == Protocol::App && role == Role::Queued {
                match final_status(&plan, &mut c, &gate, limit).await {
                    Ok(ack) => {
                        r.final_state = ack["state"].as_str().map(str::to_string);
                        r.final_ahead = ack["ahead"].as_i64();
                    }
                    Err(e) => r.error = Some(format!("final status: {e}")),
                }
            }
            marks.statused();
        }
        let leaving = leave_at.filter(|_| !now.hold && role == Role::Page);
        tokio::select! {
            e = c.next_event() => match e {
                Ok(e) => match (plan.protocol, e.name.as_str()) {
                    (Protocol::App, "position") => {
                        r.messages += 1;
                        if let Some(a) = e.arg()["ahead"].as_i64() {
                            r.shown.push((now_ms(), a));
                        }
                    }
                    (Protocol::Legacy, "minus waiting people") => {
                        r.messages += 1;
                        shown_ahead -= 1;
                        r.shown.push((now_ms(), shown_ahead.max(0)));
                    }
                    (Protocol::App, "admitted") | (Protocol::Legacy, "ready to go") => {
                        r.messages += 1;
                        let at = now_ms();
                        r.admitted = Some(at);
                        r.shown.push((at, -1));
                        role = Role::Page;
                    }
                    (_, "removed") => {
                        r.error = Some(format!("removed: {}", e.arg()));
                        role = Role::Gone;
                    }
                    _ => {}
                },
                Err(e) => {
                    let at = now_ms();
                    r.dropped = Some(at);
                    match (plan.protocol, role) {
                        (Protocol::App, Role::Queued) => {
                            match resume(&plan, &r, &token, &resume_token, limit).await {
                                Ok((c2, ack, admitted)) => {
                                    c = c2;
                                    let at = now_ms();
                                    r.resumed = Some(at);
                                    let state = ack["state"].as_str().unwrap_or("?").to_string();
                                    resume_token = ack["resume"].clone();
                                    if let Some(heard) = admitted.filter(|_| state != "admitted") {
                                        role = heard_before_a_stale_ack(&mut r, heard, at);
                                    }
                                    match state.as_str() {
                                        _ if role == Role::Page => {}
                                        "queued" => r.shown.push((at, ack["ahead"].as_i64().unwrap_or(-2))),
                                        "admitted" => {
                                            r.admitted = Some(at);
                                            r.shown.push((at, -1));
                                            role = Role::Page;
                                        }
                                        _ => role = Role::Gone,
                                    }
                                    r.resume_state = Some(state);
                                }
                                Err(e) => {
                                    r.error = Some(format!("resume: {e}"));
                                    return (None, r);
                                }
                            }
                        }
                        (Protocol::App, Role::Page) if r.departed.is_none() => {
                            r.freed = wait_freed(&plan, &r, &token, limit).await;
                            return (None, r);
                        }
                        _ => {
                            r.error = Some(format!("dropped: {e}"));
                            return (None, r);
                        }
                    }
                }
            },
            () = sleep_until_ms(leaving.unwrap_or(u64::MAX)), if leaving.is_some() => {
                r.departed = Some(now_ms());
                if plan.protocol == Protocol::App {
                    let _ = app_request(&mut c, QUEUE_NS, "leave", &session(&plan), limit).await;
                }
                // Legacy: the disconnect is the departure.
                c.close().await;
                return (None, r);
            },
            changed = phase.changed() => if changed.is_err() { break },
        }
    }
    (Some(c), r)
}

/// The last `status`, a bounded number in flight per worker (a hundred thousand at once only
/// measure the storage timeout), asked again after an `internal` answer (it changes nothing).
async fn final_status(
    plan: &Plan,
    c: &mut SioClient,
    gate: &Semaphore,
    limit: Duration,
) -> std::result::Result<Value, String> {
    let mut last = String::new();
    for attempt in 0..STATUS_ATTEMPTS {
        let answer = {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            app_request(c, QUEUE_NS, "status", &session(plan), limit).await
        };
        match answer {
            Ok(ack) => return Ok(ack),
            Err(e) if e.ends_with("internal") => last = e,
            Err(e) => return Err(e),
        }
        tokio::time::sleep(Duration::from_millis(500 * (attempt as u64 + 1))).await;
    }
    Err(last)
}

fn session(plan: &Plan) -> Value {
    json!({"sessionId": plan.session})
}

/// `admitted` arrived at `heard`, before an ack (answered at `at`) that said the client still
/// waits: it counts as heard, and the ack as stale. The client is on the page.
fn heard_before_a_stale_ack(r: &mut Record, heard: u64, at: u64) -> Role {
    r.stale_ack = true;
    r.messages += 1;
    r.admitted = Some(heard);
    r.shown.push((at, -1));
    Role::Page
}

/// Joins the line: `None` when admitted at once, else the people ahead; with the resume token,
/// and when an `admitted` push arrived before the ack.
async fn join(
    plan: &Plan,
    c: &mut SioClient,
    limit: Duration,
) -> std::result::Result<(Option<i64>, Value, Option<u64>), String> {
    match plan.protocol {
        Protocol::App => {
            let (ack, admitted) =
                app_request_noting(c, QUEUE_NS, "join", &session(plan), limit, "admitted").await?;
            let resume = ack["resume"].clone();
            match (ack["state"].as_str(), ack["ahead"].as_i64()) {
                (Some("admitted"), _) => Ok((None, resume, None)),
                (Some("queued"), Some(a)) => Ok((Some(a), resume, admitted)),
                _ => Err(format!("join: unexpected ack {ack}")),
            }
        }
        Protocol::Legacy => {
            let reply = super::super::check_limit(c, plan.session, limit)
                .await
                .map_err(|e| format!("check limit: {e}"))?;
            let arg = reply.arg();
            match (arg["pass"].as_bool(), arg["waitPeople"].as_i64()) {
                (Some(true), _) => Ok((None, Value::Null, None)),
                // `waitPeople` is the 1-based place.
                (Some(false), Some(place)) => Ok((Some(place - 1), Value::Null, None)),
                _ => Err(format!("check limit: {arg}")),
            }
        }
    }
}

/// Buys one seat on the app protocol: `/event-{session}` on the same WebSocket, `watch` a random
/// area, then `select`, `lock` and `order` a seat it shows empty (another seat when someone
/// was faster).
async fn buy(
    plan: &Plan,
    c: &mut SioClient,
    token: &str,
    rng: &mut Rng,
    limit: Duration,
) -> std::result::Result<(i64, i64, i64), String> {
    let ns = event_ns(plan.session);
    tokio::time::timeout(limit, c.join_namespace(&ns, token))
        .await
        .map_err(|_| "connect: timed out".to_string())?
        .map_err(|e| format!("connect {ns}: {e}"))?;
    for _ in 0..BUY_ATTEMPTS {
        let area = (rng.next() % AREAS + 1) as i64;
        let view = app_request(c, &ns, "watch", &json!({"areaId": area}), limit).await?;
        let empty: Vec<(i64, i64)> = view["seats"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["status"] == "empty")
            .filter_map(|s| Some((s["row"].as_i64()?, s["column"].as_i64()?)))
            .collect();
        if empty.is_empty() {
            continue;
        }
        let (row, column) = empty[(rng.next() % empty.len() as u64) as usize];
        let seat = json!({"areaId": area, "row": row, "column": column});
        match app_request(c, &ns, "select", &seat, limit).await {
            Ok(_) => {}
            Err(e) if e.ends_with("seat_taken") => continue,
            Err(e) => return Err(e),
        }
        let seats = json!({"areaId": area, "seats": [{"row": row, "column": column}]});
        app_request(c, &ns, "lock", &seats, limit).await?;
        app_request(c, &ns, "order", &seats, limit).await?;
        return Ok((area, row, column));
    }
    Err("no free seat found".into())
}

/// The instances a client of `home` tries when its own is gone, in turn.
fn others(plan: &Plan, r: &Record) -> Vec<usize> {
    let n = plan.addrs.len();
    (1..n)
        .map(|k| (r.home + (r.index + k) % (n - 1) + 1) % n)
        .filter(|i| *i != r.home)
        .collect()
}

/// Reconnects `/queue` through another instance with the resume token and asks `status`; also
/// when an `admitted` push arrived before its ack.
async fn resume(
    plan: &Plan,
    r: &Record,
    token: &str,
    resume_token: &Value,
    limit: Duration,
) -> std::result::Result<(SioClient, Value, Option<u64>), String> {
    let auth = json!({"token": format!("Bearer {token}"), "resume": resume_token});
    let mut last = String::from("no other instance");
    for round in 0..3 {
        for alt in others(plan, r) {
            match SioClient::connect_with(plan.addrs[alt], QUEUE_NS, auth.clone(), limit).await {
                Ok(mut c) => {
                    let payload = session(plan);
                    let status =
                        app_request_noting(&mut c, QUEUE_NS, "status", &payload, limit, "admitted");
                    match status.await {
                        Ok((ack, admitted)) => return Ok((c, ack, admitted)),
                        Err(e) => last = e,
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(200 * (round + 1))).await;
    }
    Err(last)
}

/// A page visitor whose instance died and who does not come back: asks another instance, with
/// a fresh connection (no resume), until its place is gone; returns when it first was.
async fn wait_freed(plan: &Plan, r: &Record, token: &str, limit: Duration) -> Option<u64> {
    let alt = *others(plan, r).first()?;
    let mut c = SioClient::connect_to(plan.addrs[alt], QUEUE_NS, token, limit)
        .await
        .ok()?;
    let give_up = now_ms() + FREED_GIVE_UP.as_millis() as u64;
    let freed = loop {
        if now_ms() > give_up {
            break None;
        }
        match app_request(&mut c, QUEUE_NS, "status", &session(plan), limit).await {
            Ok(ack) if ack["state"] != "admitted" => break Some(now_ms()),
            Ok(_) => {}
            Err(_) => break None,
        }
        tokio::time::sleep(FREED_POLL).await;
    };
    c.close().await;
    freed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_instances_clients_spread_over_every_other_instance() {
        let plan = Plan {
            protocol: Protocol::App,
            addrs: (0..6)
                .map(|p| SocketAddr::from(([127, 0, 0, 1], 4000 + p)))
                .collect(),
            session: 1,
            clients: Vec::new(),
            join_rate: 1.0,
            dwell_ms: 1,
            reply_timeout_ms: 1,
            connect_concurrency: 1,
            seed: 1,
            records: PathBuf::new(),
        };
        let mut first_choice = [0usize; 6];
        for index in (5..600).step_by(6) {
            let r = Record {
                index,
                home: 5,
                ..Record::default()
            };
            let alts = others(&plan, &r);
            assert_eq!(alts.len(), 5, "every other instance, once: {alts:?}");
            assert!(!alts.contains(&5));
            first_choice[alts[0]] += 1;
        }
        assert_eq!(first_choice[5], 0);
        assert!(
            first_choice[..5].iter().all(|n| *n >= 15),
            "the first choices are spread: {first_choice:?}"
        );
    }
}
