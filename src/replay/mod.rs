//! `ticketclub replay FILE… --target URL`: plays HAR recordings of visits back against a
//! server, compares every answer, and with `--users N` turns one recording into a load test.
//!
//! A client, not part of the server: it reaches the target over HTTP and Engine.IO like any
//! browser, and shares only the pure HAR model ([`crate::har`]) with the recorder. The
//! subset of HAR read and the normalisation rules are in docs/har.md.

mod compare;
mod frame;
mod play;
mod report;
mod script;
mod socket;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use play::{Account, Options, UserReport};
pub use script::ReadError;

/// The arguments of `ticketclub replay`.
#[derive(Clone, Debug, clap::Args)]
pub struct ReplayArgs {
    /// HAR files (HAR 1.2 with Chrome's `_webSocketMessages`), played one after the other.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The server to play against (`http://host:port`).
    #[arg(long, value_name = "URL")]
    pub target: String,
    /// Recorded gaps divided by N (`2` plays twice as fast); `max` plays without gaps.
    #[arg(long, default_value = "1", value_parser = parse_speed, value_name = "N|max")]
    pub speed: Speed,
    /// Writes the whole report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Virtual users playing each recording at once (a load test).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub users: u32,
    /// Seconds over which the virtual users start (evenly spread).
    #[arg(long, default_value_t = 0.0, value_name = "S")]
    pub ramp: f64,
    /// A JSON list of accounts (`[{"email", "password"}, …]`) the users sign in with, in turn;
    /// without it each user signs up a fresh account.
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,
    /// Seconds to wait for an answer beyond its recorded delay.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub wait: f64,
    /// Seconds a wait estimate (`seconds`, `low`, `high`) may drift from the recording.
    #[arg(long, default_value_t = 15.0, value_name = "S")]
    pub tolerance: f64,
    /// With `--users` above 1, exit non-zero on differences too (by default only on users
    /// that could not finish: users racing for one seat differ by design).
    #[arg(long)]
    pub strict: bool,
}

/// How fast recorded gaps are played.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Gaps divided by this factor.
    Factor(f64),
    /// No gaps.
    Max,
}

fn parse_speed(text: &str) -> Result<Speed, String> {
    if text == "max" {
        return Ok(Speed::Max);
    }
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(Speed::Factor(n)),
        _ => Err(format!("{text:?}: a positive number or `max`")),
    }
}

/// Exit codes: every answer matched; some differed (or a user could not finish); a file or an
/// argument was unusable.
pub const EXIT_PASS: i32 = 0;
/// Some answer differed, or a virtual user could not finish.
pub const EXIT_DIFFER: i32 = 1;
/// A file or an argument could not be used.
pub const EXIT_BAD_INPUT: i32 = 2;

/// Runs `ticketclub replay`; returns the process's exit code. Bad files get one line each on
/// stderr.
pub async fn run(args: ReplayArgs) -> i32 {
    let mut scripts = Vec::new();
    let mut bad = false;
    for file in &args.files {
        match script::read(file) {
            Ok(script) => scripts.push(script),
            Err(e) => {
                eprintln!("error: {e}");
                bad = true;
            }
        }
    }
    let accounts = match args.accounts.as_deref().map(read_accounts).transpose() {
        Ok(accounts) => accounts,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if bad {
        return EXIT_BAD_INPUT;
    }
    if !args.target.starts_with("http://") {
        eprintln!("error: --target {:?}: an http:// URL", args.target);
        return EXIT_BAD_INPUT;
    }
    let options = Options {
        target: args.target.clone(),
        speed: match args.speed {
            Speed::Factor(n) => Some(n),
            Speed::Max => None,
        },
        wait: Duration::from_secs_f64(args.wait.max(0.0)),
        tolerance: compare::Tolerance {
            seconds: args.tolerance,
        },
    };
    let mut results = Vec::new();
    for script in scripts {
        let users = play_users(&script, &options, &args, accounts.as_deref()).await;
        results.push((script, users));
    }
    let failed = report::print(&results, &args);
    if let Some(path) = &args.report
        && let Err(e) = report::write_json(path, &results, &args)
    {
        eprintln!("error: writing {}: {e}", path.display());
        return EXIT_BAD_INPUT;
    }
    if failed { EXIT_DIFFER } else { EXIT_PASS }
}

/// Reads `--accounts`: a JSON list of `{email, password}`.
fn read_accounts(path: &std::path::Path) -> Result<Vec<Account>, String> {
    #[derive(serde::Deserialize)]
    struct Entry {
        email: String,
        password: String,
        #[serde(default)]
        name: String,
    }
    let text =
        std::fs::read(path).map_err(|e| format!("{}: cannot be read: {e}", path.display()))?;
    let list: Vec<Entry> = serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{}: not a JSON list of {{\"email\", \"password\"}}: {e}",
            path.display()
        )
    })?;
    if list.is_empty() {
        return Err(format!("{}: lists no account", path.display()));
    }
    Ok(list
        .into_iter()
        .map(|e| Account {
            name: e.name,
            email: e.email,
            password: e.password,
            fresh: false,
        })
        .collect())
}

/// A fresh account for user `user` of this run.
fn fresh_account(run: &str, user: usize) -> Account {
    Account {
        name: format!("replay{user}"),
        email: format!("replay-{run}-{user}@example.com"),
        password: format!("replay-{run}"),
        fresh: true,
    }
}

/// Plays `script` with `--users` virtual users started over `--ramp` seconds.
async fn play_users(
    script: &script::Script,
    options: &Options,
    args: &ReplayArgs,
    accounts: Option<&[Account]>,
) -> Vec<UserReport> {
    let users = args.users as usize;
    let run = format!(
        "{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for user in 0..users {
        let account = match accounts {
            Some(list) => list[user % list.len()].clone(),
            None => fresh_account(&run, user),
        };
        let delay = Duration::from_secs_f64(args.ramp.max(0.0) * user as f64 / users as f64);
        let (script, options, http, done) =
            (script.clone(), options.clone(), http.clone(), done.clone());
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let report = play::play(&script, &options, user, account, http).await;
            done.fetch_add(1, Ordering::Relaxed);
            report
        });
    }
    let progress = (users > 1).then(|| report::progress(script.name.clone(), users, done.clone()));
    let mut reports = Vec::with_capacity(users);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => reports.push(UserReport {
                error: Some(format!("the virtual user's task failed: {e}")),
                ..UserReport::default()
            }),
        }
    }
    if let Some(progress) = progress {
        progress.abort();
        report::progress_line(&script.name, users, done.load(Ordering::Relaxed));
        eprintln!();
    }
    reports.sort_by_key(|r| r.user);
    reports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_takes_a_positive_factor_or_max() {
        assert_eq!(parse_speed("2"), Ok(Speed::Factor(2.0)));
        assert_eq!(parse_speed("max"), Ok(Speed::Max));
        assert!(parse_speed("0").is_err() && parse_speed("fast").is_err());
    }
}
