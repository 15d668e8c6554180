//! The command line: a subcommand (`serve`, the default, `migrate`, `seed`, `replay`) and the
//! [`Settings`].
//!
//! Lives in the library, not `main.rs`, so tests can parse command lines the way the binary does.

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::Settings;

/// A fair virtual waiting room and live seat map for selling concert tickets.
#[derive(Debug, Parser)]
#[command(name = "ticketclub", version, about)]
pub struct Cli {
    /// What to do; `serve` when none is given.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Every setting, accepted before or after the subcommand.
    #[command(flatten)]
    pub settings: Settings,
}

/// The binary's subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP and Socket.IO (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Load the demo catalog and accounts into an empty database, then exit.
    Seed,
    /// Play HAR recordings of visits back against a server and compare every answer
    /// (docs/har.md); non-zero exit on any difference.
    Replay(crate::replay::ReplayArgs),
}

impl Cli {
    /// The clap command, with every setting made global: `ticketclub serve --addr …` and
    /// `ticketclub migrate --database-url …` parse like `ticketclub --addr … serve`, and each
    /// subcommand's `--help` lists them. Marking the settings here rather than one by one keeps a
    /// new setting from being forgotten.
    pub fn command_with_global_settings() -> clap::Command {
        Cli::command().mut_args(|arg| arg.global(true))
    }

    /// Parses a command line (program name first), or returns clap's error (help and version
    /// included, which clap prints and exits on through [`clap::Error::exit`]).
    pub fn try_parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Self::command_with_global_settings().try_get_matches_from(args)?;
        Cli::from_arg_matches(&matches)
    }

    /// Parses the process's command line, exiting with clap's message on an error or `--help`.
    pub fn parse_args() -> Cli {
        Self::try_parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// The subcommand to run.
    pub fn subcommand(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_args(args.iter().copied()).expect("parses")
    }

    #[test]
    fn settings_are_accepted_after_the_subcommand() {
        let cli = parse(&["ticketclub", "serve", "--addr", "127.0.0.1:4000"]);
        assert!(matches!(cli.subcommand(), Command::Serve));
        assert_eq!(cli.settings.addr.port(), 4000);
        let cli = parse(&["ticketclub", "migrate", "--database-url", "sqlite:x.db"]);
        assert!(matches!(cli.subcommand(), Command::Migrate));
        assert_eq!(cli.settings.database_url, "sqlite:x.db");
    }

    #[test]
    fn settings_before_the_subcommand_and_no_subcommand_still_work() {
        let cli = parse(&["ticketclub", "--queue-limit", "7", "seed"]);
        assert!(matches!(cli.subcommand(), Command::Seed));
        assert_eq!(cli.settings.queue_limit, 7);
        let cli = parse(&["ticketclub", "--queue-limit", "5"]);
        assert!(matches!(cli.subcommand(), Command::Serve));
        assert_eq!(cli.settings.queue_limit, 5);
    }

    #[test]
    fn each_subcommand_help_lists_the_settings() {
        for sub in ["serve", "migrate", "seed"] {
            let help = Cli::try_parse_args(["ticketclub", sub, "--help"])
                .expect_err("help is an early exit")
                .to_string();
            for flag in ["--addr", "--database-url", "--redis-url", "--log-format"] {
                assert!(help.contains(flag), "`{sub} --help` lacks {flag}:\n{help}");
            }
        }
    }

    #[test]
    fn replay_takes_files_a_target_and_load_options() {
        let cli = parse(&[
            "ticketclub",
            "replay",
            "a.har",
            "b.har",
            "--target",
            "http://h:1",
            "--speed",
            "max",
            "--users",
            "200",
            "--ramp",
            "5",
            "--report",
            "out.json",
        ]);
        let Command::Replay(args) = cli.subcommand() else {
            panic!("not replay");
        };
        assert_eq!(args.files.len(), 2);
        assert_eq!((args.users, args.ramp), (200, 5.0));
        assert_eq!(args.speed, crate::replay::Speed::Max);
        assert!(
            Cli::try_parse_args(["ticketclub", "replay", "a.har"]).is_err(),
            "--target is required"
        );
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command_with_global_settings().debug_assert();
    }
}
