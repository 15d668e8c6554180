//! Typed settings: built-in defaults, overridden by flags and environment variables (clap `env`).
//!
//! One `Settings` value is built at startup and shared read-only; tests build their own with
//! [`Settings::for_tests`]. Secrets never reach logs: `Debug` redacts them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

pub mod limits;
pub mod production;

pub use limits::Limits;

/// Recording of visits as HAR files (`src/record/`); off by default.
#[derive(Clone, Debug, Args)]
pub struct RecordSettings {
    /// Folder to write one HAR file per visit to (HTTP calls and socket frames of one signed-in
    /// person, tokens, passwords and cookies redacted). Unset: nothing is recorded.
    #[arg(long = "record-dir", env = "TICKETCLUB_RECORD_DIR", value_parser = non_empty)]
    pub dir: Option<String>,

    /// Share of people recorded, 0 to 1 (decided per account, the same for the life of the process).
    #[arg(long = "record-sample", env = "TICKETCLUB_RECORD_SAMPLE", default_value_t = 1.0, value_parser = fraction)]
    pub sample: f64,

    /// Record only visits to this session id.
    #[arg(long = "record-session", env = "TICKETCLUB_RECORD_SESSION")]
    pub session: Option<i64>,

    /// A visit's file is closed and a new part begun past this many bytes.
    #[arg(long = "record-file-bytes", env = "TICKETCLUB_RECORD_FILE_BYTES", default_value_t = 5_000_000, value_parser = clap::value_parser!(u64).range(10_000..))]
    pub file_bytes: u64,
}

impl Default for RecordSettings {
    fn default() -> Self {
        Self {
            dir: None,
            sample: 1.0,
            session: None,
            file_bytes: 5_000_000,
        }
    }
}

fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{text:?}: a number from 0 to 1")),
    }
}

/// Everything the server can be told at startup.
#[derive(Clone, Args)]
pub struct Settings {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "TICKETCLUB_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Database: `sqlite:PATH`, `sqlite::memory:`, or `mysql://user:pass@host:3306/db`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:data/ticketclub.db"
    )]
    pub database_url: String,

    /// Redis for the shared waiting room and Socket.IO adapter (`redis://…` or
    /// `redis-cluster://…`). Unset: in-process waiting room, single instance.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = non_empty)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key this deployment uses (several deployments can share a Redis).
    #[arg(long, env = "TICKETCLUB_REDIS_PREFIX", default_value = "tc:")]
    pub redis_prefix: String,

    /// Seconds an instance's lease on its waiting-room places lasts unrenewed; once it has
    /// stayed missing for as long again (the instance died) the other instances fence it and
    /// end those visits.
    #[arg(long, env = "TICKETCLUB_LEASE_TTL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease_ttl: u64,

    /// Seconds a stopping instance's visitors have to reconnect through another instance and
    /// resume their places, before the survivors reap them.
    #[arg(long, env = "TICKETCLUB_HANDOVER_GRACE", default_value_t = 30)]
    pub handover_grace: u64,

    /// Seconds before a session's on-sale time from which app visitors may `join` its line;
    /// they are placed by a seeded draw at the on-sale time (protocol-v2 "Fair start").
    #[arg(long, env = "TICKETCLUB_PREQUEUE_LEAD", default_value_t = 900)]
    pub prequeue_lead: u64,

    /// Seconds an app visitor whose connection dropped keeps their place, holds and deadline,
    /// to reconnect (with the `resume` token or a new `join`) before the place is released.
    #[arg(long, env = "TICKETCLUB_RESUME_GRACE", default_value_t = 60)]
    pub resume_grace: u64,

    /// Milliseconds between the server's heartbeats on each connection (Engine.IO
    /// `pingInterval`; the clients take it from the handshake). With `ping_timeout_ms` it bounds
    /// how long a connection that went silent (a polling client whose network dropped) counts
    /// as connected, and so when a dropped visitor's resume grace starts.
    #[arg(long, env = "TICKETCLUB_PING_INTERVAL_MS", default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub ping_interval_ms: u64,

    /// Milliseconds the server waits for a heartbeat's answer before it closes the connection
    /// (Engine.IO `pingTimeout`).
    #[arg(long, env = "TICKETCLUB_PING_TIMEOUT_MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    pub ping_timeout_ms: u64,

    /// Milliseconds any one Redis command, or database call once it has a connection, may take
    /// before the caller gets an error (a stalled engine must cost a request an error, never a
    /// hang).
    #[arg(long, env = "TICKETCLUB_STORAGE_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(100..))]
    pub storage_timeout_ms: u64,

    /// Most database connections per instance (MySQL).
    #[arg(long, env = "TICKETCLUB_DB_POOL_MAX", default_value_t = 20)]
    pub db_pool_max: usize,

    /// Seconds a request waits for a free database connection before it gets an error.
    #[arg(long, env = "TICKETCLUB_DB_ACQUIRE_TIMEOUT", default_value_t = 5)]
    pub db_acquire_timeout: u64,

    /// Apply migrations (and seed an empty catalog) at startup instead of requiring
    /// `ticketclub migrate` / `ticketclub seed` first. Always on for SQLite.
    #[arg(long, env = "TICKETCLUB_AUTO_MIGRATE")]
    pub auto_migrate: bool,

    /// People allowed on a session's buying page at once; everyone else queues.
    #[arg(long, env = "TICKETCLUB_QUEUE_LIMIT", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub queue_limit: u32,

    /// Length of the purchase window on the buying page, in seconds.
    #[arg(long, env = "TICKETCLUB_PURCHASE_WINDOW", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pub purchase_window: u64,

    /// Extra seconds after the window before the server ends a visit, so the original client's own
    /// countdown runs out first (the original wait formula adds the same 10 s buffer).
    #[arg(long, env = "TICKETCLUB_WINDOW_GRACE", default_value_t = 10)]
    pub window_grace: u64,

    /// Tickets one account may hold or buy per session.
    #[arg(long, env = "TICKETCLUB_TICKET_LIMIT", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub ticket_limit: u32,

    /// HS256 secret for access tokens. Unset: a random one per process (tokens die on restart).
    #[arg(long, env = "TICKETCLUB_JWT_SECRET", hide_env_values = true, value_parser = non_empty)]
    pub jwt_secret: Option<String>,

    /// Token lifetime, in the original's notation: `7d`, `12h`, `30m`, `45s`, or bare milliseconds.
    #[arg(long, env = "TICKETCLUB_JWT_EXPIRES", default_value = "7d")]
    pub jwt_expires: String,

    /// Base URL that image file names are appended to. Unset: `http://<addr>/assets`.
    #[arg(long, env = "TICKETCLUB_IMAGE_BASE", value_parser = non_empty)]
    pub image_base: Option<String>,

    /// Browser origins allowed to open Socket.IO connections (comma separated, `*` for any).
    #[arg(
        long,
        env = "TICKETCLUB_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:5000,https://claudia-teng.com,https://ticketclub.live"
    )]
    pub cors_origins: Vec<String>,

    /// bcrypt cost for new passwords (the original used 10; tests use 4 to stay fast).
    #[arg(long, env = "TICKETCLUB_BCRYPT_COST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Seconds before a session's on-sale time at which the server warms up for it.
    #[arg(long, env = "TICKETCLUB_WARMUP_LEAD", default_value_t = 600)]
    pub warmup_lead: u64,

    /// Bearer token for the operator routes under `/admin`. Unset: those routes are off.
    #[arg(long, env = "TICKETCLUB_ADMIN_TOKEN", hide_env_values = true, value_parser = non_empty)]
    pub admin_token: Option<String>,

    /// The operator's name in the audit trail and the logs (the token itself never is).
    #[arg(long, env = "TICKETCLUB_ADMIN_LABEL", default_value = "admin", value_parser = non_empty)]
    pub admin_label: String,

    /// Log format: `pretty` for people, `json` for log shippers.
    #[arg(long, env = "TICKETCLUB_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// How long shutdown waits for in-flight work before giving up, in seconds.
    #[arg(long, env = "TICKETCLUB_SHUTDOWN_GRACE", default_value_t = 10)]
    pub shutdown_grace: u64,

    /// Seconds an HTTP connection may take to send a request's headers, or stay silent between
    /// requests, before it is closed. Websockets are not affected.
    #[arg(long, env = "TICKETCLUB_HEADER_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,

    /// Abuse limits: body timeout, sign-in rates, trusted proxies, bcrypt concurrency.
    #[command(flatten)]
    pub limits: Limits,

    /// Visit recording (docs/har.md): off unless a folder is given.
    #[command(flatten)]
    pub record: RecordSettings,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when on a terminal.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Settings {
    /// Settings for an isolated test server: port 0, in-memory database, fast bcrypt.
    pub fn for_tests() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: "sqlite::memory:".into(),
            redis_url: None,
            redis_prefix: "tc:".into(),
            lease_ttl: 15,
            handover_grace: 30,
            resume_grace: 60,
            prequeue_lead: 900,
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            storage_timeout_ms: 2000,
            db_pool_max: 10,
            db_acquire_timeout: 5,
            auto_migrate: true,
            queue_limit: 3,
            purchase_window: 600,
            window_grace: 10,
            ticket_limit: 4,
            jwt_secret: Some("test-secret-for-the-integration-tests".into()),
            jwt_expires: "7d".into(),
            image_base: None,
            cors_origins: vec!["*".into()],
            bcrypt_cost: 4,
            warmup_lead: 600,
            admin_token: None,
            admin_label: "admin".into(),
            log_format: LogFormat::Pretty,
            shutdown_grace: 2,
            header_timeout: 30,
            limits: Limits::for_tests(),
            record: RecordSettings::default(),
        }
    }

    /// The purchase window as a duration.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.purchase_window)
    }

    /// The longest one storage call may take.
    pub fn storage_timeout(&self) -> Duration {
        Duration::from_millis(self.storage_timeout_ms)
    }

    /// The longest one database call may take: the wait for a pooled connection, then the
    /// storage timeout for its statements.
    pub fn db_call_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout) + self.storage_timeout()
    }

    /// Window plus grace: how long a page place lasts before the server ends it.
    pub fn window_with_grace(&self) -> Duration {
        Duration::from_secs(self.purchase_window + self.window_grace)
    }

    /// Image base URL, derived from the bound address when not configured.
    pub fn image_base_for(&self, bound: SocketAddr) -> String {
        match &self.image_base {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => format!("http://{bound}/assets"),
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("lease_ttl", &self.lease_ttl)
            .field("handover_grace", &self.handover_grace)
            .field("resume_grace", &self.resume_grace)
            .field("prequeue_lead", &self.prequeue_lead)
            .field("storage_timeout_ms", &self.storage_timeout_ms)
            .field("db_pool_max", &self.db_pool_max)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("auto_migrate", &self.auto_migrate)
            .field("queue_limit", &self.queue_limit)
            .field("purchase_window", &self.purchase_window)
            .field("window_grace", &self.window_grace)
            .field("ticket_limit", &self.ticket_limit)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("jwt_expires", &self.jwt_expires)
            .field("image_base", &self.image_base)
            .field("cors_origins", &self.cors_origins)
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("warmup_lead", &self.warmup_lead)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("admin_label", &self.admin_label)
            .field("log_format", &self.log_format)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("header_timeout", &self.header_timeout)
            .field("limits", &self.limits)
            .field("record", &self.record)
            .finish()
    }
}

/// Hides the password part of `scheme://user:password@host/...`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:<redacted>@{host}")
        }
        None => url.to_string(),
    }
}

/// Refuses an empty value: `REDIS_URL=` or an empty secret in a deployment file would otherwise
/// read as a broken URL, or worse, sign tokens with an empty key that anyone can forge.
fn non_empty(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be empty (leave it unset instead)".into())
    } else {
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    #[test]
    fn empty_secrets_and_urls_are_refused_at_startup() {
        use clap::Parser;
        for flag in [
            "--jwt-secret",
            "--redis-url",
            "--admin-token",
            "--image-base",
        ] {
            let parsed = Cli::try_parse_from(["ticketclub", flag, " "]);
            let error = parsed.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("must not be empty"), "{flag}: {error}");
        }
        let parsed = Cli::try_parse_from(["ticketclub", "--jwt-secret", "s3cret"]).expect("parses");
        assert_eq!(parsed.settings.jwt_secret.as_deref(), Some("s3cret"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let mut s = Settings::for_tests();
        s.jwt_secret = Some("hunter2".into());
        s.database_url = "mysql://app:pa55@127.0.0.1/db".into();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("pa55"));
        assert!(shown.contains("mysql://app:<redacted>@127.0.0.1/db"));
    }
}
