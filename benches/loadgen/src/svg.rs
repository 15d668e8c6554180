//! Small SVG charts written by hand: line charts (CDFs, rates, memory over time) and log-scale
//! latency histograms. No plotting crate: a chart is a few hundred bytes of markup.

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 55.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// One named line.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points in drawing order.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A named series.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Axis titles and scale of a chart.
pub struct Axes<'a> {
    /// Chart title.
    pub title: &'a str,
    /// X axis label.
    pub x: &'a str,
    /// Y axis label.
    pub y: &'a str,
    /// Logarithmic x axis (values must be positive).
    pub log_x: bool,
}

struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Scale {
    fn new(values: impl Iterator<Item = f64>, log: bool, zero: bool) -> Self {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        // Rounding noise (a smoothed zero of -1e-16) must not pull the axis below zero.
        let values = values.map(|v| if v.abs() < 1e-9 { 0.0 } else { v });
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (if log { 1.0 } else { 0.0 }, 1.0);
        }
        if log {
            (lo, hi) = (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil()),
            );
            if hi <= lo {
                hi = lo * 10.0;
            }
        } else {
            if zero {
                lo = lo.min(0.0);
            }
            if hi <= lo {
                hi = lo + 1.0;
            }
            let step = nice_step((hi - lo) / 5.0);
            (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
        }
        Self { lo, hi, log }
    }

    fn frac(&self, v: f64) -> f64 {
        if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut p = self.lo;
            while p <= self.hi * 1.0001 {
                t.push(p);
                p *= 10.0;
            }
            return t;
        }
        let step = nice_step((self.hi - self.lo) / 5.0);
        let n = ((self.hi - self.lo) / step).round() as usize;
        (0..=n).map(|i| self.lo + i as f64 * step).collect()
    }
}

fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let n = raw / mag;
    let nice = if n <= 1.0 {
        1.0
    } else if n <= 2.0 {
        2.0
    } else if n <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Frame, title, grid and tick labels; returns the markup and the point mapper.
fn frame(axes: &Axes, xs: &Scale, ys: &Scale) -> String {
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r##"<rect width="{W}" height="{H}" fill="#ffffff"/>"##);
    let _ = write!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
        W / 2.0,
        escape(axes.title)
    );
    for t in xs.ticks() {
        let x = LEFT + xs.frac(t) * pw;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#e5e5e5"/>"##,
            TOP + ph
        );
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            TOP + ph + 16.0,
            label(t)
        );
    }
    for t in ys.ticks() {
        let y = TOP + ph - ys.frac(t) * ph;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
            LEFT + pw
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        H - 12.0,
        escape(axes.x)
    );
    let _ = write!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        escape(axes.y)
    );
    s
}

/// A line chart of one or more series.
pub fn line_chart(axes: &Axes, series: &[Series]) -> String {
    let xs = Scale::new(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.0)),
        axes.log_x,
        false,
    );
    let ys = Scale::new(
        series.iter().flat_map(|s| s.points.iter().map(|p| p.1)),
        false,
        true,
    );
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let mut s = frame(axes, &xs, &ys);
    for (i, line) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<String> = line
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite() && (!axes.log_x || p.0 > 0.0))
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + xs.frac(*x) * pw,
                    TOP + ph - ys.frac(*y) * ph
                )
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{}"/>"#,
            pts.join(" ")
        );
        let ly = TOP + 16.0 + i as f64 * 16.0;
        let _ = write!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"/>"#,
            LEFT + 10.0,
            LEFT + 28.0
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            LEFT + 34.0,
            ly + 4.0,
            escape(&line.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A histogram of `(lo, hi, count)` buckets on a log x axis.
pub fn histogram(axes: &Axes, buckets: &[(f64, f64, usize)]) -> String {
    let xs = Scale::new(buckets.iter().flat_map(|b| [b.0, b.1]), true, false);
    let ys = Scale::new(buckets.iter().map(|b| b.2 as f64), false, true);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let mut s = frame(axes, &xs, &ys);
    for &(lo, hi, count) in buckets {
        let x0 = LEFT + xs.frac(lo) * pw;
        let x1 = LEFT + xs.frac(hi) * pw;
        let y = TOP + ph - ys.frac(count as f64) * ph;
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4" stroke="#fff" stroke-width="0.5"/>"##,
            (x1 - x0).max(0.5),
            (TOP + ph - y).max(0.0)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_well_formed_svg() {
        let axes = Axes {
            title: "a < b",
            x: "ms",
            y: "fraction",
            log_x: true,
        };
        let svg = line_chart(&axes, &[Series::new("x", vec![(0.5, 0.1), (20.0, 1.0)])]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt; b"));
        let h = histogram(&axes, &[(1.0, 2.0, 3), (2.0, 4.0, 0)]);
        assert!(h.contains("<rect"));
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(130.0), 200.0);
    }
}
