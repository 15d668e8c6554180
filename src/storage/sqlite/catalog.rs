//! Read-mostly queries on SQLite: events, sessions, seat maps and accounts.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use crate::domain::ids::{AreaId, EventId, OrderId, SeatId, SessionId, UserId};
use crate::domain::time::{Instant, Millis};
use crate::storage::model::*;
use crate::storage::queries as q;
use crate::storage::{Accounts, Catalog, StorageResult};

/// Milliseconds as the stored `DATETIME` text.
pub(super) fn db_time(ms: Millis) -> String {
    Instant::from_millis(ms)
        .map(|t| t.0.format(crate::domain::time::DB_FORMAT).to_string())
        .unwrap_or_default()
}

/// Reads a stored `DATETIME` text column; a malformed value is a data error, not a panic.
pub(super) fn instant(row: &Row<'_>, idx: usize) -> rusqlite::Result<Instant> {
    let text: String = row.get(idx)?;
    Instant::parse_db(&text).ok_or_else(|| bad_time(idx, text))
}

fn maybe_instant(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Instant>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|t| Instant::parse_db(&t).ok_or_else(|| bad_time(idx, t)))
        .transpose()
}

fn bad_time(idx: usize, text: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        format!("not a datetime: {text:?}").into(),
    )
}

fn user_record(r: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: UserId(r.get(0)?),
        name: r.get(1)?,
        email: r.get(2)?,
        password_hash: r.get(3)?,
    })
}

#[async_trait]
impl Catalog for SqliteStore {
    async fn ready(&self) -> StorageResult<()> {
        // Opening the store applied every migration; listing the tables proves the file still
        // answers and still holds what the routes need.
        let tables = self
            .run(|c| {
                c.prepare_cached("SELECT name FROM sqlite_master WHERE type = 'table'")?
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .await?;
        q::check_route_tables(&tables)
    }

    async fn events(&self, search: Option<String>) -> StorageResult<Vec<EventSummary>> {
        self.run(move |c| {
            let map = |r: &Row<'_>| {
                Ok(EventSummary {
                    id: EventId(r.get(0)?),
                    singer: r.get(1)?,
                    picture: r.get(2)?,
                })
            };
            match search {
                Some(text) => c
                    .prepare_cached(q::EVENTS_MATCHING)?
                    .query_map([format!("%{text}%")], map)?
                    .collect(),
                None => c.prepare_cached(q::EVENTS)?.query_map([], map)?.collect(),
            }
        })
        .await
    }

    async fn event(&self, id: EventId) -> StorageResult<Option<EventDetail>> {
        self.run(move |c| {
            let mut stmt = c.prepare_cached(q::EVENT_DETAIL)?;
            let mut rows = stmt.query([id.0])?;
            let mut detail: Option<EventDetail> = None;
            while let Some(r) = rows.next()? {
                let slot = SessionSlot {
                    session_id: SessionId(r.get(6)?),
                    time: instant(r, 7)?,
                    city: r.get(8)?,
                    venue: r.get(9)?,
                };
                match detail.as_mut() {
                    Some(d) => d.sessions.push(slot),
                    None => {
                        detail = Some(EventDetail {
                            singer: r.get(0)?,
                            title: r.get(1)?,
                            detail_picture: r.get(2)?,
                            description: r.get(3)?,
                            video_link: r.get(4)?,
                            on_sale: maybe_instant(r, 5)?,
                            sessions: vec![slot],
                        })
                    }
                }
            }
            Ok(detail)
        })
        .await
    }

    async fn session(&self, id: SessionId) -> StorageResult<Option<SessionInfo>> {
        self.run(move |c| {
            c.prepare_cached(q::SESSION)?
                .query_row([id.0], |r| {
                    Ok(SessionInfo {
                        id: SessionId(r.get(0)?),
                        event_id: EventId(r.get(1)?),
                        time: instant(r, 2)?,
                        on_sale: maybe_instant(r, 3)?,
                        seat_picture: r.get(4)?,
                    })
                })
                .optional()
        })
        .await
    }

    async fn session_areas(&self, id: SessionId) -> StorageResult<Vec<AreaOffer>> {
        self.run(move |c| {
            c.prepare_cached(&q::SESSION_AREAS)?
                .query_map([id.0], |r| {
                    Ok(AreaOffer {
                        id: AreaId(r.get(0)?),
                        name: r.get(1)?,
                        price: r.get(2)?,
                        free_seats: r.get(3)?,
                    })
                })?
                .collect()
        })
        .await
    }

    async fn area_in_session(&self, session: SessionId, area: AreaId) -> StorageResult<bool> {
        self.run(move |c| {
            let n: i64 = c
                .prepare_cached(q::AREA_IN_SESSION)?
                .query_row([area.0, session.0], |r| r.get(0))?;
            Ok(n > 0)
        })
        .await
    }

    async fn area_seats(&self, area: AreaId) -> StorageResult<Vec<AreaSeat>> {
        self.run(move |c| {
            c.prepare_cached(q::AREA_SEATS)?
                .query_map([area.0], |r| {
                    Ok(AreaSeat {
                        row: r.get(0)?,
                        column: r.get(1)?,
                        seat: SeatId(r.get(2)?),
                    })
                })?
                .collect()
        })
        .await
    }

    async fn seat_map(&self, session: SessionId, area: AreaId) -> StorageResult<Vec<SeatCell>> {
        self.run(move |c| {
            c.prepare_cached(q::SEAT_MAP)?
                .query_map([session.0, area.0], |r| {
                    Ok(SeatCell {
                        column: r.get(0)?,
                        row: r.get(1)?,
                        status: r.get(2)?,
                    })
                })?
                .collect()
        })
        .await
    }

    async fn session_ids(&self) -> StorageResult<Vec<SessionId>> {
        self.run(move |c| {
            c.prepare_cached(q::SESSION_IDS)?
                .query_map([], |r| r.get(0).map(SessionId))?
                .collect()
        })
        .await
    }

    async fn sessions_on_sale_between(
        &self,
        from: Millis,
        to: Millis,
    ) -> StorageResult<Vec<SessionId>> {
        let (from, to) = (db_time(from), db_time(to));
        self.run(move |c| {
            c.prepare_cached(q::SESSIONS_ON_SALE_BETWEEN)?
                .query_map([from, to], |r| r.get(0).map(SessionId))?
                .collect()
        })
        .await
    }

    async fn warm_pool(&self) -> StorageResult<()> {
        Ok(())
    }

    async fn ticket_lines(
        &self,
        session: SessionId,
        seats: Vec<SeatId>,
    ) -> StorageResult<Vec<TicketLine>> {
        if seats.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |c| {
            let sql = q::with_in(q::TICKET_LINES, seats.len());
            let args = seats.iter().map(|s| s.0).chain([session.0]);
            c.prepare(&sql)?
                .query_map(params_from_iter(args), |r| {
                    Ok(TicketLine {
                        title: r.get(0)?,
                        time: instant(r, 1)?,
                        venue: r.get(2)?,
                        area: r.get(3)?,
                        seat: SeatId(r.get(4)?),
                        row: r.get(5)?,
                        column: r.get(6)?,
                        price: r.get(7)?,
                        area_id: AreaId(r.get(8)?),
                    })
                })?
                .collect()
        })
        .await
    }
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(
        &self,
        name: String,
        email: String,
        password_hash: String,
    ) -> StorageResult<Option<UserRecord>> {
        self.run(move |c| {
            match c.execute(q::INSERT_USER, params![name, email, password_hash]) {
                Ok(_) => Ok(Some(UserRecord {
                    id: UserId(c.last_insert_rowid()),
                    name,
                    email,
                    password_hash,
                })),
                // The UNIQUE email index decides races between two sign-ups.
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn user_by_email(&self, email: String) -> StorageResult<Option<UserRecord>> {
        self.run(move |c| {
            c.prepare_cached(q::USER_BY_EMAIL)?
                .query_row([email], user_record)
                .optional()
        })
        .await
    }

    async fn user_exists(&self, id: UserId) -> StorageResult<bool> {
        self.run(move |c| {
            Ok(c.prepare_cached(q::USER_BY_ID)?
                .query_row([id.0], user_record)
                .optional()?
                .is_some())
        })
        .await
    }

    async fn profile(&self, id: UserId) -> StorageResult<Option<Profile>> {
        self.run(move |c| {
            let Some(user) = c
                .prepare_cached(q::USER_BY_ID)?
                .query_row([id.0], user_record)
                .optional()?
            else {
                return Ok(None);
            };
            let rows = c
                .prepare_cached(q::PROFILE_ROWS)?
                .query_map([id.0], |r| {
                    Ok(ProfileRow {
                        order_id: OrderId(r.get(0)?),
                        session_id: SessionId(r.get(1)?),
                        title: r.get(2)?,
                        time: instant(r, 3)?,
                        venue: r.get(4)?,
                        created_at: instant(r, 5)?,
                        ticket: OrderTicket {
                            area: r.get(6)?,
                            price: r.get(7)?,
                            row: r.get(8)?,
                            column: r.get(9)?,
                        },
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(Profile {
                name: user.name,
                email: user.email,
                orders: group_orders(rows),
            }))
        })
        .await
    }
}
