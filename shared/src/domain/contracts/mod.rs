//! Contracts (SPEC 5.5): templates, booking-linked contracts, their
//! versions, signers and signatures, the hash-chained audit, documents and
//! reminders.

pub mod document;
pub mod template;
