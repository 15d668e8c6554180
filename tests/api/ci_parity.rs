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
        "cargo tree --locked -i engineioxide",
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
