//! The fleet's arithmetic, kept free of sockets so it can be tested: when the line moved, how
//! long each client took to show each move, and whether everyone ended where the line says.
//!
//! Times are milliseconds since the Unix epoch: the clients live in several processes, and the
//! wall clock is the one clock they share on one machine.

use serde::Serialize;

/// Width of one bucket of [`Lags`], ms.
const BUCKET_MS: u64 = 10;
/// Points of one plotted line.
const PLOT_POINTS: usize = 400;
/// Lags past this land in the last bucket (and still count in `max_ms`).
const BUCKETS: usize = 60_000;

/// What one queued client showed: its `ahead` in the join ack, then each later value with its
/// arrival time (`-1` once admitted).
#[derive(Clone, Debug, Default)]
pub struct View {
    /// People ahead in the join ack.
    pub ahead_at_join: i64,
    /// (arrival ms, shown `ahead`), in arrival order; `-1` for `admitted`.
    pub shown: Vec<(u64, i64)>,
}

/// The instants the line moved by one: the k-th is the earlier of the k-th departure sent and
/// the k-th admission heard. A departure is known when a client sent it; a place the server
/// freed itself (a dead instance's page visitor) is known only by the admission it caused, which
/// is heard a little after the server made it: so the lag measured after such a move is a little
/// short, never long. Both lists are sorted here.
pub fn moves(departures: &mut [u64], admissions: &mut [u64]) -> Vec<u64> {
    departures.sort_unstable();
    admissions.sort_unstable();
    let n = departures.len().max(admissions.len());
    (0..n)
        .map(|k| {
            let d = departures.get(k).copied().unwrap_or(u64::MAX);
            let a = admissions.get(k).copied().unwrap_or(u64::MAX);
            d.min(a)
        })
        .collect()
}

/// How long clients took to show the line's moves: a histogram in [`BUCKET_MS`] buckets.
#[derive(Clone, Debug, Serialize)]
pub struct Lags {
    /// (client, move) pairs after which the client's true `ahead` changed.
    pub samples: u64,
    /// Pairs whose truth the client never showed.
    pub never_shown: u64,
    /// Largest lag, ms.
    pub max_ms: u64,
    #[serde(skip)]
    hist: Vec<u64>,
}

impl Default for Lags {
    fn default() -> Self {
        Self {
            samples: 0,
            never_shown: 0,
            max_ms: 0,
            hist: vec![0; BUCKETS],
        }
    }
}

impl Lags {
    fn add(&mut self, lag_ms: u64) {
        self.samples += 1;
        self.max_ms = self.max_ms.max(lag_ms);
        // Bucket i holds lags in ((i - 1) * BUCKET_MS, i * BUCKET_MS]: a percentile read from it
        // is never below the lags it stands for.
        let bucket = (lag_ms.div_ceil(BUCKET_MS) as usize).min(BUCKETS - 1);
        self.hist[bucket] += 1;
    }

    /// The `p`th percentile of the shown lags (the upper edge of its bucket), ms.
    pub fn percentile(&self, p: f64) -> f64 {
        let shown = self.samples - self.never_shown;
        if shown == 0 {
            return 0.0;
        }
        let rank = ((p / 100.0) * shown as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return (i as u64 * BUCKET_MS).min(self.max_ms) as f64;
            }
        }
        self.max_ms as f64
    }

    /// The share of shown lags at or under `ms`, as a CDF for a plot (x in s).
    pub fn cdf(&self) -> Vec<(f64, f64)> {
        let shown = (self.samples - self.never_shown).max(1) as f64;
        let mut seen = 0;
        let mut points = Vec::new();
        for (i, n) in self.hist.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            seen += n;
            points.push(((i as u64 * BUCKET_MS) as f64 / 1000.0, seen as f64 / shown));
        }
        thin(points)
    }
}

/// At most [`PLOT_POINTS`] of `points`, evenly picked, the last kept (a plot needs no more).
pub fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let step = points.len().div_ceil(PLOT_POINTS).max(1);
    let last = points.last().copied();
    let mut kept: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    if let Some(last) = last
        && kept.last() != Some(&last)
    {
        kept.push(last);
    }
    kept
}

/// The lag of every (client, move) pair: from the move that made the client's truth `t` to
/// the value from which on it showed `t` or better for good (`-1`, admitted, once the truth is
/// past the head). A later value above `t` (a stale push arriving after a fresh one) means the
/// client showed a wrong place again, so the lag runs until the last such value is replaced.
/// What arrives after the admission is not counted: a client on the page no longer shows a
/// place. Every admission comes after every join in the fleet, so a client's truth after the
/// k-th move is its `ahead` at join minus k.
pub fn lags(views: &[View], moves: &[u64]) -> Lags {
    let mut lags = Lags::default();
    for view in views {
        let a = view.ahead_at_join;
        if a < 0 {
            continue;
        }
        let shown = match view.shown.iter().position(|(_, ahead)| *ahead < 0) {
            Some(admitted) => &view.shown[..=admitted],
            None => &view.shown[..],
        };
        // The worst value shown from each arrival on.
        let mut worst_after = vec![i64::MIN; shown.len()];
        let mut worst = i64::MIN;
        for (i, (_, ahead)) in shown.iter().enumerate().rev() {
            worst = worst.max(*ahead);
            worst_after[i] = worst;
        }
        let mut j = 0;
        // The (a + 1)-th move admits the client; later moves change nothing it can show.
        for (k, at) in moves.iter().enumerate().take(a as usize + 1) {
            let truth = (a - (k as i64 + 1)).max(-1);
            while j < shown.len() && worst_after[j] > truth {
                j += 1;
            }
            match shown.get(j) {
                Some((shown_at, _)) => lags.add(shown_at.saturating_sub(*at)),
                None => {
                    lags.samples += 1;
                    lags.never_shown += 1;
                }
            }
        }
    }
    lags
}

/// How far one client's pushes broke the protocol's promise (protocol-v2: at most one
/// `position` a second, always the newest value, none once admitted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Breaches {
    /// A value above the one shown before it (an older value after a newer one).
    pub went_back: usize,
    /// Two values less than `min_gap_ms` apart.
    pub too_close: usize,
    /// Values after the admission.
    pub after_admitted: usize,
}

impl Breaches {
    /// Adds one client's values (the first one is the join ack's, not a push).
    pub fn add(&mut self, shown: &[(u64, i64)], min_gap_ms: u64) {
        let admitted = shown.iter().position(|(_, ahead)| *ahead < 0);
        let line = &shown[..admitted.unwrap_or(shown.len())];
        self.after_admitted += admitted.map_or(0, |i| shown.len() - i - 1);
        self.went_back += line.windows(2).filter(|w| w[1].1 > w[0].1).count();
        // The first value is the join ack's; gaps count between pushes.
        self.too_close += line
            .iter()
            .skip(1)
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].0.saturating_sub(w[0].0) < min_gap_ms)
            .count();
    }
}

/// What a queued client's last `status` said, for [`places`].
#[derive(Clone, Debug)]
pub enum Final {
    /// In line with this many ahead.
    Queued(i64),
    /// On the buying page, or admitted and gone (bought and left).
    Admitted,
    /// No place (`state: "none"`).
    None,
    /// No answer (the client's connection failed and could not be resumed).
    Unknown,
}

/// Whether every queued client ended where the line says it must be.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Places {
    /// Queued clients checked.
    pub checked: usize,
    /// Admitted from the line (the count everyone's end place follows from).
    pub admitted: usize,
    /// In line at the end with exactly the `ahead` the line says.
    pub exact: usize,
    /// In line at the end with another `ahead` (someone ahead lost a place, or was let in twice).
    pub wrong_ahead: usize,
    /// No place at the end though the line says one (a lost place).
    pub lost: usize,
    /// Still in line at the end though the line says admitted.
    pub not_admitted: usize,
    /// No final answer.
    pub unknown: usize,
    /// Places at join given to more than one client (each extra client counts): `ahead`
    /// values must each appear once.
    pub given_twice: usize,
    /// Places at join below the highest one given that no client was told: each is a join
    /// that took its place without its ack reaching the client (it failed or timed out).
    pub skipped: usize,
}

/// Checks each queued client's final answer against its `ahead` at join minus the admissions
/// from the line (`admitted_from_line`), after admissions stopped.
pub fn places(clients: &[(i64, Final)], admitted_from_line: usize) -> Places {
    let mut p = Places {
        checked: clients.len(),
        admitted: admitted_from_line,
        ..Places::default()
    };
    let highest = clients.iter().map(|(a, _)| *a).max().unwrap_or(-1);
    let mut seen = vec![0u32; usize::try_from(highest + 1).unwrap_or(0)];
    for (a, end) in clients {
        if let Some(n) = usize::try_from(*a).ok().and_then(|i| seen.get_mut(i)) {
            *n += 1;
        }
        let expected = a - admitted_from_line as i64;
        match (end, expected >= 0) {
            (Final::Queued(ahead), true) if *ahead == expected => p.exact += 1,
            (Final::Queued(_), true) => p.wrong_ahead += 1,
            (Final::Queued(_), false) => p.not_admitted += 1,
            (Final::Admitted, false) => p.exact += 1,
            (Final::Admitted, true) => p.wrong_ahead += 1,
            (Final::None, _) => p.lost += 1,
            (Final::Unknown, _) => p.unknown += 1,
        }
    }
    p.given_twice = seen.iter().map(|n| n.saturating_sub(1) as usize).sum();
    p.skipped = seen.iter().filter(|n| **n == 0).count();
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_is_the_earlier_of_its_departure_and_its_admission() {
        // Two departures sent; a third place was freed by the server (no departure), heard only
        // as the third admission.
        let mut d = vec![200, 100];
        let mut a = vec![130, 230, 900];
        assert_eq!(moves(&mut d, &mut a), vec![100, 200, 900]);
    }

    #[test]
    fn lag_runs_from_each_move_to_the_first_value_at_or_below_the_truth() {
        // 2 ahead: the truth goes 1, 0, admitted. One coalesced push shows 0 at 1 000 ms; the
        // admission arrives 50 ms after the third move.
        let view = View {
            ahead_at_join: 2,
            shown: vec![(0, 2), (1000, 0), (2050, -1)],
        };
        let lags = lags(&[view], &[100, 900, 2000, 3000]);
        assert_eq!(
            lags.samples, 3,
            "the fourth move is behind an admitted client"
        );
        assert_eq!(lags.never_shown, 0);
        assert_eq!(lags.max_ms, 900);
        assert_eq!(lags.percentile(50.0), 100.0);
        assert_eq!(lags.percentile(100.0), 900.0);
    }

    #[test]
    fn a_stale_value_after_a_fresh_one_makes_the_lag_run_until_it_is_replaced() {
        // 3 ahead; the move at 100 makes it 2. A push shows 2 at 300, a stale 3 arrives at
        // 350, 2 again at 1 300: the place was right for good only from 1 300.
        let view = View {
            ahead_at_join: 3,
            shown: vec![(0, 3), (300, 2), (350, 3), (1300, 2), (1400, -1), (1500, 1)],
        };
        let lags = lags(std::slice::from_ref(&view), &[100]);
        assert_eq!(lags.max_ms, 1200);
        let mut b = Breaches::default();
        b.add(&view.shown, 950);
        assert_eq!(
            b,
            Breaches {
                went_back: 1,
                too_close: 1,
                after_admitted: 1
            }
        );
    }

    #[test]
    fn a_truth_never_shown_is_counted_not_measured() {
        let view = View {
            ahead_at_join: 3,
            shown: vec![(0, 3), (500, 2)],
        };
        let lags = lags(&[view], &[100, 200]);
        assert_eq!((lags.samples, lags.never_shown), (2, 1));
        assert_eq!(lags.percentile(99.0), 400.0);
    }

    #[test]
    fn end_places_follow_from_the_place_at_join_and_the_admissions() {
        // Five in line, two admitted from it: the rest must show 0, 1, 2 ahead.
        let ends = [
            (0, Final::Admitted),
            (1, Final::Admitted),
            (2, Final::Queued(0)),
            (3, Final::Queued(1)),
            (4, Final::Queued(2)),
        ];
        let p = places(&ends, 2);
        assert_eq!((p.exact, p.lost, p.wrong_ahead), (5, 0, 0));
        assert_eq!((p.given_twice, p.skipped), (0, 0));
        // A lost place, a client behind it moved up one too many, a twice-given place.
        let ends = [
            (0, Final::Admitted),
            (1, Final::None),
            (2, Final::Queued(0)),
            (2, Final::Queued(0)),
            (4, Final::Unknown),
        ];
        let p = places(&ends, 1);
        assert_eq!(p.lost, 1);
        assert_eq!(p.wrong_ahead, 2, "1 ahead expected for both at 2");
        assert_eq!(p.unknown, 1);
        assert_eq!((p.given_twice, p.skipped), (1, 1), "2 twice, 3 never");
    }
}
