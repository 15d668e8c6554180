//! TicketClub: a fair virtual waiting room and live seat map for selling concert tickets.
//!
//! Data flows one way: transport ([`http`], [`realtime`]) → rules ([`domain`]) and storage
//! ([`storage`]). [`app`] builds and runs an instance; `README.md` has the module map.

pub mod app;
pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod realtime;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod warmup;
