//! What a run leaves behind: `<out>/<scenario>.json` (raw numbers), `<out>/<scenario>.md` (the
//! summary table and checks) and `<out>/<scenario>-*.svg` plots.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::server::Sample;
use crate::stats::{self, Summary};
use crate::svg::{self, Axes, Series};

/// A scenario's report, assembled while it runs.
pub struct Report {
    out: PathBuf,
    name: String,
    md: String,
    failures: Vec<String>,
    checks: Vec<Value>,
}

impl Report {
    /// A report `<out>/<name>.*` titled `title`.
    pub fn new(out: &Path, name: &str, title: &str) -> Self {
        Self {
            out: out.to_path_buf(),
            name: name.to_string(),
            md: format!("# {title}\n\n"),
            failures: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// Appends Markdown text (a paragraph or table lines).
    pub fn md(&mut self, text: impl AsRef<str>) {
        self.md.push_str(text.as_ref());
        self.md.push('\n');
    }

    /// Records a correctness check; a failed one makes the run fail.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        let what = what.into();
        eprintln!("  check {}: {what}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failures.push(what.clone());
        }
        self.checks.push(json!({"ok": ok, "what": what}));
    }

    /// Writes `<name>-<suffix>.svg` and links it from the Markdown.
    pub fn plot(&mut self, suffix: &str, caption: &str, svg: String) -> Result<()> {
        let file = format!("{}-{suffix}.svg", self.name);
        std::fs::write(self.out.join(&file), svg)?;
        self.md(format!("\n![{caption}]({file})\n"));
        Ok(())
    }

    /// Latency table rows plus a CDF and a histogram of the named distributions (ms).
    pub fn latencies(&mut self, suffix: &str, title: &str, sets: &[(&str, &[f64])]) -> Result<()> {
        self.md(Summary::md_header());
        for (label, samples) in sets {
            self.md(Summary::of(samples).md_row(label));
        }
        let series: Vec<Series> = sets
            .iter()
            .filter(|(_, s)| !s.is_empty())
            .map(|(label, s)| Series::new(*label, stats::cdf(s, 400)))
            .collect();
        let axes = Axes {
            title: &format!("{title}: CDF"),
            x: "latency (ms, log)",
            y: "fraction ≤ x",
            log_x: true,
        };
        self.plot(
            &format!("{suffix}-cdf"),
            &format!("{title} CDF"),
            svg::line_chart(&axes, &series),
        )?;
        if let Some((label, samples)) = sets.first() {
            let axes = Axes {
                title: &format!("{title}: {label} histogram"),
                x: "latency (ms, log)",
                y: "count",
                log_x: true,
            };
            let hist = svg::histogram(&axes, &stats::log_histogram(samples, 10));
            self.plot(
                &format!("{suffix}-hist"),
                &format!("{title} histogram"),
                hist,
            )?;
        }
        Ok(())
    }

    /// Server (and load generator) CPU use and memory over time from `/proc` samples.
    pub fn resources(&mut self, suffix: &str, samples: &[Sample]) -> Result<()> {
        if samples.len() < 2 {
            return Ok(());
        }
        let cpu = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
            samples
                .windows(2)
                .filter(|w| w[1].t > w[0].t)
                .map(|w| (w[1].t, 100.0 * (f(&w[1]) - f(&w[0])) / (w[1].t - w[0].t)))
                .collect()
        };
        let smooth = |pts: Vec<(f64, f64)>| smooth(&pts, 0.1);
        let series = vec![
            Series::new("server CPU %", smooth(cpu(|s| s.server.cpu_s))),
            Series::new("loadgen CPU %", smooth(cpu(|s| s.client.cpu_s))),
        ];
        let axes = Axes {
            title: "CPU use over time (100% = one core)",
            x: "time (s)",
            y: "CPU %",
            log_x: false,
        };
        self.plot(
            &format!("{suffix}-cpu"),
            "CPU over time",
            svg::line_chart(&axes, &series),
        )?;
        let mem = |f: fn(&Sample) -> u64| {
            samples
                .iter()
                .map(|s| (s.t, f(s) as f64 / 1024.0))
                .collect()
        };
        let series = vec![
            Series::new("server RSS", mem(|s| s.server.rss_kb)),
            Series::new("loadgen RSS", mem(|s| s.client.rss_kb)),
        ];
        let axes = Axes {
            title: "Memory over time",
            x: "time (s)",
            y: "RSS (MiB)",
            log_x: false,
        };
        self.plot(
            &format!("{suffix}-memory"),
            "memory over time",
            svg::line_chart(&axes, &series),
        )
    }

    /// Writes the JSON (with the checks added) and the Markdown; `true` when every check passed.
    pub fn write(mut self, data: impl Serialize) -> Result<bool> {
        let mut value = serde_json::to_value(data).map_err(|e| crate::error::err(e.to_string()))?;
        value["checks"] = Value::Array(std::mem::take(&mut self.checks));
        value["passed"] = Value::Bool(self.failures.is_empty());
        let json =
            serde_json::to_string_pretty(&value).map_err(|e| crate::error::err(e.to_string()))?;
        std::fs::write(self.out.join(format!("{}.json", self.name)), json)?;
        if !self.failures.is_empty() {
            self.md.push_str("\n## Failed checks\n\n");
            for f in &self.failures {
                self.md.push_str(&format!("- {f}\n"));
            }
        }
        std::fs::write(self.out.join(format!("{}.md", self.name)), &self.md)?;
        eprintln!("wrote {}/{}.{{json,md}}", self.out.display(), self.name);
        Ok(self.failures.is_empty())
    }
}

/// Averages each point with its neighbours within `window` seconds (CPU samples are coarse).
/// Points are in time order, so a sliding window does it in one pass.
fn smooth(points: &[(f64, f64)], window: f64) -> Vec<(f64, f64)> {
    let (mut lo, mut hi, mut sum) = (0, 0, 0.0);
    let mut out = Vec::with_capacity(points.len());
    for &(t, _) in points {
        while hi < points.len() && points[hi].0 <= t + window / 2.0 {
            sum += points[hi].1;
            hi += 1;
        }
        while points[lo].0 < t - window / 2.0 {
            sum -= points[lo].1;
            lo += 1;
        }
        out.push((t, (sum / (hi - lo).max(1) as f64).max(0.0)));
    }
    out
}
