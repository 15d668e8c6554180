//! Logging setup: human-readable for development, JSON lines for production.
//!
//! No log level may print a secret. socketioxide and engineioxide log, at DEBUG and TRACE, the
//! handshake's headers and the CONNECT packet's `auth` (bearer tokens), and tungstenite logs
//! every websocket message at TRACE, so those crates are capped at INFO by a filter of their
//! own that `RUST_LOG` cannot lift.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

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
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
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
