//! The old and the new protocol share one waiting room and its one-place-per-account rule
//! (issue 11): a legacy visit and an app visit of one account are one place, whichever came
//! first, and nobody else loses a place to the account's second protocol.

use serde_json::{Value, json};

use crate::app_rust::{Peer, connected, open_legacy, sign_up};
use crate::multi_instance::spawn_process;

/// The legacy `check limit` on the default namespace: the reply event's payload.
async fn check_limit(base: &str, token: &str, label: &str) -> (Peer, Value) {
    let mut legacy = open_legacy(base, token, label).await;
    legacy
        .client
        .emit("check limit", json!(2))
        .await
        .expect("check limit sent");
    let reply = legacy.next("check limit").await;
    (legacy, reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_visit_and_an_app_visit_of_one_account_are_one_place() {
    let server = spawn_process(&[("TICKETCLUB_QUEUE_LIMIT", "1")]).await;
    let base = server.base.as_str();
    let (x, y) = tokio::join!(sign_up(base, "X"), sign_up(base, "Y"));

    // X takes the one page place through the old protocol, then joins through the new one.
    let (_legacy, reply) = check_limit(base, &x, "X/legacy").await;
    assert_eq!(reply["pass"], true, "{reply}");
    let qx = connected(base, "/queue", &x, "websocket", "X/queue").await;
    let joined = qx.call("join", json!({ "sessionId": 2 })).await;
    assert_eq!(
        joined["state"], "admitted",
        "X's app join finds X's legacy place: {joined}"
    );

    // Y is behind X, first in line: X holds one place, not two.
    let qy = connected(base, "/queue", &y, "websocket", "Y/queue").await;
    let y_joined = qy.call("join", json!({ "sessionId": 2 })).await;
    assert_eq!(
        (y_joined["state"].as_str(), y_joined["ahead"].as_i64()),
        (Some("queued"), Some(0)),
        "{y_joined}"
    );

    // And the other way round: Y's legacy `check limit` finds Y's app place in the queue.
    let (_y_legacy, y_reply) = check_limit(base, &y, "Y/legacy").await;
    assert_eq!(
        (y_reply["pass"].as_bool(), y_reply["waitPeople"].as_i64()),
        (Some(false), Some(1)),
        "Y's legacy arrival keeps Y's one place: {y_reply}"
    );

    // X leaves through the app: the one place is free, and Y moves onto the page.
    assert_eq!(
        qx.call("leave", json!({ "sessionId": 2 })).await["ok"],
        true
    );
    let status = qy.call("status", json!({ "sessionId": 2 })).await;
    assert_eq!(status["state"], "admitted", "{status}");
}
