//! The disconnect-storm report.
use super::{Opts, StormResult};
use crate::error::{Result, err};
use crate::report::Report;
use crate::scenarios::Ctx;
use crate::svg::{self, Axes, Series};

pub(super) fn write_report(
    ctx: &Ctx,
    opts: &Opts,
    info: serde_json::Value,
    r: StormResult,
    storm_s: f64,
) -> Result<bool> {
    let mut report = Report::new(&ctx.out, "disconnect-storm", "Disconnect storm");
    report.md(format!(
        "{} clients connected ({} on the page, {} queued, queue limit {}, engines {}) leave at the \
         same instant (`41` + WebSocket close each). The server counts as idle again after {} ms \
         without CPU use (sampled every 5 ms); a probe joins session {} every 20 ms meanwhile.\n",
        r.connected,
        r.on_page,
        r.queued,
        opts.queue_limit,
        r.engines,
        opts.quiet_ms,
        opts.probe_session
    ));
    report.md("| figure | value |\n|---|---:|");
    for (k, v) in [
        (
            "all close frames sent after",
            format!("{:.0} ms", r.close_sent_ms),
        ),
        (
            "**server busy until (drain time)**",
            format!("**{:.0} ms**", r.drain_ms),
        ),
        (
            "server CPU-seconds for the drain",
            format!("{:.2} s", r.server_cpu_s_drain),
        ),
        (
            "server RSS before / peak during / after",
            format!(
                "{:.1} / {:.1} / {:.1} MiB",
                r.server_rss_before_kb as f64 / 1024.0,
                r.server_rss_peak_during_kb as f64 / 1024.0,
                r.server_rss_after_kb as f64 / 1024.0
            ),
        ),
        (
            "server RSS after the drain + later",
            format!(
                "{:.1} MiB ({} s after the drain)",
                r.server_rss_later_kb as f64 / 1024.0,
                opts.after_s
            ),
        ),
        (
            "admitted from the queue during the storm / promotions of leavers withdrawn",
            format!("{} / {}", r.admitted_during_storm, r.promotions_withdrawn),
        ),
        (
            "server peak RSS (VmHWM)",
            format!("{:.1} MiB", r.server_peak_rss_kb as f64 / 1024.0),
        ),
        (
            "probe join p50 / p99 / max during the drain",
            format!(
                "{:.1} / {:.1} / {:.1} ms ({} probes)",
                r.probe_rtt_ms.p50, r.probe_rtt_ms.p99, r.probe_rtt_ms.max, r.probe_rtt_ms.count
            ),
        ),
        (
            "accounts still inside afterwards",
            r.still_inside_after.to_string(),
        ),
    ] {
        report.md(format!("| {k} | {v} |"));
    }
    report.md("");
    let axes = Axes {
        title: "Probe join latency during the storm (red line: the storm begins)",
        x: "time (s)",
        y: "check limit round trip (ms)",
        log_x: false,
    };
    let mark = vec![
        (storm_s, 0.0),
        (storm_s, r.probe.iter().map(|p| p.1).fold(1.0, f64::max)),
    ];
    let chart = svg::line_chart(
        &axes,
        &[
            Series::new("probe", r.probe.clone()),
            Series::new("storm begins", mark),
        ],
    );
    report.plot("probe", "probe latency", chart)?;
    report.resources("storm", &r.samples)?;
    report.check(
        r.connected == opts.clients,
        format!("all {} clients connected", opts.clients),
    );
    report.check(
        r.on_page == opts.queue_limit as usize,
        format!("{} on the page before the storm", r.on_page),
    );
    report.check(
        r.still_inside_after == 0,
        format!(
            "{} accounts still inside the waiting room after the drain",
            r.still_inside_after
        ),
    );
    report.check(
        r.fresh_entrant_passed,
        "a fresh entrant passes straight onto the empty page",
    );
    let mut data = serde_json::to_value(&r).map_err(|e| err(e.to_string()))?;
    data["scenario"] = "disconnect-storm".into();
    data["machine"] = info;
    data["options"] = serde_json::json!({"clients": opts.clients, "queue_limit": opts.queue_limit, "session": opts.session, "quiet_ms": opts.quiet_ms, "after_s": opts.after_s, "production": opts.production});
    report.write(data)
}
