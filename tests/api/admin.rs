//! Operator controls (issue 13): each admin action on both engine pairs (embedded: one
//! process; production: two processes sharing MySQL and Redis, the change made through one and
//! its effect seen by clients of the other), with what the clients hear checked on the legacy
//! and the app protocol; the admin routes' refusals; the token kept out of logs and the audit
//! trail; settings kept across a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::app_rust::{Peer, account, connected, open_with};
use crate::multi_instance::{Instance, spawn_process, start_cluster};

const SESSION: i64 = 2;
const TOKEN: &str = "operator-secret-token-7f3a";
const LABEL: &str = "night-shift";
/// Longer than a position push's coalescing second plus the flusher's tick.
const SETTLE: Duration = Duration::from_millis(1_500);
/// The longest a push may take to arrive on a loaded test machine (a bound, not a delay).
const PUSH_WITHIN: Duration = Duration::from_secs(5);

fn admin_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("TICKETCLUB_ADMIN_TOKEN", TOKEN),
        ("TICKETCLUB_ADMIN_LABEL", LABEL),
    ]
}

/// An operator call through `base`: (status, body).
async fn admin(base: &str, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    admin_as(base, method, path, body, Some(TOKEN)).await
}

async fn admin_as(
    base: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{base}{path}"));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("admin call answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The session's figures through `base`.
async fn figures(base: &str) -> Value {
    let (status, body) = admin(
        base,
        Method::GET,
        &format!("/admin/sessions/{SESSION}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn sizes(report: &Value) -> (i64, i64) {
    (
        report["page"].as_i64().unwrap_or(-1),
        report["queue"].as_i64().unwrap_or(-1),
    )
}

/// An app visitor on `base` who joined session 2: the `/queue` connection, the join ack, the
/// account's token and id.
async fn app_joins(base: &str, label: &str) -> (Peer, Value, String, i64) {
    let (token, id) = account(base, label).await;
    let q = connected(base, "/queue", &token, "websocket", label).await;
    let ack = q.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(ack["ok"], true, "{label}: {ack}");
    (q, ack, token, id)
}

/// A legacy visitor on `base` who sent `check limit` for session 2: the connection and reply.
async fn legacy_joins(base: &str, label: &str) -> (Peer, Value, i64) {
    let (token, id) = account(base, label).await;
    let mut legacy = open_with(
        base,
        "/",
        json!({ "token": format!("Bearer {token}") }),
        "websocket",
        label,
    )
    .await
    .unwrap_or_else(|e| panic!("{label}: {e}"));
    legacy
        .client
        .emit("check limit", json!(SESSION))
        .await
        .expect("check limit sent");
    let reply = legacy.next("check limit").await;
    (legacy, reply, id)
}

/// Whether a legacy visitor heard `ready to go` within `within`. The event carries no
/// arguments, which rust_socketio hands over as a `message` whose text is the event's name.
async fn legacy_admitted(l: &mut Peer, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match l.heard_within("message", left).await {
            Some(Value::String(text)) if text == "ready to go" => return true,
            Some(_) => continue,
            None => return false,
        }
    }
}

/// One waiting person, on either protocol.
enum Waiter {
    App(Peer),
    Legacy(Peer),
}

impl Waiter {
    /// Whether they heard they were admitted within `within`.
    async fn admitted_within(&mut self, within: Duration) -> bool {
        match self {
            Waiter::App(q) => q.heard_within("admitted", within).await.is_some(),
            Waiter::Legacy(l) => legacy_admitted(l, within).await,
        }
    }
}

/// Raising the page size from 3 to 10 with 20 queued admits exactly 7 at once (legacy and app
/// hear it, through either instance); lowering it to 2 admits nobody through departures until
/// the page holds fewer than 2.
async fn limit_story(bases: &[&str]) {
    let on = |i: usize| bases[i % bases.len()];
    let mut page = Vec::new();
    for i in 0..3 {
        let (q, ack, _, _) = app_joins(on(i), &format!("p{i}")).await;
        assert_eq!(ack["state"], "admitted", "{ack}");
        page.push(q);
    }
    // Queue places 0 and 12 are legacy visitors, the rest app visitors, spread over instances.
    let mut queued = Vec::new();
    for i in 0..20 {
        if i == 0 || i == 12 {
            let (l, reply, _) = legacy_joins(on(i + 1), &format!("l{i}")).await;
            assert_eq!(reply["waitPeople"].as_i64(), Some(i as i64 + 1), "{reply}");
            queued.push(Waiter::Legacy(l));
        } else {
            let (q, ack, _, _) = app_joins(on(i + 1), &format!("q{i}")).await;
            assert_eq!(ack["ahead"].as_i64(), Some(i as i64), "{ack}");
            queued.push(Waiter::App(q));
        }
    }
    assert_eq!(sizes(&figures(bases[0]).await), (3, 20));

    let path = format!("/admin/sessions/{SESSION}/limit");
    let (status, body) = admin(on(1), Method::PUT, &path, Some(json!({"limit": 10}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["limit"].as_i64(), sizes(&body)),
        (Some(10), (10, 13)),
        "{body}"
    );
    for (i, w) in queued.iter_mut().enumerate().take(7) {
        assert!(
            w.admitted_within(PUSH_WITHIN).await,
            "place {i} admitted at once"
        );
    }
    tokio::time::sleep(SETTLE).await;
    for (i, w) in queued.iter_mut().enumerate().skip(7) {
        assert!(
            !w.admitted_within(Duration::ZERO).await,
            "place {i} still waits"
        );
    }
    // The legacy visitor at place 12 stepped 7 places forward, the app visitor at 10 hears 3.
    if let Waiter::Legacy(l) = &mut queued[12] {
        assert_eq!(l.drain("minus waiting people").len(), 7);
    }
    if let Waiter::App(q) = &mut queued[10] {
        let last = q.drain("position").pop().expect("a position push");
        assert_eq!(last["ahead"], 3, "{last}");
        assert_eq!(last["estimate"]["paused"], false, "{last}");
    }

    // Lower to 2: the page holds 10 (9 app visitors, 1 legacy), nobody is sent away.
    let (status, body) = admin(on(0), Method::PUT, &path, Some(json!({"limit": 2}))).await;
    assert_eq!((status, sizes(&body)), (200, (10, 13)), "{body}");
    let mut app_on_page: Vec<Peer> = page;
    for w in queued.drain(..7) {
        if let Waiter::App(q) = w {
            app_on_page.push(q);
        }
    }
    assert_eq!(app_on_page.len(), 9);
    for q in app_on_page.iter().take(8) {
        let ack = q.call("leave", json!({ "sessionId": SESSION })).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sizes(&figures(on(1)).await),
        (2, 13),
        "nobody admitted above the new size"
    );
    assert!(!queued[0].admitted_within(Duration::ZERO).await);
    let ack = app_on_page[8]
        .call("leave", json!({ "sessionId": SESSION }))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert!(
        queued[0].admitted_within(PUSH_WITHIN).await,
        "under the new size the next is admitted"
    );
    assert_eq!(sizes(&figures(on(0)).await), (2, 12));
    let report = figures(on(0)).await;
    assert!(
        report["admissionsLastMinute"].as_i64() >= Some(11),
        "{report}"
    );
    assert!(
        report["wait"]["medianSeconds"].as_f64().is_some(),
        "{report}"
    );
}

/// Pause stops admissions through departures and expiries; queued app visitors see `paused`
/// in their estimate and keep their places; resume admits at once.
async fn pause_story(bases: &[&str]) {
    let (home, other) = (bases[0], bases[bases.len() - 1]);
    let (a, ack, _, _) = app_joins(home, "A").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let (_b, ack, _, _) = app_joins(other, "B").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let (mut c, ack, _, _) = app_joins(other, "C").await;
    assert_eq!(
        (ack["state"].as_str(), ack["ahead"].as_i64()),
        (Some("queued"), Some(0))
    );
    assert_eq!(ack["estimate"]["paused"], false, "{ack}");
    let (mut d, reply, _) = legacy_joins(home, "D").await;
    assert_eq!(reply["waitPeople"], 2, "{reply}");

    let pause = format!("/admin/sessions/{SESSION}/pause");
    let (status, body) = admin(home, Method::POST, &pause, None).await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let pushed = c.heard_within("position", PUSH_WITHIN).await;
    let pushed = pushed.expect("the pause reaches the queued app visitor");
    assert_eq!(
        (
            pushed["ahead"].as_i64(),
            pushed["estimate"]["paused"].as_bool()
        ),
        (Some(0), Some(true)),
        "{pushed}"
    );
    // C's own instance says so too once it holds the change (within a second).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = c.call("status", json!({ "sessionId": SESSION })).await;
    assert_eq!(status["estimate"]["paused"], true, "{status}");

    // A departure admits nobody.
    let ack = a.call("leave", json!({ "sessionId": SESSION })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sizes(&figures(other).await), (1, 2));
    // B's window (3 s + 1 s grace) ends; still nobody is admitted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        sizes(&figures(home).await),
        (0, 2),
        "places kept, nobody admitted"
    );
    assert!(c.heard_within("admitted", Duration::ZERO).await.is_none());
    assert!(!legacy_admitted(&mut d, Duration::ZERO).await);

    let resume = format!("/admin/sessions/{SESSION}/resume");
    let (status, body) = admin(other, Method::POST, &resume, None).await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    assert!(c.heard_within("admitted", PUSH_WITHIN).await.is_some());
    assert!(legacy_admitted(&mut d, PUSH_WITHIN).await);
    assert_eq!(sizes(&figures(home).await), (2, 0));
}

/// Extending moves every visitor's deadline: the app page hears `window` with the new one, a
/// seat hold's deadline moves with it, and a legacy visitor outlives the old deadline.
async fn extend_story(bases: &[&str]) {
    let (home, other) = (bases[0], bases[bases.len() - 1]);
    let (_q, ack, token, _) = app_joins(home, "A").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let ends = ack["windowEndsAt"].as_i64().expect("deadline");
    let ns = format!("/event-{SESSION}");
    let mut page = connected(home, &ns, &token, "websocket", "A/page").await;
    let first = page.next("window").await;
    assert_eq!(first["endsAt"].as_i64(), Some(ends), "{first}");
    let sel = page
        .call("select", json!({"areaId": 1, "row": 1, "column": 1}))
        .await;
    assert_eq!(sel["ok"], true, "{sel}");
    let (mut legacy, reply, _) = legacy_joins(other, "L").await;
    assert_eq!(reply["pass"], true, "{reply}");

    let path = format!("/admin/sessions/{SESSION}/extend");
    let (status, body) = admin(other, Method::POST, &path, Some(json!({"seconds": 5}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["visitors"].as_i64(), body["holds"].as_i64()),
        (Some(2), Some(1)),
        "{body}"
    );
    let moved = page.heard_within("window", PUSH_WITHIN).await;
    let moved = moved.expect("the app page hears its new deadline");
    assert_eq!(moved["endsAt"].as_i64(), Some(ends + 5_000), "{moved}");
    // Past the old window and its grace (3 s + 1 s) both are still on the page, hold kept.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    let report = figures(home).await;
    assert_eq!(
        (sizes(&report), report["holds"].as_i64()),
        ((2, 0), Some(1)),
        "{report}"
    );
    assert!(
        legacy
            .heard_within("window expired", Duration::ZERO)
            .await
            .is_none()
    );
    // And the new deadline does end them.
    assert!(
        legacy
            .heard_within("window expired", Duration::from_secs(6))
            .await
            .is_some()
    );
    assert!(
        page.heard_within("expired", Duration::from_secs(3))
            .await
            .is_some()
    );
}

/// Removing a visitor frees their holds, admits the next and tells them (`removed`, reason
/// `operator`; the legacy page hears `window expired`); a blocked account cannot come back.
async fn remove_story(bases: &[&str]) {
    let (home, other) = (bases[0], bases[bases.len() - 1]);
    let (mut qa, ack, token, a_id) = app_joins(home, "A").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let mut page = connected(
        home,
        &format!("/event-{SESSION}"),
        &token,
        "websocket",
        "A/page",
    )
    .await;
    let sel = page
        .call("select", json!({"areaId": 1, "row": 1, "column": 2}))
        .await;
    assert_eq!(sel["ok"], true, "{sel}");
    let (mut lb, reply, lb_id) = legacy_joins(home, "B").await;
    assert_eq!(reply["waitPeople"], 1, "{reply}");
    let (mut qc, ack, _, c_id) = app_joins(home, "C").await;
    assert_eq!(ack["ahead"], 1, "{ack}");

    let remove = |user: i64, block: bool| {
        let q = if block { "?block=true" } else { "" };
        format!("/admin/sessions/{SESSION}/visitors/{user}{q}")
    };
    let (status, body) = admin(other, Method::DELETE, &remove(a_id, false), None).await;
    assert_eq!(
        (status, body["removedFrom"].as_str()),
        (200, Some("page")),
        "{body}"
    );
    let told = qa.heard_within("removed", PUSH_WITHIN).await;
    assert_eq!(told.expect("A is told")["reason"], "operator");
    // On either instance: every instance opens every session's buying page, so the removal
    // made on the other one reaches this page too.
    assert!(
        page.heard_within("expired", PUSH_WITHIN).await.is_some(),
        "the buying page hears `expired`"
    );
    assert!(
        legacy_admitted(&mut lb, PUSH_WITHIN).await,
        "the next is admitted"
    );
    let report = figures(home).await;
    assert_eq!(
        (sizes(&report), report["holds"].as_i64()),
        ((1, 1), Some(0)),
        "{report}"
    );

    // The legacy visitor now on the page is taken off and hears the one ending it knows.
    let (status, _) = admin(other, Method::DELETE, &remove(lb_id, false), None).await;
    assert_eq!(status, 200);
    assert!(
        lb.heard_within("window expired", PUSH_WITHIN)
            .await
            .is_some()
    );
    assert!(qc.heard_within("admitted", PUSH_WITHIN).await.is_some());

    // C is removed and blocked: C's join is refused afterwards, through either instance.
    let (status, body) = admin(home, Method::DELETE, &remove(c_id, true), None).await;
    assert_eq!(
        (status, body["blocked"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let told = qc.heard_within("removed", PUSH_WITHIN).await;
    assert_eq!(told.expect("C is told")["reason"], "operator");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = qc.call("join", json!({ "sessionId": SESSION })).await;
    assert_eq!(again["error"]["code"], "blocked", "{again}");
    assert_eq!(sizes(&figures(other).await), (0, 0));
}

/// Closing the sale tells everyone queued (app: `removed` reason `sale_ended`; legacy: an
/// error reply) and empties the queue; page visitors stay; nobody new may join.
async fn close_story(bases: &[&str]) {
    let (home, other) = (bases[0], bases[bases.len() - 1]);
    let (_a, ack, _, _) = app_joins(home, "A").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let (mut lb, reply, _) = legacy_joins(home, "B").await;
    assert_eq!(reply["waitPeople"], 1, "{reply}");
    let (mut qc, ack, _, _) = app_joins(home, "C").await;
    assert_eq!(ack["ahead"], 1, "{ack}");

    let path = format!("/admin/sessions/{SESSION}/close");
    let (status, body) = admin(other, Method::POST, &path, None).await;
    assert_eq!((status, body["told"].as_i64()), (200, Some(2)), "{body}");
    let told = qc.heard_within("removed", PUSH_WITHIN).await;
    assert_eq!(told.expect("C is told")["reason"], "sale_ended");
    let error = lb.heard_within("check limit", PUSH_WITHIN).await;
    assert!(error.expect("B hears an error reply")["error"].is_string());
    // The other instance holds the change within a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = figures(home).await;
    assert_eq!(
        (sizes(&report), report["closed"].as_bool()),
        ((1, 0), Some(true)),
        "{report}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (late, ack, _) = {
        let (token, _) = account(other, "late").await;
        let q = connected(other, "/queue", &token, "websocket", "late").await;
        let ack = q.call("join", json!({ "sessionId": SESSION })).await;
        (q, ack, token)
    };
    assert_eq!(ack["error"]["code"], "sale_not_open", "{ack}");
    drop(late);
}

/// Instances for `story`: the embedded engines (one process), then the production pair (two
/// processes sharing MySQL and Redis), each with `env` added.
async fn on_both_engine_pairs<F, Fut>(env: &[(&'static str, &'static str)], story: F)
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut all = admin_env();
    all.extend_from_slice(env);
    let embedded = spawn_process(&all).await;
    story(vec![embedded.base.clone()]).await;
    drop(embedded);
    let cluster = start_cluster(2, &all).await;
    let bases = cluster.instances.iter().map(|i| i.base.clone()).collect();
    story(bases).await;
}

fn refs(bases: &[String]) -> Vec<&str> {
    bases.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_limit_admits_exactly_the_difference_and_lowering_it_admits_nobody_above_it() {
    on_both_engine_pairs(&[("TICKETCLUB_QUEUE_LIMIT", "3")], |bases| async move {
        limit_story(&refs(&bases)).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_stops_admissions_through_departures_and_expiries_until_resumed() {
    let env = [
        ("TICKETCLUB_QUEUE_LIMIT", "2"),
        ("TICKETCLUB_PURCHASE_WINDOW", "3"),
        ("TICKETCLUB_WINDOW_GRACE", "1"),
    ];
    on_both_engine_pairs(
        &env,
        |bases| async move { pause_story(&refs(&bases)).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extending_moves_every_visitors_deadline_and_their_holds() {
    let env = [
        ("TICKETCLUB_QUEUE_LIMIT", "5"),
        ("TICKETCLUB_PURCHASE_WINDOW", "3"),
        ("TICKETCLUB_WINDOW_GRACE", "1"),
    ];
    on_both_engine_pairs(
        &env,
        |bases| async move { extend_story(&refs(&bases)).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_visitor_frees_holds_admits_the_next_and_tells_them() {
    let env = [("TICKETCLUB_QUEUE_LIMIT", "1")];
    on_both_engine_pairs(
        &env,
        |bases| async move { remove_story(&refs(&bases)).await },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_sale_tells_everyone_queued_and_empties_the_queue() {
    let env = [("TICKETCLUB_QUEUE_LIMIT", "1")];
    on_both_engine_pairs(
        &env,
        |bases| async move { close_story(&refs(&bases)).await },
    )
    .await;
}

fn log_text(instance: &Instance) -> String {
    instance
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_routes_refuse_without_the_right_token_and_are_absent_without_one() {
    let routes = [
        (Method::GET, format!("/admin/sessions/{SESSION}"), None),
        (
            Method::PUT,
            format!("/admin/sessions/{SESSION}/limit"),
            Some(json!({"limit": 4})),
        ),
        (
            Method::POST,
            format!("/admin/sessions/{SESSION}/pause"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/sessions/{SESSION}/resume"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/sessions/{SESSION}/extend"),
            Some(json!({"seconds": 5})),
        ),
        (
            Method::DELETE,
            format!("/admin/sessions/{SESSION}/visitors/1"),
            None,
        ),
        (
            Method::POST,
            format!("/admin/sessions/{SESSION}/close"),
            None,
        ),
        (Method::GET, "/admin/audit".to_string(), None),
    ];
    let off = spawn_process(&[]).await;
    for (method, path, body) in &routes {
        let (status, _) =
            admin_as(&off.base, method.clone(), path, body.clone(), Some(TOKEN)).await;
        assert_eq!(status, 404, "{method} {path} without a configured token");
    }
    let on = spawn_process(&admin_env()).await;
    for (method, path, body) in &routes {
        for token in [None, Some("wrong"), Some("operator-secret-token-7f3b")] {
            let (status, reply) =
                admin_as(&on.base, method.clone(), path, body.clone(), token).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {reply}");
        }
    }
    // Bad input is a clear 400 or 404, never a 500.
    let limit = format!("/admin/sessions/{SESSION}/limit");
    for body in [
        json!({}),
        json!({"limit": 0}),
        json!({"limit": "ten"}),
        json!([1]),
    ] {
        let (status, reply) = admin(&on.base, Method::PUT, &limit, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {reply}");
    }
    let (status, _) = admin(&on.base, Method::GET, "/admin/sessions/9999", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(&on.base, Method::GET, "/admin/sessions/abc", None).await;
    assert_eq!(status, 404);
    let (status, _) = admin(
        &on.base,
        Method::DELETE,
        &format!("/admin/sessions/{SESSION}/visitors/77777"),
        None,
    )
    .await;
    assert_eq!(status, 404, "nobody to remove");

    // Every action is an audit row naming the label, newest first, and a log line; the token
    // is in neither.
    let (status, _) = admin(&on.base, Method::PUT, &limit, Some(json!({"limit": 4}))).await;
    assert_eq!(status, 200);
    let pause = format!("/admin/sessions/{SESSION}/pause");
    assert_eq!(admin(&on.base, Method::POST, &pause, None).await.0, 200);
    let (status, audit) = admin(&on.base, Method::GET, "/admin/audit", None).await;
    assert_eq!(status, 200, "{audit}");
    let entries = audit["entries"].as_array().expect("entries");
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, vec!["pause", "limit"], "{audit}");
    assert_eq!(entries[0]["who"], LABEL);
    assert_eq!(entries[1]["before"]["limit"], Value::Null, "{audit}");
    assert_eq!(entries[1]["after"]["limit"], 4, "{audit}");
    let (_, paged) = admin(&on.base, Method::GET, "/admin/audit?limit=1", None).await;
    assert_eq!(
        paged["entries"].as_array().map(Vec::len),
        Some(1),
        "{paged}"
    );
    let before = paged["nextBefore"].as_i64().expect("a next page");
    let (_, rest) = admin(
        &on.base,
        Method::GET,
        &format!("/admin/audit?before={before}"),
        None,
    )
    .await;
    assert_eq!(rest["entries"][0]["action"], "limit", "{rest}");
    assert!(!audit.to_string().contains(TOKEN));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = log_text(&on);
    assert!(
        log.contains("operator action") && log.contains(LABEL),
        "the action is logged"
    );
    assert!(!log.contains(TOKEN), "the token never reaches the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_outlive_a_restart_and_reach_the_other_instance_within_a_second() {
    let mut env = admin_env();
    env.push(("TICKETCLUB_QUEUE_LIMIT", "3"));
    let cluster = start_cluster(2, &env).await;
    let (a, b) = (&cluster.instances[0].base, &cluster.instances[1].base);
    let limit = format!("/admin/sessions/{SESSION}/limit");
    assert_eq!(
        admin(a, Method::PUT, &limit, Some(json!({"limit": 1})))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Through the other instance: one on the page, the next queues.
    let (_x, ack, _, _) = app_joins(b, "X").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let (_y, ack, _, _) = app_joins(b, "Y").await;
    assert_eq!(
        ack["state"], "queued",
        "the other instance keeps the new size: {ack}"
    );
    assert_eq!(figures(b).await["limit"], 1);
    // A fresh instance on the same database starts with the stored settings.
    let db = cluster.db_url().to_string();
    let fresh = spawn_process(&[
        ("DATABASE_URL", db.as_str()),
        ("TICKETCLUB_ADMIN_TOKEN", TOKEN),
        ("TICKETCLUB_QUEUE_LIMIT", "3"),
    ])
    .await;
    let report = figures(&fresh.base).await;
    assert_eq!(report["limit"], 1, "{report}");
    assert_eq!(report["settings"]["limit"], 1, "{report}");
}

/// The window and the ticket limit of one session: a lower ticket limit refuses the next
/// seat, a new window reaches the app page as a `window` push, and `null` restores the
/// environment's values.
async fn terms_story(bases: &[&str]) {
    let (home, other) = (bases[0], bases[bases.len() - 1]);
    let (_q, ack, token, _) = app_joins(home, "A").await;
    assert_eq!(ack["state"], "admitted", "{ack}");
    let ends = ack["windowEndsAt"].as_i64().expect("deadline");
    let mut page = connected(
        home,
        &format!("/event-{SESSION}"),
        &token,
        "websocket",
        "A/page",
    )
    .await;
    page.next("window").await;

    let path = format!("/admin/sessions/{SESSION}/settings");
    let body = json!({"ticketLimit": 1, "windowSeconds": 30});
    let (status, report) = admin(other, Method::PUT, &path, Some(body)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            report["ticketLimit"].as_i64(),
            report["windowSeconds"].as_i64()
        ),
        (Some(1), Some(30))
    );
    let moved = page.heard_within("window", PUSH_WITHIN).await;
    let moved = moved.expect("the page hears the new deadline");
    assert_eq!(
        moved["endsAt"].as_i64(),
        Some(ends - 600_000 + 30_000),
        "{moved}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let one = page
        .call("select", json!({"areaId": 1, "row": 2, "column": 1}))
        .await;
    assert_eq!(one["ok"], true, "{one}");
    let two = page
        .call("select", json!({"areaId": 1, "row": 2, "column": 2}))
        .await;
    assert_eq!(two["error"]["code"], "limit_reached", "{two}");

    for bad in [
        json!({"ticketLimit": 0}),
        json!({"windowSeconds": "long"}),
        json!({"ticketLimit": 1000}),
    ] {
        let (status, reply) = admin(home, Method::PUT, &path, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {reply}");
    }
    let (status, report) =
        admin(home, Method::PUT, &path, Some(json!({"ticketLimit": null}))).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (
            report["ticketLimit"].as_i64(),
            report["windowSeconds"].as_i64()
        ),
        (Some(4), Some(30))
    );
    assert_eq!(report["settings"]["ticketLimit"], Value::Null, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sessions_window_and_ticket_limit_are_its_own() {
    let env = [("TICKETCLUB_QUEUE_LIMIT", "3")];
    on_both_engine_pairs(
        &env,
        |bases| async move { terms_story(&refs(&bases)).await },
    )
    .await;
}
