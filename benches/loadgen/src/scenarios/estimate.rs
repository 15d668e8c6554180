//! `estimate`: how close the app protocol's estimated wait came to the wait that followed
//! (issue 11, item 6). A full buying page and a queue behind it, all joined through `join` on
//! `/queue`. Page visitors leave one at a time on a schedule that changes pace part-way
//! (`--rates 5,2.5`: the first half of the departures at 5/s, the rest at 2.5/s), and everyone
//! admitted joins the end of that schedule, so the line moves as a sale's does. Every queued
//! client records each estimate it is shown (the `join` ack's, then every `position` push's)
//! and when it was admitted; each estimate is then compared with the wait that really
//! remained. Reported: the error (estimate − truth) and its absolute value, relative error, and
//! how often the truth fell inside `[low, high]`, over all estimates and per phase.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::{Ctx, QUEUE_NS, app_request, close_all, connect_all_to, machine};
use crate::error::{Result, err};
use crate::progress::Progress;
use crate::report::Report;
use crate::sio::SioClient;
use crate::stats::Summary;
use crate::svg::{self, Axes, Series};

/// Options of `estimate`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Queued clients, each of whom is admitted during the run.
    #[arg(long, default_value_t = 300)]
    pub queued: usize,
    /// Server queue limit: the buying page's size.
    #[arg(long, default_value_t = 20)]
    pub queue_limit: u32,
    /// Departures per second, one pace per phase; the departures are split evenly over the
    /// phases (`5,2.5`: the first half at 5/s, the second at 2.5/s).
    #[arg(long, value_delimiter = ',', default_value = "5,2.5")]
    pub rates: Vec<f64>,
    /// The session.
    #[arg(long, default_value_t = 1)]
    pub session: i64,
}

/// One estimate a client was shown.
#[derive(Clone, Copy, Debug)]
struct Shown {
    at: Instant,
    seconds: f64,
    low: f64,
    high: f64,
    /// From the `join` ack (the others are `position` pushes).
    at_join: bool,
}

/// What one queued client saw.
#[derive(Debug, Default)]
struct Heard {
    shown: Vec<Shown>,
    admitted: Option<Instant>,
    malformed: usize,
}

/// Error figures of a set of estimates, in seconds.
#[derive(Debug, Default, Serialize)]
struct Accuracy {
    estimates: usize,
    /// Estimate − truth: positive means the wait was shorter than promised.
    error_s: Summary,
    abs_error_s: Summary,
    /// |estimate − truth| / truth, for truths of 5 s or more.
    relative_error: Summary,
    /// Share of estimates whose truth fell in `[low, high]`.
    in_range: f64,
}

#[derive(Debug, Default, Serialize)]
struct EstimateResult {
    queued: usize,
    page: usize,
    rates: Vec<f64>,
    admitted: usize,
    malformed: usize,
    all: Accuracy,
    at_join: Accuracy,
    pushed: Accuracy,
    /// Pushes judged from the observed pace (a range around the figure); the others carry the
    /// original formula's figure, used until the line has moved enough to judge.
    observed: Accuracy,
    /// Per phase of the departure schedule, by when the estimate was shown.
    phases: Vec<Accuracy>,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    if opts.rates.is_empty() || opts.rates.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        return Err(err("--rates must be positive departures per second"));
    }
    let page_n = opts.queue_limit as usize;
    eprintln!(
        "== estimate: {} queued behind {page_n}, departures at {:?}/s",
        opts.queued, opts.rates
    );
    let (server, api) = ctx.server(opts.queue_limit, "estimate").await?;
    let info = machine(&server);
    let accounts = ctx.accounts(&api, "estimate", page_n + opts.queued).await?;
    let mut clients = connect_all_to(ctx, &[server.addr], &accounts, QUEUE_NS, "connect")
        .await?
        .every_one()?;
    let queued_clients = clients.split_off(page_n);
    // Leaving is by ticket: the schedule adds one each departure time and some page visitor
    // takes it, so the line moves at the scheduled pace whoever is on the page.
    let tickets = Arc::new(Semaphore::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut page = JoinSet::new();
    let progress = Progress::start("join (page)", page_n);
    for (_, mut c) in clients {
        join(ctx, &mut c, opts.session, "admitted").await?;
        progress.inc();
        page.spawn(leave_with_ticket(c, tickets.clone(), stop_rx.clone()));
    }
    progress.finish();
    let progress = Progress::start("join (queue)", queued_clients.len());
    let mut queued = JoinSet::new();
    for (_, mut c) in queued_clients {
        let t = Instant::now();
        let ack = join(ctx, &mut c, opts.session, "queued").await?;
        let mut heard = Heard::default();
        note(&mut heard, t, &ack["estimate"], true);
        progress.inc();
        queued.spawn(wait_then_leave(c, heard, tickets.clone(), stop_rx.clone()));
    }
    progress.finish();

    // The schedule: `queued` departures admit every queued client; split over the phases.
    let n = opts.queued;
    let per_phase = n.div_ceil(opts.rates.len());
    let t0 = Instant::now() + Duration::from_millis(500);
    let mut at = t0;
    let mut phase_starts = Vec::new();
    let progress = Progress::start("departures", n);
    for (k, rate) in opts.rates.iter().enumerate() {
        phase_starts.push(at);
        for _ in 0..per_phase.min(n.saturating_sub(k * per_phase)) {
            at += Duration::from_secs_f64(1.0 / rate);
            tokio::time::sleep_until(at.into()).await;
            tickets.add_permits(1);
            progress.inc();
        }
    }
    progress.finish();
    // The last admission follows the last departure; give it a moment to arrive.
    let settle = Instant::now() + Duration::from_secs(5);
    let mut heard = Vec::new();
    let mut open = Vec::new();
    while let Some(joined) = tokio::time::timeout_at(settle.into(), queued.join_next())
        .await
        .ok()
        .flatten()
    {
        let (c, h) = joined.map_err(|e| err(e.to_string()))?;
        open.extend(c);
        heard.push(h);
    }
    let _ = stop_tx.send(true);
    while let Some(joined) = queued.join_next().await {
        let (c, h) = joined.map_err(|e| err(e.to_string()))?;
        open.extend(c);
        heard.push(h);
    }
    while let Some(joined) = page.join_next().await {
        open.extend(joined.map_err(|e| err(e.to_string()))?);
    }
    close_all(open).await;
    server.stop().await;

    let r = analyse(opts, page_n, &heard, &phase_starts);
    eprintln!(
        "  {} estimates: |error| p50 {:.1} s p90 {:.1} s, in range {:.0} %, {} of {} admitted",
        r.all.estimates,
        r.all.abs_error_s.p50,
        r.all.abs_error_s.p90,
        r.all.in_range * 100.0,
        r.admitted,
        r.queued
    );
    write_report(ctx, opts, info, r, &heard)
}

/// `join` on `/queue`; its ack, which must be in `state` (a page visitor is `admitted`, the
/// people behind are `queued`: anything else means the queue limit is not what the run set).
async fn join(ctx: &Ctx, c: &mut SioClient, session: i64, state: &str) -> Result<Value> {
    let body = json!({"sessionId": session});
    let ack = app_request(c, QUEUE_NS, "join", &body, ctx.reply_timeout)
        .await
        .map_err(|e| err(format!("join ({state}): {e}")))?;
    if ack["state"] != state {
        return Err(err(format!(
            "join: expected {state}, got {ack} (is the queue limit right?)"
        )));
    }
    Ok(ack)
}

/// Records an `estimate` object shown at `at`; a missing or inconsistent one is counted.
fn note(heard: &mut Heard, at: Instant, estimate: &Value, at_join: bool) {
    let field = |k: &str| estimate.get(k).and_then(Value::as_f64);
    match (field("seconds"), field("low"), field("high")) {
        (Some(seconds), Some(low), Some(high))
            if 0.0 <= low && low <= seconds && seconds <= high =>
        {
            heard.shown.push(Shown {
                at,
                seconds,
                low,
                high,
                at_join,
            });
        }
        _ => heard.malformed += 1,
    }
}

/// A page visitor: leaves (a `/queue` goodbye) when its ticket comes. Returns the client if
/// the run ended first.
async fn leave_with_ticket(
    mut c: SioClient,
    tickets: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> Option<SioClient> {
    loop {
        tokio::select! {
            permit = tickets.acquire() => {
                if let Ok(p) = permit {
                    p.forget();
                }
                c.close().await;
                return None;
            }
            event = c.next_event() => if event.is_err() { return Some(c) },
            () = stopped(&mut stop) => return Some(c),
        }
    }
}

/// A queued client: records every estimate until admitted, then stays on the page until its
/// own ticket to leave comes.
async fn wait_then_leave(
    mut c: SioClient,
    mut heard: Heard,
    tickets: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) -> (Option<SioClient>, Heard) {
    loop {
        tokio::select! {
            event = c.next_event() => match event {
                Ok(e) if e.name == "position" => {
                    let estimate = e.arg()["estimate"].clone();
                    note(&mut heard, Instant::now(), &estimate, false);
                }
                Ok(e) if e.name == "admitted" => {
                    heard.admitted = Some(Instant::now());
                    break;
                }
                Ok(_) => {}
                Err(_) => return (None, heard),
            },
            () = stopped(&mut stop) => return (Some(c), heard),
        }
    }
    (leave_with_ticket(c, tickets, stop).await, heard)
}

/// Resolves once the run is told to stop (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn accuracy<'a>(samples: impl Iterator<Item = (&'a Shown, Instant)>) -> Accuracy {
    let (mut errors, mut abs, mut relative) = (Vec::new(), Vec::new(), Vec::new());
    let mut inside = 0usize;
    for (shown, admitted) in samples {
        let truth = admitted.saturating_duration_since(shown.at).as_secs_f64();
        let e = shown.seconds - truth;
        errors.push(e);
        abs.push(e.abs());
        if truth >= 5.0 {
            relative.push(e.abs() / truth);
        }
        // The wire carries whole seconds: a truth within half a second of the range is in it.
        inside += usize::from(shown.low - 0.5 <= truth && truth <= shown.high + 0.5);
    }
    Accuracy {
        estimates: errors.len(),
        error_s: Summary::of(&errors),
        abs_error_s: Summary::of(&abs),
        relative_error: Summary::of(&relative),
        in_range: match errors.len() {
            0 => 0.0,
            n => inside as f64 / n as f64,
        },
    }
}

fn analyse(opts: &Opts, page: usize, heard: &[Heard], phase_starts: &[Instant]) -> EstimateResult {
    let samples = || {
        heard
            .iter()
            .filter_map(|h| h.admitted.map(|a| (h, a)))
            .flat_map(|(h, a)| h.shown.iter().map(move |s| (s, a)))
    };
    let phase_of = |at: Instant| phase_starts.iter().rposition(|p| *p <= at).unwrap_or(0);
    EstimateResult {
        queued: opts.queued,
        page,
        rates: opts.rates.clone(),
        admitted: heard.iter().filter(|h| h.admitted.is_some()).count(),
        malformed: heard.iter().map(|h| h.malformed).sum(),
        all: accuracy(samples()),
        at_join: accuracy(samples().filter(|(s, _)| s.at_join)),
        pushed: accuracy(samples().filter(|(s, _)| !s.at_join)),
        observed: accuracy(samples().filter(|(s, _)| !s.at_join && s.low < s.high)),
        phases: (0..phase_starts.len())
            .map(|k| {
                accuracy(
                    samples().filter(|(s, _)| !s.at_join && s.low < s.high && phase_of(s.at) == k),
                )
            })
            .collect(),
    }
}

fn accuracy_rows(report: &mut Report, label: &str, a: &Accuracy) {
    report.md(a.error_s.md_row(&format!("{label}: estimate − truth, s")));
    report.md(a
        .abs_error_s
        .md_row(&format!("{label}: |estimate − truth|, s")));
    report.md(a
        .relative_error
        .md_row(&format!("{label}: relative error (truth ≥ 5 s)")));
}

fn write_report(
    ctx: &Ctx,
    opts: &Opts,
    info: Value,
    r: EstimateResult,
    heard: &[Heard],
) -> Result<bool> {
    let mut report = Report::new(
        &ctx.out,
        "estimate",
        "Estimated wait vs the wait that followed",
    );
    report.md(format!(
        "{} clients joined `/queue` behind a page of {}; departures at {:?}/s (the departures \
         split evenly over the paces). Each estimate shown (the `join` ack's, every \
         `position` push's) is compared with the time from then until that client's \
         `admitted`.\n",
        r.queued, r.page, r.rates
    ));
    report.md("| figure | n | mean | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|---:|");
    accuracy_rows(&mut report, "all", &r.all);
    accuracy_rows(&mut report, "join ack", &r.at_join);
    accuracy_rows(&mut report, "pushes", &r.pushed);
    accuracy_rows(&mut report, "pushes from the pace", &r.observed);
    for (k, phase) in r.phases.iter().enumerate() {
        let rate = opts.rates.get(k).copied().unwrap_or_default();
        accuracy_rows(&mut report, &format!("from the pace, at {rate}/s"), phase);
    }
    report.md(format!(
        "\nTruth inside `[low, high]` (±0.5 s): all {:.1} %, join ack {:.1} %, pushes {:.1} %, \
         from the pace {:.1} % ({}). {} of {} admitted; {} malformed estimates.\n",
        r.all.in_range * 100.0,
        r.at_join.in_range * 100.0,
        r.pushed.in_range * 100.0,
        r.observed.in_range * 100.0,
        r.phases
            .iter()
            .zip(&opts.rates)
            .map(|(p, rate)| format!("{rate}/s: {:.1} %", p.in_range * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        r.admitted,
        r.queued,
        r.malformed
    ));
    // The last person in line: what they were told over time, against the truth.
    if let Some((h, admitted)) = heard
        .iter()
        .filter_map(|h| h.admitted.map(|a| (h, a)))
        .max_by_key(|(_, a)| *a)
        && let Some(first) = h.shown.first()
    {
        let x = |s: &Shown| s.at.saturating_duration_since(first.at).as_secs_f64();
        let line = |f: fn(&Shown) -> f64| h.shown.iter().map(|s| (x(s), f(s))).collect();
        let truth = h
            .shown
            .iter()
            .map(|s| (x(s), admitted.saturating_duration_since(s.at).as_secs_f64()))
            .collect();
        let axes = Axes {
            title: "The last person in line: estimated and true wait",
            x: "time since joining (s)",
            y: "wait (s)",
            log_x: false,
        };
        report.plot(
            "last",
            "estimate, its range and the truth for the last person in line",
            svg::line_chart(
                &axes,
                &[
                    Series::new("estimate", line(|s| s.seconds)),
                    Series::new("low", line(|s| s.low)),
                    Series::new("high", line(|s| s.high)),
                    Series::new("truth", truth),
                ],
            ),
        )?;
    }
    report.check(
        r.admitted == r.queued,
        format!(
            "every queued client was admitted ({} of {})",
            r.admitted, r.queued
        ),
    );
    report.check(
        r.malformed == 0,
        format!(
            "every estimate had 0 ≤ low ≤ seconds ≤ high ({} did not)",
            r.malformed
        ),
    );
    report.check(
        r.pushed.estimates > 0,
        format!("position pushes carried estimates ({})", r.pushed.estimates),
    );
    report.write(json!({
        "scenario": "estimate",
        "machine": info,
        "options": {"queued": opts.queued, "queue_limit": opts.queue_limit,
                    "rates": opts.rates, "session": opts.session},
        "result": r,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(at: Instant, seconds: f64, low: f64, high: f64) -> Shown {
        Shown {
            at,
            seconds,
            low,
            high,
            at_join: false,
        }
    }

    #[test]
    fn each_estimate_is_compared_with_the_wait_that_remained() {
        let t0 = Instant::now();
        let admitted = t0 + Duration::from_secs(20);
        // Shown at 0 s: 20 s remained (estimate 10, range 5..15: outside, 10 s short).
        // Shown at 10 s: 10 s remained (estimate 12, range 8..16: inside, 2 s long).
        let a = shown(t0, 10.0, 5.0, 15.0);
        let b = shown(t0 + Duration::from_secs(10), 12.0, 8.0, 16.0);
        let acc = accuracy([(&a, admitted), (&b, admitted)].into_iter());
        assert_eq!(acc.estimates, 2);
        assert_eq!(acc.error_s.min, -10.0);
        assert_eq!(acc.error_s.max, 2.0);
        assert_eq!(acc.abs_error_s.max, 10.0);
        assert_eq!(acc.in_range, 0.5);
        assert_eq!(acc.relative_error.count, 2);
        assert!((acc.relative_error.max - 0.5).abs() < 1e-9);
    }

    #[test]
    fn an_inconsistent_estimate_is_counted_not_used() {
        let mut heard = Heard::default();
        let now = Instant::now();
        note(
            &mut heard,
            now,
            &json!({"seconds": 10, "low": 12, "high": 20}),
            false,
        );
        note(&mut heard, now, &json!({"seconds": 10}), false);
        note(
            &mut heard,
            now,
            &json!({"seconds": 10, "low": 8, "high": 12}),
            true,
        );
        assert_eq!(heard.malformed, 2);
        assert_eq!(heard.shown.len(), 1);
        assert!(heard.shown[0].at_join);
    }
}
