//! The booking pipeline (SPEC 5.4): holds, offers with versioned deals, and
//! bookings, each with its state machine, and the activity trail. Rules live
//! in this module, once; handlers and jobs call them.

pub mod activity;
pub mod availability;
pub mod bookings;
pub mod deal;
pub mod holds;
pub mod offers;
pub mod requests;
