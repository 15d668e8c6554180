//! CI checks what it says: the GitHub workflow runs `.ci/run` itself, and `.ci/run` keeps the
//! steps that issue 16 found missing from the workflow's own copy of them.

use std::path::Path;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn the_ci_workflow_runs_the_same_script_as_a_local_ci_run() {
    let workflow = repo_file(".github/workflows/ci.yml");
    let runs_ci: Vec<_> = workflow
        .lines()
        .filter(|line| line.trim() == "run: .ci/run")
        .collect();
    assert_eq!(
        runs_ci.len(),
        1,
        "ci.yml must call .ci/run once:\n{workflow}"
    );
    for own_copy in ["cargo clippy", "cargo test", "scripts/test"] {
        assert!(
            !workflow.contains(own_copy),
            "ci.yml runs `{own_copy}` itself; let .ci/run do it"
        );
    }
}

#[test]
fn local_ci_lints_the_workspace_checks_the_vendored_crate_and_runs_every_test() {
    let ci = repo_file(".ci/run");
    for step in [
        "cargo clippy --workspace --all-targets",
        "cargo tree --locked -i \"$crate\"",
        "for crate in engineioxide socketioxide-parser-common",
        "loadgen smoke",
        "scripts/test",
    ] {
        assert!(ci.contains(step), ".ci/run lacks `{step}`");
    }
    let test = repo_file("scripts/test");
    for step in ["--include-ignored", "-p loadgen"] {
        assert!(test.contains(step), "scripts/test lacks `{step}`");
    }
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does not count).
fn running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .trim()
            .starts_with('Z')
    })
}

#[test]
fn a_sigterm_stops_the_running_test_step_at_once_and_runs_the_exit_trap() {
    use std::process::Command;
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(crate::helpers::unique("steps"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let steps = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/steps.sh");
    // What scripts/test does: its steps, with an EXIT trap that stops what it started.
    let script = format!(
        "set -euo pipefail\nsource '{steps}'\ntrap 'touch {dir}/stopped' EXIT\n\
         step bash -c 'echo $$ > {dir}/step; exec sleep 60'\n",
        steps = steps.display(),
        dir = dir.display()
    );
    let mut run = Command::new("bash")
        .arg("-c")
        .arg(script)
        .spawn()
        .expect("bash runs");
    let started = Instant::now();
    let step_pid = loop {
        if let Ok(pid) = std::fs::read_to_string(dir.join("step"))
            && !pid.trim().is_empty()
        {
            break pid.trim().to_string();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the step never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = loop {
        if let Some(status) = run.try_wait().expect("wait") {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "the script waited for its step instead of stopping"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    assert!(dir.join("stopped").exists(), "the EXIT trap did not run");
    while running(&step_pid) && signalled.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(&step_pid), "the step outlived the script");
    let _ = std::fs::remove_dir_all(&dir);
}
