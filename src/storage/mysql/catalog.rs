//! Read-mostly queries on MySQL: events, sessions, seat maps and accounts.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use mysql_async::prelude::Queryable;

use super::{MysqlStore, server_code, unavailable};
use crate::domain::ids::{AreaId, EventId, OrderId, SeatId, SessionId, UserId};
use crate::domain::time::{Instant, Millis};
use crate::storage::model::*;
use crate::storage::queries as q;
use crate::storage::{Accounts, Catalog, StorageResult};

/// MySQL's duplicate-key error.
const ER_DUP_ENTRY: u16 = 1062;

type UserRow = (i64, String, String, String);

fn user_record((id, name, email, password_hash): UserRow) -> UserRecord {
    UserRecord {
        id: UserId(id),
        name,
        email,
        password_hash,
    }
}

#[async_trait]
impl Catalog for MysqlStore {
    async fn ready(&self) -> StorageResult<()> {
        if !self.migrations_current().await? {
            return Err(crate::storage::StorageError::Config(
                "database schema is behind: run `ticketclub migrate`".into(),
            ));
        }
        // The migration record alone does not prove the tables are still there.
        let tables: Vec<String> = self
            .conn()
            .await?
            .query(
                "SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = DATABASE()",
            )
            .await
            .map_err(unavailable)?;
        q::check_route_tables(&tables)
    }

    async fn events(&self, search: Option<String>) -> StorageResult<Vec<EventSummary>> {
        let mut conn = self.conn().await?;
        let map = |(id, singer, picture): (i64, String, String)| EventSummary {
            id: EventId(id),
            singer,
            picture,
        };
        match search {
            Some(text) => {
                conn.exec_map(q::EVENTS_MATCHING, (format!("%{text}%"),), map)
                    .await
            }
            None => conn.exec_map(q::EVENTS, (), map).await,
        }
        .map_err(unavailable)
    }

    async fn event(&self, id: EventId) -> StorageResult<Option<EventDetail>> {
        type Row = (
            String,
            String,
            String,
            String,
            String,
            Option<NaiveDateTime>,
            i64,
            NaiveDateTime,
            String,
            String,
        );
        let rows: Vec<Row> = self
            .conn()
            .await?
            .exec(q::EVENT_DETAIL, (id.0,))
            .await
            .map_err(unavailable)?;
        let mut detail: Option<EventDetail> = None;
        for (
            singer,
            title,
            detail_picture,
            description,
            video_link,
            on_sale,
            sid,
            time,
            city,
            venue,
        ) in rows
        {
            let slot = SessionSlot {
                session_id: SessionId(sid),
                time: Instant(time),
                city,
                venue,
            };
            match detail.as_mut() {
                Some(d) => d.sessions.push(slot),
                None => {
                    detail = Some(EventDetail {
                        singer,
                        title,
                        detail_picture,
                        description,
                        video_link,
                        on_sale: on_sale.map(Instant),
                        sessions: vec![slot],
                    })
                }
            }
        }
        Ok(detail)
    }

    async fn session(&self, id: SessionId) -> StorageResult<Option<SessionInfo>> {
        type Row = (i64, i64, NaiveDateTime, Option<NaiveDateTime>, String);
        let row: Option<Row> = self
            .conn()
            .await?
            .exec_first(q::SESSION, (id.0,))
            .await
            .map_err(unavailable)?;
        Ok(
            row.map(|(id, event, time, on_sale, seat_picture)| SessionInfo {
                id: SessionId(id),
                event_id: EventId(event),
                time: Instant(time),
                on_sale: on_sale.map(Instant),
                seat_picture,
            }),
        )
    }

    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>> {
        self.conn()
            .await?
            .exec_map(
                q::SESSION_AREAS.as_str(),
                (id.0,),
                |(area, name, price, free_seats): (i64, String, i64, i64)| AreaOffer {
                    id: AreaId(area),
                    name,
                    price,
                    free_seats,
                },
            )
            .await
            .map_err(unavailable)
    }

    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool> {
        let n: Option<i64> = self
            .conn()
            .await?
            .exec_first(q::AREA_IN_SESSION, (area.0, session.0))
            .await
            .map_err(unavailable)?;
        Ok(n.unwrap_or(0) > 0)
    }

    async fn area_seats(&self, area: AreaId) -> StorageResult<Vec<AreaSeat>> {
        let rows: Vec<(i64, i64, i64)> = self
            .conn()
            .await?
            .exec(q::AREA_SEATS, (area.0,))
            .await
            .map_err(unavailable)?;
        Ok(rows
            .into_iter()
            .map(|(row, column, id)| AreaSeat {
                row,
                column,
                seat: SeatId(id),
            })
            .collect())
    }

    async fn seat_map(&self, session: SessionId, area: AreaId) -> StorageResult<Vec<SeatCell>> {
        self.conn()
            .await?
            .exec_map(
                q::SEAT_MAP,
                (session.0, area.0),
                |(column, row, status): (i64, i64, i64)| SeatCell {
                    row,
                    column,
                    status,
                },
            )
            .await
            .map_err(unavailable)
    }

    async fn session_ids(&self) -> StorageResult<Vec<SessionId>> {
        self.conn()
            .await?
            .exec_map(q::SESSION_IDS, (), |id: i64| SessionId(id))
            .await
            .map_err(unavailable)
    }

    async fn sessions_on_sale_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> StorageResult<Vec<SessionId>> {
        let at = |ms| Instant::from_millis(ms).map(|t| t.0).unwrap_or_default();
        self.conn()
            .await?
            .exec_map(
                q::SESSIONS_ON_SALE_BETWEEN,
                (at(from), at(to)),
                |id: i64| SessionId(id),
            )
            .await
            .map_err(unavailable)
    }

    async fn warm_pool(&self) -> StorageResult<()> {
        self.open_connections(8).await
    }

    async fn ticket_lines(
        &self,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<TicketLine>> {
        if seats.is_empty() {
            return Ok(Vec::new());
        }
        type Row = (
            String,
            NaiveDateTime,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
        );
        let sql = q::with_in(q::TICKET_LINES, seats.len());
        let args: Vec<mysql_async::Value> = seats
            .iter()
            .map(|s| s.0)
            .chain([session.0])
            .map(Into::into)
            .collect();
        self.conn()
            .await?
            .exec_map(
                sql,
                args,
                |(title, time, venue, area, seat, row, column, price, area_id): Row| TicketLine {
                    title,
                    time: Instant(time),
                    venue,
                    area,
                    seat: SeatId(seat),
                    row,
                    column,
                    price,
                    area_id: AreaId(area_id),
                },
            )
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl Accounts for MysqlStore {
    async fn create_user(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> StorageResult<Option<UserRecord>> {
        let mut conn = self.conn().await?;
        let inserted = conn
            .exec_drop(q::INSERT_USER, (&name, &email, &password_hash))
            .await;
        match inserted {
            Ok(()) => Ok(Some(UserRecord {
                id: UserId(conn.last_insert_id().unwrap_or_default() as i64),
                name,
                email,
                password_hash,
            })),
            // The UNIQUE email index decides races between two sign-ups.
            Err(e) if server_code(&e) == Some(ER_DUP_ENTRY) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn user_by_email(&self, email: String) -> StorageResult<Option<UserRecord>> {
        let row: Option<UserRow> = self
            .conn()
            .await?
            .exec_first(q::USER_BY_EMAIL, (email,))
            .await
            .map_err(unavailable)?;
        Ok(row.map(user_record))
    }

    async fn user_exists(&self, id: UserId) -> StorageResult<bool> {
        let row: Option<UserRow> = self
            .conn()
            .await?
            .exec_first(q::USER_BY_ID, (id.0,))
            .await
            .map_err(unavailable)?;
        Ok(row.is_some())
    }

    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>> {
        let mut conn = self.conn().await?;
        let user: Option<UserRow> = conn
            .exec_first(q::USER_BY_ID, (id.0,))
            .await
            .map_err(unavailable)?;
        let Some((_, name, email, _)) = user else {
            return Ok(None);
        };
        type Row = (
            i64,
            i64,
            String,
            NaiveDateTime,
            String,
            NaiveDateTime,
            String,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = conn
            .exec(q::PROFILE_ROWS, (id.0,))
            .await
            .map_err(unavailable)?;
        let rows = rows
            .into_iter()
            .map(
                |(order, session, title, time, venue, created, area, price, row, column)| {
                    ProfileRow {
                        order_id: OrderId(order),
                        session_id: SessionId(session),
                        title,
                        time: Instant(time),
                        venue,
                        created_at: Instant(created),
                        ticket: OrderTicket {
                            area,
                            price,
                            row,
                            column,
                        },
                    }
                },
            )
            .collect();
        Ok(Some(Profile {
            name,
            email,
            orders: group_orders(rows),
        }))
    }
}
