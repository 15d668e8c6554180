//! The `migrate` and `seed` commands: schema and demo data, run by an operator before serving.

use anyhow::Context;

use super::{StorageError, mysql, sqlite};
use crate::auth::Auth;
use crate::config::Settings;

fn auth(settings: &Settings) -> anyhow::Result<Auth> {
    Ok(Auth::new(
        Some("unused"),
        &settings.jwt_expires,
        settings.bcrypt_cost,
    )?)
}

async fn connect_mysql(settings: &Settings) -> anyhow::Result<mysql::MysqlStore> {
    let limits = mysql::PoolLimits {
        max: 2,
        acquire_timeout: std::time::Duration::from_secs(settings.db_acquire_timeout),
    };
    mysql::MysqlStore::connect(&settings.database_url, limits)
        .await
        .context("connecting to MySQL")
}

/// Applies pending migrations to the configured database.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.starts_with("mysql:") {
        let db = connect_mysql(settings).await?;
        db.migrate().await?;
        db.close().await;
    } else {
        // Opening a SQLite store migrates it (and seeds an empty one).
        sqlite::SqliteStore::open(&settings.database_url, &auth(settings)?).await?;
    }
    tracing::info!("migrations are current");
    Ok(())
}

/// Seeds the demo data into an empty catalog.
pub async fn seed(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.starts_with("mysql:") {
        let db = connect_mysql(settings).await?;
        if !db.migrations_current().await? {
            return Err(StorageError::Config("run `ticketclub migrate` first".into()).into());
        }
        let seeded = db.seed(&auth(settings)?).await?;
        db.close().await;
        tracing::info!(
            seeded,
            "seed finished (false: the catalog already had events)"
        );
    } else {
        sqlite::SqliteStore::open(&settings.database_url, &auth(settings)?).await?;
        tracing::info!("SQLite databases are seeded when first opened");
    }
    Ok(())
}
