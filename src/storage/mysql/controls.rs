//! Operator settings, blocks and the audit trail on MySQL (issue 13).

use async_trait::async_trait;
use mysql_async::prelude::Queryable;

use super::{MysqlStore, unavailable};
use crate::domain::controls::SessionSettings;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::time::Millis;
use crate::storage::model::{AuditEntry, AuditRecord};
use crate::storage::queries as q;
use crate::storage::{Operations, StorageResult};

/// Insert or replace a session's settings row.
const UPSERT_SETTINGS: &str = "INSERT INTO session_settings \
     (session_id, page_limit, window_seconds, ticket_limit, paused, closed, window_version, \
     updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE \
     page_limit = VALUES(page_limit), window_seconds = VALUES(window_seconds), \
     ticket_limit = VALUES(ticket_limit), paused = VALUES(paused), closed = VALUES(closed), \
     window_version = VALUES(window_version), updated_at = VALUES(updated_at)";
/// A block (again: no change).
const INSERT_BLOCK: &str =
    "INSERT IGNORE INTO session_block (session_id, user_id, blocked_at) VALUES (?, ?, ?)";

type SettingsRow = (i64, Option<i64>, Option<i64>, Option<i64>, i64, i64, i64);
type AuditRow = (
    i64,
    i64,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[async_trait]
impl Operations for MysqlStore {
    async fn session_settings(&self) -> StorageResult<Vec<(SessionId, SessionSettings)>> {
        let rows: Vec<SettingsRow> = self
            .conn()
            .await?
            .query(q::SESSION_SETTINGS)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(
                |(session, limit, window, tickets, paused, closed, version)| {
                    let settings = SessionSettings {
                        limit: limit.map(|n| n as u32),
                        window_seconds: window.map(|n| n as u64),
                        ticket_limit: tickets.map(|n| n as u32),
                        paused: paused != 0,
                        closed: closed != 0,
                        window_version: version as u32,
                    };
                    (SessionId(session), settings)
                },
            )
            .collect())
    }

    async fn save_session_settings(
        &self,
        session: SessionId,
        settings: SessionSettings,
        now: Millis,
    ) -> StorageResult<()> {
        let mut conn = self.conn().await?;
        if settings.is_default() {
            conn.exec_drop(q::DELETE_SESSION_SETTINGS, (session.0,))
                .await
                .map_err(unavailable)
        } else {
            let args: Vec<mysql_async::Value> = vec![
                session.0.into(),
                settings.limit.map(i64::from).into(),
                settings.window_seconds.map(|s| s as i64).into(),
                settings.ticket_limit.map(i64::from).into(),
                i64::from(settings.paused).into(),
                i64::from(settings.closed).into(),
                i64::from(settings.window_version).into(),
                now.into(),
            ];
            conn.exec_drop(UPSERT_SETTINGS, args)
                .await
                .map_err(unavailable)
        }
    }

    async fn blocked_accounts(&self) -> StorageResult<Vec<(SessionId, UserId)>> {
        let rows: Vec<(i64, i64)> = self
            .conn()
            .await?
            .query(q::BLOCKED_ACCOUNTS)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(s, u)| (SessionId(s), UserId(u)))
            .collect())
    }

    async fn block_account(
        &self,
        session: SessionId,
        user: UserId,
        now: Millis,
    ) -> StorageResult<()> {
        self.conn()
            .await?
            .exec_drop(INSERT_BLOCK, (session.0, user.0, now))
            .await
            .map_err(unavailable)
    }

    async fn record_audit(&self, e: AuditEntry) -> StorageResult<i64> {
        let mut conn = self.conn().await?;
        let args = (
            e.at,
            e.who,
            e.action,
            e.session.map(|s| s.0),
            e.target,
            e.before,
            e.after,
        );
        conn.exec_drop(q::INSERT_AUDIT, args)
            .await
            .map_err(unavailable)?;
        Ok(conn.last_insert_id().unwrap_or_default() as i64)
    }

    async fn audit(&self, before: Option<i64>, limit: u32) -> StorageResult<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = self
            .conn()
            .await?
            .exec(q::AUDIT_PAGE, (before.unwrap_or(i64::MAX), limit))
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, at, who, action, session, target, before, after)| AuditRecord {
                    id,
                    entry: AuditEntry {
                        at,
                        who,
                        action,
                        session: session.map(SessionId),
                        target,
                        before,
                        after,
                    },
                },
            )
            .collect())
    }
}
