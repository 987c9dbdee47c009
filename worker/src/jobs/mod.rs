//! Job handlers, one module per job: decode, call `shared::domain`, done.

pub mod expiry;
pub mod maintenance;
pub mod queue_canary;
