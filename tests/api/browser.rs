//! The browser demo (`client-demo/`) in a real browser: Debian's chromium, driven by
//! playwright-core from `client-demo/e2e/run.mjs`, against the real app with one place on the
//! buying page. `scripts/browser-deps.sh` installs chromium and playwright-core; screenshots of
//! every step go to `test-output/browser/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use ticketclub::config::Settings;

use crate::helpers::{spawn_app, spawn_app_with};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn e2e_dir() -> PathBuf {
    repo().join("client-demo/e2e")
}

/// Fails with the fix when `scripts/browser-deps.sh` has not run.
fn require_browser() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: run scripts/browser-deps.sh"
    );
    assert!(
        e2e_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run scripts/browser-deps.sh"
    );
}

/// Runs one scenario of `run.mjs` against a fresh app; panics with its output when it fails.
async fn browse(scenario: &str, tweak: impl FnOnce(&mut Settings)) {
    require_browser();
    let app = spawn_app_with(tweak).await;
    run_scenario(scenario, &app.base, &[]).await;
    app.stop().await;
}

/// Runs one scenario of `run.mjs` against `base` with `extra` arguments; panics with its
/// output when it fails.
async fn run_scenario(scenario: &str, base: &str, extra: &[&str]) {
    let out = repo().join("test-output/browser");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(e2e_dir().join("run.mjs"))
        .args(["--scenario", scenario, "--url", base])
        .args(extra)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // run.mjs has its own global timeout (150 s); this one only guards against a hung node.
    let run = tokio::time::timeout(Duration::from_secs(200), cmd.output()).await;
    let output = run
        .unwrap_or_else(|_| panic!("browser scenario {scenario}: no answer within 200 s"))
        .expect("node starts (Node 20 is required)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("PASSED"),
        "browser scenario {scenario} failed (screenshots in {}):\n{text}",
        out.display()
    );
}

/// A purchase in Chromium, recorded through CDP network events into a HAR (polling handshake,
/// websocket upgrade, every HTTP call), replays cleanly against a fresh server; against a
/// server whose only place on the buying page is taken, `check limit` is the first step that
/// differs and the replay exits non-zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_recorded_in_chromium_replays_and_a_full_page_is_reported() {
    require_browser();
    let recorded_on = spawn_app().await;
    let har = std::env::temp_dir().join(format!("{}.har", crate::helpers::unique("chromium")));
    let har_arg = har.display().to_string();
    run_scenario("record", &recorded_on.base, &["--har", &har_arg]).await;
    recorded_on.stop().await;

    let target = spawn_app().await;
    let run =
        crate::har_client::replay(&[&har_arg, "--target", &target.base, "--speed", "max"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for step in [
        "connect /",
        "check limit",
        "self select seat",
        "POST /order",
    ] {
        assert!(
            run.stdout
                .lines()
                .any(|l| l.contains(" pass ") && l.contains(step)),
            "{step} is compared:\n{}",
            run.stdout
        );
    }
    target.stop().await;

    let full = spawn_app_with(|s| s.queue_limit = 1).await;
    let (token, _) = full.sign_up("occupant").await;
    let mut occupant = crate::har_client::Recorder::new(&full.base);
    let mut ws = occupant.open().await;
    ws.send(&format!("40{}", json!({"token": token}))).await;
    ws.until(|f| f.starts_with("40")).await;
    ws.send(r#"42["check limit",2]"#).await;
    ws.until(|f| f.starts_with(r#"42["check limit""#)).await;
    let run = crate::har_client::replay(&[
        &har_arg, "--target", &full.base, "--speed", "max", "--wait", "1",
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
            .contains("$[1].waitPeople: recorded 0, received 1"),
        "{}",
        run.stdout
    );
    let _ = std::fs::remove_file(har);
}

#[tokio::test]
async fn the_demo_is_served_from_the_binary_and_nothing_else_of_its_folder() {
    let app = spawn_app().await;
    let fetch = |path: &'static str| {
        let url = format!("{}{path}", app.base);
        let client = app.client.clone();
        async move {
            let res = client.get(url).send().await.expect("sent");
            let kind = res.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .to_string();
            (res.status(), kind, res.text().await.expect("body"))
        }
    };
    let (status, kind, page) = fetch("/").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/html; charset=utf-8")
    );
    assert!(page.contains("/demo/js/app.js"), "{page}");
    let (status, kind, _) = fetch("/demo/js/app.js").await;
    assert_eq!(
        (status, kind.as_str()),
        (StatusCode::OK, "text/javascript; charset=utf-8")
    );
    let (status, _, bundle) = fetch("/demo/vendor/socket.io.min.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        bundle.starts_with("/*!\n * Socket.IO v4.5.1\n"),
        "not the 4.5.1 bundle"
    );
    for private in [
        "/demo/e2e/run.mjs",
        "/demo/index.html",
        "/demo/../Cargo.toml",
        "/demo/",
    ] {
        let res = app.get(private).await;
        assert_eq!(
            (res.status, res.body),
            (StatusCode::NOT_FOUND, json!({"error": "Page not found."})),
            "{private}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_buyers_share_one_place_through_the_waiting_room() {
    browse("flow", |s| s.queue_limit = 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_explains_a_window_the_server_ended() {
    browse("expiry", |s| {
        s.queue_limit = 1;
        s.purchase_window = 2;
        s.window_grace = 1;
    })
    .await;
}

/// The operator dashboard (issue 13) in Chromium: sign in with the token, watch a session, and
/// drive a limit change, a pause and a removal, seeing the figures move (screenshots
/// `admin-*.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_dashboard_changes_the_limit_pauses_and_removes_and_shows_it() {
    require_browser();
    const TOKEN: &str = "dashboard-operator-token";
    let app = spawn_app_with(|s| {
        s.queue_limit = 1;
        s.admin_token = Some(TOKEN.into());
    })
    .await;
    // Three app visitors: one on the buying page, two queued.
    let mut people = Vec::new();
    for n in 0..3 {
        let (token, id) = crate::app_rust::account(&app.base, &format!("dash{n}")).await;
        let label = format!("dash{n}");
        let q = crate::app_rust::connected(&app.base, "/queue", &token, "websocket", &label).await;
        let ack = q.call("join", json!({ "sessionId": 2 })).await;
        assert_eq!(ack["ok"], true, "{ack}");
        people.push((q, id));
    }
    let first = people[0].1.to_string();
    let args = ["--token", TOKEN, "--remove-user", first.as_str()];
    run_scenario("admin", &app.base, &args).await;
    app.stop().await;
}
