//! Delivers the service layer's news to every protocol: the legacy default namespace in the
//! original's words, the app namespaces as whole values and versioned seat changes.
//!
//! Everything goes through the ordered [`SeatNews`] queue, so news leaves in the order it was
//! published: a departure's seats are shown before the person it admits is told to go.

use std::sync::Arc;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use super::announcer::Announcer;
use super::app::admissions::Admissions;
use super::app::positions::Positions;
use super::rooms;
use super::seat_news::SeatNews;
use super::tap;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::seats::SeatStatus;
use crate::domain::time::now_millis;
use crate::domain::waiting_room::Admission;
use crate::record::Recorder;
use crate::service::news::{EndReason, News, Notifier, SeatCause, SeatsChanged};
use crate::state::AppState;

/// Sent to a legacy visitor whose purchase window the server ended, before it disconnects them.
pub(crate) const WINDOW_EXPIRED: &str = "window expired";

/// The realtime adapter's [`Notifier`].
pub(crate) struct Delivery<A: Adapter> {
    io: SocketIo<A>,
    state: AppState,
    seat_news: SeatNews,
    announcer: Announcer,
    positions: Positions,
    admissions: Admissions,
}

impl<A: Adapter> Delivery<A> {
    /// Delivers through `io`, in the order of `seat_news`.
    pub(crate) fn new(
        io: SocketIo<A>,
        state: AppState,
        seat_news: SeatNews,
        announcer: Announcer,
        positions: Positions,
        admissions: Admissions,
    ) -> Arc<Self> {
        Arc::new(Self {
            io,
            state,
            seat_news,
            announcer,
            positions,
            admissions,
        })
    }
}

impl<A: Adapter> Notifier for Delivery<A> {
    fn publish(&self, news: News) {
        match news {
            News::Seats(seats) => {
                if !seats.legacy_told {
                    legacy_seats(&self.io, &self.state, &self.seat_news, &seats);
                }
                app_seats(&self.io, &self.state, &self.seat_news, seats);
            }
            News::Left { session, user, at } => self.announcer.left(session, user, at),
            News::QueueMoved {
                session,
                departed,
                departure,
                applied_at,
            } => {
                let announcer = self.announcer.clone();
                let positions = self.positions.clone();
                let promoted = departure.promoted;
                self.seat_news.then(move || {
                    positions.departure(session, departed, &departure);
                    announcer.announce(session, departed, departure, applied_at);
                });
                if let Some(user) = promoted {
                    let say = self.sayer();
                    self.seat_news
                        .run(async move { say.tell_admitted(session, user).await });
                }
            }
            News::Drawn { session, placed } => {
                let say = self.sayer();
                let positions = self.positions.clone();
                self.seat_news.run(async move {
                    for (user, admission) in placed {
                        match admission {
                            Admission::Pass => say.tell_admitted(session, user).await,
                            Admission::Queued {
                                wait_people,
                                seconds,
                            } => positions.placed(
                                session,
                                user,
                                wait_people.saturating_sub(1),
                                seconds,
                            ),
                        }
                    }
                });
            }
            News::VisitEnded {
                session,
                user,
                reason,
            } => {
                let io = self.io.clone();
                let recorder = self.state.recorder.clone();
                self.seat_news.run(async move {
                    visit_ended(&io, recorder.as_ref(), session, user, reason).await;
                });
            }
            News::Promoted {
                session,
                departures,
            } => {
                let (announcer, positions) = (self.announcer.clone(), self.positions.clone());
                let admitted: Vec<UserId> = departures.iter().filter_map(|d| d.promoted).collect();
                self.seat_news.then(move || {
                    for departure in departures {
                        positions.departure_of(session, None, &departure);
                        announcer.announce_admission(session, departure);
                    }
                });
                let say = self.sayer();
                self.seat_news.run(async move {
                    for user in admitted {
                        say.tell_admitted(session, user).await;
                    }
                });
            }
            News::Restated { session, places } => {
                let positions = self.positions.clone();
                self.seat_news.then(move || {
                    for (user, ahead, seconds) in places {
                        positions.placed(session, user, ahead, seconds);
                    }
                });
            }
            News::WindowsMoved { session } => {
                let (io, state) = (self.io.clone(), self.state.clone());
                self.seat_news
                    .run(async move { super::app::windows_moved(&io, &state, session).await });
            }
            News::SaleClosed { session, users } => {
                let io = self.io.clone();
                let recorder = self.state.recorder.clone();
                self.seat_news.run(async move {
                    for user in users {
                        sale_closed(&io, recorder.as_ref(), session, user).await;
                    }
                });
            }
            News::LeaseLost => {
                let io = self.io.clone();
                self.seat_news.then(move || lease_lost(&io));
            }
        }
    }
}

impl<A: Adapter> Delivery<A> {
    /// What saying `admitted` needs, for a task on the news queue.
    fn sayer(&self) -> Sayer<A> {
        Sayer {
            io: self.io.clone(),
            state: self.state.clone(),
            positions: self.positions.clone(),
            admissions: self.admissions.clone(),
        }
    }
}

/// Says `admitted` to app visitors, on the path `position` pushes take ([`Admissions`]).
struct Sayer<A: Adapter> {
    io: SocketIo<A>,
    state: AppState,
    positions: Positions,
    admissions: Admissions,
}

impl<A: Adapter> Sayer<A> {
    /// Tells an app visitor they reached the page, with the deadline from the stored admission
    /// time, so `admitted` matches every later `window` push.
    async fn tell_admitted(&self, session: SessionId, user: UserId) {
        let state = &self.state;
        let ends = match super::app::window_ends_at(state, session, user).await {
            Some(ends) => ends,
            None => now_millis() + state.window_ms(session),
        };
        (self.admissions)
            .say(&self.io, &self.positions, session, user, ends)
            .await;
        // Recorded said in Redis by each instance that said it, at its next look for unsaid
        // admissions (one call a second for all of them, not one per admission).
    }
}

/// The original's seat events for a change the legacy protocol did not tell itself.
fn legacy_seats<A: Adapter>(
    io: &SocketIo<A>,
    state: &AppState,
    news: &SeatNews,
    seats: &SeatsChanged,
) {
    let room = rooms::seat_map(seats.session, seats.area);
    let mut heard = tap::audience(state.recorder.as_ref(), "/", &room);
    let Some(mut watchers) = rooms::to(io, room) else {
        return;
    };
    if matches!(seats.cause, SeatCause::Release(_)) {
        // The holder's own connections are leaving and need no news.
        let holder = rooms::entrant(seats.session, seats.by);
        heard = heard.and_then(|h| h.except_room("/", &holder));
        watchers = watchers.except(holder);
    }
    let cells = || seats.changes.iter().map(|c| (c.row, c.column));
    let tickets = || json!({"tickets": cells().map(|(r, c)| json!({"row": r, "column": c})).collect::<Vec<_>>()});
    let (event, body): (&'static str, Value) = match seats.cause {
        SeatCause::Select => {
            let Some((row, column)) = cells().next() else {
                return;
            };
            let body = json!({"sessionId": seats.session, "areaId": seats.area, "row": row,
                "column": column, "rowIndex": row - 1, "columnIndex": column - 1});
            ("other select seat", body)
        }
        SeatCause::Unselect | SeatCause::Release(SeatStatus::Selected) => {
            ("unselect seat", tickets())
        }
        SeatCause::Unlock | SeatCause::Release(_) => ("unlock seat", tickets()),
        SeatCause::Lock => {
            let list = cells().map(|(r, c)| {
                json!({"row": r, "column": c, "rowIndex": r - 1,
                "columnIndex": c - 1, "status_id": SeatStatus::Locked.id()})
            });
            ("lock seat", Value::Array(list.collect()))
        }
        SeatCause::Sell => {
            let list = cells().map(|(r, c)| {
                json!({"rowIndex": r - 1, "columnIndex": c - 1,
                "status_id": SeatStatus::Sold.id()})
            });
            ("sold seat", Value::Array(list.collect()))
        }
    };
    news.send(watchers, heard, event, body);
}

/// `seats` to the app watchers of the area, numbered by the area's shared version counter.
fn app_seats<A: Adapter>(io: &SocketIo<A>, state: &AppState, news: &SeatNews, seats: SeatsChanged) {
    let ns = rooms::event_namespace(seats.session);
    let room = rooms::area(seats.area);
    let heard = tap::audience(state.recorder.as_ref(), &ns, &room);
    let Some(watchers) = rooms::to_in(io, &ns, room) else {
        return;
    };
    let versions = state.store.seat_versions.clone();
    news.run(async move {
        let version = match versions.bump(seats.session, seats.area).await {
            Ok(v) => v,
            Err(e) => {
                // Watchers see a gap at the next change and read the map again.
                return tracing::warn!(error = %e, "counting a seat-map version failed");
            }
        };
        let changes: Vec<Value> = seats
            .changes
            .iter()
            .map(|c| json!({"row": c.row, "column": c.column, "status": super::app::status_name(c.status)}))
            .collect();
        let body = json!({"areaId": seats.area, "version": version, "changes": changes});
        if let Some(heard) = &heard {
            heard.pushed("seats", &[&body]);
        }
        if let Err(e) = watchers.emit("seats", &body).await {
            tracing::debug!(error = %e, "a seats push failed");
        }
    });
}

/// Ends a visit on every protocol: the legacy page hears `window expired`, the app hears
/// `removed` (queue) and `expired` (buying page); then their connections to it close.
/// This instance lost its lease, and with it every place it held: its own connections that
/// entered a waiting room hear their visit ended. Only these, sent to each socket rather than
/// to the account's rooms: a connection of the same account on another instance that took the
/// place over still has it.
fn lease_lost<A: Adapter>(io: &SocketIo<A>) {
    let entered = |s: &socketioxide::extract::SocketRef<A>| {
        let conn = s.extensions.get::<super::Conn>()?;
        Some((conn.entered()?, conn.user()))
    };
    let mut ended = Vec::new();
    for s in io.of("/").map(|ns| ns.sockets()).unwrap_or_default() {
        let Some((session, user)) = entered(&s) else {
            continue;
        };
        let _ = s.emit(WINDOW_EXPIRED, &json!({"sessionId": session}));
        let _ = s.disconnect();
        ended.push((session, user));
    }
    let queue = io.of(rooms::QUEUE_NAMESPACE).map(|ns| ns.sockets());
    for s in queue.unwrap_or_default() {
        let Some((session, user)) = entered(&s) else {
            continue;
        };
        let _ = s.emit(
            "removed",
            &json!({"sessionId": session, "reason": "instance_lost"}),
        );
        ended.push((session, user));
    }
    for (session, user) in ended {
        let page = io
            .of(rooms::event_namespace(session))
            .map(|ns| ns.sockets());
        for s in page.unwrap_or_default() {
            if s.extensions.get::<super::Conn>().map(|c| c.user()) == Some(user) {
                let _ = s.emit("expired", &json!({}));
                let _ = s.disconnect();
            }
        }
    }
}

/// Sent to a legacy visitor still queued when an operator ended the sale, as the error reply
/// to their `check limit` (the old client shows it).
pub(crate) const SALE_CLOSED: &str = "活動已結束！";

/// Tells someone who was queued that the sale is over: the app hears `removed` (reason
/// `sale_ended`), the legacy page an error reply to its `check limit`.
async fn sale_closed<A: Adapter>(
    io: &SocketIo<A>,
    recorder: Option<&Arc<Recorder>>,
    session: SessionId,
    user: UserId,
) {
    let room = rooms::entrant(session, user);
    let refusal = json!({"error": SALE_CLOSED});
    if let Some(heard) = tap::audience(recorder, "/", &room) {
        heard.pushed("check limit", &[&refusal]);
    }
    if let Some(legacy) = rooms::to(io, room.clone())
        && let Err(e) = legacy.emit("check limit", &refusal).await
    {
        tracing::debug!(error = %e, "telling a legacy visitor the sale ended failed");
    }
    let body = json!({"sessionId": session, "reason": "sale_ended"});
    if let Some(heard) = tap::audience(recorder, rooms::QUEUE_NAMESPACE, &room) {
        heard.pushed("removed", &[&body]);
    }
    if let Some(queue) = rooms::to_in(io, rooms::QUEUE_NAMESPACE, room)
        && let Err(e) = queue.emit("removed", &body).await
    {
        tracing::debug!(error = %e, "sending removed failed");
    }
}

/// Tells a visitor the server ended their visit, then closes their connections to it. The
/// original protocol knows one such message, `window expired`, whatever the reason.
async fn visit_ended<A: Adapter>(
    io: &SocketIo<A>,
    recorder: Option<&Arc<Recorder>>,
    session: crate::domain::ids::SessionId,
    user: crate::domain::ids::UserId,
    reason: EndReason,
) {
    let room = rooms::entrant(session, user);
    if let Some(visitor) = rooms::to(io, room.clone())
        && let Err(e) = {
            let body = json!({"sessionId": session});
            if let Some(heard) = tap::audience(recorder, "/", &room) {
                heard.pushed(WINDOW_EXPIRED, &[&body]);
            }
            visitor.emit(WINDOW_EXPIRED, &body).await
        }
    {
        tracing::debug!(error = %e, "sending window expired failed");
    }
    if let Some(visitor) = rooms::to(io, room.clone())
        && let Err(e) = visitor.disconnect().await
    {
        tracing::warn!(error = %e, "disconnecting an expired visitor failed");
    }
    let reason = match reason {
        EndReason::WindowExpired => "window_expired",
        EndReason::InstanceLost => "instance_lost",
        EndReason::Operator => "operator",
    };
    super::app::visit_ended(io, recorder, session, user, reason).await;
}
