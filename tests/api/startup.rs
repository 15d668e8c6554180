//! What a person sees when starting the real binary: options after the subcommand, plain-text
//! logs when the output is not a terminal, a clickable address and the demo accounts.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// Starts `ticketclub serve` with its options after the subcommand and stdout on a pipe, and
/// returns the log lines up to the demo-accounts line (or whatever came within 30 s).
async fn startup_lines() -> Vec<String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticketclub"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .args(["serve", "--addr", "127.0.0.1:0", "--database-url"])
        .args(["sqlite::memory:", "--jwt-secret", "test-secret"])
        .args(["--bcrypt-cost", "4", "--log-format", "pretty"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the ticketclub binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.contains("demo accounts");
            seen.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    let _ = child.kill().await;
    seen
}

#[tokio::test]
async fn a_redirected_startup_log_is_plain_text_with_a_clickable_address_and_the_demo_accounts() {
    let lines = startup_lines().await;
    let text = lines.join("\n");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a redirected log:\n{text}"
    );
    assert!(
        text.contains("listening on http://127.0.0.1:"),
        "no clickable address:\n{text}"
    );
    assert!(
        text.contains("demo@test.com / demodemo"),
        "the seeded demo accounts are not named:\n{text}"
    );
}
