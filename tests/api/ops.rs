//! Operating the server: readiness, and metrics that move by the right amounts.

use reqwest::StatusCode;
use serde_json::json;

use crate::databases::TestDb;
use crate::helpers::spawn_app_with;
use crate::js_flows::run_node_scenario;
use crate::multi_instance::spawn_process;

#[tokio::test]
async fn readiness_reports_the_engines_and_names_what_is_down() {
    let db = TestDb::create().await;
    let app = spawn_app_with(|s| s.database_url = db.url.clone()).await;
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);

    // The database loses its schema under the running server.
    let admin = format!("{}/{}", crate::databases::mysql_server(), db.name);
    let mut conn = mysql_async::Conn::from_url(&admin)
        .await
        .expect("admin connection");
    mysql_async::prelude::Queryable::query_drop(&mut conn, "DROP TABLE _migrations")
        .await
        .expect("drop");
    let down = app.get("/readyz").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.body["status"], "unavailable");
    let reasons = down.body["reasons"].to_string();
    assert!(reasons.contains("database"), "{reasons}");
    assert_eq!(
        app.get("/healthz").await.status,
        StatusCode::OK,
        "alive but not ready"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_by_the_right_amounts_during_a_queue_flow() {
    // Its own process, so the process-wide registry starts at zero.
    let server = spawn_process(&[("TICKETCLUB_QUEUE_LIMIT", "3")]).await;
    run_node_scenario("metrics", &server.base, None, "websocket", None, &[]).await;
}

#[tokio::test]
async fn admin_warm_up_needs_the_operator_token_and_loads_the_whole_session() {
    let closed = crate::helpers::spawn_app().await;
    let reply = closed
        .post("/admin/warmup/2", json!({}), Some("anything"))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "admin routes are off without a token"
    );

    let app = spawn_app_with(|s| s.admin_token = Some("op-secret".into())).await;
    let wrong = app.post("/admin/warmup/2", json!({}), Some("guess")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let missing = app.post("/admin/warmup/2", json!({}), None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let unknown = app
        .post("/admin/warmup/999", json!({}), Some("op-secret"))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let done = app
        .post("/admin/warmup/2", json!({}), Some("op-secret"))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    assert_eq!(done.body["sessionId"], 2);
    assert_eq!(done.body["areas"], 9);
    assert_eq!(done.body["seats"], 729);
}
