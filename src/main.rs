//! The `ticketclub` binary: parse the command line, start logging, build, run until a signal.

use clap::{Parser, Subcommand};
use ticketclub::app::Application;
use ticketclub::config::Settings;
use ticketclub::telemetry;

/// A fair virtual waiting room and live seat map for selling concert tickets.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP and Socket.IO (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Load the demo catalog and accounts into an empty database, then exit.
    Seed,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init(cli.settings.log_format);
    tracing::info!(settings = ?cli.settings, "starting");
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(cli.settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => ticketclub::storage::admin::migrate(&cli.settings).await,
        Command::Seed => ticketclub::storage::admin::seed(&cli.settings).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
