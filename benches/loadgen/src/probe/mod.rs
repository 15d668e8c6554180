//! Latency probes with the real frontend client (`--js-probes`). `benches/probe/probe.mjs` drives
//! the server with socket.io-client 4.5.1, imported from `tests/js/node_modules`. It runs in its
//! own Node process beside a scenario's load and uses its own accounts. Stopped with SIGTERM, it
//! prints one JSON line. [`figures`] turns that line into the report's section.

pub mod figures;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Result, err};
use crate::http::Account;

pub use figures::{Figures, HEADING};

/// The frontend's client version; the probe refuses to stand in for it with another one.
const CLIENT_VERSION: &str = "4.5.1";
/// How long the probe may take to sign in its users and report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The probe's grace for samples in flight after SIGTERM (`--grace-ms`), plus margin to exit.
const GRACE: Duration = Duration::from_secs(5);
const EXIT_MARGIN: Duration = Duration::from_secs(10);

/// Where `node`, the probe script and the installed client are.
#[derive(Clone, Debug)]
pub struct Setup {
    node: PathBuf,
    script: PathBuf,
    client_dir: PathBuf,
}

impl Setup {
    /// Finds `node` (version 20 or later) on `PATH` and `benches/probe/probe.mjs`, with
    /// socket.io-client 4.5.1 installed in `tests/js/node_modules`. The repository is the
    /// current directory or the one this binary was built from. Fails with what is missing.
    pub async fn locate() -> Result<Self> {
        let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = [PathBuf::from("."), built_in]
            .into_iter()
            .find(|r| r.join("benches/probe/probe.mjs").is_file())
            .ok_or_else(|| {
                err("--js-probes: benches/probe/probe.mjs not found (run from the repository)")
            })?;
        let setup = Self {
            node: PathBuf::from("node"),
            script: root.join("benches/probe/probe.mjs"),
            client_dir: root.join("tests/js"),
        };
        let version = Command::new(&setup.node)
            .arg("--version")
            .output()
            .await
            .map_err(|e| {
                err(format!(
                    "--js-probes needs `node` (20 or later) on PATH: {e}"
                ))
            })?;
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let major: u32 = version
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        if major < 20 {
            return Err(err(format!(
                "--js-probes needs node 20 or later, found {version:?}"
            )));
        }
        let manifest = setup
            .client_dir
            .join("node_modules/socket.io-client/package.json");
        let installed = std::fs::read_to_string(&manifest)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_string));
        match installed.as_deref() {
            Some(CLIENT_VERSION) => Ok(setup),
            Some(other) => Err(err(format!(
                "--js-probes: {} has socket.io-client {other}, not the frontend's {CLIENT_VERSION}: \
                 run `npm ci --prefix tests/js`",
                manifest.display()
            ))),
            None => Err(err(format!(
                "--js-probes needs socket.io-client installed in {}: run `npm ci --prefix tests/js`",
                setup.client_dir.join("node_modules").display()
            ))),
        }
    }

    /// Starts a probe against `addr` and waits until it reports ready (its users are signed in
    /// and it is measuring).
    pub async fn start(&self, addr: SocketAddr, spec: &Spec<'_>) -> Result<Probe> {
        let mut cmd = Command::new(&self.node);
        cmd.arg(&self.script)
            .args(["--addr", &addr.to_string(), "--kind", spec.kind.name()])
            .args(["--session", &spec.session.to_string()])
            .args(["--area", &spec.area.to_string()])
            .args(["--seat", &format!("{}:{}", spec.seat.0, spec.seat.1)])
            .args(["--interval-ms", &spec.interval_ms.to_string()])
            .args(["--duration-s", &spec.max_duration.as_secs().to_string()])
            .args(["--grace-ms", &GRACE.as_millis().to_string()])
            .arg("--client-dir")
            .arg(&self.client_dir);
        for account in spec.accounts {
            cmd.args(["--token", &account.token]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| err(format!("starting the JS probe: {e}")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| err("JS probe: no stdout"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| err("JS probe: no stderr"))?;
        let stdout = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text).await;
            text
        });
        let (ready_tx, ready_rx) = oneshot::channel();
        let stderr = tokio::spawn(relay_stderr(stderr, ready_tx));
        let ready = tokio::time::timeout(READY_TIMEOUT, async {
            tokio::select! {
                r = ready_rx => r.is_ok(),
                _ = child.wait() => false,
            }
        })
        .await
        .unwrap_or(false);
        let probe = Probe {
            child,
            stdout,
            stderr,
        };
        if ready {
            return Ok(probe);
        }
        let why = match probe.stop().await {
            Ok(out) => out
                .setup_error
                .unwrap_or_else(|| "it did not report ready".into()),
            Err(e) => e.0,
        };
        Err(err(format!(
            "the JS {} probe did not start: {why}",
            spec.kind.name()
        )))
    }
}

/// What a probe measures (`--kind` of probe.mjs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The buy click: validation, a new socket, `check limit` until its reply.
    Join,
    /// `select seat` / `unselect seat` cycles on the buying page.
    Seat,
    /// Queued users timestamping their queue news.
    Position,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Join => "join",
            Kind::Seat => "seat",
            Kind::Position => "position",
        }
    }
}

/// One probe's settings.
pub struct Spec<'a> {
    /// What it measures.
    pub kind: Kind,
    /// Its own accounts (join: a pool; seat: pairs of watcher and selector; position: queued).
    pub accounts: &'a [Account],
    /// The session it joins.
    pub session: i64,
    /// Seat probes: the first lane's area (lane `i` uses `area + i`).
    pub area: i64,
    /// Seat probes: the (row, column) each lane selects.
    pub seat: (i64, i64),
    /// Join: one join started per interval; seat: pause between cycles.
    pub interval_ms: u64,
    /// Bound on the measuring; the scenario normally stops it sooner.
    pub max_duration: Duration,
}

/// A running probe.
pub struct Probe {
    child: Child,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<Vec<String>>,
}

impl Probe {
    /// Stops it (SIGTERM: it finishes the samples in flight for up to 5 s) and returns its
    /// figures.
    pub async fn stop(mut self) -> Result<Output> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(GRACE + EXIT_MARGIN, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let text = self.stdout.await.unwrap_or_default();
        let tail = self.stderr.await.unwrap_or_default();
        let line = text.lines().rev().find(|l| !l.trim().is_empty());
        let line = line.ok_or_else(|| {
            err(format!(
                "the JS probe printed no result; its last words: {}",
                tail.join(" | ")
            ))
        })?;
        let raw: Value = serde_json::from_str(line)
            .map_err(|e| err(format!("the JS probe's result is not JSON ({e}): {line}")))?;
        let mut out: Output = serde_json::from_value(raw.clone())
            .map_err(|e| err(format!("the JS probe's result: {e}")))?;
        out.raw = raw;
        Ok(out)
    }
}

/// Shows the probe's stderr lines as they come and signals its ready line; returns the last few
/// lines (for errors).
async fn relay_stderr(
    stderr: tokio::process::ChildStderr,
    ready: oneshot::Sender<()>,
) -> Vec<String> {
    let mut ready = Some(ready);
    let mut tail = Vec::new();
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        eprintln!("  js {line}");
        if line.starts_with("probe: ready")
            && let Some(tx) = ready.take()
        {
            let _ = tx.send(());
        }
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    tail
}

/// What probe.mjs prints (the fields the report uses; the rest stays in `raw`).
#[derive(Debug, Default, Deserialize)]
pub struct Output {
    /// What the top-level percentiles measure.
    pub metric: String,
    /// Errors over the whole run (setup included).
    pub errors: usize,
    /// Distinct error messages, with counts.
    pub error_examples: Vec<String>,
    /// Samples still in flight when it stopped (also counted as errors).
    #[serde(default)]
    pub unfinished: usize,
    /// Join: ticks with no free account.
    #[serde(default)]
    pub skipped: usize,
    /// Why the setup failed, if it did.
    pub setup_error: Option<String>,
    /// Every sample.
    #[serde(default)]
    pub series: Vec<Point>,
    /// Position: every queue notice.
    #[serde(default)]
    pub events: Vec<Notice>,
    /// Position: each user's place when it joined.
    #[serde(default)]
    pub sockets: Vec<Queued>,
    /// Versions of the client stack.
    #[serde(default)]
    pub client: BTreeMap<String, Option<String>>,
    /// Node's version.
    #[serde(default)]
    pub node: String,
    /// Socket.IO transports (`default` = polling, then upgrade to websocket).
    #[serde(default)]
    pub transports: String,
    /// CPU time of the probe process.
    #[serde(default)]
    pub cpu_s: f64,
    /// The probe's event-loop lag (its own scheduling delay on the shared cores).
    #[serde(default)]
    pub event_loop_delay_ms: Lag,
    /// The whole line, for the JSON report.
    #[serde(skip)]
    pub raw: Value,
}

/// One sample: its start (epoch ms), latency or error, and phases.
#[derive(Debug, Deserialize)]
pub struct Point {
    /// Start, ms since the Unix epoch.
    pub t: f64,
    /// Latency (ms); `None` when it failed.
    pub ms: Option<f64>,
    /// Phases of the sample (ms).
    #[serde(default)]
    pub parts: BTreeMap<String, f64>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// One queue notice a position probe heard.
#[derive(Debug, Deserialize)]
pub struct Notice {
    /// Which of its users.
    pub socket: usize,
    /// `minus waiting people` or `ready to go`.
    pub name: String,
    /// Arrival, ms since the Unix epoch.
    pub t: f64,
}

/// A position probe's user.
#[derive(Debug, Deserialize)]
pub struct Queued {
    /// `waitPeople` of its `check limit` reply.
    pub wait_people: Option<i64>,
    /// Whether it passed straight to the page.
    pub pass: Option<bool>,
    /// Its join (validation + connect + check limit), ms.
    pub join_ms: Option<f64>,
}

/// Event-loop lag percentiles (ms).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct Lag {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Milliseconds since the Unix epoch at `at`: the probe stamps its samples with the wall clock.
pub fn epoch_ms(at: Instant) -> f64 {
    let now = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    if at >= now {
        wall + (at - now).as_secs_f64() * 1000.0
    } else {
        wall - (now - at).as_secs_f64() * 1000.0
    }
}

/// A session in the seed (1–9 are on sale) that the scenario does not use, for probes that must
/// not change the scenario's queue or seats.
pub fn spare_session(used: &[i64]) -> i64 {
    (1..=9).rev().find(|s| !used.contains(s)).unwrap_or(9)
}
