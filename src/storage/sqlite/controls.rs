//! Operator settings, blocks and the audit trail on SQLite (issue 13).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use crate::domain::controls::SessionSettings;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::storage::model::{AuditEntry, AuditRecord};
use crate::storage::queries as q;
use crate::storage::{Operations, StorageResult};

/// Insert or replace a session's settings row.
const UPSERT_SETTINGS: &str = "INSERT INTO session_settings \
     (session_id, page_limit, window_seconds, ticket_limit, paused, closed, window_version, \
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET \
     page_limit = excluded.page_limit, window_seconds = excluded.window_seconds, \
     ticket_limit = excluded.ticket_limit, paused = excluded.paused, closed = excluded.closed, \
     window_version = excluded.window_version, updated_at = excluded.updated_at";
/// A block (again: no change).
const INSERT_BLOCK: &str =
    "INSERT OR IGNORE INTO session_block (session_id, user_id, blocked_at) VALUES (?, ?, ?)";

#[async_trait]
impl Operations for SqliteStore {
    async fn session_settings(&self) -> StorageResult<Vec<(SessionId, SessionSettings)>> {
        self.run(|c| {
            c.prepare_cached(q::SESSION_SETTINGS)?
                .query_map([], |r| {
                    Ok((
                        SessionId(r.get(0)?),
                        SessionSettings {
                            limit: r.get::<_, Option<i64>>(1)?.map(|n| n as u32),
                            window_seconds: r.get::<_, Option<i64>>(2)?.map(|n| n as u64),
                            ticket_limit: r.get::<_, Option<i64>>(3)?.map(|n| n as u32),
                            paused: r.get::<_, i64>(4)? != 0,
                            closed: r.get::<_, i64>(5)? != 0,
                            window_version: r.get::<_, i64>(6)? as u32,
                        },
                    ))
                })?
                .collect()
        })
        .await
    }

    async fn save_session_settings(
        &self,
        session: SessionId,
        settings: SessionSettings,
        now: Millis,
    ) -> StorageResult<()> {
        self.run(move |c| {
            if settings.is_default() {
                c.execute(q::DELETE_SESSION_SETTINGS, [session.0])?;
            } else {
                c.execute(
                    UPSERT_SETTINGS,
                    params![
                        session.0,
                        settings.limit.map(i64::from),
                        settings.window_seconds.map(|s| s as i64),
                        settings.ticket_limit.map(i64::from),
                        i64::from(settings.paused),
                        i64::from(settings.closed),
                        i64::from(settings.window_version),
                        now
                    ],
                )?;
            }
            Ok(())
        })
        .await
    }

    async fn blocked_accounts(&self) -> StorageResult<Vec<(SessionId, UserId)>> {
        self.run(|c| {
            c.prepare_cached(q::BLOCKED_ACCOUNTS)?
                .query_map([], |r| Ok((SessionId(r.get(0)?), UserId(r.get(1)?))))?
                .collect()
        })
        .await
    }

    async fn block_account(
        &self,
        session: SessionId,
        user: UserId,
        now: Millis,
    ) -> StorageResult<()> {
        self.run(move |c| {
            c.execute(INSERT_BLOCK, params![session.0, user.0, now])
                .map(|_| ())
        })
        .await
    }

    async fn record_audit(&self, e: AuditEntry) -> StorageResult<i64> {
        self.run(move |c| {
            c.execute(
                q::INSERT_AUDIT,
                params![
                    e.at,
                    e.who,
                    e.action,
                    e.session.map(|s| s.0),
                    e.target,
                    e.before,
                    e.after
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn audit(&self, before: Option<i64>, limit: u32) -> StorageResult<Vec<AuditRecord>> {
        self.run(move |c| {
            c.prepare_cached(q::AUDIT_PAGE)?
                .query_map(params![before.unwrap_or(i64::MAX), limit], |r| {
                    Ok(AuditRecord {
                        id: r.get(0)?,
                        entry: AuditEntry {
                            at: r.get(1)?,
                            who: r.get(2)?,
                            action: r.get(3)?,
                            session: r.get::<_, Option<i64>>(4)?.map(SessionId),
                            target: r.get(5)?,
                            before: r.get(6)?,
                            after: r.get(7)?,
                        },
                    })
                })?
                .collect()
        })
        .await
    }
}
