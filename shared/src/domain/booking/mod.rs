//! The booking pipeline (SPEC 5.4): holds today; requests, offers and
//! bookings join here. Rules live in this module, once; handlers and jobs
//! call them.

pub mod activity;
pub mod holds;
