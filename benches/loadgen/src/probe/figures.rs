//! The probe's section of a report. A sampling probe (join, seat) has its samples split into
//! windows: before the load and while it runs. A queued probe gets, for each departure, the
//! delay until the JS client heard its new position.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{Lag, Output};
use crate::report::Report;
use crate::stats::Summary;

/// The title of the probe section in every report.
pub const HEADING: &str = "Real JS client (socket.io-client 4.5.1) probe";

/// Figures of one time window (or one kind of delay).
#[derive(Debug, Serialize)]
pub struct Window {
    /// What the row is.
    pub label: String,
    /// Its latencies.
    pub latency: Summary,
    /// Failed samples in it.
    pub errors: usize,
    /// Phases of its samples.
    pub parts: BTreeMap<String, Summary>,
}

/// What the probe saw, for the report's Markdown and JSON.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Client stack, node version and transports.
    pub client: String,
    /// What the probe did.
    pub what: String,
    /// What load ran beside it.
    pub beside: String,
    /// What the latencies measure.
    pub metric: String,
    /// Rows of the table.
    pub windows: Vec<Window>,
    /// Errors over the probe's whole run.
    pub errors: usize,
    /// Distinct error messages.
    pub error_examples: Vec<String>,
    /// Samples still in flight when it stopped (counted in `errors`).
    pub unfinished: usize,
    /// Join: ticks skipped because every account was busy.
    pub skipped: usize,
    /// Position: users who heard a wrong number of notices.
    pub clients_with_wrong_count: Option<usize>,
    /// CPU time of the Node process.
    pub probe_cpu_s: f64,
    /// Its event-loop lag: a high value means its own scheduling inflated the latencies.
    pub event_loop_delay_ms: Lag,
    /// The probe's own output line (samples with their times).
    pub probe: Value,
}

impl Figures {
    fn new(out: &Output, what: String, beside: String, windows: Vec<Window>) -> Self {
        let version = |name: &str| {
            out.client
                .get(name)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "?".into())
        };
        let transports = match out.transports.as_str() {
            "default" => {
                "HTTP long-polling, then upgrade to WebSocket, as the frontend".to_string()
            }
            other => other.to_string(),
        };
        Self {
            client: format!(
                "socket.io-client {} (engine.io-client {}, socket.io-parser {}) on node {}, transports: {transports}",
                version("socket.io-client"),
                version("engine.io-client"),
                version("socket.io-parser"),
                out.node
            ),
            what,
            beside,
            metric: out.metric.clone(),
            windows,
            errors: out.errors,
            error_examples: out.error_examples.clone(),
            unfinished: out.unfinished,
            skipped: out.skipped,
            clients_with_wrong_count: None,
            probe_cpu_s: out.cpu_s,
            event_loop_delay_ms: out.event_loop_delay_ms.clone(),
            probe: out.raw.clone(),
        }
    }

    /// A sampling probe around a load that ran from `from` to `to` (epoch ms). "Before" holds
    /// the samples that ended before the load began. "During" holds those whose span overlaps
    /// the load, plus the failures that started in it.
    pub fn around(
        out: &Output,
        what: String,
        beside: String,
        (from, to): (f64, f64),
        (before, during): (&str, &str),
    ) -> Self {
        let end = |p: &super::Point| p.t + p.ms.unwrap_or(0.0);
        let windows = vec![
            window(out, before, |p| match p.ms {
                Some(_) => end(p) < from,
                None => p.t < from,
            }),
            window(out, during, |p| match p.ms {
                Some(_) => p.t <= to && end(p) >= from,
                None => p.t >= from && p.t <= to,
            }),
        ];
        Self::new(out, what, beside, windows)
    }

    /// A position probe: the `n`th `minus waiting people` each queued user hears belongs to the
    /// `n`th departure (`departures`, epoch ms). Also checks that every user heard exactly the
    /// notices its place calls for (one per departure, and `ready to go` only if admitted).
    pub fn freshness(out: &Output, what: String, beside: String, departures: &[f64]) -> Self {
        let k = departures.len();
        let (mut lags, mut wrong) = (Vec::new(), 0);
        for (i, user) in out.sockets.iter().enumerate() {
            let mut minus: Vec<f64> = out
                .events
                .iter()
                .filter(|e| e.socket == i && e.name == "minus waiting people")
                .map(|e| e.t)
                .collect();
            minus.sort_by(f64::total_cmp);
            let ready = out
                .events
                .iter()
                .any(|e| e.socket == i && e.name == "ready to go");
            let index = user.wait_people.map_or(0, |w| (w.max(1) - 1) as usize);
            let queued = user.pass == Some(false);
            if !queued || minus.len() != index.min(k) || ready != (index < k) {
                wrong += 1;
            }
            lags.extend(
                minus
                    .iter()
                    .zip(departures)
                    .map(|(heard, left)| heard - left),
            );
        }
        let joins: Vec<f64> = out.sockets.iter().filter_map(|s| s.join_ms).collect();
        let row = |label: &str, samples: &[f64]| Window {
            label: label.to_string(),
            latency: Summary::of(samples),
            errors: 0,
            parts: BTreeMap::new(),
        };
        let windows = vec![
            row(
                "its join before the admissions (validation + connect + check limit)",
                &joins,
            ),
            row("**departure → the JS client heard its new place**", &lags),
        ];
        let mut figures = Self::new(out, what, beside, windows);
        figures.metric = "time from a page visitor's departure (its close frame sent) to the JS \
                          client's `minus waiting people` event (ms)"
            .into();
        figures.clients_with_wrong_count = Some(wrong);
        figures
    }

    /// Writes the section under `heading` (a Markdown heading line).
    pub fn describe(&self, report: &mut Report, heading: &str) {
        report.md(format!("{heading}\n"));
        report.md(format!(
            "{} Beside it: {}.\n\nClient: {}. Latency: {}.\n",
            self.what, self.beside, self.client, self.metric
        ));
        report.md(Summary::md_header());
        for w in &self.windows {
            report.md(w.latency.md_row(&w.label));
        }
        let parts: Vec<(String, &Summary)> = self
            .windows
            .iter()
            .flat_map(|w| {
                let mut phases: Vec<(&String, &Summary)> = w.parts.iter().collect();
                phases.sort_by_key(|(name, _)| flow_rank(name));
                phases
                    .into_iter()
                    .map(move |(name, s)| (format!("{}: {name}", w.label), s))
            })
            .collect();
        if !parts.is_empty() {
            report.md("\nPhases of those samples:\n");
            report.md(Summary::md_header().replace("latency (ms)", "phase (ms)"));
            for (label, s) in parts {
                report.md(s.md_row(&label));
            }
        }
        let per_window: Vec<String> = self
            .windows
            .iter()
            .map(|w| format!("{} {}", w.label.trim_matches('*'), w.errors))
            .collect();
        let per_window = match self.clients_with_wrong_count {
            None => format!(" ({})", per_window.join(", ")),
            Some(_) => String::new(),
        };
        report.md(format!(
            "\nErrors: {} over the probe's run{per_window}; unfinished at the stop: {}.{}",
            self.errors,
            self.unfinished,
            if self.error_examples.is_empty() {
                String::new()
            } else {
                format!(" Examples: {}.", self.error_examples.join("; "))
            }
        ));
        if let Some(wrong) = self.clients_with_wrong_count {
            report.md(format!(
                "Probe users with a wrong number of notices: {wrong}."
            ));
        }
        if self.skipped > 0 {
            report.md(format!(
                "Join ticks skipped because all the probe's accounts were busy: {}.",
                self.skipped
            ));
        }
        report.md(format!(
            "The probe's own cost: {:.2} CPU-s; its event-loop lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms \
             (it shares the cores with the server and the load generator, so a high lag would inflate its latencies).\n",
            self.probe_cpu_s,
            self.event_loop_delay_ms.p50,
            self.event_loop_delay_ms.p99,
            self.event_loop_delay_ms.max
        ));
    }
}

/// Phases in the order a user goes through them.
fn flow_rank(phase: &str) -> usize {
    const FLOW: [&str; 7] = [
        "validation",
        "connect",
        "check_limit",
        "select",
        "other_seen",
        "unselect_seen",
        "cycle",
    ];
    FLOW.iter().position(|p| *p == phase).unwrap_or(FLOW.len())
}

/// The samples `keep` selects: latencies of the good ones, phases, and the failures.
fn window(out: &Output, label: &str, keep: impl Fn(&super::Point) -> bool) -> Window {
    let points: Vec<&super::Point> = out.series.iter().filter(|p| keep(p)).collect();
    let good: Vec<&&super::Point> = points.iter().filter(|p| p.ms.is_some()).collect();
    let latencies: Vec<f64> = good.iter().filter_map(|p| p.ms).collect();
    let mut phases: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in &good {
        for (name, v) in &p.parts {
            phases.entry(name.clone()).or_default().push(*v);
        }
    }
    Window {
        label: label.to_string(),
        latency: Summary::of(&latencies),
        errors: points.iter().filter(|p| p.error.is_some()).count(),
        parts: phases
            .into_iter()
            .map(|(name, v)| (name, Summary::of(&v)))
            .collect(),
    }
}
