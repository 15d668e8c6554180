//! Hardening (issue 15): hostile input, abusive clients and operator views answered cleanly.

use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_search_longer_than_four_hundred_characters_is_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let long = "a".repeat(60_000);
    let reply = app.get(&format!("/event?search={long}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let message = reply.body["error"].as_str().unwrap_or_default();
    assert!(message.contains("400"), "the limit is named: {message}");

    // Four hundred characters (not bytes) is still a search.
    let longest = "演".repeat(400);
    let reply = app.get(&format!("/event?search={longest}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body, serde_json::json!([]));
}

#[tokio::test]
async fn a_cors_preflight_answers_no_content_like_the_original() {
    let app = spawn_app().await;
    for path in [
        "/user/signin",
        "/api/order",
        "/socket.io/?EIO=4&transport=polling",
    ] {
        let reply = app
            .client
            .request(Method::OPTIONS, format!("{}{path}", app.base))
            .header("Origin", "http://localhost:5000")
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
            .await
            .expect("preflight sent");
        assert_eq!(reply.status(), StatusCode::NO_CONTENT, "{path}");
        let allowed = reply.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap_or_default()
            .to_string();
        assert!(allowed.contains("authorization"), "{path}: {allowed}");
    }
    // A plain request is not touched.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_every_series_at_zero_before_anything_happens() {
    // Its own process, so the process-wide registry starts empty.
    let server = crate::multi_instance::spawn_process(&[]).await;
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics body");
    let zero = |series: &str| {
        text.lines()
            .any(|line| line.starts_with(series) && line.ends_with(" 0"))
    };
    for series in [
        "ticketclub_sockets_connected",
        "ticketclub_admissions_total{via=\"direct\"}",
        "ticketclub_admissions_total{via=\"queue\"}",
        "ticketclub_queued_total",
        "ticketclub_departures_total{reason=\"window_expired\",from=\"page\"}",
        "ticketclub_departures_total{reason=\"crashed_instance\",from=\"queue\"}",
        "ticketclub_seat_transitions_total{kind=\"sell\"}",
        "ticketclub_seat_transitions_total{kind=\"expire\"}",
        "ticketclub_orders_total",
        "ticketclub_tickets_sold_total",
        "ticketclub_seat_conflicts_total",
        "ticketclub_db_pool_timeouts_total",
        "ticketclub_db_pool_wait_seconds_count",
        "ticketclub_socket_event_duration_seconds_count{event=\"select seat\"}",
    ] {
        assert!(zero(series), "{series} is missing or not zero in:\n{text}");
    }
}

#[tokio::test]
async fn readiness_fails_when_a_table_the_routes_need_is_gone() {
    // SQLite: the app's own file.
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    app.db()
        .execute_batch("DROP TABLE order_detail")
        .expect("table dropped");
    let down = app.get("/readyz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        down.body
    );
    let reasons = down.body["reasons"].to_string();
    assert!(reasons.contains("order_detail"), "{reasons}");

    // MySQL: the test's own database.
    let db = crate::databases::TestDb::create().await;
    let app = crate::helpers::spawn_app_with(|s| s.database_url = db.url.clone()).await;
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
    let admin = format!("{}/{}", crate::databases::mysql_server(), db.name);
    let mut conn = mysql_async::Conn::from_url(&admin)
        .await
        .expect("admin connection");
    mysql_async::prelude::Queryable::query_drop(
        &mut conn,
        "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE seat_status",
    )
    .await
    .expect("table dropped");
    let down = app.get("/readyz").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        down.body
    );
    let reasons = down.body["reasons"].to_string();
    assert!(reasons.contains("seat_status"), "{reasons}");
}
