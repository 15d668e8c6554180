//! `fanout-app`: the position fan-out over the app protocol (issue 11, "Speed"). A full buying
//! page and a queue behind it, all joined through `join` on `/queue`; page visitors leave (a
//! namespace goodbye, which frees the place at once) at a steady rate, and each departure admits
//! the head of the line. Every queued client records each `position` push (`ahead`) and its
//! `admitted`. Measured: how long after each departure a client's shown `ahead` reached the
//! truth (the lag, whose p99 must stay under 1 s), and the gaps between one client's `position`
//! messages (at most one per second).

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{Ctx, QUEUE_NS, app_request, close_all, connect_all_to, machine, ms};
use crate::error::{Result, err};
use crate::progress::Progress;
use crate::report::Report;
use crate::server::{ProcStat, Sampler};
use crate::sio::SioClient;
use crate::stats::Summary;

/// Gaps between two `position` messages of one client shorter than this count as a breach of
/// "at most one per second": 50 ms below it, for the delivery jitter of a loaded 2-core VM.
const MIN_GAP_MS: f64 = 950.0;

/// Options of `fanout-app`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Queued clients.
    #[arg(long, default_value_t = 2_000)]
    pub queued: usize,
    /// Server queue limit: this many page visitors, who leave one by one.
    #[arg(long, default_value_t = 25)]
    pub queue_limit: u32,
    /// Admissions (page departures); at most the queue limit.
    #[arg(long, default_value_t = 25)]
    pub admissions: usize,
    /// Admissions per second.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// The session.
    #[arg(long, default_value_t = 1)]
    pub session: i64,
    /// Seconds to keep listening after the last admission (positions are coalesced to one a
    /// second, so the last one may come a second late).
    #[arg(long, default_value_t = 4)]
    pub settle: u64,
}

/// What one queued client saw: its `ahead` in the join ack, then each push.
#[derive(Debug, Default)]
struct Heard {
    ahead_at_join: i64,
    /// (arrival, `ahead`) of each `position`.
    positions: Vec<(Instant, i64)>,
    admitted: Option<Instant>,
}

#[derive(Debug, Default, Serialize)]
struct FanoutAppResult {
    queued: usize,
    page: usize,
    admissions: usize,
    rate: f64,
    /// (client, departure) pairs after which the client's true `ahead` changed.
    lag_samples: usize,
    /// Pairs whose truth the client never saw.
    never_shown: usize,
    /// From a departure to the client showing the resulting `ahead` (or being admitted).
    lag_ms: Summary,
    position_messages: usize,
    /// Gaps between consecutive `position` messages of one client.
    gap_ms: Summary,
    gaps_under_one_second: usize,
    /// Clients whose last shown place was not the truth at the end.
    wrong_at_end: usize,
    admitted_expected: usize,
    admitted_heard: usize,
    server_cpu_s: f64,
    server_peak_rss_kb: u64,
    loadgen_cpu_s: f64,
}

/// Runs the scenario and writes its report; `Ok(true)` when every check passed.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    let page_n = opts.queue_limit as usize;
    if opts.admissions > page_n {
        return Err(err("--admissions must not exceed --queue-limit"));
    }
    eprintln!(
        "== fanout-app: {} queued behind {page_n}, {} admissions at {}/s",
        opts.queued, opts.admissions, opts.rate
    );
    let (server, api) = ctx.server(opts.queue_limit, "fanout-app").await?;
    let info = machine(&server);
    let accounts = ctx
        .accounts(&api, "fanout-app", page_n + opts.queued)
        .await?;
    let mut clients = connect_all_to(ctx, &[server.addr], &accounts, QUEUE_NS, "connect")
        .await?
        .every_one()?;
    let queued_clients = clients.split_off(page_n);
    let page = join(ctx, opts, clients, "join (page)").await?;
    if page.iter().any(|(_, a)| *a != 0) {
        return Err(err("a page visitor was queued: is the queue limit right?"));
    }
    let queued = join(ctx, opts, queued_clients, "join (queue)").await?;
    // Let the join-time pushes go out before the clock starts.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut listeners = JoinSet::new();
    for (c, ahead) in queued {
        listeners.spawn(listen(c, ahead, stop_rx.clone()));
    }
    let (turn_tx, turn_rx) = watch::channel(0usize);
    let mut leavers = JoinSet::new();
    for (j, (c, _)) in page.into_iter().enumerate() {
        leavers.spawn(leave_on_turn(c, j, turn_rx.clone()));
    }
    let before = server.stat().unwrap_or_default();
    let own_before = ProcStat::own().unwrap_or_default();
    let t0 = Instant::now() + Duration::from_millis(500);
    let sampler = Sampler::start(server.pids(), t0, Duration::from_millis(20));
    let k = opts.admissions;
    for n in 0..k {
        tokio::time::sleep_until((t0 + Duration::from_secs_f64(n as f64 / opts.rate)).into()).await;
        let _ = turn_tx.send(n + 1);
    }
    tokio::time::sleep(Duration::from_secs(opts.settle)).await;
    let _ = stop_tx.send(true);
    drop(turn_tx);
    let after = server.stat().unwrap_or_default();
    let own_after = ProcStat::own().unwrap_or_default();
    drop(sampler.finish());

    let mut departures: Vec<(usize, Instant)> = Vec::new();
    let mut stayed = Vec::new();
    while let Some(joined) = leavers.join_next().await {
        match joined.map_err(|e| err(e.to_string()))? {
            (j, Ok(at)) => departures.push((j, at)),
            (_, Err(c)) => stayed.push(c),
        }
    }
    departures.sort_by_key(|d| d.0);
    let times: Vec<Instant> = departures.iter().map(|d| d.1).collect();
    let mut heard = Vec::new();
    while let Some(joined) = listeners.join_next().await {
        let (c, h) = joined.map_err(|e| err(e.to_string()))?;
        stayed.push(c);
        heard.push(h);
    }
    close_all(stayed).await;
    server.stop().await;

    let mut r = analyse(&heard, &times);
    r.queued = opts.queued;
    r.page = page_n;
    r.admissions = k;
    r.rate = opts.rate;
    r.server_cpu_s = after.cpu_s - before.cpu_s;
    r.server_peak_rss_kb = after.peak_rss_kb;
    r.loadgen_cpu_s = own_after.cpu_s - own_before.cpu_s;
    eprintln!(
        "  lag p50 {:.1} ms p99 {:.1} ms ({} samples, {} never shown), {} positions, min gap {:.0} ms, {} gaps under {MIN_GAP_MS} ms",
        r.lag_ms.p50,
        r.lag_ms.p99,
        r.lag_samples,
        r.never_shown,
        r.position_messages,
        r.gap_ms.min,
        r.gaps_under_one_second
    );
    write_report(ctx, opts, info, r)
}

/// `join` from every client; returns them with the `ahead` of their ack (0 = admitted).
async fn join(
    ctx: &Ctx,
    opts: &Opts,
    clients: Vec<(usize, SioClient)>,
    label: &str,
) -> Result<Vec<(SioClient, i64)>> {
    let progress = Progress::start(label, clients.len());
    let mut out = Vec::new();
    // One after another: the line's order is then the order of the accounts.
    for (_, mut c) in clients {
        let body = json!({"sessionId": opts.session});
        let ack = app_request(&mut c, QUEUE_NS, "join", &body, ctx.reply_timeout)
            .await
            .map_err(|e| err(format!("{label}: {e}")))?;
        let ahead = match ack["state"].as_str() {
            Some("admitted") => 0,
            Some("queued") => ack["ahead"].as_i64().unwrap_or(-1),
            _ => -1,
        };
        if ahead < 0 {
            return Err(err(format!("{label}: unexpected ack {ack}")));
        }
        progress.inc();
        out.push((c, ahead));
    }
    progress.finish();
    Ok(out)
}

/// A queued client: records every `position` and its `admitted` until told to stop.
async fn listen(
    mut c: SioClient,
    ahead_at_join: i64,
    mut stop: watch::Receiver<bool>,
) -> (SioClient, Heard) {
    let mut heard = Heard {
        ahead_at_join,
        ..Heard::default()
    };
    loop {
        tokio::select! {
            event = c.next_event() => match event {
                Ok(e) if e.name == "position" => {
                    let ahead = e.arg()["ahead"].as_i64().unwrap_or(-1);
                    heard.positions.push((Instant::now(), ahead));
                }
                Ok(e) if e.name == "admitted" => heard.admitted = Some(Instant::now()),
                Ok(_) => {}
                Err(_) => break,
            },
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    (c, heard)
}

/// A page visitor: answers heartbeats until its turn `j` comes, then says goodbye on `/queue`
/// (which frees its place at once); returns when it sent it (or itself, if its turn never came).
async fn leave_on_turn(
    mut c: SioClient,
    j: usize,
    mut turn: watch::Receiver<usize>,
) -> (usize, std::result::Result<Instant, SioClient>) {
    loop {
        tokio::select! {
            event = c.next_event() => if event.is_err() { return (j, Err(c)) },
            changed = turn.changed() => {
                if changed.is_err() {
                    return (j, Err(c));
                }
                if *turn.borrow() > j {
                    let at = Instant::now();
                    c.close().await;
                    return (j, Ok(at));
                }
            }
        }
    }
}

/// The lag of every (client, departure) pair and the gaps between each client's pushes.
fn analyse(heard: &[Heard], departures: &[Instant]) -> FanoutAppResult {
    let mut r = FanoutAppResult::default();
    let (mut lags, mut gaps) = (Vec::new(), Vec::new());
    for h in heard {
        let a = h.ahead_at_join;
        r.position_messages += h.positions.len();
        gaps.extend(
            h.positions
                .windows(2)
                .map(|w| ms(w[1].0.saturating_duration_since(w[0].0))),
        );
        for (n, departed) in departures.iter().enumerate() {
            // After n + 1 departures the truth is a - (n + 1), or admitted once that is below 0.
            let truth = a - (n as i64 + 1);
            if n as i64 > a {
                continue; // admitted at an earlier departure: nothing left to show
            }
            r.lag_samples += 1;
            let shown = match truth {
                t if t >= 0 => h
                    .positions
                    .iter()
                    .find(|(_, ahead)| *ahead >= 0 && *ahead <= t)
                    .map(|(at, _)| *at)
                    .into_iter()
                    .chain(h.admitted)
                    .min(),
                _ => h.admitted,
            };
            match shown {
                Some(at) => lags.push(ms(at.saturating_duration_since(*departed))),
                None => r.never_shown += 1,
            }
        }
        let truth_at_end = a - departures.len() as i64;
        let shown_at_end = match h.admitted {
            Some(_) => -1,
            None => h.positions.last().map_or(a, |p| p.1),
        };
        if truth_at_end.max(-1) != shown_at_end {
            r.wrong_at_end += 1;
        }
        r.admitted_expected += usize::from(truth_at_end < 0);
        r.admitted_heard += usize::from(h.admitted.is_some());
    }
    r.gaps_under_one_second = gaps.iter().filter(|g| **g < MIN_GAP_MS).count();
    r.lag_ms = Summary::of(&lags);
    r.gap_ms = Summary::of(&gaps);
    r
}

fn write_report(
    ctx: &Ctx,
    opts: &Opts,
    info: serde_json::Value,
    r: FanoutAppResult,
) -> Result<bool> {
    let mut report = Report::new(&ctx.out, "fanout-app", "Position fan-out (app protocol)");
    report.md(format!(
        "{} clients joined `/queue` behind a page of {}; {} page visitors left (a `/queue` \
         goodbye) at {}/s. Lag: from a departure until a queued client showed the resulting \
         `ahead` (a `position` push at or below it, or `admitted`).\n",
        r.queued, r.page, r.admissions, r.rate
    ));
    report.md(Summary::md_header());
    report.md(r.lag_ms.md_row("lag, ms"));
    report.md(r.gap_ms.md_row("gap between one client's `position`s, ms"));
    report.md(format!(
        "\n{} (client, departure) pairs, {} never shown; {} `position` messages; {} gaps under \
         {MIN_GAP_MS} ms; {} of {} admissions heard; {} clients showing a wrong place at the end. \
         Server CPU {:.2} s, load generator CPU {:.2} s.\n",
        r.lag_samples,
        r.never_shown,
        r.position_messages,
        r.gaps_under_one_second,
        r.admitted_heard,
        r.admitted_expected,
        r.wrong_at_end,
        r.server_cpu_s,
        r.loadgen_cpu_s
    ));
    report.check(
        r.never_shown == 0,
        format!(
            "every client showed every new place ({} never shown)",
            r.never_shown
        ),
    );
    report.check(
        r.lag_ms.p99 < 1000.0,
        format!("position lag p99 {:.1} ms < 1 s", r.lag_ms.p99),
    );
    report.check(
        r.gaps_under_one_second == 0,
        format!(
            "at most one `position` per client per second ({} gaps under {MIN_GAP_MS} ms)",
            r.gaps_under_one_second
        ),
    );
    report.check(
        r.wrong_at_end == 0 && r.admitted_heard == r.admitted_expected,
        format!(
            "every client's last shown place is the truth ({} wrong, {} of {} admissions heard)",
            r.wrong_at_end, r.admitted_heard, r.admitted_expected
        ),
    );
    report.write(json!({
        "scenario": "fanout-app",
        "machine": info,
        "options": {"queued": opts.queued, "queue_limit": opts.queue_limit,
                    "admissions": opts.admissions, "rate": opts.rate, "session": opts.session},
        "result": r,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_measured_from_each_departure_to_the_first_push_at_or_below_the_truth() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let departures = [at(0), at(200), at(400)];
        // 5 ahead: the truth goes 4, 3, 2. One push at 900 ms shows 2 (coalesced).
        let queued = Heard {
            ahead_at_join: 5,
            positions: vec![(at(900), 2)],
            admitted: None,
        };
        // 1 ahead: 0 after the first departure, admitted at the second.
        let head = Heard {
            ahead_at_join: 1,
            positions: vec![(at(100), 0)],
            admitted: Some(at(250)),
        };
        let r = analyse(&[queued, head], &departures);
        assert_eq!(r.never_shown, 0);
        assert_eq!(r.lag_samples, 5, "3 for the queued client, 2 for the head");
        assert_eq!(r.lag_ms.max, 900.0);
        assert_eq!(r.wrong_at_end, 0);
        assert_eq!(r.admitted_expected, 1);
        assert_eq!(r.admitted_heard, 1);
    }

    #[test]
    fn close_pushes_and_a_missing_truth_are_counted() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let h = Heard {
            ahead_at_join: 3,
            positions: vec![(at(100), 2), (at(500), 1)],
            admitted: None,
        };
        let r = analyse(&[h], &[at(0), at(200), at(400)]);
        assert_eq!(r.gaps_under_one_second, 1);
        assert_eq!(
            r.never_shown, 1,
            "the truth 0 after the third departure was never shown"
        );
        assert_eq!(r.wrong_at_end, 1);
    }
}
