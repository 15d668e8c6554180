//! Waits estimated from the observed pace of a session's line (protocol-v2 `estimate`).
//!
//! The original formula assumes every buyer uses the whole purchase window, so it can only
//! over-estimate. Instead each instance samples, about once a second, how many people have left
//! the front of each line so far (admitted, or given up: storage's
//! [`WaitingRoom::progress`](crate::storage::WaitingRoom::progress), shared by every instance),
//! and divides a person's place by the pace of the last half minute (the last two minutes until
//! the recent half minute alone is enough to judge). The range spans both paces, each with a
//! Poisson interval (±2√n) around the n people seen to move: while the pace holds, it is the
//! noise of counting; when the pace changes, it widens to say so. Until a line has moved enough
//! to judge, the original formula answers, with a range of itself.
//!
//! Measured with `loadgen estimate` (benches/RESULTS.md): with the two-minute pace alone, a line
//! slowing from 5 to 2.5 people a second was promised waits 35 % short for two minutes, with the
//! truth inside the range 14 % of the time.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::ids::SessionId;
use crate::domain::time::Millis;

/// How far back the long pace is judged.
pub(crate) const WINDOW_MS: Millis = 120_000;
/// How far back the recent pace is judged: the estimate follows a line that speeds up or slows
/// down within about this long.
pub(crate) const RECENT_MS: Millis = 30_000;
/// Fewest people seen to move before the pace is trusted.
pub(crate) const MIN_MOVED: u64 = 5;
/// Shortest span of observation before the pace is trusted.
pub(crate) const MIN_SPAN_MS: Millis = 3_000;
/// Most samples kept per session (a sample a second for the window, with room to spare).
const MOST_SAMPLES: usize = 256;

/// An expected wait in seconds, with a range around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Estimate {
    /// The expected wait.
    pub seconds: i64,
    /// The short end of the range.
    pub low: i64,
    /// The long end of the range.
    pub high: i64,
}

impl Estimate {
    /// A wait known only as one figure (the original formula): the range is the figure.
    pub(crate) fn exactly(seconds: i64) -> Self {
        let seconds = seconds.max(0);
        Self {
            seconds,
            low: seconds,
            high: seconds,
        }
    }
}

/// Samples of one line: (when, people moved off its front by then), oldest first.
type Samples = VecDeque<(Millis, u64)>;

/// The observed progress of every line with people in it; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Estimator(Arc<Mutex<HashMap<SessionId, Samples>>>);

impl Estimator {
    fn lines(&self) -> MutexGuard<'_, HashMap<SessionId, Samples>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `moved` people had left the front of `session`'s line by `now`.
    pub(crate) fn observe(&self, session: SessionId, now: Millis, moved: u64) {
        let mut lines = self.lines();
        let samples = lines.entry(session).or_default();
        // The count went back: the line's keys were reset (expired or cleared). Start over.
        if samples.back().is_some_and(|(_, last)| moved < *last) {
            samples.clear();
        }
        samples.push_back((now, moved));
        // Keep one sample at or before the window's start, so the pace spans the whole window.
        while samples.len() > 2 && samples[1].0 <= now - WINDOW_MS {
            samples.pop_front();
        }
        while samples.len() > MOST_SAMPLES {
            samples.pop_front();
        }
    }

    /// Forgets every line but `waiting` (lines that emptied start afresh next time).
    pub(crate) fn keep_only(&self, waiting: &[SessionId]) {
        self.lines().retain(|session, _| waiting.contains(session));
    }

    /// The wait of someone with `ahead` people in front in `session`'s line; `original` is the
    /// original formula's figure, used until the line has moved enough to judge its pace.
    pub(crate) fn estimate(&self, session: SessionId, ahead: usize, original: i64) -> Estimate {
        let lines = self.lines();
        let Some(samples) = lines.get(&session) else {
            return Estimate::exactly(original);
        };
        let Some(&(now, _)) = samples.back() else {
            return Estimate::exactly(original);
        };
        let long =
            pace_since(samples, now - WINDOW_MS).and_then(|(n, span)| from_pace(ahead, n, span));
        let recent =
            pace_since(samples, now - RECENT_MS).and_then(|(n, span)| from_pace(ahead, n, span));
        match (recent, long) {
            (Some(recent), Some(long)) => Estimate {
                seconds: recent.seconds,
                low: recent.low.min(long.low),
                high: recent.high.max(long.high),
            },
            (None, Some(long)) => long,
            (Some(recent), None) => recent,
            (None, None) => Estimate::exactly(original),
        }
    }
}

/// People moved and the span they moved in, from the last sample at or before `from` (or the
/// oldest one) to the newest.
fn pace_since(samples: &Samples, from: Millis) -> Option<(u64, Millis)> {
    let last = samples.back()?;
    let first = samples
        .iter()
        .rev()
        .find(|(t, _)| *t <= from)
        .or_else(|| samples.front())?;
    Some((last.1 - first.1, last.0 - first.0))
}

/// The wait behind `ahead` people when `moved` people left the front in `span_ms`; `None`
/// while that is too little to judge.
pub(crate) fn from_pace(ahead: usize, moved: u64, span_ms: Millis) -> Option<Estimate> {
    if moved < MIN_MOVED || span_ms < MIN_SPAN_MS {
        return None;
    }
    // This person moves onto the page when everyone ahead and then they themselves have moved.
    let people = (ahead + 1) as f64;
    let span = span_ms as f64 / 1000.0;
    let n = moved as f64;
    let wait = |n: f64| (people * span / n).ceil() as i64;
    let spread = 2.0 * n.sqrt();
    Some(Estimate {
        seconds: wait(n),
        low: wait(n + spread),
        high: wait((n - spread).max(1.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_little_movement_falls_back_to_the_original_figure() {
        assert_eq!(from_pace(10, MIN_MOVED - 1, 60_000), None);
        assert_eq!(from_pace(10, 50, MIN_SPAN_MS - 1), None);
        let line = Estimator::default();
        assert_eq!(line.estimate(SessionId(1), 3, 600), Estimate::exactly(600));
        line.observe(SessionId(1), 0, 0);
        line.observe(SessionId(1), 1_000, 10);
        assert_eq!(line.estimate(SessionId(1), 3, 600), Estimate::exactly(600));
    }

    #[test]
    fn the_wait_is_the_place_over_the_pace_with_a_range_around_it() {
        // 100 people moved in 50 s: two a second. With 9 ahead, the tenth moves in 5 s.
        let e = from_pace(9, 100, 50_000).expect("enough to judge");
        assert_eq!(e.seconds, 5);
        assert!(e.low <= e.seconds && e.seconds <= e.high, "{e:?}");
        assert_eq!((e.low, e.high), (5, 7), "±2√100 = ±20 people over 50 s");
    }

    #[test]
    fn the_pace_is_judged_over_the_last_two_minutes_only() {
        let line = Estimator::default();
        let s = SessionId(2);
        // A slow start (1 person per 10 s for 10 minutes), then 5 a second for two minutes.
        let mut moved = 0;
        for t in (0..600_000).step_by(10_000) {
            line.observe(s, t, moved);
            moved += 1;
        }
        for t in (600_000..=720_000).step_by(1_000) {
            line.observe(s, t, moved);
            moved += 5;
        }
        let e = line.estimate(s, 99, 10_000);
        assert_eq!(e.seconds, 20, "100 people at 5 a second: {e:?}");
    }

    #[test]
    fn a_line_that_slows_down_is_estimated_at_its_new_pace_with_a_range_spanning_both() {
        let line = Estimator::default();
        let s = SessionId(4);
        // 5 a second for a minute, then 2 a second for the last 40 s.
        let mut moved = 0;
        for t in (0..=60_000).step_by(1_000) {
            line.observe(s, t, moved);
            moved += 5;
        }
        moved -= 5;
        for t in (61_000..=100_000).step_by(1_000) {
            moved += 2;
            line.observe(s, t, moved);
        }
        let e = line.estimate(s, 99, 10_000);
        assert_eq!(e.seconds, 50, "100 people at the recent 2 a second: {e:?}");
        // The two-minute pace (380 people in 100 s) alone would say 27 s; the range keeps it.
        assert!(e.low <= 27 && e.high >= 50, "{e:?}");
    }

    #[test]
    fn a_reset_line_starts_afresh_and_an_emptied_one_is_forgotten() {
        let line = Estimator::default();
        let s = SessionId(3);
        line.observe(s, 0, 500);
        line.observe(s, 10_000, 600);
        line.observe(s, 11_000, 2);
        assert_eq!(
            line.estimate(s, 0, 42),
            Estimate::exactly(42),
            "one sample after a reset"
        );
        line.observe(s, 20_000, 50);
        assert!(line.estimate(s, 0, 42).seconds < 42);
        line.keep_only(&[]);
        assert_eq!(line.estimate(s, 0, 42), Estimate::exactly(42));
    }
}
