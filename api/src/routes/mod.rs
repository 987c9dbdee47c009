//! Handlers, one module per capability area.

pub mod health;
pub mod me;
pub mod ops;
pub mod shortlists;
