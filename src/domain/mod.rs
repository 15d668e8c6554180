//! The pure core: business rules with no I/O. Rules never read the clock: `now` is passed in, so
//! tests choose it. The one clock reader, [`time::now_millis`], is for the adapters and tasks
//! that call the rules.
//!
//! Nothing here imports axum, socketioxide or a database driver, so every rule can be tested in
//! isolation and reused by every storage engine.

pub mod controls;
pub mod draw;
pub mod email;
pub mod ids;
pub mod lease;
pub mod seats;
pub mod time;
pub mod waiting_room;
