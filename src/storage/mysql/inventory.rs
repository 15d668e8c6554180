//! Seat transitions on MySQL: the shared rules of `storage::transitions`, each in one
//! InnoDB transaction. Rows are locked by primary or unique key only (the account row, then each
//! seat's `(session, seat)` row in ascending seat order), because a conditional UPDATE over a
//! secondary index deadlocks under a race; a deadlock the server still reports is retried.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Value};

use super::{MysqlStore, server_code, unavailable};
use crate::domain::ids::{AreaId, OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::Millis;
use crate::storage::model::*;
use crate::storage::queries as q;
use crate::storage::transitions::{self as rules, Decided, SeatRow, SeatTx};
use crate::storage::{Inventory, StorageResult};

/// Deadlock found / lock wait timeout: the transaction was rolled back and may simply be rerun.
const RETRYABLE: [u16; 2] = [1213, 1205];
/// Attempts before a retryable failure becomes an error.
const ATTEMPTS: u32 = 4;

/// A pooled connection with an open transaction.
struct MysqlTx {
    conn: Conn,
}

fn params(args: Vec<i64>) -> Params {
    Params::Positional(args.into_iter().map(Value::from).collect())
}

impl SeatTx for MysqlTx {
    type Error = mysql_async::Error;

    async fn lock_account(&mut self, user: UserId) -> Result<(), Self::Error> {
        // The account row is the per-account mutex: the limit check and the claim that follows
        // cannot interleave with another transition of the same account.
        self.conn
            .exec_drop("SELECT id FROM `user` WHERE id = ? FOR UPDATE", (user.0,))
            .await
    }

    async fn count(
        &mut self,
        sql: &'static str,
        user: UserId,
        session: SessionId,
    ) -> Result<u32, Self::Error> {
        let n: Option<i64> = self.conn.exec_first(sql, (user.0, session.0)).await?;
        Ok(n.unwrap_or(0) as u32)
    }

    async fn seat_row(&mut self, session: SessionId, seat: SeatId) -> Result<SeatRow, Self::Error> {
        let sql = format!("{} FOR UPDATE", q::SEAT_OWNER);
        self.conn.exec_first(sql, (session.0, seat.0)).await
    }

    async fn execute(&mut self, sql: &str, args: Vec<i64>) -> Result<u64, Self::Error> {
        self.conn.exec_drop(sql, params(args)).await?;
        Ok(self.conn.affected_rows())
    }

    async fn holds(
        &mut self,
        user: UserId,
        session: SessionId,
    ) -> Result<Vec<Released>, Self::Error> {
        let sql = format!("{} FOR UPDATE", *q::HOLDS);
        self.conn
            .exec_map(
                sql,
                (user.0, session.0),
                |(seat, area, row, column, status): (i64, i64, i64, i64, i64)| Released {
                    spot: SeatSpot {
                        seat: SeatId(seat),
                        area: AreaId(area),
                        row,
                        column,
                    },
                    was: SeatStatus::from_id(status).unwrap_or(SeatStatus::Selected),
                },
            )
            .await
    }

    async fn seat_prices(
        &mut self,
        session: SessionId,
        seats: &[SeatId],
    ) -> Result<Vec<(SeatId, i64)>, Self::Error> {
        let sql = q::with_in(q::SEAT_PRICES, seats.len());
        let args = [session.0]
            .into_iter()
            .chain(seats.iter().map(|s| s.0))
            .collect();
        self.conn
            .exec_map(sql, params(args), |(seat, price): (i64, i64)| {
                (SeatId(seat), price)
            })
            .await
    }

    async fn stale_holds(&mut self, now: Millis) -> Result<Vec<StaleHold>, Self::Error> {
        type Row = (i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = self.conn.exec(q::STALE_HOLDS.as_str(), (now,)).await?;
        Ok(rows
            .into_iter()
            .map(
                |(session, user, seat, area, row, column, status)| StaleHold {
                    session: SessionId(session),
                    user: UserId(user),
                    released: Released {
                        spot: SeatSpot {
                            seat: SeatId(seat),
                            area: AreaId(area),
                            row,
                            column,
                        },
                        was: SeatStatus::from_id(status).unwrap_or(SeatStatus::Selected),
                    },
                },
            )
            .collect())
    }

    async fn insert_order(
        &mut self,
        user: UserId,
        session: SessionId,
        total: i64,
    ) -> Result<OrderId, Self::Error> {
        self.conn
            .exec_drop(q::INSERT_ORDER, (user.0, session.0, total))
            .await?;
        Ok(OrderId(
            self.conn.last_insert_id().unwrap_or_default() as i64
        ))
    }
}

impl MysqlStore {
    async fn begin(&self) -> StorageResult<MysqlTx> {
        let mut conn = self.conn().await?;
        conn.query_drop("START TRANSACTION")
            .await
            .map_err(unavailable)?;
        Ok(MysqlTx { conn })
    }

    /// Ends the transaction as the rule decided. `Ok(None)` means "rolled back by a deadlock or
    /// lock timeout: run it again".
    async fn finish<T>(
        &self,
        mut tx: MysqlTx,
        result: Result<Decided<T>, mysql_async::Error>,
        attempt: u32,
    ) -> StorageResult<Option<T>> {
        let failure = match result {
            Ok(decided) => {
                let end = if decided.commit { "COMMIT" } else { "ROLLBACK" };
                match tx.conn.query_drop(end).await {
                    Ok(()) => return Ok(Some(decided.outcome)),
                    Err(e) => e,
                }
            }
            Err(e) => e,
        };
        // Never hand a connection back to the pool with a transaction open.
        let _ = tx.conn.query_drop("ROLLBACK").await;
        let retryable = server_code(&failure).is_some_and(|c| RETRYABLE.contains(&c));
        if retryable && attempt + 1 < ATTEMPTS {
            tracing::debug!(error = %failure, attempt, "retrying a seat transition");
            tokio::time::sleep(std::time::Duration::from_millis(5 << attempt)).await;
            return Ok(None);
        }
        Err(unavailable(failure))
    }
}

/// Runs a shared rule in a transaction, retrying deadlocks a bounded number of times.
macro_rules! transition {
    ($store:expr, |$tx:ident| $rule:expr) => {{
        let mut attempt = 0;
        loop {
            let mut $tx = $store.begin().await?;
            let result = $rule.await;
            if let Some(outcome) = $store.finish($tx, result, attempt).await? {
                break Ok(outcome);
            }
            attempt += 1;
        }
    }};
}

#[async_trait]
impl Inventory for MysqlStore {
    async fn sold_count(&self, user: UserId, session: SessionId) -> StorageResult<u32> {
        let n: Option<i64> = self
            .conn()
            .await?
            .exec_first(q::SOLD_COUNT.as_str(), (user.0, session.0))
            .await
            .map_err(unavailable)?;
        Ok(n.unwrap_or(0) as u32)
    }

    async fn sold_counts(&self, session: SessionId) -> StorageResult<Vec<(UserId, u32)>> {
        let rows: Vec<(i64, i64)> = self
            .conn()
            .await?
            .exec(q::SOLD_COUNTS.as_str(), (session.0,))
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(u, n)| (UserId(u), n as u32))
            .collect())
    }

    async fn held_in(
        &self,
        user: UserId,
        session: SessionId,
        status: SeatStatus,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<SeatId>> {
        if seats.is_empty() {
            return Ok(Vec::new());
        }
        let sql = q::with_in(q::HELD_IN, seats.len());
        let args = [session.0, user.0, status.id()]
            .into_iter()
            .chain(seats.iter().map(|s| s.0))
            .collect();
        let ids: Vec<i64> = self
            .conn()
            .await?
            .exec(sql, params(args))
            .await
            .map_err(unavailable)?;
        Ok(ids.into_iter().map(SeatId).collect())
    }

    async fn select(
        &self,
        user: UserId,
        session: SessionId,
        seat: SeatId,
        terms: HoldTerms,
    ) -> StorageResult<SelectOutcome> {
        transition!(self, |tx| rules::select(
            &mut tx, user, session, seat, terms
        ))
    }

    async fn unselect(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnselectOutcome> {
        transition!(self, |tx| rules::unselect(&mut tx, user, session, &seats))
    }

    async fn lock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        terms: HoldTerms,
    ) -> StorageResult<LockOutcome> {
        transition!(self, |tx| rules::lock(
            &mut tx, user, session, &seats, terms
        ))
    }

    async fn unlock(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<UnlockOutcome> {
        transition!(self, |tx| rules::unlock(&mut tx, user, session, &seats))
    }

    async fn release_holds(
        &self,
        user: UserId,
        session: SessionId,
    ) -> StorageResult<Vec<Released>> {
        transition!(self, |tx| rules::release_holds(&mut tx, user, session))
    }

    async fn free_stale_holds(&self, now: Millis) -> StorageResult<Vec<StaleHold>> {
        transition!(self, |tx| rules::free_stale_holds(&mut tx, now))
    }

    async fn seat_counts(&self, session: SessionId) -> StorageResult<SeatCounts> {
        let rows: Vec<(i64, i64)> = self
            .conn()
            .await?
            .exec(q::SEAT_COUNTS.as_str(), (session.0,))
            .await
            .map_err(unavailable)?;
        Ok(q::seat_counts(&rows))
    }

    async fn extend_holds(&self, session: SessionId, by_ms: Millis) -> StorageResult<u64> {
        let mut conn = self.conn().await?;
        conn.exec_drop(q::EXTEND_HOLDS.as_str(), (by_ms, session.0))
            .await
            .map_err(unavailable)?;
        Ok(conn.affected_rows())
    }

    async fn place_order(
        &self,
        user: UserId,
        session: SessionId,
        seats: Vec<SeatId>,
        limit: TicketLimit,
    ) -> StorageResult<OrderOutcome> {
        transition!(self, |tx| rules::place_order(
            &mut tx, user, session, &seats, limit
        ))
    }
}
