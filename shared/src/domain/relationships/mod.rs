//! Relationship intelligence (SPEC 5.7): what one company remembers of
//! another, private notes and flags, ratings, explainable trust, and an
//! artist's booking history.

pub mod history;
pub mod memory;
pub mod notes;
pub mod ratings;
pub mod refresh;
pub mod trust;
