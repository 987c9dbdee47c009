//! Booking logistics (SPEC 5.6): the advance sheet of a booking and the
//! promoter's proposals for its sections. Both parties read them; the
//! booking's agency writes the sheet and answers proposals, and an
//! approved proposal is written into the sheet.

pub mod proposals;
pub mod sheet;
