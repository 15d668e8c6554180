//! The join-storm report: one section per mode with its tables, plots and checks.
use super::{Join, Opts, RunResult};
use crate::error::Result;
use crate::probe::HEADING;
use crate::report::Report;
use crate::stats;
use crate::svg::{self, Axes, Series};

pub(super) fn describe(report: &mut Report, opts: &Opts, r: &RunResult) -> Result<()> {
    let mode = r.label.as_str();
    report.md(format!("## {mode}\n"));
    match r.arrival_rate {
        Some(rate) => report.md(format!("Joins started at {rate} per second (open loop: a join starts on time whether or not earlier ones were answered).\n")),
        None => report.md("All joins started at the same instant (connections opened beforehand).\n"),
    }
    report.md("| figure | value |\n|---|---:|");
    let rows: Vec<(&str, String)> = vec![
        ("clients", r.clients.to_string()),
        (
            "connected (ws + namespace)",
            format!(
                "{} in {:.2} s ({:.0}/s)",
                r.connected, r.connect_wall_s, r.connect_rate_per_s
            ),
        ),
        ("joins answered", r.answered.to_string()),
        ("failures", r.failures.to_string()),
        ("passed / queued", format!("{} / {}", r.passed, r.queued)),
        ("join wall time", format!("{:.3} s", r.join_wall_s)),
        ("**joins per second**", format!("**{:.0}**", r.joins_per_s)),
        ("**join p99**", format!("**{:.1} ms**", r.join_ms.p99)),
        (
            "server CPU during joins",
            format!("{:.2} s", r.server_cpu_s),
        ),
        (
            "server peak RSS",
            format!("{:.1} MiB", r.server_peak_rss_kb as f64 / 1024.0),
        ),
        (
            "load generator CPU during joins",
            format!("{:.2} s", r.loadgen_cpu_s),
        ),
    ];
    for (k, v) in rows {
        report.md(format!("| {k} | {v} |"));
    }
    report.md("");
    let col = |f: fn(&Join) -> f64| {
        r.joins
            .iter()
            .filter(|j| j.error.is_none())
            .map(f)
            .collect::<Vec<f64>>()
    };
    let (total, validation, check) = (
        col(|j| j.total_ms),
        col(|j| j.validation_ms),
        col(|j| j.check_limit_ms),
    );
    report.latencies(
        mode,
        &format!("Join latency ({mode})"),
        &[
            ("join (validation + check limit)", &total),
            ("POST /session/validation", &validation),
            ("check limit round trip", &check),
        ],
    )?;
    report.md(format!(
        "\nConnect latency (TCP + WebSocket + namespace, before the storm): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms.\n",
        r.connect_ms.p50, r.connect_ms.p99, r.connect_ms.max
    ));
    let done: Vec<f64> = r
        .joins
        .iter()
        .filter(|j| j.error.is_none())
        .map(|j| j.done_s)
        .collect();
    let bucket = if r.join_wall_s < 2.0 { 0.02 } else { 0.25 };
    let axes = Axes {
        title: &format!("Joins completed per second ({mode})"),
        x: "time since start (s)",
        y: "joins/s",
        log_x: false,
    };
    let chart = svg::line_chart(
        &axes,
        &[Series::new("joins/s", stats::rate_over_time(&done, bucket))],
    );
    report.plot(&format!("{mode}-throughput"), "throughput over time", chart)?;
    report.resources(mode, &r.samples)?;
    if let Some(js) = &r.js_probe {
        js.describe(report, &format!("### {HEADING} ({mode})"));
        report.check(
            js.errors == 0,
            format!(
                "{mode}: the real JS client's joins succeeded ({} errors)",
                js.errors
            ),
        );
    }
    report.check(
        r.failures == 0,
        format!("{mode}: every one of {} joins answered", r.clients),
    );
    let want_pass = (opts.queue_limit as usize).min(r.clients);
    report.check(
        r.passed == want_pass,
        format!(
            "{mode}: {} passed straight to the page (queue limit {})",
            r.passed, opts.queue_limit
        ),
    );
    let mut positions: Vec<i64> = r
        .joins
        .iter()
        .filter(|j| j.error.is_none() && !j.pass)
        .map(|j| j.wait_people)
        .collect();
    positions.sort_unstable();
    let fair = positions
        .iter()
        .enumerate()
        .all(|(i, p)| *p == i as i64 + 1);
    report.check(
        fair,
        format!(
            "{mode}: the {} queued got positions 1..={} exactly once each",
            positions.len(),
            positions.len()
        ),
    );
    Ok(())
}
