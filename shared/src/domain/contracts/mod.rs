//! Contracts (SPEC 5.5): template libraries, booking-linked contracts, their
//! versions, signers and signatures, the hash-chained audit sealed with the
//! platform key, documents, verification and signature reminders.

pub mod audit;
#[allow(clippy::module_inception)]
pub mod contracts;
pub mod document;
pub mod library;
pub mod reminders;
pub mod seal;
pub mod signing;
pub mod store;
pub mod template;
