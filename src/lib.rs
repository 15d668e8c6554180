//! TicketClub: a fair virtual waiting room and live seat map for selling concert tickets.
//!
//! Data flows one way: adapters ([`http`], [`realtime`]) → use cases ([`service`]) → rules
//! ([`domain`]) and storage ([`storage`]). [`app`] builds and runs an instance; `README.md` has the module map.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod js;
pub mod metrics;
pub mod realtime;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod telemetry;
