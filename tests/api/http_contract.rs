//! The HTTP routes of contract §1: shapes, field order, status codes and error strings.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{spawn_app, unique};

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn the_event_list_shows_the_eight_seeded_events_with_picture_urls() {
    let app = spawn_app().await;
    for prefix in ["", "/api"] {
        let reply = app.get(&format!("{prefix}/event")).await;
        assert_eq!(reply.status, StatusCode::OK);
        let events = reply.body.as_array().expect("an array");
        let singers: Vec<&str> = events
            .iter()
            .map(|e| e["singer"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            singers,
            [
                "Michael Jackson",
                "TWICE",
                "IU",
                "Coldplay",
                "LANY",
                "Alec Benjamin",
                "Ariana Grande",
                "Anne-Marie"
            ]
        );
        assert_eq!(keys(&events[0]), ["id", "singer", "picture"]);
        assert_eq!(events[1]["picture"], format!("{}/assets/2.png", app.base));
    }
    let found = app.get("/event?search=TWICE").await;
    assert_eq!(found.body.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn an_event_shows_its_sessions_and_a_bad_id_is_refused() {
    let app = spawn_app().await;
    let reply = app.get("/event/3").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        keys(&reply.body),
        [
            "singer",
            "title",
            "detailPicture",
            "description",
            "videoLink",
            "onSale",
            "sessions"
        ]
    );
    let sessions = reply.body["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2);
    assert_eq!(keys(&sessions[0]), ["session_id", "time", "city", "venue"]);
    let time = sessions[0]["time"].as_str().expect("time");
    assert!(time.ends_with(".000Z") && time.len() == 24, "{time}");
    for bad in ["/event/eiofj", "/event/999", "/event/-1"] {
        let reply = app.get(bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body,
            json!({"error": "Please provide a valid event ID."})
        );
    }
}

#[tokio::test]
async fn sign_up_checks_its_fields_in_the_original_order() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), 400, "請輸入使用者名稱"),
        (json!({"name": "   "}), 400, "請輸入使用者名稱"),
        (json!({"name": "x".repeat(31)}), 400, "使用者名稱過長"),
        (json!({"name": "名".repeat(11)}), 400, "使用者名稱過長"),
        (json!({"name": "amy"}), 400, "請輸入Email"),
        (json!({"name": "amy", "email": "amy"}), 400, "Email格式錯誤"),
        (json!({"name": "amy", "email": 42}), 400, "Email格式錯誤"),
        (
            json!({"name": "amy", "email": "amy@test.com"}),
            400,
            "請輸入密碼",
        ),
        (
            json!({"name": "amy", "email": "amy@test.com", "password": "12345"}),
            400,
            "密碼至少6個字符",
        ),
        (
            json!({"name": "d", "email": "demo@test.com", "password": "123456"}),
            403,
            "此Email已註冊過",
        ),
    ];
    for (body, status, message) in cases {
        let reply = app.post("/user/signup", body.clone(), None).await;
        assert_eq!(reply.status.as_u16(), status, "{body}");
        assert_eq!(reply.body, json!({"error": message}), "{body}");
    }
    let email = format!("{}@test.com", unique("amy"));
    let reply = app
        .post(
            "/user/signup",
            json!({"name": "amy", "email": email, "password": "123456"}),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        keys(&reply.body["data"]),
        ["access_token", "access_expired", "user"]
    );
    assert_eq!(reply.body["data"]["access_expired"], "7d");
    assert_eq!(keys(&reply.body["data"]["user"]), ["id", "name", "email"]);
}

#[tokio::test]
async fn sign_in_answers_like_the_original_unit_tests() {
    let app = spawn_app().await;
    let cases = [
        (json!({"password": "user111"}), 400, "請輸入Email"),
        (json!({"email": "user1@test.com"}), 400, "請輸入密碼"),
        (
            json!({"email": "user1", "password": "user111"}),
            400,
            "Email格式錯誤",
        ),
        (
            json!({"email": "nobody@test.com", "password": "user111"}),
            403,
            "此Email尚未註冊",
        ),
        (
            json!({"email": "user1@test.com", "password": "wrong1"}),
            403,
            "帳號或密碼錯誤",
        ),
    ];
    for (body, status, message) in cases {
        let reply = app.post("/user/signin", body.clone(), None).await;
        assert_eq!(
            (reply.status.as_u16(), &reply.body),
            (status, &json!({"error": message})),
            "{body}"
        );
    }
    for (email, password) in [("user1@test.com", "user111"), ("demo@test.com", "demodemo")] {
        let reply = app
            .post(
                "/api/user/signin",
                json!({"email": email, "password": password}),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{email}");
        assert_eq!(reply.body["data"]["user"]["email"], email);
    }
}

#[tokio::test]
async fn protected_routes_refuse_missing_null_forged_and_expired_tokens() {
    let app = spawn_app().await;
    let missing = app.call(Method::GET, "/user/profile", None, None).await;
    assert_eq!(
        (missing.status, missing.body),
        (StatusCode::UNAUTHORIZED, json!({"error": "請先登入！"}))
    );
    let null = app.get_as("/user/profile", "null").await;
    assert_eq!(
        (null.status, null.body),
        (StatusCode::UNAUTHORIZED, json!({"error": "請先登入！"}))
    );

    let other = ticketclub::auth::Auth::new(Some("another-secret"), "7d", 4).expect("auth");
    let now = chrono::Utc::now().timestamp();
    let forged = other
        .issue(ticketclub::domain::ids::UserId(1), now)
        .expect("token");
    let secret = ticketclub::config::Settings::for_tests().jwt_secret;
    let ours = ticketclub::auth::Auth::new(secret.as_deref(), "7d", 4).expect("auth");
    let expired = ours
        .issue(ticketclub::domain::ids::UserId(1), now - 8 * 86_400)
        .expect("token");
    let ghost = ours
        .issue(ticketclub::domain::ids::UserId(999_999), now)
        .expect("token");
    for token in [forged.as_str(), expired.as_str(), ghost.as_str(), "garbage"] {
        let reply = app.get_as("/user/profile", token).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::FORBIDDEN, json!({"error": "登入錯誤！"}))
        );
    }
    let (token, _) = app.sign_up("pat").await;
    let profile = app.get_as("/user/profile", &token).await;
    assert_eq!(profile.status, StatusCode::OK);
    assert_eq!(keys(&profile.body), ["name", "email", "tickets"]);
    assert_eq!(profile.body["tickets"], json!([]));
}

#[tokio::test]
async fn areas_are_grouped_by_price_in_ascending_key_order_with_the_seat_picture_last() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("ann").await;
    let reply = app.get_as("/area/2", &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(keys(&reply.body), ["1000", "2000", "3000", "seatPicture"]);
    assert_eq!(
        reply.body["1000"],
        json!([
            {"id": 7, "area": "3樓特一區", "seats": 81},
            {"id": 8, "area": "3樓特二區", "seats": 81},
            {"id": 9, "area": "3樓特三區", "seats": 81}
        ])
    );
    assert_eq!(
        reply.body["seatPicture"],
        format!("{}/assets/1-seat.png", app.base)
    );
    for bad in ["/area/99", "/area/x"] {
        let reply = app.get_as(bad, &token).await;
        assert_eq!(
            reply.body,
            json!({"error": "Please provide valid session ID."})
        );
    }
}

#[tokio::test]
async fn the_seat_map_is_a_dense_grid_rows_then_columns() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("sam").await;
    let reply = app
        .post("/seat", json!({"sessionId": 2, "areaId": 1}), Some(&token))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let rows = reply.body.as_array().expect("rows");
    assert_eq!(rows.len(), 9);
    for (r, row) in rows.iter().enumerate() {
        let cells = row.as_array().expect("cells");
        assert_eq!(cells.len(), 9);
        for (c, cell) in cells.iter().enumerate() {
            assert_eq!(
                cell,
                &json!({"column": c + 1, "row": r + 1, "status_id": 1})
            );
        }
    }
    let cases = [
        (json!({"areaId": 1}), "Please provide session ID."),
        (json!({"sessionId": 2}), "Please provide area ID."),
        (
            json!({"sessionId": 2, "areaId": 99}),
            "Please provide valid session ID(2) & area ID(99).",
        ),
        (
            json!({"sessionId": "x", "areaId": {}}),
            "Please provide valid session ID(x) & area ID([object Object]).",
        ),
    ];
    for (body, message) in cases {
        let reply = app.post("/seat", body.clone(), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, json!({"error": message})),
            "{body}"
        );
    }
}

#[tokio::test]
async fn session_validation_runs_its_checks_in_order() {
    let app = spawn_app().await;
    let (token, user) = app.sign_up("val").await;
    let cases = [
        (json!({}), "Please provide session ID."),
        (json!({"sessionId": 0}), "Please provide session ID."),
        (json!({"sessionId": 999}), "請提供正確的場次資訊"),
        (json!({"sessionId": "abc"}), "請提供正確的場次資訊"),
        (json!({"sessionId": 10}), "活動已結束！"),
    ];
    for (body, message) in cases {
        let reply = app
            .post("/session/validation", body.clone(), Some(&token))
            .await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, json!({"error": message})),
            "{body}"
        );
    }
    let ok = app
        .post("/session/validation", json!({"sessionId": 2}), Some(&token))
        .await;
    assert_eq!((ok.status, ok.body), (StatusCode::OK, json!({"ok": true})));

    let db = app.db();
    db.execute(
        "UPDATE event SET on_sale = datetime('now', '+1 day') WHERE id = 1",
        [],
    )
    .expect("update");
    let early = app
        .post("/session/validation", json!({"sessionId": 1}), Some(&token))
        .await;
    assert_eq!(early.body, json!({"error": "活動尚未開賣！"}));

    db.execute(
        "UPDATE seat_status SET status_id = 3, user_id = ? WHERE session_id = 2 AND seat_id = 5",
        [user],
    )
    .expect("update");
    let warned = app
        .post("/session/validation", json!({"sessionId": 2}), Some(&token))
        .await;
    assert_eq!(keys(&warned.body), ["warning", "error"]);
    assert_eq!(
        warned.body,
        json!({"warning": true, "error": "一個帳號每個場次限購4張門票（包含歷史訂單）。此帳號已購買1張，確定要用此帳號繼續購買嗎？"})
    );
    db.execute("UPDATE seat_status SET status_id = 3, user_id = ? WHERE session_id = 2 AND seat_id IN (6, 7, 8)", [user])
        .expect("update");
    let full = app
        .post("/session/validation", json!({"sessionId": 2}), Some(&token))
        .await;
    assert_eq!(
        full.body,
        json!({"error": "此帳號已購買4張，達到單場次上限！"})
    );
}

#[tokio::test]
async fn locking_and_ordering_need_a_place_on_the_buying_page() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("eve").await;
    let lock = json!({"sessionId": 2, "areaId": 1, "tickets": [{"row": 1, "column": 1}]});
    let reply = app.post("/seat/lock", lock, Some(&token)).await;
    assert_eq!(reply.body, json!({"error": "請先排隊進入購票頁面！"}));
    let reply = app
        .post(
            "/order",
            json!({"sessionId": 2, "seatIds": [1]}),
            Some(&token),
        )
        .await;
    assert_eq!(reply.body, json!({"error": "請先排隊進入購票頁面！"}));
}

#[tokio::test]
async fn lock_and_order_validate_their_bodies_in_the_original_order() {
    let app = spawn_app().await;
    let (token, _) = app.sign_up("val").await;
    let seat = |row: i64, column: i64| json!({"row": row, "column": column});
    let lock_cases = [
        (json!({}), "Please provide session ID."),
        (
            json!({"sessionId": 99}),
            "Please provide a valid session ID.",
        ),
        (json!({"sessionId": 2}), "Please provide an area ID."),
        (
            json!({"sessionId": 2, "areaId": 42}),
            "Please provide a valid area ID.",
        ),
        (
            json!({"sessionId": 2, "areaId": 1, "tickets": [seat(1, 1), seat(1, 2), seat(1, 3), seat(1, 4), seat(1, 5)]}),
            "You can only buy 4 tickets per session.",
        ),
        (
            json!({"sessionId": 2, "areaId": 1, "tickets": "all"}),
            "Please provide at least one seat to lock.",
        ),
        (
            json!({"sessionId": 2, "areaId": 1, "tickets": [seat(10, 1)]}),
            "Can not find row 10, column 1 in area 1",
        ),
    ];
    for (body, message) in lock_cases {
        let reply = app.post("/seat/lock", body.clone(), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, json!({"error": message})),
            "{body}"
        );
    }
    let order_cases = [
        (json!({"seatIds": [1]}), "Please provide session ID."),
        (
            json!({"sessionId": 99, "seatIds": [1]}),
            "Please provide valid session ID.",
        ),
        (
            json!({"sessionId": 2, "seatIds": [1, 2, 3, 4, 5]}),
            "You can only buy 4 tickets per session.",
        ),
        (json!({"sessionId": 2}), "Please provide seat IDs."),
        (
            json!({"sessionId": 2, "seatIds": ["one"]}),
            "Seat ID(one) is not existed.",
        ),
    ];
    for (body, message) in order_cases {
        let reply = app.post("/order", body.clone(), Some(&token)).await;
        assert_eq!(
            (reply.status, reply.body),
            (StatusCode::BAD_REQUEST, json!({"error": message})),
            "{body}"
        );
    }
}

#[tokio::test]
async fn bad_bodies_get_the_originals_answers_and_never_crash_the_server() {
    let app = spawn_app().await;
    let url = format!("{}/user/signin", app.base);
    let malformed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(malformed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        malformed.json::<Value>().await.expect("json"),
        json!({"error": "Internal Server Error."})
    );

    let huge = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(200_000)))
        .send()
        .await
        .expect("sent");
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let not_json = app
        .client
        .post(&url)
        .body("email=a")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        not_json.json::<Value>().await.expect("json"),
        json!({"error": "請輸入Email"})
    );

    let array = app.post("/user/signin", json!([1, 2]), None).await;
    assert_eq!(array.body, json!({"error": "請輸入Email"}));

    let missing = app.get("/no/such/page").await;
    assert_eq!(
        (missing.status, missing.body),
        (StatusCode::NOT_FOUND, json!({"error": "Page not found."}))
    );
    assert_eq!(app.get("/event").await.status, StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_any_origin_and_mirrors_requested_headers() {
    let app = spawn_app().await;
    let res = app
        .client
        .request(Method::OPTIONS, format!("{}/user/profile", app.base))
        .header("Origin", "https://ticketclub.live")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("sent");
    assert!(res.status().is_success());
    let headers = res.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    assert_eq!(
        headers["access-control-allow-headers"],
        "authorization,content-type"
    );
    let get = app.get("/event").await;
    assert!(
        get.headers
            .get("access-control-allow-origin")
            .is_none_or(|v| v == "*")
    );
}

#[tokio::test]
async fn event_pictures_are_served_as_png() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/assets/1-seat.png", app.base))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let bytes = res.bytes().await.expect("bytes");
    assert_eq!(&bytes[1..4], b"PNG");
    assert_eq!(
        app.get("/assets/nope.png").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_server_stops_cleanly_when_asked() {
    let app = spawn_app().await;
    let base = app.base.clone();
    assert_eq!(app.get("/healthz").await.body, json!({"status": "ok"}));
    tokio::time::timeout(std::time::Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown finishes within its grace period");
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_when_shutdown_begins_still_completes() {
    let app = spawn_app().await;
    // Another connection holds the database's write lock, so the sign-up below waits inside
    // the server (its busy timeout) while shutdown begins.
    let blocker = app.db();
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("write lock");
    let (client, url) = (app.client.clone(), format!("{}/user/signup", app.base));
    let email = format!("{}@test.com", crate::helpers::unique("late"));
    let body = json!({"name": "late", "email": email, "password": "secret1"});
    let in_flight = tokio::spawn(async move { client.post(url).json(&body).send().await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    blocker.execute_batch("COMMIT").expect("release");
    let reply = in_flight
        .await
        .expect("task")
        .expect("the in-flight request was answered");
    assert_eq!(reply.status(), StatusCode::OK);
    stopping.await.expect("the server stopped");
}
