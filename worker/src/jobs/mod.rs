//! Job handlers, one module per job: decode, call `shared::domain`, done.

pub mod queue_canary;
