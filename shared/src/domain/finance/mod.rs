//! Booking finance as Finance reports it (SPEC 5.8). Finance, an external
//! service, owns deposits, invoices and settlements; it tells us what
//! happened by signed webhooks ([`events`]) and the booking's parties see
//! the latest it said about each part ([`status`]). We never decide a
//! finance state ourselves.

pub mod events;
pub mod status;
