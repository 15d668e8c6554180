//! The server under test: started fresh from its binary (so the run knows its pid and settings)
//! or attached to by address and pid. Its CPU time and memory come from [`crate::procstat`].

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::error::{Result, err};
use crate::http::Api;
pub use crate::procstat::{ProcStat, Profiler, Sample, Sampler, ThreadCpu};

/// The JWT secret of servers the load generator starts (tokens come from sign-up anyway).
const JWT_SECRET: &str = "loadgen-secret-not-for-production";

/// How to reach the server under test.
#[derive(Clone, Debug, clap::Args)]
pub struct Target {
    /// Start a fresh server from this binary for each run (in-memory SQLite, bcrypt cost 4,
    /// RUST_LOG=warn, the scenario's queue limit). Recommended: the run then knows the pid.
    #[arg(long, global = true)]
    pub server_bin: Option<PathBuf>,
    /// Extra `KEY=VALUE` environment for a started server (repeatable).
    #[arg(long = "server-env", global = true)]
    pub server_env: Vec<String>,
    /// An already running server to use instead (loopback only). It must have been started
    /// with the queue limit the scenario prints.
    #[arg(long, global = true, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Pid of the already running server, for CPU and memory figures.
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Pin a started server to these CPUs (`taskset -c LIST`).
    #[arg(long, global = true)]
    pub server_cpus: Option<String>,
}

/// A server for one run.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its pid, when known.
    pub pid: Option<u32>,
    child: Option<Child>,
}

impl Server {
    /// Starts a fresh server (when `--server-bin` is given) with `queue_limit`, or attaches to
    /// the running one. Waits until `/healthz` answers. A started server logs to
    /// `<log_dir>/<name>.server.log`.
    pub async fn open(
        target: &Target,
        queue_limit: u32,
        log_dir: &Path,
        name: &str,
    ) -> Result<Self> {
        let server = match &target.server_bin {
            Some(bin) => Self::start(target, bin, queue_limit, log_dir, name)?,
            None => {
                eprintln!(
                    "using the running server at {} (it must run with TICKETCLUB_QUEUE_LIMIT={queue_limit})",
                    target.addr
                );
                Self {
                    addr: target.addr,
                    pid: target.server_pid,
                    child: None,
                }
            }
        };
        if !server.addr.ip().is_loopback() {
            return Err(err(format!(
                "{} is not a loopback address: refusing",
                server.addr
            )));
        }
        let api = Api::new(server.addr, 4)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !api.healthy().await {
            if Instant::now() > deadline {
                return Err(err(format!(
                    "the server at {} did not become healthy",
                    server.addr
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn start(
        target: &Target,
        bin: &Path,
        queue_limit: u32,
        log_dir: &Path,
        name: &str,
    ) -> Result<Self> {
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::create_dir_all(log_dir)?;
        let log_path = log_dir.join(format!("{name}.server.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = match &target.server_cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.env("TICKETCLUB_ADDR", addr.to_string())
            .env("DATABASE_URL", "sqlite::memory:")
            .env("TICKETCLUB_QUEUE_LIMIT", queue_limit.to_string())
            .env("TICKETCLUB_JWT_SECRET", JWT_SECRET)
            .env("TICKETCLUB_BCRYPT_COST", "4")
            // Every virtual buyer signs in from this one address.
            .env("TICKETCLUB_SIGNIN_PER_ACCOUNT", "100000")
            .env("TICKETCLUB_SIGNIN_PER_ADDRESS", "1000000")
            // ...and opens every socket from it.
            .env("TICKETCLUB_SOCKETS_PER_ADDRESS", "0")
            .env("TICKETCLUB_SHUTDOWN_GRACE", "2")
            .env("RUST_LOG", "warn")
            .env_remove("REDIS_URL");
        for kv in &target.server_env {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| err(format!("--server-env {kv:?}: expected KEY=VALUE")))?;
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| err(format!("starting {}: {e}", bin.display())))?;
        let pid = child.id();
        Ok(Self {
            addr,
            pid,
            child: Some(child),
        })
    }

    /// Waits until the server has used no CPU for `quiet` (at most 30 s): the work that
    /// departed clients caused is done.
    pub async fn settle(&self, quiet: Duration) {
        let Some(pid) = self.pid else { return };
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = ProcStat::read(pid).map_or(0.0, |s| s.cpu_s);
        let mut still_since = Instant::now();
        while Instant::now() < deadline && still_since.elapsed() < quiet {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = ProcStat::read(pid).map_or(0.0, |s| s.cpu_s);
            if now - last > 0.015 {
                still_since = Instant::now();
            }
            last = now;
        }
    }

    /// Stops a server started here once it is idle (SIGTERM, then SIGKILL after 5 s); leaves
    /// others running. Waiting for idle matters: a shutdown in the middle of a drain makes the
    /// server's late disconnect handlers panic (`default namespace not found`).
    pub async fn stop(mut self) {
        if self.child.is_none() {
            return;
        }
        self.settle(Duration::from_millis(300)).await;
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }

    /// Kills a server started here with SIGKILL (no shutdown, no handover: a crash) and reaps
    /// it; leaves others running.
    pub async fn kill9(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Current figures of the server process.
    pub fn stat(&self) -> Option<ProcStat> {
        self.pid.and_then(ProcStat::read)
    }

    /// The pid as a list (empty when unknown), for [`Sampler::start`].
    pub fn pids(&self) -> Vec<u32> {
        self.pid.into_iter().collect()
    }
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}
