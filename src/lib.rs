//! TicketClub: a fair virtual waiting room and live seat map for selling concert tickets.
//!
//! Data flows one way: transport ([`http`], [`realtime`]) → use cases ([`sale`]) → rules
//! ([`domain`]) and storage ([`storage`]). See `README.md` for the module map.

pub mod config;
pub mod domain;
