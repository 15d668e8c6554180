//! The SQLite engine of the embedded default: catalog, accounts and seats in one file.
//!
//! One connection owned by one dedicated thread that runs the store's jobs in arrival order.
//! SQLite serialises writers anyway, and a single connection makes every transaction trivially
//! isolated: two racers for a seat run one after the other, and the loser sees the winner's
//! row. A long-lived thread fed by a channel replaces a `spawn_blocking` hop and a contended
//! mutex per statement (the join-storm and seat-rush profiles in benches/RESULTS.md): under
//! load the thread drains its queue without sleeping in between.

mod catalog;
mod controls;
mod inventory;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;

use tokio::sync::oneshot;

use rusqlite::{Connection, OptionalExtension, params};

use super::{StorageError, StorageResult};
use crate::auth::Auth;

/// Numbered migrations, applied in order and recorded in `_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../../sql/sqlite/0001_schema.sql"),
    ),
    (
        2,
        "hold deadline",
        include_str!("../../../sql/sqlite/0002_hold_deadline.sql"),
    ),
    (
        3,
        "operator controls",
        include_str!("../../../sql/sqlite/0003_operator_controls.sql"),
    ),
];

/// Demo data, loaded into an empty database.
const SEED: &str = include_str!("../../../sql/sqlite/seed.sql");

/// Work for the database thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Catalog, accounts and inventory on one SQLite database.
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    location: String,
    seeded: bool,
}

/// Runs jobs on `conn` until every sender is gone (the store was dropped).
fn serve(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        // A panicking job rolls its transaction back while unwinding; the connection is still
        // sound, so keep serving rather than fail every later request.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn))).is_err() {
            tracing::error!("a database job panicked");
        }
    }
}

impl SqliteStore {
    /// Opens `sqlite:PATH` (creating folders and file) or `sqlite::memory:`, migrates it and
    /// seeds it when it has no events yet.
    pub async fn open(url: &str, auth: &Auth) -> StorageResult<Self> {
        let location = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| StorageError::Config(format!("not a sqlite URL: {url}")))?
            .to_string();
        let path = location.clone();
        let conn = tokio::task::spawn_blocking(move || connect(&path))
            .await
            .map_err(unavailable)??;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite".into())
            .spawn(move || serve(conn, queue))
            .map_err(unavailable)?;
        let mut store = Self {
            jobs,
            location,
            seeded: false,
        };
        store.run(migrate).await?;
        store.seeded = store.seed_if_empty(auth).await?;
        Ok(store)
    }

    /// Where the data lives, for the startup log.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Whether opening it loaded the demo catalog and accounts (the database was empty).
    pub fn seeded(&self) -> bool {
        self.seeded
    }

    /// Runs `f` on the connection, on the database thread.
    async fn run<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(f(conn));
        });
        self.jobs
            .send(job)
            .map_err(|_| StorageError::Unavailable("the database thread is gone".into()))?;
        answer
            .await
            .map_err(|_| StorageError::Unavailable("a database job was lost".into()))?
            .map_err(unavailable)
    }

    /// Loads the demo data into an empty catalog; true when it did.
    async fn seed_if_empty(&self, auth: &Auth) -> StorageResult<bool> {
        let has_events: bool = self
            .run(|c| c.query_row("SELECT EXISTS (SELECT 1 FROM event)", [], |r| r.get(0)))
            .await?;
        if has_events {
            return Ok(false);
        }
        let mut accounts = Vec::new();
        for (name, email, password) in super::SEED_ACCOUNTS {
            let hash = auth
                .hash_password(password.to_string())
                .await
                .map_err(unavailable)?;
            accounts.push((name.to_string(), email.to_string(), hash));
        }
        self.run(move |c| {
            let tx = c.transaction()?;
            tx.execute_batch(SEED)?;
            for (name, email, hash) in &accounts {
                tx.execute(super::queries::INSERT_USER, params![name, email, hash])?;
            }
            tx.commit()
        })
        .await?;
        tracing::info!("seeded the demo catalog and accounts");
        Ok(true)
    }
}

fn connect(location: &str) -> StorageResult<Connection> {
    let conn = if location == ":memory:" {
        Connection::open_in_memory()
    } else {
        if let Some(dir) = Path::new(location)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(unavailable)?;
        }
        Connection::open(location)
    }
    .map_err(unavailable)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(unavailable)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
    )?;
    for (version, name, sql) in MIGRATIONS {
        let done: Option<i64> = conn
            .query_row(
                "SELECT version FROM _migrations WHERE version = ?",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_some() {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO _migrations (version, name) VALUES (?, ?)",
            params![version, name],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
    }
    Ok(())
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}
