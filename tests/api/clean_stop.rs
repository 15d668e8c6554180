//! A clean stop: news the server queued for a client before it was told to stop reaches that
//! client before the server closes its connection.

use serde_json::{Value, json};

use crate::helpers::spawn_app_with;
use crate::polling_client::{PollingClient, Received};

const SESSION: i64 = 2;

async fn join_queue(base: &str, token: &str) -> (PollingClient, Value) {
    let mut client = PollingClient::connect(base, "/queue", json!({ "token": token })).await;
    let id = client
        .emit_with_ack("join", json!({ "sessionId": SESSION }))
        .await;
    let (ack, _) = client.ack(id).await;
    assert_eq!(ack["ok"], true, "join: {ack}");
    (client, ack)
}

async fn leave_queue(client: &mut PollingClient) {
    let id = client
        .emit_with_ack("leave", json!({ "sessionId": SESSION }))
        .await;
    let (ack, _) = client.ack(id).await;
    assert_eq!(ack["ok"], true, "leave: {ack}");
}

/// The `ahead` of every `position` push that arrives until the connection closes (or, with
/// `until`, until that value arrives).
async fn positions(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<Received>,
    until: Option<u64>,
) -> Vec<u64> {
    let mut aheads = Vec::new();
    let wait = std::time::Duration::from_secs(10);
    while let Ok(Some(got)) = tokio::time::timeout(wait, heard.recv()).await {
        match got {
            Received::Event(name, body) if name == "position" => {
                let ahead = body["ahead"].as_u64().expect("ahead");
                aheads.push(ahead);
                if until == Some(ahead) {
                    return aheads;
                }
            }
            Received::Closed => return aheads,
            _ => {}
        }
    }
    assert!(until.is_none(), "no position {until:?} came: {aheads:?}");
    aheads
}

#[tokio::test]
async fn a_position_push_held_back_by_the_rate_limit_reaches_its_client_when_the_server_stops() {
    let app = spawn_app_with(|s| s.queue_limit = 1).await;
    let mut people = Vec::new();
    for name in ["page", "first", "second", "last"] {
        let (token, _) = app.sign_up(name).await;
        people.push(join_queue(&app.base, &token).await);
    }
    let (last, joined) = people.pop().expect("last");
    let ahead = joined["ahead"].as_u64().expect("ahead");
    assert_eq!(joined["state"], "queued");
    let mut heard = last.listen();

    // The first departure ahead of `last` is pushed at once...
    leave_queue(&mut people[1].0).await;
    positions(&mut heard, Some(ahead - 1)).await;
    // ...the second is held back for the rest of that second (one push per second per person),
    // and the server is told to stop within it.
    leave_queue(&mut people[2].0).await;
    let stopping = tokio::spawn(app.stop());
    let after = positions(&mut heard, None).await;
    stopping.await.expect("the server stops");
    assert_eq!(
        after,
        vec![ahead - 2],
        "the newest place, queued before the stop, must reach the client before it is closed"
    );
}
