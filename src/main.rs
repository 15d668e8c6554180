//! The `ticketclub` binary: parse the command line, start logging, build, run until a signal.

use ticketclub::app::Application;
use ticketclub::cli::{Cli, Command};
use ticketclub::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_args();
    telemetry::init(cli.settings.log_format);
    if let Command::Replay(args) = cli.subcommand() {
        // A client: its report is the output, and its exit code says whether it matched.
        std::process::exit(ticketclub::replay::run(args).await);
    }
    tracing::info!(settings = ?cli.settings, "starting");
    match cli.subcommand() {
        Command::Serve => {
            let app = Application::build(cli.settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => ticketclub::storage::admin::migrate(&cli.settings).await,
        Command::Seed => ticketclub::storage::admin::seed(&cli.settings).await,
        Command::Replay(_) => Ok(()),
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
