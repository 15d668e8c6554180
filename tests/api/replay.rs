//! `ticketclub replay` end to end: a visit is recorded as HAR (by a recording client here, the
//! way DevTools captures one: every HTTP call and websocket frame), then the real binary plays
//! it against fresh servers. A clean replay passes; a server with another queue or ticket limit
//! is reported step by step with a non-zero exit; 200 virtual users from one recording all
//! finish without a seat sold twice; bad files get one error line each.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ticketclub::config::Settings;
use ticketclub::har::Har;

use crate::databases::{TestDb, TestRedis};
use crate::har_client::{
    Recorder, record_app_purchase, record_legacy_purchase, record_legacy_purchase_of, replay,
};
use crate::helpers::{TestApp, spawn_app_with, unique};

const SESSION: i64 = 2;

/// Which storage a server under test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Engines {
    /// SQLite and the in-process waiting room.
    Embedded,
    /// MySQL/MariaDB and Redis.
    Shared,
}

/// A server on the chosen engines, with its storage guards.
pub struct Server {
    pub app: TestApp,
    _db: Option<TestDb>,
    _redis: Option<TestRedis>,
}

pub async fn start(engines: Engines, tweak: impl FnOnce(&mut Settings)) -> Server {
    let (db, redis) = match engines {
        Engines::Embedded => (None, None),
        Engines::Shared => (Some(TestDb::create().await), Some(TestRedis::new())),
    };
    let (db_url, redis_cfg) = (
        db.as_ref().map(|d| d.url.clone()),
        redis.as_ref().map(|r| (r.url.clone(), r.prefix.clone())),
    );
    let app = spawn_app_with(|s| {
        if let Some(url) = db_url {
            s.database_url = url;
        }
        if let Some((url, prefix)) = redis_cfg {
            s.redis_url = Some(url);
            s.redis_prefix = prefix;
        }
        tweak(s);
    })
    .await;
    Server {
        app,
        _db: db,
        _redis: redis,
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

async fn a_recording_replays_cleanly(engines: Engines, app_protocol: bool) {
    let recorded_on = start(engines, |_| {}).await;
    let file = if app_protocol {
        record_app_purchase(&recorded_on.app.base).await
    } else {
        record_legacy_purchase(&recorded_on.app.base).await
    };
    let target = start(engines, |_| {}).await;
    let report = std::env::temp_dir().join(format!("{}.json", unique("replay-report")));
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--speed",
        "max",
        "--report",
        path_str(&report),
    ])
    .await;
    assert_eq!(
        run.code, 0,
        "a clean replay passes:\n{}\n{}",
        run.stdout, run.stderr
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let steps = json["files"][0]["users"][0]["steps"]
        .as_array()
        .expect("steps")
        .clone();
    assert!(steps.len() >= 8, "every answer is compared: {steps:?}");
    assert!(steps.iter().all(|s| s["verdict"] == "pass"));
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_recording_replays_cleanly_on_the_embedded_engines() {
    a_recording_replays_cleanly(Engines::Embedded, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_recording_replays_cleanly_on_mysql_and_redis() {
    a_recording_replays_cleanly(Engines::Shared, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_recording_replays_cleanly_on_the_embedded_engines() {
    a_recording_replays_cleanly(Engines::Embedded, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_recording_replays_cleanly_on_mysql_and_redis() {
    a_recording_replays_cleanly(Engines::Shared, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_ticket_limit_is_reported_at_the_second_seat_and_fails_the_run() {
    let recorded_on = start(Engines::Embedded, |_| {}).await;
    let file = record_legacy_purchase(&recorded_on.app.base).await;
    let target = start(Engines::Embedded, |s| s.ticket_limit = 1).await;
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--speed",
        "max",
    ])
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let differing: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.contains("DIFFER"))
        .collect();
    // The first seat is taken as recorded; the second is refused at the limit.
    let first = differing.first().expect("a differing step");
    assert!(first.contains("self select seat"), "{}", run.stdout);
    let passed_selects = run
        .stdout
        .lines()
        .filter(|l| l.contains("pass") && l.contains("self select seat"))
        .count();
    assert_eq!(passed_selects, 1, "{}", run.stdout);
    assert!(run.stdout.contains("expected:") && run.stdout.contains("received:"));
    let _ = std::fs::remove_file(file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smaller_queue_is_reported_at_check_limit_and_fails_the_run() {
    let recorded_on = start(Engines::Embedded, |_| {}).await;
    let file = record_legacy_purchase(&recorded_on.app.base).await;
    let target = start(Engines::Embedded, |s| s.queue_limit = 1).await;
    // Someone holds the only place on the buying page.
    let mut occupant = Recorder::new(&target.app.base);
    let (token, _) = target.app.sign_up("occupant").await;
    let mut ws = occupant.open().await;
    ws.send(&format!("40{}", json!({"token": token}))).await;
    ws.until(|f| f.starts_with("40")).await;
    ws.send(&format!(r#"42["check limit",{SESSION}]"#)).await;
    let passed = ws.until(|f| f.starts_with(r#"42["check limit""#)).await;
    assert!(passed.contains(r#""pass":true"#), "{passed}");
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--speed",
        "max",
        "--wait",
        "1",
    ])
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let first = run
        .stdout
        .lines()
        .find(|l| l.contains("DIFFER"))
        .expect("a differing step");
    assert!(first.contains("check limit"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("$[1].pass: recorded true, received false"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("$[1].waitPeople: recorded 0, received 1"),
        "{}",
        run.stdout
    );
    drop(ws);
    let _ = std::fs::remove_file(file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_virtual_users_from_one_recording_all_finish_and_no_seat_is_sold_twice() {
    let recorded_on = start(Engines::Embedded, |_| {}).await;
    // One seat: every user races for it, one buys it.
    let file = record_legacy_purchase_of(&recorded_on.app.base, &[1]).await;
    let target = start(Engines::Embedded, |s| s.queue_limit = 1000).await;
    let report = std::env::temp_dir().join(format!("{}.json", unique("load-report")));
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--speed",
        "max",
        "--users",
        "200",
        "--ramp",
        "2",
        "--report",
        path_str(&report),
    ])
    .await;
    assert_eq!(
        run.code, 0,
        "every user finishes:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stdout.contains("200 user(s), 200 finished"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("latency (ms)") && run.stdout.contains("select seat"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("200/200 users"),
        "a progress line: {}",
        run.stderr
    );
    let json: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    assert_eq!(json["files"][0]["summary"]["finished"], 200);
    let db = target.app.db();
    let sold_twice: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT d.seat_id FROM order_detail d JOIN `order` o ON o.id = d.order_id \
             WHERE o.session_id = ?1 GROUP BY d.seat_id HAVING COUNT(*) > 1)",
            [SESSION],
            |row| row.get(0),
        )
        .expect("orders read");
    assert_eq!(sold_twice, 0, "no seat sold twice");
    let sold: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM order_detail d JOIN `order` o ON o.id = d.order_id WHERE o.session_id = ?1",
            [SESSION],
            |row| row.get(0),
        )
        .expect("orders read");
    assert_eq!(sold, 1, "the raced seat is sold once");
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(report);
}

#[tokio::test]
async fn bad_files_get_one_clear_error_line_each() {
    let dir = std::env::temp_dir();
    let write = |name: &str, text: &str| {
        let path = dir.join(format!("{}.har", unique(name)));
        std::fs::write(&path, text).expect("written");
        path
    };
    let entry = |frames: Value| {
        json!({"log": {"entries": [{"startedDateTime": "2026-01-01T00:00:00Z", "time": 1,
            "request": {"method": "GET", "url": "ws://h/socket.io/?EIO=4&transport=websocket"},
            "response": {"status": 101}, "_webSocketMessages": frames}]}})
        .to_string()
    };
    let cases = [
        (write("not-har", "<html>hi</html>"), "not a HAR file"),
        (
            write("truncated", r#"{"log": {"entries": [{"startedDateTime": "#),
            "truncated JSON",
        ),
        (write("json", r#"{"hello": 1}"#), "not a HAR 1.2 file"),
        (
            write("http-only", &json!({"log": {"entries": []}}).to_string()),
            "no Socket.IO traffic",
        ),
        (
            write(
                "binary",
                &entry(json!([{"type": "send", "time": 1.0, "opcode": 2, "data": "AQI="}])),
            ),
            "binary websocket frame",
        ),
        (
            write(
                "other",
                &entry(json!([{"type": "send", "time": 1.0, "opcode": 1, "data": "{\"op\":1}"}])),
            ),
            "not an Engine.IO v4",
        ),
    ];
    for (path, says) in &cases {
        let run = replay(&[path_str(path), "--target", "http://127.0.0.1:9"]).await;
        assert_eq!(run.code, 2, "{}: {}", path.display(), run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
        assert!(run.stderr.contains(says), "{says}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"));
        let _ = std::fs::remove_file(path);
    }
}

/// The visit files the server's recorder wrote into `dir`.
fn recordings_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "har"));
    files.sort();
    files
}

async fn a_server_recording_replays_cleanly(engines: Engines, app_protocol: bool) {
    let dir = std::env::temp_dir().join(unique("recordings"));
    let recording_dir = dir.display().to_string();
    let recorded_on = start(engines, move |s| s.record.dir = Some(recording_dir)).await;
    let client_file = if app_protocol {
        record_app_purchase(&recorded_on.app.base).await
    } else {
        record_legacy_purchase(&recorded_on.app.base).await
    };
    let _ = std::fs::remove_file(client_file);
    // Stopping drains the recorder: every visit is written.
    let Server { app, _db, _redis } = recorded_on;
    app.stop().await;
    let files = recordings_in(&dir);
    assert_eq!(files.len(), 1, "one visit, one file: {files:?}");
    let text = std::fs::read_to_string(&files[0]).expect("recording read");
    assert!(!text.contains("secret1"), "no password in a recording");
    assert!(!text.contains("eyJ"), "no token in a recording");
    assert!(text.contains("[redacted]"));
    let target = start(engines, |_| {}).await;
    let run = replay(&[
        path_str(&files[0]),
        "--target",
        &target.app.base,
        "--speed",
        "max",
    ])
    .await;
    assert_eq!(
        run.code, 0,
        "the server's recording replays cleanly:\n{}\n{}",
        run.stdout, run.stderr
    );
    let passed = run.stdout.lines().filter(|l| l.contains(" pass ")).count();
    assert!(
        passed >= 8,
        "the sockets' answers are compared too:\n{}",
        run.stdout
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A room push is in the recording of each recorded socket it reached and of no other: the
/// legacy `other select seat` reaches the seat room's other watcher, not the selector. The
/// recorder names a push's listeners from the rooms its sockets joined (`record/rooms.rs`),
/// no longer from a walk of the room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_push_is_recorded_for_the_watchers_it_reached_and_not_for_its_sender() {
    let dir = std::env::temp_dir().join(unique("recordings"));
    let recording_dir = dir.display().to_string();
    let server = start(Engines::Embedded, move |s| {
        s.record.dir = Some(recording_dir)
    })
    .await;
    let mut people = Vec::new();
    for label in ["selector", "watcher"] {
        let mut r = Recorder::new(&server.app.base);
        let token = r.sign_up(label, label).await;
        let mut ws = r.open().await;
        ws.arrive_legacy(&token).await;
        ws.send(&format!(
            r#"42["join room",{}]"#,
            json!({"sessionId": SESSION, "areaId": 1})
        ))
        .await;
        // Events are handled in order: the answer to this one comes after the room is joined.
        ws.send(&format!(r#"42["check limit",{SESSION}]"#)).await;
        ws.until(|f| f.starts_with(r#"42["check limit""#)).await;
        people.push((r, ws));
    }
    let seat = json!({"sessionId": SESSION, "areaId": 1, "row": 1, "column": 4,
                      "rowIndex": 0, "columnIndex": 3});
    people[0]
        .1
        .send(&format!(r#"42["select seat",{seat}]"#))
        .await;
    people[0]
        .1
        .until(|f| f.starts_with(r#"42["self select seat""#))
        .await;
    people[1]
        .1
        .until(|f| f.starts_with(r#"42["other select seat""#))
        .await;
    for (mut r, ws) in people {
        r.close(ws).await;
    }
    let Server { app, _db, _redis } = server;
    app.stop().await;
    let files = recordings_in(&dir);
    assert_eq!(files.len(), 2, "two visits, two files: {files:?}");
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("recording read"))
        .collect();
    let (selector, watcher): (Vec<&String>, Vec<&String>) =
        texts.iter().partition(|t| t.contains("self select seat"));
    assert_eq!((selector.len(), watcher.len()), (1, 1), "{texts:?}");
    assert_eq!(
        watcher[0].matches("other select seat").count(),
        1,
        "the watcher's recording has the push: {}",
        watcher[0]
    );
    assert_eq!(
        selector[0].matches("other select seat").count(),
        0,
        "the selector's has not: {}",
        selector[0]
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The sale's end is recorded for the people it sends away: a queued legacy page hears
/// `check limit`'s error, a queued app client `removed` (it was the one push not recorded).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_sale_is_in_the_recordings_of_the_people_it_sent_away() {
    const ADMIN: &str = "recorded-close-admin-token";
    let dir = std::env::temp_dir().join(unique("recordings"));
    let recording_dir = dir.display().to_string();
    let server = start(Engines::Embedded, move |s| {
        s.record.dir = Some(recording_dir);
        s.queue_limit = 1;
        s.admin_token = Some(ADMIN.into());
    })
    .await;
    let base = server.app.base.clone();
    // The page's one place is taken; the legacy page and the app client wait behind it.
    let mut people = Vec::new();
    for label in ["occupant", "legacy"] {
        let mut r = Recorder::new(&base);
        let token = r.sign_up(label, label).await;
        let mut ws = r.open().await;
        ws.arrive_legacy(&token).await;
        people.push((r, ws));
    }
    let mut app = Recorder::new(&base);
    let token = app.sign_up("app", "app").await;
    let mut queue = app.open().await;
    queue
        .send(&format!("40/queue,{}", json!({"token": token})))
        .await;
    queue.until(|f| f.starts_with("40/queue")).await;
    queue
        .send(&format!(r#"42/queue,1["join",{{"sessionId":{SESSION}}}]"#))
        .await;
    let joined = queue.until(|f| f.starts_with("43/queue,1")).await;
    assert!(joined.contains(r#""state":"queued""#), "{joined}");
    let closed = reqwest::Client::new()
        .post(format!("{base}/admin/sessions/{SESSION}/close"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("close answers");
    assert_eq!(closed.status().as_u16(), 200);
    people[1]
        .1
        .until(|f| f.starts_with(r#"42["check limit""#))
        .await;
    queue.until(|f| f.contains("sale_ended")).await;
    for (mut r, ws) in people {
        r.close(ws).await;
    }
    app.close(queue).await;
    let Server { app, _db, _redis } = server;
    app.stop().await;
    let texts: Vec<String> = recordings_in(&dir)
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("recording read"))
        .collect();
    assert_eq!(texts.len(), 3, "three visits");
    let sent_away = |marker: &str| texts.iter().filter(|t| t.contains(marker)).count();
    assert_eq!(
        sent_away(r#"42[\"check limit\",{\"error\":"#),
        1,
        "the legacy page's recording has the error reply: {texts:?}"
    );
    assert_eq!(
        sent_away(r#"42/queue,[\"removed\""#),
        1,
        "the app client's has `removed`: {texts:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_recording_of_a_legacy_visit_replays_cleanly_on_the_embedded_engines() {
    a_server_recording_replays_cleanly(Engines::Embedded, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_recording_of_a_legacy_visit_replays_cleanly_on_mysql_and_redis() {
    a_server_recording_replays_cleanly(Engines::Shared, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_recording_of_an_app_visit_replays_cleanly_on_the_embedded_engines() {
    a_server_recording_replays_cleanly(Engines::Embedded, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_recording_of_an_app_visit_replays_cleanly_on_mysql_and_redis() {
    a_server_recording_replays_cleanly(Engines::Shared, true).await;
}

async fn wait_for_files(dir: &Path, at_least: usize) -> Vec<PathBuf> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let files = recordings_in(dir);
        if files.len() >= at_least || Instant::now() > deadline {
            return files;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_whole_har_files_while_the_server_runs_and_rotate_by_size() {
    let dir = std::env::temp_dir().join(unique("recordings-rotate"));
    let recording_dir = dir.display().to_string();
    let server = start(Engines::Embedded, move |s| {
        s.record.dir = Some(recording_dir);
        s.record.file_bytes = 3_000;
    })
    .await;
    let client_file = record_legacy_purchase(&server.app.base).await;
    let _ = std::fs::remove_file(client_file);
    // Written within the flush second, while the server still runs.
    let files = wait_for_files(&dir, 2).await;
    assert!(
        files.len() >= 2,
        "a visit over 3,000 bytes rotates into parts: {files:?}"
    );
    for file in &files {
        let har: Har = serde_json::from_slice(&std::fs::read(file).expect("read"))
            .unwrap_or_else(|e| panic!("{} is whole HAR JSON: {e}", file.display()));
        assert!(!har.log.entries.is_empty());
    }
    let metrics = server.app.get("/metrics").await;
    let text = metrics.body.as_str().unwrap_or_default().to_string();
    assert!(text.contains("ticketclub_record_dropped_total"), "{text}");
    assert!(text.contains("ticketclub_record_files_written_total"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_filter_or_a_zero_sample_records_nothing_and_recording_is_off_by_default() {
    for (label, tweak) in [
        ("other-session", (Some(9), 1.0)),
        ("sample-zero", (None, 0.0)),
    ] {
        let dir = std::env::temp_dir().join(unique(label));
        let recording_dir = dir.display().to_string();
        let server = start(Engines::Embedded, move |s| {
            s.record.dir = Some(recording_dir);
            (s.record.session, s.record.sample) = tweak;
        })
        .await;
        let client_file = record_legacy_purchase(&server.app.base).await;
        let _ = std::fs::remove_file(client_file);
        let Server { app, _db, _redis } = server;
        app.stop().await;
        assert_eq!(recordings_in(&dir), Vec::<PathBuf>::new(), "{label}");
        let _ = std::fs::remove_dir_all(dir);
    }
    // The filter on the session bought: recorded.
    let dir = std::env::temp_dir().join(unique("this-session"));
    let recording_dir = dir.display().to_string();
    let server = start(Engines::Embedded, move |s| {
        s.record.dir = Some(recording_dir);
        s.record.session = Some(SESSION);
    })
    .await;
    let client_file = record_legacy_purchase(&server.app.base).await;
    let _ = std::fs::remove_file(client_file);
    let Server { app, _db, _redis } = server;
    app.stop().await;
    assert_eq!(recordings_in(&dir).len(), 1);
    let _ = std::fs::remove_dir_all(dir);
    assert!(Settings::for_tests().record.dir.is_none(), "off by default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_map_signs_the_replay_in_as_the_listed_account() {
    let recorded_on = start(Engines::Embedded, |_| {}).await;
    let file = record_legacy_purchase_of(&recorded_on.app.base, &[5]).await;
    let target = start(Engines::Embedded, |_| {}).await;
    let email = format!("{}@test.com", unique("mapped"));
    let signed = target
        .app
        .post(
            "/user/signup",
            json!({"name": "mapped", "email": email, "password": "secret1"}),
            None,
        )
        .await;
    let user = signed.body["data"]["user"]["id"].as_i64().expect("user id");
    let accounts = std::env::temp_dir().join(format!("{}.json", unique("accounts")));
    std::fs::write(
        &accounts,
        json!([{"email": email, "password": "secret1"}]).to_string(),
    )
    .expect("written");
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--speed",
        "max",
        "--accounts",
        path_str(&accounts),
    ])
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // The listed account bought the seat (the recorded sign-up became its sign-in).
    let buyer: i64 = target
        .app
        .db()
        .query_row(
            "SELECT o.user_id FROM `order` o WHERE o.session_id = ?1",
            [SESSION],
            |row| row.get(0),
        )
        .expect("one order");
    assert_eq!(buyer, user);
    std::fs::write(&accounts, "[{\"email\": 1}]").expect("written");
    let run = replay(&[
        path_str(&file),
        "--target",
        &target.app.base,
        "--accounts",
        path_str(&accounts),
    ])
    .await;
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("not a JSON list"), "{}", run.stderr);
    let _ = std::fs::remove_file(file);
    let _ = std::fs::remove_file(accounts);
}
