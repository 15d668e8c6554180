//! Logging setup: human-readable for development, JSON lines for production.
//!
//! No log level may print a secret. socketioxide and engineioxide log, at DEBUG and TRACE, the
//! handshake's headers and the CONNECT packet's `auth` (bearer tokens), and tungstenite logs
//! every websocket message at TRACE, so those crates are capped at INFO by a filter of their
//! own that `RUST_LOG` cannot lift. Also the startup lines a person reads first.

use std::io::IsTerminal;
use std::net::SocketAddr;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::storage::SEED_ACCOUNTS;

/// Crates that print request headers, websocket messages or Socket.IO auth payloads below
/// INFO. A target matches by prefix, so `socketioxide` covers `socketioxide_core` and the rest.
const CHATTY_WITH_SECRETS: &[&str] = &[
    "socketioxide",
    "engineioxide",
    "tungstenite",
    "tokio_tungstenite",
];

/// Installs the global subscriber; `RUST_LOG` overrides the default `info` level, except that
/// it cannot open the crates that would print secrets below INFO.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let colour = colour_wanted(
        std::io::stdout().is_terminal(),
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour);
    let installed = match format {
        LogFormat::Pretty => builder.finish().with(secret_cap()).try_init(),
        LogFormat::Json => builder.json().finish().with(secret_cap()).try_init(),
    };
    // A second init (tests building several apps) keeps the first subscriber.
    let _ = installed;
}

/// Everything passes, except the chatty crates below INFO. A separate filter, so a
/// `RUST_LOG=socketioxide=trace` directive cannot override it.
fn secret_cap() -> Targets {
    CHATTY_WITH_SECRETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, krate| targets.with_target(*krate, LevelFilter::INFO),
    )
}

/// Colours only for a person at a terminal: redirected logs (a file, journald, a pipe) stay plain
/// text, and `NO_COLOR` (no-color.org) turns them off everywhere.
fn colour_wanted(stdout_is_terminal: bool, no_color: bool) -> bool {
    stdout_is_terminal && !no_color
}

/// The address to open in a browser: `http://…/`, which terminals make clickable. A wildcard
/// listen address (`0.0.0.0`, `[::]`) is not somewhere a browser can go, so it becomes loopback.
pub fn browse_url(address: SocketAddr) -> String {
    let mut shown = address;
    if shown.ip().is_unspecified() {
        let loopback = match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        };
        shown.set_ip(loopback);
    }
    format!("http://{shown}/")
}

/// Logs that the server is up, with a clickable address and, when this start loaded the demo
/// data, the accounts to sign in with (a newcomer's first question).
pub fn log_listening(address: SocketAddr, demo_seeded: bool) {
    let url = browse_url(address);
    tracing::info!(%address, %url, "TicketClub listening on {url}");
    if demo_seeded {
        tracing::info!("demo accounts (email / password): {}", demo_accounts());
    }
}

fn demo_accounts() -> String {
    SEED_ACCOUNTS
        .iter()
        .map(|(_, email, password)| format!("{email} / {password}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, false));
        assert!(!colour_wanted(false, false));
        assert!(!colour_wanted(true, true));
    }

    #[test]
    fn the_browse_url_is_clickable_even_for_a_wildcard_address() {
        let url = |a: &str| browse_url(a.parse().expect("address"));
        assert_eq!(url("127.0.0.1:3000"), "http://127.0.0.1:3000/");
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080/");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080/");
    }

    #[test]
    fn the_demo_accounts_line_names_every_seeded_account() {
        let line = demo_accounts();
        assert!(line.contains("demo@test.com / demodemo"), "{line}");
        assert!(line.contains("user1@test.com / user111"), "{line}");
    }
}
