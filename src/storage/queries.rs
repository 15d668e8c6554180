//! SQL shared by the SQLite and MySQL engines, written once so they cannot drift apart.
//!
//! Both engines take `?` placeholders and backtick-quoted names. Statements with an `IN` list
//! carry a `{in}` marker that [`with_in`] expands. Seat statuses are written as markers
//! (`{EMPTY}`, `{SELECTED}`, `{LOCKED}`, `{SOLD}`) that [`with_statuses`] fills from
//! [`SeatStatus::id`] once, on first use, so the stored numbers are defined in one place.
//! Dialect-specific statements (DDL, upserts, time functions) live with their engine.

use std::sync::LazyLock;

use crate::domain::seats::SeatStatus;

/// Every table a route reads or writes: readiness fails when one is gone.
pub(crate) const ROUTE_TABLES: &[&str] = &[
    "venue",
    "area",
    "event",
    "session",
    "price",
    "seat",
    "user",
    "seat_status",
    "order",
    "order_detail",
];

/// The route tables missing from `present` (the tables the engine lists), as a readiness
/// failure naming them.
pub(crate) fn check_route_tables(present: &[String]) -> Result<(), super::StorageError> {
    let missing: Vec<&str> = ROUTE_TABLES
        .iter()
        .copied()
        .filter(|table| !present.iter().any(|p| p.eq_ignore_ascii_case(table)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(super::StorageError::Config(format!(
            "tables missing: {}",
            missing.join(", ")
        )))
    }
}

/// Event cards, all of them.
pub(crate) const EVENTS: &str = "SELECT id, singer, picture FROM event ORDER BY id";
/// Event cards whose title matches a `LIKE` pattern.
pub(crate) const EVENTS_MATCHING: &str =
    "SELECT id, singer, picture FROM event WHERE title LIKE ? ORDER BY id";
/// An event joined with its sessions and venues, soonest session first.
pub(crate) const EVENT_DETAIL: &str = "SELECT e.singer, e.title, e.detail_picture, e.description, \
     e.video_link, e.on_sale, s.id, s.time, v.city, v.name \
     FROM event e JOIN session s ON s.event_id = e.id JOIN venue v ON v.id = s.venue_id \
     WHERE e.id = ? ORDER BY s.time, s.id";
/// One session with its event's on-sale time.
pub(crate) const SESSION: &str = "SELECT s.id, s.event_id, s.time, e.on_sale, s.seat_picture \
     FROM session s JOIN event e ON e.id = s.event_id WHERE s.id = ?";
/// A session's areas with their price and count of EMPTY seats.
pub(crate) static SESSION_AREAS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT a.id, a.name, p.price, \
     (SELECT COUNT(*) FROM seat_status ss JOIN seat st ON st.id = ss.seat_id \
      WHERE ss.session_id = s.id AND st.area_id = a.id AND ss.status_id = {EMPTY}) \
     FROM session s JOIN area a ON a.venue_id = s.venue_id \
     JOIN price p ON p.area_id = a.id AND p.session_id = s.id \
     WHERE s.id = ? ORDER BY a.id",
    )
});
/// Whether an area belongs to a session's venue (area id, session id).
pub(crate) const AREA_IN_SESSION: &str = "SELECT COUNT(*) FROM area a \
     JOIN session s ON s.venue_id = a.venue_id WHERE a.id = ? AND s.id = ?";
/// Every seat of an area with its position (area).
pub(crate) const AREA_SEATS: &str = "SELECT `row`, `column`, id FROM seat WHERE area_id = ?";
/// One area's seat map in a session (session, area), dense by row then column.
pub(crate) const SEAT_MAP: &str = "SELECT st.`column`, st.`row`, ss.status_id \
     FROM seat_status ss JOIN seat st ON st.id = ss.seat_id \
     WHERE ss.session_id = ? AND st.area_id = ? ORDER BY st.`row`, st.`column`";
/// Order summary lines (session, then the seat ids), priced for that session.
pub(crate) const TICKET_LINES: &str = "SELECT e.title, s.time, v.name, a.name, st.id, st.`row`, \
     st.`column`, p.price, a.id FROM session s JOIN event e ON e.id = s.event_id \
     JOIN venue v ON v.id = s.venue_id JOIN seat st ON st.id IN ({in}) \
     JOIN area a ON a.id = st.area_id \
     JOIN price p ON p.area_id = a.id AND p.session_id = s.id \
     WHERE s.id = ? ORDER BY st.id";

/// Every session's id.
pub(crate) const SESSION_IDS: &str = "SELECT id FROM session ORDER BY id";
/// Sessions whose event goes on sale in a window (from exclusive, to inclusive; DB time text).
pub(crate) const SESSIONS_ON_SALE_BETWEEN: &str = "SELECT s.id FROM session s \
     JOIN event e ON e.id = s.event_id WHERE e.on_sale > ? AND e.on_sale <= ? ORDER BY s.id";

/// Insert an account (name, email, password hash).
pub(crate) const INSERT_USER: &str = "INSERT INTO `user` (name, email, password) VALUES (?, ?, ?)";
/// An account by email.
pub(crate) const USER_BY_EMAIL: &str =
    "SELECT id, name, email, password FROM `user` WHERE email = ?";
/// An account by id.
pub(crate) const USER_BY_ID: &str = "SELECT id, name, email, password FROM `user` WHERE id = ?";
/// Every ticket of an account's orders, newest order first.
pub(crate) const PROFILE_ROWS: &str = "SELECT o.id, o.session_id, e.title, s.time, v.name, \
     o.created_at, a.name, od.price, st.`row`, st.`column` \
     FROM `order` o JOIN session s ON s.id = o.session_id JOIN event e ON e.id = s.event_id \
     JOIN venue v ON v.id = s.venue_id JOIN order_detail od ON od.order_id = o.id \
     JOIN seat st ON st.id = od.seat_id JOIN area a ON a.id = st.area_id \
     WHERE o.user_id = ? ORDER BY o.id DESC, od.id";

/// Seats of a session an account has SOLD (user, session).
pub(crate) static SOLD_COUNT: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT COUNT(*) FROM seat_status WHERE user_id = ? AND session_id = ? AND status_id = {SOLD}",
    )
});
/// Every account's SOLD seats of a session, for accounts with any (session).
pub(crate) static SOLD_COUNTS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT user_id, COUNT(*) FROM seat_status WHERE session_id = ? AND status_id = {SOLD} \
         GROUP BY user_id",
    )
});
/// Seats of a session an account holds in any state (user, session).
pub(crate) static HELD_COUNT: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT COUNT(*) FROM seat_status WHERE user_id = ? AND session_id = ? AND status_id <> {EMPTY}",
    )
});
/// Which of some seats the account holds in one status (session, user, status, seat ids).
pub(crate) const HELD_IN: &str = "SELECT seat_id FROM seat_status \
     WHERE session_id = ? AND user_id = ? AND status_id = ? AND seat_id IN ({in})";
/// Owner and status of one seat in a session (session, seat).
pub(crate) const SEAT_OWNER: &str =
    "SELECT user_id, status_id FROM seat_status WHERE session_id = ? AND seat_id = ?";
/// EMPTY → SELECTED (user, hold deadline, session, seat); one affected row means the caller won.
pub(crate) static CLAIM_SEAT: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {SELECTED}, user_id = ?, hold_until = ? \
     WHERE session_id = ? AND seat_id = ? AND status_id = {EMPTY}",
    )
});
/// The caller's seats in a given state → EMPTY (session, user, from-status, seat ids).
pub(crate) static FREE_SEATS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {EMPTY}, user_id = NULL, \
     hold_until = NULL WHERE session_id = ? AND user_id = ? AND status_id = ? AND seat_id IN ({in})",
    )
});
/// The caller's SELECTED or LOCKED seats → LOCKED (hold deadline, session, user, seat ids).
pub(crate) static LOCK_SEATS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {LOCKED}, hold_until = ? \
     WHERE session_id = ? AND user_id = ? AND status_id IN ({LOCKED}, {SELECTED}) AND seat_id IN ({in})",
    )
});
/// The caller's LOCKED seats → SOLD (session, user, seat ids).
pub(crate) static SELL_SEATS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {SOLD}, hold_until = NULL \
     WHERE session_id = ? AND user_id = ? AND status_id = {LOCKED} AND seat_id IN ({in})",
    )
});
/// Holds past their deadline (now), with owner and position.
pub(crate) static STALE_HOLDS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT ss.session_id, ss.user_id, st.id, st.area_id, st.`row`, \
     st.`column`, ss.status_id FROM seat_status ss JOIN seat st ON st.id = ss.seat_id \
     WHERE ss.hold_until < ? AND ss.status_id IN ({LOCKED}, {SELECTED}) ORDER BY ss.session_id, st.id",
    )
});
/// Frees one hold if it is still past its deadline (session, seat, now).
pub(crate) static FREE_STALE_HOLD: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {EMPTY}, user_id = NULL, \
     hold_until = NULL WHERE session_id = ? AND seat_id = ? AND status_id IN ({LOCKED}, {SELECTED}) \
     AND hold_until < ?",
    )
});
/// The caller's SELECTED and LOCKED seats with their positions (user, session).
pub(crate) static HOLDS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT st.id, st.area_id, st.`row`, st.`column`, ss.status_id \
     FROM seat_status ss JOIN seat st ON st.id = ss.seat_id \
     WHERE ss.user_id = ? AND ss.session_id = ? AND ss.status_id IN ({LOCKED}, {SELECTED}) ORDER BY st.id",
    )
});
/// Release listed holds of an account in a session (user, session, seat ids).
pub(crate) static RELEASE_SEATS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET status_id = {EMPTY}, user_id = NULL, hold_until = NULL \
     WHERE user_id = ? AND session_id = ? AND status_id IN ({LOCKED}, {SELECTED}) AND seat_id IN ({in})",
    )
});
/// Prices of seats in a session (session, seat ids).
pub(crate) const SEAT_PRICES: &str = "SELECT st.id, p.price FROM seat st \
     JOIN price p ON p.area_id = st.area_id AND p.session_id = ? WHERE st.id IN ({in})";
/// Insert an order header (user, session, total); payment status is always '1'.
pub(crate) const INSERT_ORDER: &str = "INSERT INTO `order` (user_id, session_id, payment_status_id, total) \
     VALUES (?, ?, '1', ?)";
/// Insert an order line (order, seat, price).
pub(crate) const INSERT_ORDER_LINE: &str =
    "INSERT INTO order_detail (order_id, seat_id, price) VALUES (?, ?, ?)";

/// Fills the seat-status markers of `sql` with the numbers [`SeatStatus::id`] stores.
fn with_statuses(sql: &str) -> String {
    [
        ("{EMPTY}", SeatStatus::Empty),
        ("{SELECTED}", SeatStatus::Selected),
        ("{LOCKED}", SeatStatus::Locked),
        ("{SOLD}", SeatStatus::Sold),
    ]
    .iter()
    .fold(sql.to_string(), |sql, (marker, status)| {
        sql.replace(marker, &status.id().to_string())
    })
}

/// Every session's stored operator settings.
pub(crate) const SESSION_SETTINGS: &str = "SELECT session_id, page_limit, window_seconds, \
     ticket_limit, paused, closed, window_version FROM session_settings";
/// Drops a session's settings row (back at the defaults).
pub(crate) const DELETE_SESSION_SETTINGS: &str =
    "DELETE FROM session_settings WHERE session_id = ?";
/// Every (session, account) an operator blocked.
pub(crate) const BLOCKED_ACCOUNTS: &str = "SELECT session_id, user_id FROM session_block";
/// One admin action (at, who, action, session, target, before, after).
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO admin_audit \
     (at, who, action, session_id, target, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?)";
/// Audit rows below an id, newest first (before id, limit).
pub(crate) const AUDIT_PAGE: &str = "SELECT id, at, who, action, session_id, target, \
     before_json, after_json FROM admin_audit WHERE id < ? ORDER BY id DESC LIMIT ?";
/// Held and sold seats of a session, by status (session).
pub(crate) static SEAT_COUNTS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "SELECT status_id, COUNT(*) FROM seat_status WHERE session_id = ? \
         AND status_id IN ({SELECTED}, {LOCKED}, {SOLD}) GROUP BY status_id",
    )
});
/// Moves every hold deadline of a session later (by ms, session).
pub(crate) static EXTEND_HOLDS: LazyLock<String> = LazyLock::new(|| {
    with_statuses(
        "UPDATE seat_status SET hold_until = hold_until + ? WHERE session_id = ? \
         AND hold_until IS NOT NULL AND status_id IN ({SELECTED}, {LOCKED})",
    )
});

/// Seat counts from (status id, count) rows.
pub(crate) fn seat_counts(rows: &[(i64, i64)]) -> super::model::SeatCounts {
    let mut counts = super::model::SeatCounts::default();
    for (status, n) in rows {
        match SeatStatus::from_id(*status) {
            Some(SeatStatus::Sold) => counts.sold += *n as u64,
            Some(_) => counts.held += *n as u64,
            None => {}
        }
    }
    counts
}

/// Expands the `{in}` marker of `sql` into `n` placeholders.
pub(crate) fn with_in(sql: &str, n: usize) -> String {
    let marks = vec!["?"; n.max(1)].join(", ");
    sql.replace("{in}", &marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_expand_to_one_placeholder_per_value() {
        assert_eq!(with_in("x IN ({in})", 3), "x IN (?, ?, ?)");
        assert_eq!(with_in("x IN ({in})", 0), "x IN (?)");
    }

    #[test]
    fn seat_statuses_in_statements_come_from_seat_status_not_literals() {
        // The source of this file: a status compared or set as a bare number would be a second
        // definition of what `SeatStatus::id` defines.
        let source = include_str!("queries.rs");
        let statements = source.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in statements.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for op in ["status_id = ", "status_id <> ", "status_id IN ("] {
                for (at, _) in code.match_indices(op) {
                    let next = code[at + op.len()..].chars().next();
                    assert!(
                        !next.is_some_and(|c| c.is_ascii_digit()),
                        "queries.rs:{}: a literal seat status: {line}",
                        i + 1
                    );
                }
            }
        }
        assert!(CLAIM_SEAT.contains("SET status_id = 5,"), "{}", *CLAIM_SEAT);
        assert!(CLAIM_SEAT.ends_with("AND status_id = 1"), "{}", *CLAIM_SEAT);
        assert!(HOLDS.contains("status_id IN (2, 5)"), "{}", *HOLDS);
        let all = [
            &SESSION_AREAS,
            &SOLD_COUNT,
            &HELD_COUNT,
            &CLAIM_SEAT,
            &FREE_SEATS,
        ];
        let more = [
            &LOCK_SEATS,
            &SELL_SEATS,
            &STALE_HOLDS,
            &FREE_STALE_HOLD,
            &RELEASE_SEATS,
        ];
        for sql in all.iter().chain(&more) {
            assert!(
                !sql.contains("{E") && !sql.contains("{S") && !sql.contains("{L"),
                "{}",
                ***sql
            );
        }
    }
}
