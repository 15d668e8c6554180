//! The fan-out figures: per-admission freshness from what each queued client heard, and the report.
use std::time::Instant;

use serde_json::json;

use super::{FanoutResult, Heard, Opts};
use crate::error::{Result, err};
use crate::probe::HEADING;
use crate::report::Report;
use crate::scenarios::{Ctx, ms};
use crate::stats::{self, Summary};
use crate::svg::{self, Axes, Series};

pub(super) fn analyse(
    opts: &Opts,
    heard: &[Heard],
    departures: &[Instant],
    t0: Instant,
    expected: usize,
    received: usize,
) -> FanoutResult {
    let k = departures.len();
    let mut per_admission_last = vec![0.0f64; k];
    let mut per_admission_first = vec![f64::INFINITY; k];
    let mut per_admission_count = vec![0usize; k];
    let (mut deliveries, mut delivery_times, mut ready_ms) = (Vec::new(), Vec::new(), Vec::new());
    let mut wrong = 0;
    for h in heard {
        let want_minus = h.index.min(k);
        let want_ready = h.index < k;
        if h.minus.len() != want_minus || h.ready.is_some() != want_ready {
            wrong += 1;
        }
        for (n, at) in h.minus.iter().enumerate().take(k) {
            let latency = ms(at.saturating_duration_since(departures[n]));
            per_admission_last[n] = per_admission_last[n].max(latency);
            per_admission_first[n] = per_admission_first[n].min(latency);
            per_admission_count[n] += 1;
            deliveries.push(latency);
            delivery_times.push(at.saturating_duration_since(t0).as_secs_f64());
        }
        if let Some(at) = h.ready.filter(|_| h.index < k) {
            ready_ms.push(ms(at.saturating_duration_since(departures[h.index])));
        }
    }
    let first = delivery_times.iter().copied().fold(f64::INFINITY, f64::min);
    let last = delivery_times.iter().copied().fold(0.0, f64::max);
    let span = (last - first).max(1e-9);
    // Deliveries per second inside one admission's fan-out (first to last delivery).
    let burst_rates: Vec<f64> = (0..k)
        .filter(|&n| per_admission_count[n] > 1 && per_admission_last[n] > per_admission_first[n])
        .map(|n| {
            per_admission_count[n] as f64
                / ((per_admission_last[n] - per_admission_first[n]) / 1000.0)
        })
        .collect();
    FanoutResult {
        queued: heard.len(),
        page: opts.queue_limit as usize,
        admissions: k,
        rate: opts.rate,
        expected_notices: expected,
        received_notices: received,
        clients_with_wrong_count: wrong,
        ready_expected: heard.iter().filter(|h| h.index < k).count(),
        ready_received: ready_ms.len(),
        freshness_ms: Summary::of(&per_admission_last),
        per_admission_last_ms: per_admission_last,
        delivery_ms: Summary::of(&deliveries),
        ready_ms: Summary::of(&ready_ms),
        deliveries_per_s: deliveries.len() as f64 / span,
        delivery_span_s: span,
        fanout_rate_per_s: Summary::of(&burst_rates),
        server_cpu_s: 0.0,
        server_peak_rss_kb: 0,
        loadgen_cpu_s: 0.0,
        js_probe: None,
        deliveries,
        delivery_times,
        samples: Vec::new(),
    }
}

pub(super) fn write_report(
    ctx: &Ctx,
    opts: &Opts,
    info: serde_json::Value,
    r: FanoutResult,
) -> Result<bool> {
    let mut report = Report::new(&ctx.out, "fanout", "Queue position fan-out");
    report.md(format!(
        "{} buyers queue behind {} page visitors. {} visitors leave, {} per second; each departure \
         admits the head of the queue (`ready to go`) and tells everyone still queued their new \
         position (`minus waiting people`). Freshness = time from a departure (its close frame \
         sent) to the last queued buyer receiving that notice.\n",
        r.queued, r.page, r.admissions, r.rate
    ));
    report.md("| figure | value |\n|---|---:|");
    for (k, v) in [
        (
            "notices expected / received",
            format!("{} / {}", r.expected_notices, r.received_notices),
        ),
        (
            "clients with a wrong notice count",
            r.clients_with_wrong_count.to_string(),
        ),
        (
            "admissions heard (`ready to go`)",
            format!("{} / {}", r.ready_received, r.ready_expected),
        ),
        (
            "**freshness p50 / p99 / max**",
            format!(
                "**{:.1} / {:.1} / {:.1} ms**",
                r.freshness_ms.p50, r.freshness_ms.p99, r.freshness_ms.max
            ),
        ),
        (
            "single delivery p50 / p99",
            format!("{:.1} / {:.1} ms", r.delivery_ms.p50, r.delivery_ms.p99),
        ),
        (
            "`ready to go` p50 / max",
            format!("{:.1} / {:.1} ms", r.ready_ms.p50, r.ready_ms.max),
        ),
        (
            "deliveries per second inside one fan-out (median)",
            format!("{:.0}", r.fanout_rate_per_s.p50),
        ),
        (
            "deliveries per second over the run",
            format!("{:.0}", r.deliveries_per_s),
        ),
        (
            "server CPU during the admissions",
            format!("{:.2} s", r.server_cpu_s),
        ),
        (
            "server peak RSS",
            format!("{:.1} MiB", r.server_peak_rss_kb as f64 / 1024.0),
        ),
        ("load generator CPU", format!("{:.2} s", r.loadgen_cpu_s)),
    ] {
        report.md(format!("| {k} | {v} |"));
    }
    report.md("");
    let per: Vec<(f64, f64)> = r
        .per_admission_last_ms
        .iter()
        .enumerate()
        .map(|(i, v)| ((i + 1) as f64, *v))
        .collect();
    let axes = Axes {
        title: "Time to the last queued buyer, per admission",
        x: "admission",
        y: "ms",
        log_x: false,
    };
    report.plot(
        "freshness",
        "freshness per admission",
        svg::line_chart(&axes, &[Series::new("last delivery", per)]),
    )?;
    report.latencies(
        "delivery",
        "Position notice latency",
        &[
            ("every delivery", &r.deliveries),
            ("last per admission", &r.per_admission_last_ms),
        ],
    )?;
    let axes = Axes {
        title: "Position notices delivered per second",
        x: "time (s)",
        y: "deliveries/s",
        log_x: false,
    };
    let rate = stats::rate_over_time(&r.delivery_times, 0.05);
    report.plot(
        "throughput",
        "deliveries over time",
        svg::line_chart(&axes, &[Series::new("deliveries/s", rate)]),
    )?;
    report.resources("fanout", &r.samples)?;
    report.check(
        r.clients_with_wrong_count == 0,
        format!(
            "{} queued buyers heard a wrong number of notices",
            r.clients_with_wrong_count
        ),
    );
    report.check(
        r.received_notices == r.expected_notices,
        format!(
            "{} of {} notices received",
            r.received_notices, r.expected_notices
        ),
    );
    report.check(
        r.ready_received == r.ready_expected,
        format!(
            "{} of {} admissions heard",
            r.ready_received, r.ready_expected
        ),
    );
    if let Some(js) = &r.js_probe {
        js.describe(&mut report, &format!("## {HEADING}"));
        let wrong = js.clients_with_wrong_count.unwrap_or(0);
        report.check(
            js.errors == 0 && wrong == 0,
            format!(
                "the real JS client's queued users heard every notice ({} errors, {wrong} with a \
                 wrong count)",
                js.errors
            ),
        );
    }
    let mut data = serde_json::to_value(&r).map_err(|e| err(e.to_string()))?;
    data["scenario"] = "fanout".into();
    data["machine"] = info;
    data["options"] = json!({"queued": opts.queued, "queue_limit": opts.queue_limit, "admissions": opts.admissions, "rate": opts.rate, "js_probes": ctx.js_probes.is_some()});
    report.write(data)
}
