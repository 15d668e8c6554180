//! The pure core: business rules with no I/O and no clock of their own (`now` is passed in).
//!
//! Nothing here imports axum, socketioxide or a database driver, so every rule can be tested in
//! isolation and reused by every storage engine.

pub mod email;
pub mod ids;
pub mod seats;
pub mod time;
pub mod waiting_room;
