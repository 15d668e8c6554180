//! Unit and randomized tests of the waiting room, with the clock passed in.

use super::*;

const RULES: Rules = Rules {
    limit: 3,
    window_ms: 600_000,
    buffer_s: 10,
    paused: false,
};

fn h(n: i64) -> Holder {
    Holder(format!("conn-{n}"))
}

/// The golden recording's arrivals: seven users, entry times in ms.
fn seven_arrivals() -> Room {
    let mut room = Room::new();
    for (user, at) in [
        (1, 400),
        (2, 850),
        (3, 1270),
        (4, 1540),
        (5, 1790),
        (6, 2040),
        (7, 2290),
    ] {
        room.enter(&RULES, UserId(user), h(user), at);
    }
    room
}

#[test]
fn the_first_limit_arrivals_pass_and_the_rest_queue_with_positions_and_estimates() {
    let mut room = Room::new();
    let got: Vec<_> = [
        (1, 400),
        (2, 850),
        (3, 1270),
        (4, 1540),
        (5, 1790),
        (6, 2040),
        (7, 2290),
    ]
    .into_iter()
    .map(|(u, at)| room.enter(&RULES, UserId(u), h(u), at))
    .collect();
    let queued = |wait_people, seconds| Admission::Queued {
        wait_people,
        seconds,
    };
    assert_eq!(
        got,
        vec![
            Admission::Pass,
            Admission::Pass,
            Admission::Pass,
            queued(1, 608),  // floor((400 + 600000 - 1540) / 1000) + 10
            queued(2, 609),  // page[1] entered at 850
            queued(3, 609),  // page[2] entered at 1270
            queued(4, 1208), // second round: page[0] + one more window
        ]
    );
    assert_eq!((room.page_len(), room.queue_len()), (3, 4));
}

#[test]
fn pass_seconds_are_the_originals_meaningless_negative() {
    assert_eq!(RULES.pass_seconds(1_795_962_000_000), -1_795_961_390);
}

#[test]
fn a_page_user_who_leaves_admits_the_head_of_the_queue_and_everyone_behind_moves_up() {
    let mut room = seven_arrivals();
    let left = room
        .leave(&RULES, UserId(1), Some(&h(1)), 2480)
        .expect("was inside");
    assert_eq!(left.from, Place::Page);
    assert_eq!(left.promoted, Some(UserId(4)));
    let notices: Vec<_> = left.notices.iter().map(|n| (n.user.0, n.seconds)).collect();
    // U5 waits on U2 (850), U6 on U3 (1270), U7 on U4 who just entered at 2480.
    assert_eq!(notices, vec![(5, 608), (6, 608), (7, 610)]);
    assert_eq!(room.place(UserId(4)), Some(Place::Page));
    assert_eq!(room.place(UserId(5)), Some(Place::Queue(0)));
}

#[test]
fn a_queued_user_who_leaves_moves_only_the_people_behind_them_up() {
    let mut room = seven_arrivals();
    let left = room
        .leave(&RULES, UserId(4), None, 2035)
        .expect("was queued");
    assert_eq!(left.from, Place::Queue(0));
    assert_eq!(left.promoted, None);
    let users: Vec<_> = left.notices.iter().map(|n| n.user.0).collect();
    assert_eq!(users, vec![5, 6, 7]);

    let left = room
        .leave(&RULES, UserId(6), None, 3580)
        .expect("was queued");
    assert_eq!(left.from, Place::Queue(1));
    let users: Vec<_> = left.notices.iter().map(|n| n.user.0).collect();
    assert_eq!(users, vec![7]);
    assert_eq!((room.page_len(), room.queue_len()), (3, 2));
}

#[test]
fn someone_who_is_not_inside_leaving_promotes_nobody() {
    let mut room = seven_arrivals();
    assert_eq!(room.leave(&RULES, UserId(99), None, 3000), None);
    assert_eq!((room.page_len(), room.queue_len()), (3, 4));
}

#[test]
fn a_page_leave_with_an_empty_queue_tells_nobody() {
    let mut room = Room::new();
    room.enter(&RULES, UserId(1), h(1), 0);
    let left = room.leave(&RULES, UserId(1), None, 10).expect("inside");
    assert_eq!(left.promoted, None);
    assert!(left.notices.is_empty());
    assert!(room.is_empty());
}

#[test]
fn arriving_twice_keeps_one_place() {
    let mut room = seven_arrivals();
    assert_eq!(room.enter(&RULES, UserId(2), h(20), 3000), Admission::Pass);
    let again = room.enter(&RULES, UserId(5), h(50), 3000);
    assert!(matches!(again, Admission::Queued { wait_people: 2, .. }));
    assert_eq!((room.page_len(), room.queue_len()), (3, 4));
}

#[test]
fn a_stale_connection_cannot_give_away_the_place_its_newer_connection_holds() {
    let mut room = seven_arrivals();
    room.enter(&RULES, UserId(2), h(20), 3000);
    assert_eq!(room.leave(&RULES, UserId(2), Some(&h(2)), 3100), None);
    assert_eq!(room.place(UserId(2)), Some(Place::Page));
    assert!(room.leave(&RULES, UserId(2), Some(&h(20)), 3100).is_some());
}

#[test]
fn expiry_ends_only_visits_past_their_lifetime_and_promotes_in_order() {
    let mut room = seven_arrivals();
    let lifetime = 610_000;
    assert!(room.expire(&RULES, lifetime, 400 + lifetime - 1).is_empty());
    let ended = room.expire(&RULES, lifetime, 900 + lifetime);
    let summary: Vec<_> = ended
        .iter()
        .map(|(u, d)| (u.0, d.promoted.map(|p| p.0)))
        .collect();
    assert_eq!(summary, vec![(1, Some(4)), (2, Some(5))]);
    assert_eq!(room.place(UserId(6)), Some(Place::Queue(0)));
}

#[test]
fn visits_ending_in_one_sweep_leave_before_anyone_is_told_a_new_estimate() {
    let rules = Rules { limit: 2, ..RULES };
    let lifetime = 610_000;
    let mut room = Room::new();
    for user in 1..=2 {
        room.enter(&rules, UserId(user), h(user), 0);
    }
    for user in 3..=5 {
        room.enter(&rules, UserId(user), h(user), 1_000);
    }
    let ended = room.expire(&rules, lifetime, lifetime);
    let told: Vec<_> = ended
        .iter()
        .map(|(u, d)| {
            let notices: Vec<_> = d.notices.iter().map(|n| (n.user.0, n.seconds)).collect();
            (u.0, d.promoted.map(|p| p.0), notices)
        })
        .collect();
    // Both promoted visitors start a full window now; nobody is measured against users 1 and 2,
    // whose visits ended in this very sweep (expire.lua answers the same).
    assert_eq!(
        told,
        vec![
            (1, Some(3), vec![(4, 610), (5, 610)]),
            (2, Some(4), vec![(5, 610)]),
        ]
    );
}

/// A tiny deterministic generator, so the randomized test needs no extra crate and replays.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 33) % bound
    }
}

#[test]
fn random_arrivals_and_departures_keep_the_room_fair() {
    for seed in 0..50 {
        let mut rng = Lcg(seed);
        let rules = Rules {
            limit: 1 + rng.next(4) as usize,
            ..RULES
        };
        let mut room = Room::new();
        let mut order: Vec<UserId> = Vec::new(); // expected FIFO order of everyone inside
        for step in 0..400 {
            let user = UserId(rng.next(30) as i64);
            let now = step * 1000;
            if rng.next(3) > 0 {
                room.enter(&rules, user, h(user.0), now);
                if !order.contains(&user) {
                    order.push(user);
                }
            } else if room.leave(&rules, user, None, now).is_some() {
                order.retain(|u| *u != user);
            }
            assert!(room.page_len() <= rules.limit);
            assert!(room.queue_len() == 0 || room.page_len() == rules.limit);
            assert_eq!(room.page_len() + room.queue_len(), order.len());
            let queued: Vec<_> = order
                .iter()
                .filter(|u| room.place(**u) != Some(Place::Page))
                .collect();
            for (i, u) in queued.iter().enumerate() {
                assert_eq!(
                    room.place(**u),
                    Some(Place::Queue(i)),
                    "seed {seed}: FIFO broken"
                );
            }
        }
    }
}

/// A room with `page` people on the page (users 1..) and `queued` behind (users 101..).
fn room_of(rules: &Rules, page: i64, queued: i64) -> Room {
    let mut room = Room::new();
    for u in 1..=page {
        room.enter(rules, UserId(u), h(u), 1_000);
    }
    for u in 101..101 + queued {
        room.enter(rules, UserId(u), h(u), 2_000);
    }
    room
}

#[test]
fn raising_the_limit_admits_exactly_the_difference_in_queue_order() {
    let three = Rules { limit: 3, ..RULES };
    let mut room = room_of(&three, 3, 20);
    assert_eq!((room.page_len(), room.queue_len()), (3, 20));
    let ten = Rules { limit: 10, ..RULES };
    let moves = room.fill(&ten, 5_000);
    let admitted: Vec<i64> = moves
        .departures
        .iter()
        .filter_map(|d| d.promoted.map(|u| u.0))
        .collect();
    assert_eq!(admitted, (101..108).collect::<Vec<_>>());
    assert_eq!((room.page_len(), room.queue_len()), (10, 13));
    // The last departure tells the 13 still queued; the first told all 19 behind it.
    assert_eq!(moves.departures[0].notices.len(), 19);
    assert_eq!(moves.departures[6].notices.len(), 13);
    assert!(
        room.fill(&ten, 6_000).departures.is_empty(),
        "full: nobody more"
    );
    let waits: Vec<Millis> = room
        .take_admissions()
        .iter()
        .filter(|a| a.at == 5_000)
        .map(|a| a.waited_ms)
        .collect();
    assert_eq!(waits, vec![3_000; 7], "each waited from 2 s to 5 s");
}

#[test]
fn after_lowering_the_limit_nobody_is_admitted_until_the_page_is_under_it() {
    let five = Rules { limit: 5, ..RULES };
    let mut room = room_of(&five, 5, 3);
    let two = Rules { limit: 2, ..RULES };
    for (n, u) in [1, 2, 3].into_iter().enumerate() {
        let d = room.leave(&two, UserId(u), None, 9_000).expect("left");
        assert_eq!(d.promoted, None, "page {} of limit 2", 4 - n);
    }
    assert_eq!(room.page_len(), 2);
    let d = room.leave(&two, UserId(4), None, 9_000).expect("left");
    assert_eq!(
        d.promoted,
        Some(UserId(101)),
        "under the new size: the next goes in"
    );
    assert_eq!((room.page_len(), room.queue_len()), (2, 2));
    assert_eq!(
        room.enter(&two, UserId(200), h(200), 9_500),
        Admission::Queued {
            wait_people: 3,
            seconds: room.estimate(&two, 2, 9_500)
        }
    );
}

#[test]
fn a_paused_room_queues_arrivals_and_admits_nobody_through_departures_or_expiries() {
    let paused = Rules {
        limit: 2,
        paused: true,
        ..RULES
    };
    let mut room = Room::new();
    assert!(matches!(
        room.enter(&paused, UserId(1), h(1), 0),
        Admission::Queued { wait_people: 1, .. }
    ));
    let running = Rules {
        paused: false,
        ..paused
    };
    let mut room2 = room_of(&running, 2, 2);
    let d = room2.leave(&paused, UserId(1), None, 10).expect("left");
    assert_eq!(d.promoted, None);
    let ended = room2.expire(&paused, 1_000, 1_000_000);
    assert_eq!(ended.len(), 1, "user 2's window ran out");
    assert_eq!(ended[0].1.promoted, None);
    assert_eq!((room2.page_len(), room2.queue_len()), (0, 2), "places kept");
    assert_eq!(room2.fill(&paused, 1_000_001).departures.len(), 0);
    assert_eq!(room2.fill(&running, 1_000_002).departures.len(), 2);
    assert_eq!(room.queued(), vec![UserId(1)]);
}

#[test]
fn extending_moves_every_page_deadline_and_closing_empties_only_the_queue() {
    let mut room = room_of(&RULES, 3, 2);
    let moved = room.extend(60_000);
    assert_eq!(moved.len(), 3);
    assert!(moved.iter().all(|(_, since)| *since == 61_000));
    assert_eq!(room.admitted_at(UserId(1)), Some(61_000));
    assert_eq!(room.close_queue(), vec![UserId(101), UserId(102)]);
    assert_eq!((room.page_len(), room.queue_len()), (3, 0));
}
