//! The MySQL/MariaDB engine (production): catalog, accounts and seats on a connection pool.
//!
//! Pool exhaustion is an error after a bounded wait, never a wedge. Seat transitions are the
//! shared rules of `storage::transitions`; a deadlock or lock-wait timeout reported by
//! the server is retried a few times before it becomes an error.

mod catalog;
mod controls;
mod inventory;

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

use super::{StorageError, StorageResult};
use crate::auth::Auth;

/// Numbered migrations, applied in order and recorded in `_migrations`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../../sql/mysql/0001_schema.sql"),
    ),
    (
        2,
        "hold deadline",
        include_str!("../../../sql/mysql/0002_hold_deadline.sql"),
    ),
    (
        3,
        "operator controls",
        include_str!("../../../sql/mysql/0003_operator_controls.sql"),
    ),
];

/// Demo data, the same rows as the SQLite seed.
const SEED: &str = include_str!("../../../sql/mysql/seed.sql");

/// How the pool is sized and how long a caller waits for a connection.
#[derive(Clone, Copy, Debug)]
pub struct PoolLimits {
    /// Most connections open at once.
    pub max: usize,
    /// Longest wait for a free connection.
    pub acquire_timeout: Duration,
}

/// Catalog, accounts and inventory on MySQL.
pub struct MysqlStore {
    pool: Pool,
    pool_max: usize,
    acquire_timeout: Duration,
    location: String,
}

impl MysqlStore {
    /// Connects (no schema changes: see [`MysqlStore::migrate`] and [`MysqlStore::seed`]).
    pub async fn connect(url: &str, limits: PoolLimits) -> StorageResult<Self> {
        let opts = Opts::from_url(url).map_err(|e| StorageError::Config(e.to_string()))?;
        let location = format!(
            "{}:{}/{}",
            opts.ip_or_hostname(),
            opts.tcp_port(),
            opts.db_name().unwrap_or_default()
        );
        let constraints = PoolConstraints::new(limits.max.clamp(1, 4), limits.max.max(1))
            .ok_or_else(|| StorageError::Config("bad pool size".into()))?;
        let opts = OptsBuilder::from_opts(opts)
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    // Connections opened by a warm-up stay until the sale they were opened for.
                    .with_inactive_connection_ttl(Duration::from_secs(900)),
            )
            // Times are stored and read as UTC, whatever the server's zone.
            .init(vec!["SET time_zone = '+00:00'"]);
        let store = Self {
            pool: Pool::new(opts),
            pool_max: limits.max.max(1),
            acquire_timeout: limits.acquire_timeout,
            location,
        };
        store.conn().await?.ping().await.map_err(unavailable)?;
        Ok(store)
    }

    /// Where the data lives (host:port/db, no credentials), for the startup log.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A pooled connection, or an error once the acquire timeout passes.
    async fn conn(&self) -> StorageResult<Conn> {
        let started = std::time::Instant::now();
        let got = tokio::time::timeout(self.acquire_timeout, self.pool.get_conn()).await;
        crate::metrics::pool_wait(started, got.is_err());
        match got {
            Ok(conn) => conn.map_err(unavailable),
            Err(_) => Err(StorageError::Unavailable(format!(
                "no database connection free within {:?}",
                self.acquire_timeout
            ))),
        }
    }

    /// Opens up to `n` connections at once (held together, then returned idle to the pool), so
    /// the first requests of a sale do not pay for connection set-up.
    pub async fn open_connections(&self, n: usize) -> StorageResult<()> {
        let n = n.min(self.pool_max).max(1);
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (pool, barrier, wait) = (self.pool.clone(), barrier.clone(), self.acquire_timeout);
            tasks.spawn(async move {
                let conn = tokio::time::timeout(wait, pool.get_conn()).await;
                let ok = matches!(conn, Ok(Ok(_)));
                // Hold every connection until all are open, so the pool really grows.
                barrier.wait().await;
                ok
            });
        }
        let mut opened = 0;
        while let Some(done) = tasks.join_next().await {
            opened += usize::from(done.unwrap_or(false));
        }
        tracing::info!(opened, "database pool warmed");
        Ok(())
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> StorageResult<()> {
        let mut conn = self.conn().await?;
        conn.query_drop(
            "CREATE TABLE IF NOT EXISTS _migrations (version INT NOT NULL PRIMARY KEY, \
             name VARCHAR(100) NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .await
        .map_err(unavailable)?;
        for (version, name, sql) in MIGRATIONS {
            let done: Option<i64> = conn
                .exec_first(
                    "SELECT version FROM _migrations WHERE version = ?",
                    (version,),
                )
                .await
                .map_err(unavailable)?;
            if done.is_some() {
                continue;
            }
            // DDL commits implicitly in MySQL: the record is written after the whole file ran.
            conn.query_drop(*sql).await.map_err(unavailable)?;
            conn.exec_drop(
                "INSERT INTO _migrations (version, name) VALUES (?, ?)",
                (version, name),
            )
            .await
            .map_err(unavailable)?;
            tracing::info!(version, name, "applied migration");
        }
        Ok(())
    }

    /// Whether the schema is at the newest migration.
    pub async fn migrations_current(&self) -> StorageResult<bool> {
        let newest = MIGRATIONS.iter().map(|(v, _, _)| *v).max().unwrap_or(0);
        let applied: Option<i64> = self
            .conn()
            .await?
            .query_first("SELECT MAX(version) FROM _migrations")
            .await
            .unwrap_or(None);
        Ok(applied == Some(newest))
    }

    /// Loads the demo data and accounts into an empty catalog; does nothing otherwise.
    pub async fn seed(&self, auth: &Auth) -> StorageResult<bool> {
        let mut conn = self.conn().await?;
        let events: Option<i64> = conn
            .query_first("SELECT COUNT(*) FROM event")
            .await
            .map_err(unavailable)?;
        if events.unwrap_or(0) > 0 {
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
        let mut tx = conn
            .start_transaction(Default::default())
            .await
            .map_err(unavailable)?;
        tx.query_drop(SEED).await.map_err(unavailable)?;
        for account in accounts {
            tx.exec_drop(super::queries::INSERT_USER, account)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        tracing::info!("seeded the demo catalog and accounts");
        Ok(true)
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        if let Err(e) = self.pool.clone().disconnect().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

/// The server error code of a failure, if the server reported one.
fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}
