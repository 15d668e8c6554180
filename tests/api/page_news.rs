//! News for a session's buying page reaches its app watchers on every instance, including news
//! made on an instance where no app client has opened that page (`/event-{id}`) yet: a legacy
//! buyer's click there must still show on the app watchers' maps elsewhere.

use serde_json::json;

use crate::app_rust::{connected, open_legacy, sign_up};
use crate::multi_instance::start_cluster;

const SESSION: i64 = 2;
const AREA: i64 = 1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_click_on_one_instance_reaches_app_watchers_on_the_other() {
    let cluster = start_cluster(2, &[("TICKETCLUB_QUEUE_LIMIT", "5")]).await;
    let (a, b) = (&cluster.instances[0].base, &cluster.instances[1].base);
    let (watcher, buyer) = tokio::join!(sign_up(b, "W"), sign_up(a, "L"));

    // W watches the area through the app protocol on the second instance.
    let queue = connected(b, "/queue", &watcher, "websocket", "W/queue").await;
    let joined = queue.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(joined["state"], "admitted", "{joined}");
    let ns = format!("/event-{SESSION}");
    let mut page = connected(b, &ns, &watcher, "websocket", "W/event").await;
    let view = page.call("watch", json!({ "areaId": AREA })).await;
    let version = view["version"].as_u64().expect("a version");

    // L clicks a seat through the original protocol on the first instance, where nobody has
    // opened the app's buying page.
    let mut legacy = open_legacy(a, &buyer, "L/legacy").await;
    legacy
        .client
        .emit("check limit", json!(SESSION))
        .await
        .expect("check limit sent");
    assert_eq!(legacy.next("check limit").await["pass"], true);
    let (row, column) = (3, 4);
    let click = json!({"sessionId": SESSION, "areaId": AREA, "row": row, "column": column,
                       "rowIndex": row - 1, "columnIndex": column - 1});
    legacy
        .client
        .emit("select seat", click)
        .await
        .expect("select seat sent");
    let answer = legacy.next("self select seat").await;
    assert!(answer.get("error").is_none(), "{answer}");

    let pushed = page.next("seats").await;
    assert_eq!(pushed["areaId"], AREA, "{pushed}");
    assert_eq!(pushed["version"], version + 1, "{pushed}");
    assert_eq!(
        pushed["changes"],
        json!([{"row": row, "column": column, "status": "selected"}]),
        "{pushed}"
    );
}
