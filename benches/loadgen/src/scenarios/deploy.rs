//! Where a join storm's server runs: one fresh embedded instance (in-process waiting room and
//! in-memory SQLite), or several instances sharing MySQL and Redis, each optionally pinned to
//! its own CPUs with `taskset` (the seed project's horizontal-vs-vertical comparison).

use std::net::SocketAddr;

use tokio::process::Command;

use super::Ctx;
use crate::error::{Result, err};
use crate::http::Api;
use crate::server::{ProcStat, Server};

/// The shared engines of a multi-instance deployment.
#[derive(Clone, Debug, clap::Args)]
pub struct SharedEngines {
    /// MySQL/MariaDB host (a fresh database is created per run and dropped after).
    #[arg(long, default_value = "127.0.0.1")]
    pub mysql_host: String,
    /// MySQL/MariaDB port.
    #[arg(long, default_value_t = 3306)]
    pub mysql_port: u16,
    /// MySQL/MariaDB user (no password; root on the project's machines).
    #[arg(long, default_value = "root")]
    pub mysql_user: String,
    /// Redis URL (keys and channels get a prefix unique to the run).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
}

impl Default for SharedEngines {
    /// The command line's defaults: MariaDB and Redis on this machine.
    fn default() -> Self {
        Self {
            mysql_host: "127.0.0.1".into(),
            mysql_port: 3306,
            mysql_user: "root".into(),
            redis_url: "redis://127.0.0.1:6379".into(),
        }
    }
}

/// How to deploy the server for one run.
#[derive(Clone, Debug)]
pub enum Deploy {
    /// One fresh embedded instance (the `--server-bin` default).
    Embedded,
    /// Instances sharing MySQL and Redis; one entry per instance with its CPU list (`None`:
    /// unpinned).
    Shared(SharedEngines, Vec<Option<String>>),
}

/// The running instances of one run; clients are spread over them round-robin.
pub struct Deployment {
    /// The instances.
    pub servers: Vec<Server>,
    /// One HTTP client per instance.
    pub apis: Vec<Api>,
    dropped_database: Option<(SharedEngines, String)>,
}

impl Deployment {
    /// Starts the deployment for run `name` with `queue_limit` and waits until it is healthy.
    pub async fn open(ctx: &Ctx, deploy: &Deploy, queue_limit: u32, name: &str) -> Result<Self> {
        let (engines, cpus) = match deploy {
            Deploy::Embedded => {
                let (server, api) = ctx.server(queue_limit, name).await?;
                return Ok(Self {
                    servers: vec![server],
                    apis: vec![api],
                    dropped_database: None,
                });
            }
            Deploy::Shared(engines, cpus) => (engines, cpus),
        };
        if ctx.target.server_bin.is_none() {
            return Err(err("a shared deployment needs --server-bin"));
        }
        let database: String = format!("{}_{name}", ctx.tag)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        mysql(engines, &format!("CREATE DATABASE `{database}`")).await?;
        let mut deployment = Self {
            servers: Vec::new(),
            apis: Vec::new(),
            dropped_database: Some((engines.clone(), database.clone())),
        };
        let url = format!(
            "mysql://{}@{}:{}/{database}",
            engines.mysql_user, engines.mysql_host, engines.mysql_port
        );
        // One instance at a time: the first migrates and seeds the fresh database.
        for (i, cpu) in cpus.iter().enumerate() {
            let mut target = ctx.target.clone();
            target.server_cpus = cpu.clone();
            target.server_env.extend([
                format!("DATABASE_URL={url}"),
                format!("REDIS_URL={}", engines.redis_url),
                format!("TICKETCLUB_REDIS_PREFIX={database}:"),
                "TICKETCLUB_AUTO_MIGRATE=true".to_string(),
            ]);
            let instance_ctx = Ctx {
                target,
                ..ctx.clone()
            };
            let opened = instance_ctx
                .server(queue_limit, &format!("{name}-{i}"))
                .await;
            match opened {
                Ok((server, api)) => {
                    deployment.servers.push(server);
                    deployment.apis.push(api);
                }
                Err(e) => {
                    deployment.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(deployment)
    }

    /// Where the instances listen.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.servers.iter().map(|s| s.addr).collect()
    }

    /// Their pids.
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().filter_map(|s| s.pid).collect()
    }

    /// Their figures added up.
    pub fn stat(&self) -> ProcStat {
        ProcStat::sum(&self.pids())
    }

    /// Runs `statement` on the run's database (shared deployments only) and returns its rows,
    /// tab-separated, without the header.
    pub async fn query(&self, statement: &str) -> Result<Vec<String>> {
        let (engines, database) = self
            .dropped_database
            .as_ref()
            .ok_or_else(|| err("only a shared deployment has a database to ask"))?;
        let mut command = mysql_command(engines);
        command.arg("-N").arg("-B").arg(database);
        let output = run_statement(command, statement).await?;
        Ok(output.lines().map(str::to_string).collect())
    }

    /// Stops every instance and drops the run's database.
    pub async fn stop(self) {
        for server in self.servers {
            server.stop().await;
        }
        if let Some((engines, database)) = self.dropped_database
            && let Err(e) = mysql(&engines, &format!("DROP DATABASE IF EXISTS `{database}`")).await
        {
            eprintln!("  could not drop database {database}: {e}");
        }
    }
}

/// Runs one statement with the `mariadb` command-line client.
async fn mysql(engines: &SharedEngines, statement: &str) -> Result<()> {
    run_statement(mysql_command(engines), statement)
        .await
        .map(drop)
}

/// Runs `statement` with a prepared `mariadb` client command; its standard output, or its
/// error text as the error.
async fn run_statement(mut command: Command, statement: &str) -> Result<String> {
    let output = command
        .arg("-e")
        .arg(statement)
        .output()
        .await
        .map_err(|e| err(format!("running the mariadb client: {e}")))?;
    if !output.status.success() {
        return Err(err(format!(
            "{statement}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The `mariadb` command-line client aimed at the engines.
fn mysql_command(engines: &SharedEngines) -> Command {
    let mut cmd = Command::new("mariadb");
    cmd.arg(format!("-h{}", engines.mysql_host))
        .arg(format!("-P{}", engines.mysql_port))
        .arg(format!("-u{}", engines.mysql_user));
    cmd
}
