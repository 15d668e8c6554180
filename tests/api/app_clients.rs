//! The app protocol (`shared/protocol-v2.md`) driven by independent clients as app developers
//! use them: the whole buyer flow (join → position → admitted → watch → select → lock → order →
//! leave → the next person admitted), with bad input on the way, over polling and websocket,
//! on the embedded engines and across two instances sharing MySQL and Redis.
//!
//! Clients written so far: socket.io-client, the latest 4.x (`tests/app-js/flow.mjs`).
//! python-socketio and rust_socketio are still to come (issue 11).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::js_flows::npm_ci_once;
use crate::multi_instance::{spawn_process, start_cluster};

/// Every flow needs a queue of two on the buying page, so two wait behind it.
const QUEUE_OF_TWO: (&str, &str) = ("TICKETCLUB_QUEUE_LIMIT", "2");

fn app_js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app-js")
}

/// Runs the JS flow against `url` (and `url2` for the waiting half); panics with its output.
async fn js_flow(url: &str, url2: Option<&str>, transport: &str) {
    npm_ci_once(&app_js_dir());
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(app_js_dir().join("flow.mjs"))
        .args(["--url", url, "--transport", transport])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(url2) = url2 {
        cmd.args(["--url2", url2]);
    }
    let run = tokio::time::timeout(Duration::from_secs(120), cmd.output()).await;
    let output = run
        .expect("the JS app flow answers within 120 s")
        .expect("node starts (Node 20 is required)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "app flow over {transport} failed:\n{text}"
    );
    let checks = text.lines().find_map(|l| {
        l.strip_prefix("PASSED ")?
            .split(' ')
            .next()?
            .parse::<u32>()
            .ok()
    });
    assert!(
        checks.is_some_and(|n| n >= 30),
        "app flow over {transport} did not report its checks:\n{text}"
    );
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
