//! The app protocol (`shared/protocol-v2.md`) driven by independent clients as app developers
//! use them: the whole buyer flow (join → position → admitted → watch → select → lock → order →
//! leave → the next person admitted), with bad input on the way, over polling and websocket,
//! on the embedded engines and across two instances sharing MySQL and Redis.
//!
//! Clients: socket.io-client, the latest 4.x (`tests/app-js/flow.mjs`); python-socketio
//! (`tests/app-py/flow.py`, and the in-order test `in_order.py`); rust_socketio in `app_rust.rs`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::js_flows::npm_ci_once;
use crate::multi_instance::{spawn_process, start_cluster};

/// Every flow needs a queue of two on the buying page, so two wait behind it.
const QUEUE_OF_TWO: (&str, &str) = ("TICKETCLUB_QUEUE_LIMIT", "2");

fn app_js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app-js")
}

fn app_py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app-py")
}

/// The Python that has `tests/app-py/requirements.txt` installed: a venv under the target
/// directory, made once per test run (pip is quick when it is already there).
fn python() -> PathBuf {
    static READY: Mutex<Option<PathBuf>> = Mutex::new(None);
    // Held through the install: two tests must not run pip in one venv at once.
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = ready.as_ref() {
        return python.clone();
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app-py-venv");
    let python = venv.join("bin/python");
    let run = |cmd: &mut std::process::Command| {
        let status = cmd.status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "setting up python-socketio failed ({status:?}): {cmd:?}; Python 3 with venv is required"
        );
    };
    if !python.exists() {
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv));
    }
    run(std::process::Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(app_py_dir().join("requirements.txt")));
    *ready = Some(python.clone());
    python
}

/// Runs one client program to its end; panics with its output unless it exits 0 and reports
/// at least `min_checks` checks ("PASSED n checks"), so a run that checked nothing fails.
async fn run_client(mut cmd: tokio::process::Command, what: &str, min_checks: u32) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let run = tokio::time::timeout(Duration::from_secs(180), cmd.output()).await;
    let output = run
        .unwrap_or_else(|_| panic!("{what} answers within 180 s"))
        .unwrap_or_else(|e| panic!("{what} starts: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    let checks = text.lines().find_map(|l| {
        l.strip_prefix("PASSED ")?
            .split(' ')
            .next()?
            .parse::<u32>()
            .ok()
    });
    assert!(
        checks.is_some_and(|n| n >= min_checks),
        "{what} did not report its {min_checks} checks:\n{text}"
    );
}

/// The flow's arguments: the first instance, the second (for the waiting half), the transport.
fn flow_args(cmd: &mut tokio::process::Command, url: &str, url2: Option<&str>, transport: &str) {
    cmd.args(["--url", url, "--transport", transport]);
    if let Some(url2) = url2 {
        cmd.args(["--url2", url2]);
    }
}

/// Runs the JS flow against `url` (and `url2` for the waiting half).
async fn js_flow(url: &str, url2: Option<&str>, transport: &str) {
    npm_ci_once(&app_js_dir());
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(app_js_dir().join("flow.mjs"));
    flow_args(&mut cmd, url, url2, transport);
    run_client(cmd, &format!("the JS app flow over {transport}"), 30).await;
}

/// Runs the python-socketio flow against `url` (and `url2` for the waiting half).
async fn py_flow(url: &str, url2: Option<&str>, transport: &str) {
    let mut cmd = tokio::process::Command::new(python());
    cmd.arg(app_py_dir().join("flow.py"));
    flow_args(&mut cmd, url, url2, transport);
    run_client(cmd, &format!("the python app flow over {transport}"), 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_client_buys_through_the_app_namespaces_on_the_embedded_engines() {
    for transport in ["polling", "websocket"] {
        let server = spawn_process(&[QUEUE_OF_TWO]).await;
        js_flow(&server.base, None, transport).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_io_client_buys_through_the_app_namespaces_across_two_instances() {
    for transport in ["polling", "websocket"] {
        let cluster = start_cluster(2, &[QUEUE_OF_TWO]).await;
        let (a, b) = (&cluster.instances[0], &cluster.instances[1]);
        js_flow(&a.base, Some(&b.base), transport).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_buys_through_the_app_namespaces_on_the_embedded_engines() {
    for transport in ["polling", "websocket"] {
        let server = spawn_process(&[QUEUE_OF_TWO]).await;
        py_flow(&server.base, None, transport).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_buys_through_the_app_namespaces_across_two_instances() {
    for transport in ["polling", "websocket"] {
        let cluster = start_cluster(2, &[QUEUE_OF_TWO]).await;
        let (a, b) = (&cluster.instances[0], &cluster.instances[1]);
        py_flow(&a.base, Some(&b.base), transport).await;
    }
}

/// Issue 11, item 3: `check limit`, `join room` and `select seat` sent back to back by a new
/// buyer, 100 times on each transport, always get `pass` and then the seat (the select used to
/// overtake the check and be refused in 17 of 25 polling runs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_legacy_events_are_answered_in_the_order_sent_on_both_transports() {
    let server = spawn_process(&[]).await;
    // Each transport buys its own seats (rounds 0-99, then 100-199).
    for (transport, first) in [("polling", "0"), ("websocket", "100")] {
        let mut cmd = tokio::process::Command::new(python());
        cmd.arg(app_py_dir().join("in_order.py")).args([
            "--url",
            &server.base,
            "--transport",
            transport,
            "--rounds",
            "100",
            "--first",
            first,
        ]);
        run_client(cmd, &format!("100 in-order rounds over {transport}"), 100).await;
    }
}
