//! A `redis-server` of the test's own on a free port, so a test can kill, pause and restart it
//! without touching the Redis other tests (and other people) share.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One private Redis process; killed when dropped.
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts `redis-server` (no persistence) on a free port and waits until it answers.
    pub fn start() -> OwnRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = OwnRedis { port, child: None };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id (for scenarios that signal it themselves).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "own redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True when the server answers PING.
    fn answers(&self) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    }

    /// Runs `redis-cli` against this server; its standard output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every key in the server, each with its `TTL` (-1: none).
    pub fn keys_with_ttl(&self) -> Vec<(String, i64)> {
        self.cli(&["--scan"])
            .lines()
            .filter(|k| !k.is_empty())
            .map(|k| {
                let ttl = self.cli(&["ttl", k]).trim().parse().unwrap_or(-1);
                (k.to_string(), ttl)
            })
            .collect()
    }

    /// `kill -9`: the server dies with everything in it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts an empty server again on the same port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP: the server keeps its connections but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The armed pattern and how long to hold the replies of the connection that sends it.
type Trigger = std::sync::Arc<std::sync::Mutex<Option<(Vec<u8>, Duration)>>>;

/// A TCP forwarder in front of a Redis that can lose one reply in a slow network: once
/// [`armed`](HeldReplies::arm) with a pattern (a script's SHA, say), the connection whose
/// request names it has every reply held back for a while. Redis runs the command at once;
/// its client hears nothing until its own timeout has passed.
pub struct HeldReplies {
    url: String,
    armed: Trigger,
    accept: tokio::task::AbortHandle,
}

impl HeldReplies {
    /// Listens on a free port and forwards every connection to `redis`.
    pub async fn before(redis: &OwnRedis) -> HeldReplies {
        let upstream = format!("127.0.0.1:{}", redis.port);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("forwarder binds");
        let url = format!(
            "redis://{}",
            listener.local_addr().expect("forwarder address")
        );
        let armed: Trigger = std::sync::Arc::default();
        let shared = armed.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if let Ok(server) = tokio::net::TcpStream::connect(&upstream).await {
                    tokio::spawn(forward(client, server, shared.clone()));
                }
            }
        })
        .abort_handle();
        HeldReplies { url, armed, accept }
    }

    /// `redis://` and the forwarder's address.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The next request (on any connection) that contains `pattern` has its connection's
    /// replies held for `hold`; once.
    pub fn arm(&self, pattern: &str, hold: Duration) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((pattern.as_bytes().to_vec(), hold));
    }
}

impl Drop for HeldReplies {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies both ways; a request matching the armed pattern starts a hold on this connection's
/// replies before it is passed on, so its own reply cannot slip through.
async fn forward(client: tokio::net::TcpStream, server: tokio::net::TcpStream, armed: Trigger) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let until: std::sync::Arc<std::sync::Mutex<Option<tokio::time::Instant>>> =
        std::sync::Arc::default();
    let held = until.clone();
    let requests = async move {
        let (mut buf, mut seen) = (vec![0u8; 64 * 1024], Vec::<u8>::new());
        while let Ok(n) = from_client.read(&mut buf).await {
            if n == 0 {
                break;
            }
            // The pattern may straddle two reads: look at the tail of the last one too.
            seen.extend_from_slice(&buf[..n]);
            {
                let mut armed = armed.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((pattern, hold)) = armed.as_ref()
                    && seen.windows(pattern.len()).any(|w| w == pattern.as_slice())
                {
                    *held.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(tokio::time::Instant::now() + *hold);
                    *armed = None;
                }
            }
            let keep = seen.len().saturating_sub(128);
            seen.drain(..keep);
            if to_server.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let replies = async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from_server.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let hold = *until.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(hold) = hold {
                tokio::time::sleep_until(hold).await;
            }
            if to_client.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(requests, replies);
}
