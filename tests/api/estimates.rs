//! Waits estimated from the observed pace of the line (issue 11, item 6): until the line has
//! moved, the app protocol answers the original worst-case formula; once people move onto the
//! page at a steady pace, `estimate` follows that pace, with a range around it.

use std::time::Duration;

use serde_json::json;

use crate::app_rust::{Peer, connected, sign_up};
use crate::multi_instance::{spawn_process, start_cluster};

const PEOPLE: usize = 16;

const ENV: [(&str, &str); 1] = [("TICKETCLUB_QUEUE_LIMIT", "1")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_app_visitor_is_told_the_wait_the_lines_pace_predicts() {
    let server = spawn_process(&ENV).await;
    pace_story(&server.base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pace_is_read_from_redis_on_the_production_engines() {
    let cluster = start_cluster(1, &ENV).await;
    pace_story(&cluster.instances[0].base).await;
}

async fn pace_story(base: &str) {
    let mut line: Vec<Peer> = Vec::new();
    let mut first_estimate = None;
    for n in 0..PEOPLE {
        let token = sign_up(base, &format!("P{n}")).await;
        let q = connected(base, "/queue", &token, "websocket", &format!("P{n}")).await;
        let joined = q.call("join", json!({ "sessionId": 2 })).await;
        if n == PEOPLE - 1 {
            first_estimate = Some(joined["estimate"].clone());
        }
        line.push(q);
    }
    // Before anyone has moved, the original formula answers: at least a whole window each.
    let first = first_estimate.expect("the last joined");
    let window_s = 600;
    assert!(
        first["seconds"].as_i64() >= Some(window_s) && first["low"] == first["seconds"],
        "the original formula before the line moves: {first}"
    );

    // The person on the page leaves every 400 ms: a pace of 2.5 a second.
    for q in line.drain(..11) {
        assert_eq!(q.call("leave", json!({ "sessionId": 2 })).await["ok"], true);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let last = line.last().expect("someone still waits");
    let status = last.call("status", json!({ "sessionId": 2 })).await;
    let ahead = status["ahead"].as_i64().expect("queued");
    let e = &status["estimate"];
    let (seconds, low, high) = (
        e["seconds"].as_i64().unwrap_or(-1),
        e["low"].as_i64().unwrap_or(-1),
        e["high"].as_i64().unwrap_or(-1),
    );
    // ahead + 1 people at 2.5 a second: about (ahead + 1) × 0.4 s; generous for a loaded box.
    assert!(
        (1..=10).contains(&seconds),
        "the estimate follows the pace ({ahead} ahead): {status}"
    );
    assert!(
        low <= seconds && seconds <= high && low < high,
        "a range around it: {e}"
    );
}
