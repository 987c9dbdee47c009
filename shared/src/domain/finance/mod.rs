//! Booking finance (SPEC 5.8, 5.9). Finance, an external service, owns
//! deposits, invoices and settlements: we hand it what was agreed
//! ([`handoff`]), it tells us what happened by signed webhooks
//! ([`events`]), and the booking's parties see the latest it said about
//! each part ([`status`]). We never decide a finance state ourselves.

pub mod events;
pub mod handoff;
pub mod status;
