//! Percentiles, histograms and rates over recorded samples.

use serde::Serialize;

/// Distribution of a set of durations, in milliseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (any order).
    pub fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        Self {
            count: s.len(),
            min: s[0],
            mean: s.iter().sum::<f64>() / s.len() as f64,
            p50: percentile(&s, 50.0),
            p90: percentile(&s, 90.0),
            p99: percentile(&s, 99.0),
            max: s[s.len() - 1],
        }
    }

    /// A Markdown table row: `| label | n | p50 | p90 | p99 | max |`.
    pub fn md_row(&self, label: &str) -> String {
        format!(
            "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            self.count, self.mean, self.p50, self.p90, self.p99, self.max
        )
    }

    /// The header matching [`Summary::md_row`].
    pub fn md_header() -> &'static str {
        "| latency (ms) | n | mean | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|"
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Points of an empirical CDF `(value, fraction ≤ value)`, thinned to at most `max_points`.
pub fn cdf(samples: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let step = n.div_ceil(max_points.max(1)).max(1);
    let mut points: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (s[i], (i + 1) as f64 / n as f64))
        .collect();
    if let Some(&last) = s.last() {
        points.push((last, 1.0));
    }
    points
}

/// Counts per time bucket: `(bucket start in s, events per second)` for event times in seconds.
pub fn rate_over_time(times_s: &[f64], bucket_s: f64) -> Vec<(f64, f64)> {
    if times_s.is_empty() {
        return Vec::new();
    }
    let end = times_s.iter().copied().fold(0.0, f64::max);
    let buckets = (end / bucket_s).floor() as usize + 1;
    let mut counts = vec![0usize; buckets];
    for &t in times_s {
        counts[((t.max(0.0)) / bucket_s).floor() as usize] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (i as f64 * bucket_s, c as f64 / bucket_s))
        .collect()
}

/// Log-spaced histogram buckets `(lo, hi, count)` of positive samples.
pub fn log_histogram(samples: &[f64], buckets_per_decade: usize) -> Vec<(f64, f64, usize)> {
    let positive: Vec<f64> = samples.iter().copied().filter(|v| *v > 0.0).collect();
    if positive.is_empty() {
        return Vec::new();
    }
    let lo = positive
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .log10()
        .floor();
    let hi = positive
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let n = ((hi - lo) * buckets_per_decade as f64).round() as usize;
    let edge = |i: usize| 10f64.powf(lo + i as f64 / buckets_per_decade as f64);
    let mut counts = vec![0usize; n];
    for v in positive {
        let i = ((v.log10() - lo) * buckets_per_decade as f64).floor() as usize;
        counts[i.min(n - 1)] += 1;
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(i, c)| (edge(i), edge(i + 1), c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        let sum = Summary::of(&s);
        assert_eq!(sum.p50, 50.0);
        assert_eq!(sum.p99, 99.0);
        assert_eq!(sum.max, 100.0);
        assert_eq!(Summary::of(&[]).count, 0);
    }

    #[test]
    fn histograms_count_every_sample() {
        let s = [0.5, 1.0, 2.0, 20.0, 200.0];
        let h = log_histogram(&s, 4);
        assert_eq!(h.iter().map(|b| b.2).sum::<usize>(), 5);
        let r = rate_over_time(&[0.1, 0.2, 1.5], 1.0);
        assert_eq!(r, vec![(0.0, 2.0), (1.0, 1.0)]);
    }
}
