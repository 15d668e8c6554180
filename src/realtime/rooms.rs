//! The one place Socket.IO room names are made, and where sockets join and leave rooms.
//! Nothing else formats a room name or joins one (clippy's `disallowed-methods` holds the
//! rest of the code to [`join`] and [`leave`], which tell the recorder).

use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Socket;

use crate::domain::ids::{AreaId, SessionId, UserId};

/// Watchers of one area's seat map in one session: the original's `"{session}-{area}"`.
pub(crate) fn seat_map(session: SessionId, area: AreaId) -> String {
    format!("{session}-{area}")
}

/// Every connection of one account (targeted messages reach any instance through the adapter).
pub(crate) fn user(user: UserId) -> String {
    format!("user:{user}")
}

/// The connections through which an account entered one session's waiting room: where
/// `ready to go`, `minus waiting people` and the end of the purchase window are sent.
pub(crate) fn entrant(session: SessionId, user: UserId) -> String {
    format!("entrant:{session}:{user}")
}

/// The app namespace of one session's buying page: `/event-{session}`.
pub(crate) fn event_namespace(session: SessionId) -> String {
    format!("/event-{session}")
}

/// The app namespace of the waiting rooms.
pub(crate) const QUEUE_NAMESPACE: &str = "/queue";

/// Watchers of one area's map inside a session's `/event-{session}` namespace.
pub(crate) fn area(area: AreaId) -> String {
    format!("area:{area}")
}

/// Everyone in `room` of namespace `ns`; `None` while nobody has connected to a dynamic
/// namespace, or once shutdown has closed it.
pub(crate) fn to_in<A: Adapter>(
    io: &SocketIo<A>,
    ns: &str,
    room: String,
) -> Option<BroadcastOperators<A>> {
    io.of(ns).map(|ns| ns.to(room))
}

/// Everyone in `room` on the default namespace; `None` once shutdown has closed the namespace
/// (late disconnect handlers then have nobody to tell, where `io.to` would panic).
pub(crate) fn to<A: Adapter>(io: &SocketIo<A>, room: String) -> Option<BroadcastOperators<A>> {
    io.of("/").map(|ns| ns.to(room))
}

/// Socket `s` joins `room`; a recorded socket is listed in it for the recorder's room pushes.
#[allow(clippy::disallowed_methods)]
pub(crate) fn join<A: Adapter>(s: &Socket<A>, room: String) {
    super::tap::joined(s, &room);
    s.join(room);
}

/// Socket `s` leaves `room`.
#[allow(clippy::disallowed_methods)]
pub(crate) fn leave<A: Adapter>(s: &Socket<A>, room: String) {
    super::tap::left(s, &room);
    s.leave(room);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_rooms_keep_the_original_names_and_others_cannot_collide_with_them() {
        assert_eq!(seat_map(SessionId(2), AreaId(1)), "2-1");
        assert_eq!(user(UserId(7)), "user:7");
        assert_eq!(entrant(SessionId(2), UserId(7)), "entrant:2:7");
        assert_eq!(area(AreaId(3)), "area:3");
        assert_eq!(event_namespace(SessionId(2)), "/event-2");
    }
}
