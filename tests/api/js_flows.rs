//! The original frontend's client, `socket.io-client` 4.5.1 from npm, drives the real server
//! through every scenario of `tests/js/scenarios/` (the golden recordings and more), in both
//! transport modes, against both engine pairs: SQLite + memory and MySQL + Redis.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use ticketclub::config::Settings;

use crate::databases::{TestDb, TestRedis};
use crate::helpers::{TestApp, spawn_app_with};

/// Which storage the server under test runs on.
#[derive(Clone, Copy, Debug)]
enum Engines {
    /// The embedded default: SQLite and the in-process waiting room.
    Embedded,
    /// Production: MySQL/MariaDB and Redis (waiting room and Socket.IO adapter).
    Shared,
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js")
}

/// Runs `npm ci` in `dir` once per test run, unless its packages are installed already (by
/// `scripts/test` or an earlier run); panics with the command to run by hand when it cannot.
pub fn npm_ci_once(dir: &Path) {
    static DONE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    // Held through the install: two tests must not run npm in one folder at once.
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    // npm writes node_modules/.package-lock.json last, so its presence means a whole install.
    if done.iter().any(|d| d == dir) || dir.join("node_modules/.package-lock.json").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status();
    match status {
        Ok(status) if status.success() => done.push(dir.to_path_buf()),
        other => panic!(
            "the JS client in {} is not installed ({other:?}); run `npm ci --prefix {}`",
            dir.display(),
            dir.display()
        ),
    }
}

/// A server on the chosen engines, with its storage guards.
struct Server {
    app: TestApp,
    _db: Option<TestDb>,
    _redis: Option<TestRedis>,
}

async fn start(engines: Engines, tweak: impl FnOnce(&mut Settings)) -> Server {
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

/// Runs one scenario with the real client; panics with its output when it fails.
async fn scenario(
    name: &str,
    engines: Engines,
    transports: &str,
    clients: Option<u32>,
    tweak: impl FnOnce(&mut Settings),
) {
    let server = start(engines, tweak).await;
    run_node_scenario(name, &server.app.base, None, transports, clients, &[]).await;
}

/// Runs `node tests/js/run.mjs` for one scenario against running servers.
pub async fn run_node_scenario(
    name: &str,
    base: &str,
    base2: Option<&str>,
    transports: &str,
    clients: Option<u32>,
    env: &[(&str, String)],
) {
    npm_ci_once(&js_dir());
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(js_dir().join("run.mjs"))
        .args([name, "--url", base, "--transports", transports])
        .env(
            "TICKETCLUB_JWT_SECRET",
            "test-secret-for-the-integration-tests",
        )
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url) = base2 {
        cmd.args(["--url2", url]);
    }
    if let Some(n) = clients {
        cmd.args(["--clients", &n.to_string()]);
    }
    let label = format!("{name}/{transports}");
    let run = tokio::time::timeout(Duration::from_secs(240), cmd.output()).await;
    let output = run
        .unwrap_or_else(|_| panic!("{label}: no answer within 240 s"))
        .expect("node starts (Node 20 is required)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{label} failed:\n{text}");
    let checks = passed_checks(&text);
    assert!(
        checks.is_some_and(|n| n > 0),
        "{label} ran no checks:\n{text}"
    );
}

/// The number of checks in the runner's `PASSED <n> checks` summary line, if it printed one.
/// A scenario that exits cleanly but checked nothing prints `PASSED 0 checks`, so the count, not
/// the word, is what tells a real pass.
fn passed_checks(output: &str) -> Option<u32> {
    output.lines().find_map(|line| {
        let (_, rest) = line.split_once(" PASSED ")?;
        rest.strip_suffix(')')?
            .split_once(" checks (")?
            .0
            .parse()
            .ok()
    })
}

#[test]
fn a_run_that_passed_zero_checks_does_not_count_as_checked() {
    assert_eq!(
        passed_checks("[smoke] PASSED 12 checks (1.2 s)\n"),
        Some(12)
    );
    assert_eq!(passed_checks("[smoke] PASSED 0 checks (0.0 s)"), Some(0));
    assert_eq!(
        passed_checks("[smoke] FAILED after 3 passing checks (1 s)"),
        None
    );
    assert_eq!(passed_checks("nothing at all"), None);
}

/// One test per scenario and engine pair; each runs both transport modes.
macro_rules! flows {
    ($($test:ident: $name:literal, $engines:expr, $clients:expr, $tweak:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            for transports in ["default", "websocket"] {
                scenario($name, $engines, transports, $clients, $tweak).await;
            }
        }
    )*};
}

fn defaults(_: &mut Settings) {}

fn short_window(s: &mut Settings) {
    s.queue_limit = 1;
    s.purchase_window = 2;
    s.window_grace = 1;
}

fn one_place(s: &mut Settings) {
    s.queue_limit = 1;
}

fn roomy(s: &mut Settings) {
    s.queue_limit = 250;
}

flows! {
    smoke_on_the_embedded_engines: "smoke", Engines::Embedded, None, defaults;
    smoke_on_mysql_and_redis: "smoke", Engines::Shared, None, defaults;
    seven_arrivals_on_the_embedded_engines: "arrive7", Engines::Embedded, None, defaults;
    seven_arrivals_on_mysql_and_redis: "arrive7", Engines::Shared, None, defaults;
    a_page_user_leaving_on_the_embedded_engines: "page-leave", Engines::Embedded, None, defaults;
    a_page_user_leaving_on_mysql_and_redis: "page-leave", Engines::Shared, None, defaults;
    queued_users_leaving_on_the_embedded_engines: "queued-leave", Engines::Embedded, None, defaults;
    queued_users_leaving_on_mysql_and_redis: "queued-leave", Engines::Shared, None, defaults;
    the_seat_room_flow_on_the_embedded_engines: "seat-room", Engines::Embedded, None, defaults;
    the_seat_room_flow_on_mysql_and_redis: "seat-room", Engines::Shared, None, defaults;
    multi_seat_locks_on_the_embedded_engines: "multi-lock", Engines::Embedded, None, defaults;
    multi_seat_locks_on_mysql_and_redis: "multi-lock", Engines::Shared, None, defaults;
    two_hundred_racers_on_the_embedded_engines: "race", Engines::Embedded, Some(200), roomy;
    two_hundred_racers_on_mysql_and_redis: "race", Engines::Shared, Some(200), roomy;
    the_window_expires_on_the_embedded_engines: "expiry", Engines::Embedded, None, short_window;
    the_window_expires_on_mysql_and_redis: "expiry", Engines::Shared, None, short_window;
    bad_input_on_the_embedded_engines: "bad-input", Engines::Embedded, None, defaults;
    bad_input_on_mysql_and_redis: "bad-input", Engines::Shared, None, defaults;
    an_arrival_whose_socket_left_at_once_frees_its_place_on_the_embedded_engines: "hit-and-run", Engines::Embedded, None, one_place;
    an_arrival_whose_socket_left_at_once_frees_its_place_on_mysql_and_redis: "hit-and-run", Engines::Shared, None, one_place;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_alone_carries_the_whole_seat_flow() {
    scenario("seat-room", Engines::Embedded, "polling", None, defaults).await;
    scenario("page-leave", Engines::Shared, "polling", None, defaults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_socket_is_refused_and_cut_while_others_keep_buying() {
    // Issue 15, item 6. Websocket only: the flood's batches would exceed a polling POST's cap.
    scenario("flood", Engines::Embedded, "websocket", None, defaults).await;
    scenario("flood", Engines::Shared, "websocket", None, defaults).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_with_a_binary_attachment_is_refused_with_a_clear_error() {
    // Issue 15, item 12.
    for transports in ["default", "websocket"] {
        scenario("binary", Engines::Embedded, transports, None, defaults).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_tab_keeps_the_place_when_the_newer_tab_of_the_account_closes() {
    // Issue 15, item 5.
    scenario("two-tabs", Engines::Embedded, "websocket", None, defaults).await;
    scenario("two-tabs", Engines::Shared, "default", None, defaults).await;
}
