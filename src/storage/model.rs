//! Plain records that cross the storage boundary, and the outcomes of seat transitions.

use crate::domain::ids::{AreaId, EventId, OrderId, SeatId, SessionId, UserId};
use crate::domain::seats::{SeatStatus, TicketLimit};
use crate::domain::time::{Instant, Millis};

/// One card on the event list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    /// Event id.
    pub id: EventId,
    /// Performer.
    pub singer: String,
    /// Image file name (no base URL).
    pub picture: String,
}

/// An event with its sessions, soonest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDetail {
    /// Performer.
    pub singer: String,
    /// Event title.
    pub title: String,
    /// Banner image file name.
    pub detail_picture: String,
    /// HTML description (`<br/>` line breaks).
    pub description: String,
    /// Embedded video URL.
    pub video_link: String,
    /// When tickets go on sale; `None` means already on sale.
    pub on_sale: Option<Instant>,
    /// The event's sessions, by time.
    pub sessions: Vec<SessionSlot>,
}

/// A session as listed on the event page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSlot {
    /// Session id.
    pub session_id: SessionId,
    /// Start time.
    pub time: Instant,
    /// Venue city.
    pub city: String,
    /// Venue name.
    pub venue: String,
}

/// What the purchase checks need to know about a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id.
    pub id: SessionId,
    /// Its event.
    pub event_id: EventId,
    /// Start time.
    pub time: Instant,
    /// The event's on-sale time (`None`: on sale).
    pub on_sale: Option<Instant>,
    /// Seat map image file name.
    pub seat_picture: String,
}

/// An area of a session with its price and free seats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AreaOffer {
    /// Area id.
    pub id: AreaId,
    /// Area name.
    pub name: String,
    /// Price for this session.
    pub price: i64,
    /// Seats still EMPTY.
    pub free_seats: i64,
}

/// One cell of a seat map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatCell {
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
    /// Stored status number.
    pub status: i64,
}

/// A seat of an area and its position; positions never change once a venue is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AreaSeat {
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
    /// Seat id.
    pub seat: SeatId,
}

/// A seat and where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeatSpot {
    /// Seat id.
    pub seat: SeatId,
    /// Its area.
    pub area: AreaId,
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
}

/// A seat released when a visit ends, with what it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released {
    /// Where the seat is.
    pub spot: SeatSpot,
    /// Selected or locked before the release.
    pub was: SeatStatus,
}

/// A hold freed because its deadline passed (its visit ended without anyone noticing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaleHold {
    /// The session.
    pub session: SessionId,
    /// Who held it.
    pub user: UserId,
    /// The seat and what it was.
    pub released: Released,
}

/// How long a new hold lasts and how many seats an account may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldTerms {
    /// Seats per account per session.
    pub limit: TicketLimit,
    /// The hold's deadline, ms since the epoch.
    pub until: Millis,
}

/// One line of the order summary returned by `POST /seat/lock`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketLine {
    /// Event title.
    pub title: String,
    /// Session time.
    pub time: Instant,
    /// Venue name.
    pub venue: String,
    /// Area name.
    pub area: String,
    /// Seat id.
    pub seat: SeatId,
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
    /// Price for this session.
    pub price: i64,
    /// The seat's area.
    pub area_id: AreaId,
}

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Account id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Login email.
    pub email: String,
    /// bcrypt hash.
    pub password_hash: String,
}

/// An account's page with its orders, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Display name.
    pub name: String,
    /// Login email.
    pub email: String,
    /// Orders, newest first.
    pub orders: Vec<OrderView>,
}

/// One past order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// Order id.
    pub order_id: OrderId,
    /// Session bought for.
    pub session_id: SessionId,
    /// Event title.
    pub title: String,
    /// Session time.
    pub time: Instant,
    /// Venue name.
    pub venue: String,
    /// Sum of the ticket prices.
    pub total: i64,
    /// When the order was placed.
    pub created_at: Instant,
    /// Its tickets.
    pub tickets: Vec<OrderTicket>,
}

/// One ticket of a past order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderTicket {
    /// Area name.
    pub area: String,
    /// Price paid.
    pub price: i64,
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
}

/// One row of the profile query: an order's header repeated for each of its tickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRow {
    /// Order id.
    pub order_id: OrderId,
    /// Session id.
    pub session_id: SessionId,
    /// Event title.
    pub title: String,
    /// Session time.
    pub time: Instant,
    /// Venue name.
    pub venue: String,
    /// Order time.
    pub created_at: Instant,
    /// The ticket on this row.
    pub ticket: OrderTicket,
}

/// Folds per-ticket rows (already ordered by order id descending) into orders, summing prices
/// as the original did (`total` is the sum of the tickets, not the stored column).
pub fn group_orders(rows: Vec<ProfileRow>) -> Vec<OrderView> {
    let mut orders: Vec<OrderView> = Vec::new();
    for row in rows {
        match orders.last_mut() {
            Some(last) if last.order_id == row.order_id => {
                last.total += row.ticket.price;
                last.tickets.push(row.ticket);
            }
            _ => orders.push(OrderView {
                order_id: row.order_id,
                session_id: row.session_id,
                title: row.title,
                time: row.time,
                venue: row.venue,
                total: row.ticket.price,
                created_at: row.created_at,
                tickets: vec![row.ticket],
            }),
        }
    }
    orders
}

/// Result of claiming one seat on the seat map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectOutcome {
    /// The seat is now SELECTED by the caller.
    Selected,
    /// The caller already holds or bought the whole allowance.
    LimitReached,
    /// Someone else got there first.
    Taken,
}

/// Result of giving back selected seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnselectOutcome {
    /// All were SELECTED by the caller and are EMPTY now.
    Unselected,
    /// This seat is not SELECTED by the caller; nothing changed.
    NotSelectedBy(SeatId),
}

/// Result of locking selected seats for the order page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// All are LOCKED by the caller now.
    Locked,
    /// The caller bought the whole allowance already.
    AllBought,
    /// Only this many more fit the allowance.
    OnlyMore(u32),
    /// This seat is not held by the caller; nothing changed.
    NotSelectedBy(SeatId),
}

/// Result of unlocking seats when leaving the order page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnlockOutcome {
    /// All are EMPTY now.
    Unlocked,
    /// This seat is not the caller's; nothing changed.
    NotLockedBy(SeatId),
    /// This seat is the caller's but not LOCKED; nothing changed.
    NotLocked(SeatId),
}

/// Result of placing an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderOutcome {
    /// Sold.
    Placed {
        /// The new order's id.
        order: OrderId,
        /// The seats of the session the account holds SOLD now, this order's included (the
        /// count the limit was checked against, plus the order: exact at the commit, since
        /// one account's orders are serialized).
        sold: u32,
    },
    /// No such seat in this session.
    NoSuchSeat(SeatId),
    /// This seat is not LOCKED by the caller.
    NotLockedBy(SeatId),
    /// The seats have no price in this session.
    Unpriced,
    /// Only this many more fit the allowance (0: all bought).
    OnlyMore(u32),
}

/// What the sold-count tally ([`super::SoldCounts`]) knows of one account in one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tallied {
    /// The account's SOLD seats in the session, exact.
    Count(u32),
    /// An order of the account is being written (or one ended without saying whether it
    /// committed): only the database knows.
    InFlight,
    /// The tally has not been loaded for the session (or Redis lost it).
    NotLoaded,
}

/// How many of a session's seats are held and sold (the operator's figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SeatCounts {
    /// Selected or locked.
    pub held: u64,
    /// Sold.
    pub sold: u64,
}

/// One admin action for the audit trail. `who` is the operator token's label, never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When (ms since the epoch).
    pub at: Millis,
    /// The operator's label.
    pub who: String,
    /// What was done (`limit`, `pause`, `resume`, `extend`, `remove`, `close`, …).
    pub action: String,
    /// The session acted on.
    pub session: Option<SessionId>,
    /// The account acted on, if any.
    pub target: Option<String>,
    /// The state before, as JSON text.
    pub before: Option<String>,
    /// The state after, as JSON text.
    pub after: Option<String>,
}

/// A stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Row id (rises with time).
    pub id: i64,
    /// The action.
    pub entry: AuditEntry,
}
