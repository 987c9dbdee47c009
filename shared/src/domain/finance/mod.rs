//! Finance (SPEC 5.8, 5.9): what was agreed, handed to Finance, and what
//! Finance reports back.

pub mod handoff;
