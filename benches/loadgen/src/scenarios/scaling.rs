//! `scaling`: the seed project's vertical-vs-horizontal comparison. The same join storm runs
//! against one instance free to use both cores, then against two instances pinned to one core
//! each (`taskset`), both sharing MySQL and Redis (fresh database and key prefix per run).

use serde_json::json;

use super::Ctx;
use super::deploy::{Deploy, SharedEngines};
use super::join_storm::{self, Mode};
use crate::error::{Result, err};
use crate::report::Report;

/// Options of `scaling`.
#[derive(Clone, Debug, clap::Args)]
pub struct Opts {
    /// Clients (one account each), spread round-robin over the instances.
    #[arg(long, default_value_t = 5000)]
    pub clients: usize,
    /// Joins per second of the open-loop storm.
    #[arg(long, default_value_t = 10_000.0)]
    pub storm_rate: f64,
    /// Server queue limit.
    #[arg(long, default_value_t = 100)]
    pub queue_limit: u32,
    /// CPU list of the single instance (`taskset -c`); unpinned when absent.
    #[arg(long)]
    pub single_cpus: Option<String>,
    /// CPU lists of the horizontal instances, one per instance.
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    pub split_cpus: Vec<String>,
    /// The shared engines.
    #[command(flatten)]
    pub engines: SharedEngines,
}

/// Runs both deployments and writes `scaling.{json,md}`.
pub async fn run(ctx: &Ctx, opts: &Opts) -> Result<bool> {
    if opts.split_cpus.is_empty() {
        return Err(err("--split-cpus needs at least one CPU list"));
    }
    let storm = join_storm::Opts {
        clients: opts.clients,
        mode: Mode::All,
        rate: 100.0,
        storm_rate: opts.storm_rate,
        session: 1,
        queue_limit: opts.queue_limit,
        no_validate: false,
        protocol: super::Protocol::Legacy,
        production: false,
        engine_pids: Vec::new(),
        engines: super::deploy::SharedEngines::default(),
    };
    let n = opts.split_cpus.len();
    let deployments = [
        (
            "vertical",
            "1x-".to_string(),
            Deploy::Shared(opts.engines.clone(), vec![opts.single_cpus.clone()]),
        ),
        (
            "horizontal",
            format!("{n}x-"),
            Deploy::Shared(
                opts.engines.clone(),
                opts.split_cpus.iter().cloned().map(Some).collect(),
            ),
        ),
    ];
    let mut report = Report::new(
        &ctx.out,
        "scaling",
        "Vertical vs horizontal: join storm on MySQL + Redis",
    );
    report.md(format!(
        "The same join storm ({} clients, closed burst and open loop at {}/s) against one instance \
         ({}) and against {n} instances pinned to CPUs {:?}, all sharing MySQL ({}:{}) and Redis ({}). \
         The load generator, MySQL and Redis are not pinned: they share the same cores.\n",
        opts.clients,
        opts.storm_rate,
        opts.single_cpus.as_deref().map_or("unpinned".to_string(), |c| format!("CPUs {c}")),
        opts.split_cpus,
        opts.engines.mysql_host,
        opts.engines.mysql_port,
        opts.engines.redis_url,
    ));
    let mut all = Vec::new();
    let mut machine = serde_json::Value::Null;
    for (kind, prefix, deploy) in &deployments {
        report.md(format!("# {kind}\n"));
        let (results, info) = join_storm::measure_modes(
            ctx,
            &storm,
            &[Mode::Burst, Mode::Storm],
            deploy,
            prefix,
            &mut report,
        )
        .await?;
        machine = info;
        all.extend(results);
    }
    report.md("# Comparison\n\n| run | joins/s | join p50 | join p99 | server CPU-s (all instances) | failures |\n|---|---:|---:|---:|---:|---:|");
    for r in &all {
        report.md(format!(
            "| {} | {:.0} | {:.1} ms | {:.1} ms | {:.2} | {} |",
            r.label, r.joins_per_s, r.join_ms.p50, r.join_ms.p99, r.server_cpu_s, r.failures
        ));
    }
    report.write(json!({
        "scenario": "scaling",
        "machine": machine,
        "options": join_storm::options(ctx, &storm),
        "single_cpus": opts.single_cpus,
        "split_cpus": opts.split_cpus,
        "runs": all,
    }))
}
