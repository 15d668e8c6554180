//! The scenarios and what they share: the run context, connecting many clients at once, waiting
//! for a named event, and the machine description every report carries.

pub mod deploy;
pub mod disconnect_storm;
pub mod estimate;
pub mod fanout;
pub mod fanout_app;
pub mod fleet;
pub mod idle;
pub mod join_storm;
pub mod scaling;
pub mod seat_rush;
pub mod smoke;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Result, err};
use crate::http::{Account, Api};
use crate::progress::Progress;
use crate::server::{Server, Target};
use crate::sio::{Event, SioClient, SioError};

/// Settings every scenario shares.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The server under test.
    pub target: Target,
    /// Where reports go.
    pub out: PathBuf,
    /// Unique per run, so sign-ups never collide with earlier runs on a kept server.
    pub tag: String,
    /// Connection attempts in flight at once (the server's listen backlog is the natural bound).
    pub connect_concurrency: usize,
    /// HTTP requests in flight at once (each is a socket).
    pub http_concurrency: usize,
    /// How long one reply may take before it counts as unanswered.
    pub reply_timeout: Duration,
    /// Record the server with `perf` during each measured phase, into this directory.
    pub perf: Option<PathBuf>,
    /// Count the server's instructions with callgrind during each measured phase (`--callgrind`).
    pub callgrind: bool,
    /// Run real-JS-client probes beside the load (`--js-probes`).
    pub js_probes: Option<crate::probe::Setup>,
}

impl Ctx {
    /// Opens the server for a scenario and an HTTP client for it.
    pub async fn server(&self, queue_limit: u32, name: &str) -> Result<(Server, Api)> {
        // Server logs stay out of the report folder: a storm can write millions of lines.
        let logs = std::env::temp_dir().join(format!("loadgen-{}", self.tag));
        let server = Server::open(&self.target, queue_limit, &logs, name).await?;
        let api = Api::new(server.addr, self.http_concurrency)?;
        Ok((server, api))
    }

    /// Signs up `n` accounts for `what`.
    pub async fn accounts(&self, api: &Api, what: &str, n: usize) -> Result<Vec<Account>> {
        api.sign_up_many(&format!("{}-{what}", self.tag), n, 16)
            .await
    }

    /// Starts `perf` on the server when `--perf` was given, or callgrind's counting with
    /// `--callgrind`.
    pub async fn profile(&self, server: &Server, name: &str) -> crate::server::Profiler {
        match self.callgrind {
            true => crate::server::Profiler::callgrind(server.pid, name).await,
            false => crate::server::Profiler::start(self.perf.as_deref(), server.pid, name).await,
        }
    }

    /// Fails early when `connections` sockets would not fit this process's open-file limit.
    pub fn fits(&self, connections: usize) -> Result<()> {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
        let need = connections as u64 + self.http_concurrency as u64 + 64;
        if need > soft {
            return Err(err(format!(
                "{connections} connections need ~{need} open files; this process may hold {soft} \
                 (server and load generator each hold one per connection): lower the count"
            )));
        }
        Ok(())
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Clients connected by [`connect_all`], in account order (`None` where connecting failed).
pub struct Connected {
    /// The clients.
    pub clients: Vec<Option<SioClient>>,
    /// Connect latency of each successful client (TCP + WebSocket + namespace), ms.
    pub latencies: Vec<f64>,
    /// Why the others failed.
    pub failures: Vec<String>,
    /// Wall time of the whole phase, s.
    pub wall_s: f64,
}

impl Connected {
    /// Every client, with its index; an error when any of them failed to connect (scenarios
    /// whose figures need the whole crowd).
    pub fn every_one(self) -> Result<Vec<(usize, SioClient)>> {
        let wanted = self.clients.len();
        let clients = self.take();
        if clients.len() != wanted {
            return Err(err(format!(
                "only {} of {wanted} clients connected",
                clients.len()
            )));
        }
        Ok(clients)
    }

    /// The clients that connected, with their index.
    pub fn take(self) -> Vec<(usize, SioClient)> {
        self.clients
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|c| (i, c)))
            .collect()
    }
}

/// Connects one client per account, `concurrency` attempts in flight at once; client `i`
/// goes to `addrs[i % addrs.len()]` (several instances share the clients round-robin).
pub async fn connect_all(
    ctx: &Ctx,
    addrs: &[std::net::SocketAddr],
    accounts: &[Account],
    label: &str,
) -> Result<Connected> {
    connect_all_to(ctx, addrs, accounts, "/", label).await
}

/// [`connect_all`] to the namespace `ns` (the app protocol's `/queue`, or `/` for the legacy one).
pub async fn connect_all_to(
    ctx: &Ctx,
    addrs: &[std::net::SocketAddr],
    accounts: &[Account],
    ns: &str,
    label: &str,
) -> Result<Connected> {
    ctx.fits(accounts.len())?;
    if addrs.is_empty() {
        return Err(err("no server address"));
    }
    let progress = Progress::start(label, accounts.len());
    let gate = Arc::new(Semaphore::new(ctx.connect_concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (i, account) in accounts.iter().enumerate() {
        let (gate, token, addr, progress) = (
            gate.clone(),
            account.token.clone(),
            addrs[i % addrs.len()],
            progress.clone(),
        );
        let (limit, ns) = (ctx.reply_timeout, ns.to_string());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let t = Instant::now();
            let client = SioClient::connect_to(addr, &ns, &token, limit).await;
            progress.inc();
            (i, client, ms(t.elapsed()))
        });
    }
    let mut connected = Connected {
        clients: (0..accounts.len()).map(|_| None).collect(),
        latencies: Vec::with_capacity(accounts.len()),
        failures: Vec::new(),
        wall_s: 0.0,
    };
    while let Some(joined) = tasks.join_next().await {
        let (i, client, latency) = joined.map_err(|e| err(e.to_string()))?;
        match client {
            Ok(c) => {
                connected.clients[i] = Some(c);
                connected.latencies.push(latency);
            }
            Err(e) => connected.failures.push(format!("client {i}: {e}")),
        }
    }
    connected.wall_s = started.elapsed().as_secs_f64();
    progress.finish();
    Ok(connected)
}

/// Waits for the event `name`, skipping others; `Timeout` after `limit`.
pub async fn wait_for(
    client: &mut SioClient,
    name: &str,
    limit: Duration,
) -> Result<Event, SioError> {
    tokio::time::timeout(limit, client.next_event_named(name))
        .await
        .map_err(|_| SioError::Timeout)?
}

/// `check limit` for `session` and its reply.
pub async fn check_limit(
    client: &mut SioClient,
    session: i64,
    limit: Duration,
) -> Result<Event, SioError> {
    client.emit("check limit", &json!(session)).await?;
    wait_for(client, "check limit", limit).await
}

/// Which protocol a scenario's clients speak.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// The original frontend's, on the default namespace (contract.md).
    Legacy,
    /// The app protocol's `/queue` and `/event-{id}` namespaces with acks (protocol-v2.md).
    App,
}

/// The app protocol's `/queue` namespace.
pub const QUEUE_NS: &str = "/queue";

/// The app protocol's buying-page namespace of `session`.
pub fn event_ns(session: i64) -> String {
    format!("/event-{session}")
}

/// Sends `event` on the app namespace `ns` and waits (at most `limit`) for its ack, which must
/// be `{ok: true, …}`; an `{ok: false, error: {code}}` ack is an error naming the code.
pub async fn app_request(
    client: &mut SioClient,
    ns: &str,
    event: &str,
    payload: &Value,
    limit: Duration,
) -> Result<Value, String> {
    let (ack, _) = app_request_noting(client, ns, event, payload, limit, "").await?;
    Ok(ack)
}

/// [`app_request`], also telling whether a push named `noted` arrived before the ack (and
/// when, in ms since the epoch): an ack that contradicts a push sent before it is a stale one.
pub async fn app_request_noting(
    client: &mut SioClient,
    ns: &str,
    event: &str,
    payload: &Value,
    limit: Duration,
    noted: &str,
) -> Result<(Value, Option<u64>), String> {
    let mut heard = None;
    let ack = tokio::time::timeout(
        limit,
        client.request(ns, event, payload, noted, &mut |_, _| {
            heard.get_or_insert_with(fleet::worker::now_ms);
        }),
    )
    .await
    .map_err(|_| format!("{event}: {}", SioError::Timeout))?
    .map_err(|e| format!("{event}: {e}"))?;
    Ok((app_ok(event, ack)?, heard))
}

/// The ack of an app event when it says `ok`, else its error code as the error.
pub fn app_ok(event: &str, ack: Value) -> Result<Value, String> {
    match ack["ok"].as_bool() {
        Some(true) => Ok(ack),
        _ => Err(format!(
            "{event}: {}",
            ack["error"]["code"]
                .as_str()
                .map_or_else(|| ack.to_string(), str::to_string)
        )),
    }
}

/// Closes every client at once.
pub async fn close_all(clients: Vec<SioClient>) {
    let mut tasks = JoinSet::new();
    for c in clients {
        tasks.spawn(c.close());
    }
    while tasks.join_next().await.is_some() {}
}

/// The machine and software a report was measured on.
pub fn machine(server: &Server) -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let meminfo = read("/proc/meminfo");
    let mem_total_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .unwrap_or("?")
        .to_string();
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu_model,
        "mem_total_kb": mem_total_kb,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "loadavg_at_start": read("/proc/loadavg").trim(),
        "server_addr": server.addr.to_string(),
        "server_pid": server.pid,
        "loadgen_version": env!("CARGO_PKG_VERSION"),
    })
}
