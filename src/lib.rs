//! TicketClub: a fair virtual waiting room and live seat map for selling concert tickets.
//!
//! Data flows one way: adapters (`http`, `realtime`) → use cases (`service`) → rules
//! ([`domain`]) and storage ([`storage`]). [`app`] builds and runs an instance; `README.md` has the module map.

// Crate-internal items are `pub(crate)`, so an item nothing uses shows as dead code instead of
// hiding behind a `pub` that no other crate can reach. Only the library's real surface (what
// the binary, the integration tests and the load generator use) stays `pub`.
#![warn(unreachable_pub)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub(crate) mod error;
pub mod har;
pub(crate) mod http;
pub(crate) mod js;
pub(crate) mod metrics;
pub(crate) mod realtime;
pub(crate) mod record;
pub mod replay;
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod state;
pub mod storage;
pub mod telemetry;
