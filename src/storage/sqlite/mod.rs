//! The SQLite engine of the embedded default: catalog, accounts and seats in one file.
//!
//! One connection behind a mutex, used from the blocking pool. SQLite serialises writers anyway,
//! and holding the only connection makes every transaction trivially isolated: two racers for a
//! seat run one after the other, and the loser sees the winner's row.

mod catalog;
mod inventory;

use std::path::Path;
use std::sync::{Arc, Mutex};

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
];

/// Demo data, loaded into an empty database.
const SEED: &str = include_str!("../../../sql/sqlite/seed.sql");

/// Catalog, accounts and inventory on one SQLite database.
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    location: String,
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
        let store = Self {
            conn: Arc::new(Mutex::new(conn)),
            location,
        };
        store.run(migrate).await?;
        store.seed_if_empty(auth).await?;
        Ok(store)
    }

    /// Where the data lives, for the startup log.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `f` on the connection in the blocking pool.
    async fn run<T, F>(&self, f: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside `f` rolls its transaction back on drop, so the connection behind a
            // poisoned lock is still consistent.
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)
    }

    async fn seed_if_empty(&self, auth: &Auth) -> StorageResult<()> {
        let seeded: bool = self
            .run(|c| c.query_row("SELECT EXISTS (SELECT 1 FROM event)", [], |r| r.get(0)))
            .await?;
        if seeded {
            return Ok(());
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
        Ok(())
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
