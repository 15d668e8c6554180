//! Which recorded sockets are in which room, kept by the recorder as the sockets join and
//! leave (`realtime/rooms.rs` joins and leaves through it): a room push then names its
//! recorded listeners with one lookup, not a walk of the room.
//!
//! A seat rush pushes each grant to every watcher of the area. Asking socketioxide who is in
//! the room resolves each watcher's socket (`Namespace::get_socket`, a hash and a lock each)
//! only to read its id: tens of thousands of lookups a rush, half the request path's cost of
//! recording it. Here a room's listeners are a shared list, rebuilt only after someone joined or
//! left it, so a push in a rush costs a lookup and a reference count.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use socketioxide::socket::Sid;

/// The recorded sockets in each room of each namespace.
#[derive(Default)]
pub(crate) struct Rooms {
    /// Namespace → room → its recorded sockets.
    by_ns: Mutex<HashMap<String, HashMap<String, Members>>>,
}

#[derive(Default)]
struct Members {
    sids: HashSet<Sid>,
    /// `sids` as handed to the writer; `None` after a change, until the next push.
    listed: Option<Arc<[Sid]>>,
}

impl Rooms {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, Members>>> {
        self.by_ns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Recorded socket `sid` of namespace `ns` joined `room`.
    pub(crate) fn join(&self, ns: &str, room: &str, sid: Sid) {
        let mut by_ns = self.lock();
        let rooms = by_ns.entry(ns.to_owned()).or_default();
        let members = rooms.entry(room.to_owned()).or_default();
        if members.sids.insert(sid) {
            members.listed = None;
        }
    }

    /// Recorded socket `sid` of namespace `ns` left `room` (or closed).
    pub(crate) fn leave(&self, ns: &str, room: &str, sid: Sid) {
        let mut by_ns = self.lock();
        let Some(rooms) = by_ns.get_mut(ns) else {
            return;
        };
        let Some(members) = rooms.get_mut(room) else {
            return;
        };
        if members.sids.remove(&sid) {
            members.listed = None;
        }
        if members.sids.is_empty() {
            rooms.remove(room);
            if rooms.is_empty() {
                by_ns.remove(ns);
            }
        }
    }

    /// The recorded sockets in `room` of `ns`; `None` when there are none.
    pub(crate) fn listeners(&self, ns: &str, room: &str) -> Option<Arc<[Sid]>> {
        let mut by_ns = self.lock();
        let members = by_ns.get_mut(ns)?.get_mut(room)?;
        let listed = members
            .listed
            .get_or_insert_with(|| members.sids.iter().copied().collect());
        Some(listed.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(list: Option<Arc<[Sid]>>) -> Vec<String> {
        let mut ids: Vec<String> = list
            .map(|l| l.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn names(sids: &[Sid]) -> Vec<String> {
        let mut ids: Vec<String> = sids.iter().map(ToString::to_string).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_room_lists_the_sockets_that_joined_it_and_not_those_that_left() {
        let rooms = Rooms::default();
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        rooms.join("/", "2-1", a);
        rooms.join("/", "2-1", b);
        rooms.join("/", "2-2", c);
        assert_eq!(sorted(rooms.listeners("/", "2-1")), names(&[a, b]));
        rooms.leave("/", "2-1", a);
        assert_eq!(sorted(rooms.listeners("/", "2-1")), names(&[b]));
        rooms.leave("/", "2-1", b);
        assert!(
            rooms.listeners("/", "2-1").is_none(),
            "nobody recorded is left"
        );
        assert_eq!(sorted(rooms.listeners("/", "2-2")), names(&[c]));
    }

    #[test]
    fn rooms_of_the_same_name_in_two_namespaces_are_two_rooms() {
        let rooms = Rooms::default();
        let (queue, page) = (Sid::new(), Sid::new());
        rooms.join("/queue", "user:7", queue);
        rooms.join("/event-2", "user:7", page);
        assert_eq!(sorted(rooms.listeners("/queue", "user:7")), names(&[queue]));
        assert_eq!(
            sorted(rooms.listeners("/event-2", "user:7")),
            names(&[page])
        );
        assert!(rooms.listeners("/", "user:7").is_none());
    }

    #[test]
    fn the_list_is_shared_between_pushes_until_someone_joins_or_leaves() {
        let rooms = Rooms::default();
        let (a, b) = (Sid::new(), Sid::new());
        rooms.join("/", "2-1", a);
        let first = rooms.listeners("/", "2-1").expect("listed");
        let second = rooms.listeners("/", "2-1").expect("listed");
        assert!(
            Arc::ptr_eq(&first, &second),
            "no copy while nothing changed"
        );
        rooms.join("/", "2-1", a);
        assert!(
            Arc::ptr_eq(&first, &rooms.listeners("/", "2-1").expect("listed")),
            "joining twice changes nothing"
        );
        rooms.join("/", "2-1", b);
        let third = rooms.listeners("/", "2-1").expect("listed");
        assert_eq!(names(&third), names(&[a, b]));
        assert_eq!(names(&first), names(&[a]), "an earlier push keeps its list");
    }
}
