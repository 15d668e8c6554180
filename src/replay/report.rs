//! What a replay tells: each step pass/differ with the expected and received bodies (one
//! user), or a summary with a latency table per event (several), on stdout; the same as JSON
//! with `--report`; a progress line on stderr while virtual users run.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::ReplayArgs;
use super::play::{UserReport, Verdict};
use super::script::Script;

/// Prints the report; returns true when the run failed (see `--strict`).
pub(super) fn print(results: &[(Script, Vec<UserReport>)], args: &ReplayArgs) -> bool {
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (script, users) in results {
        if let [user] = users.as_slice() {
            steps(&mut out, user);
        }
        let differing = users.iter().filter(|u| u.differences() > 0).count();
        let errors: Vec<&String> = users.iter().filter_map(|u| u.error.as_ref()).collect();
        let steps: usize = users.iter().map(|u| u.steps.len()).sum();
        let differ: usize = users.iter().map(UserReport::differences).sum();
        let _ = writeln!(
            out,
            "{}: {} user(s), {} finished, {} with differences; {steps} steps, {} pass, {differ} differ",
            script.name,
            users.len(),
            users.len() - errors.len(),
            differing,
            steps - differ,
        );
        for error in errors.iter().take(5) {
            let _ = writeln!(out, "  error: {error}");
        }
        if users.len() > 1 {
            latency_table(&mut out, users);
        }
        let strict = args.strict || users.len() == 1;
        failed |= !errors.is_empty() || (strict && differ > 0);
    }
    failed
}

fn steps(out: &mut impl Write, user: &UserReport) {
    for step in &user.steps {
        let verdict = match step.verdict {
            Verdict::Pass => "pass  ",
            Verdict::Differ => "DIFFER",
        };
        let _ = writeln!(
            out,
            "  #{:<4} {verdict} {:<32} ({})",
            step.step, step.label, step.origin
        );
        if step.verdict == Verdict::Differ {
            for difference in &step.differences {
                let _ = writeln!(out, "         {difference}");
            }
            let _ = writeln!(out, "         expected: {}", step.expected);
            let _ = writeln!(out, "         received: {}", step.received);
        }
    }
}

/// Latency per event or route over every user: count, p50, p95, p99, max in ms.
fn latencies(users: &[UserReport]) -> BTreeMap<String, Value> {
    let mut by_label: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for user in users {
        for (label, millis) in &user.latencies {
            by_label.entry(label.clone()).or_default().push(*millis);
        }
    }
    by_label
        .into_iter()
        .map(|(label, mut values)| {
            values.sort_by(f64::total_cmp);
            let at = |q: f64| {
                let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
                (values[i] * 10.0).round() / 10.0
            };
            let summary = json!({"count": values.len(), "p50": at(0.5), "p95": at(0.95),
                                 "p99": at(0.99), "max": at(1.0)});
            (label, summary)
        })
        .collect()
}

fn latency_table(out: &mut impl Write, users: &[UserReport]) {
    let _ = writeln!(
        out,
        "  {:<32} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "count", "p50", "p95", "p99", "max"
    );
    for (label, s) in latencies(users) {
        let _ = writeln!(
            out,
            "  {label:<32} {:>6} {:>9} {:>9} {:>9} {:>9}",
            s["count"], s["p50"], s["p95"], s["p99"], s["max"]
        );
    }
}

/// Writes the JSON report.
pub(super) fn write_json(
    path: &Path,
    results: &[(Script, Vec<UserReport>)],
    args: &ReplayArgs,
) -> std::io::Result<()> {
    let files: Vec<Value> = results
        .iter()
        .map(|(script, users)| {
            let differ: usize = users.iter().map(UserReport::differences).sum();
            json!({
                "file": script.name,
                "users": users,
                "summary": {
                    "users": users.len(),
                    "finished": users.iter().filter(|u| u.error.is_none()).count(),
                    "steps": users.iter().map(|u| u.steps.len()).sum::<usize>(),
                    "differ": differ,
                    "skippedEntries": script.skipped,
                },
                "latencyMs": latencies(users),
            })
        })
        .collect();
    let report = json!({"target": args.target, "files": files});
    let text = serde_json::to_vec_pretty(&report).map_err(std::io::Error::other)?;
    std::fs::write(path, text)
}

/// A progress line on stderr, redrawn until the returned task is aborted.
pub(super) fn progress(
    name: String,
    users: usize,
    done: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tick.tick().await;
            progress_line(&name, users, done.load(Ordering::Relaxed));
        }
    })
}

/// Redraws the progress line: a bar and `finished/users users`.
pub(super) fn progress_line(name: &str, users: usize, finished: usize) {
    let width = 30;
    let filled = finished.min(users) * width / users.max(1);
    eprint!(
        "\r{name}: [{}{}] {finished}/{users} users",
        "#".repeat(filled),
        "-".repeat(width - filled)
    );
}
