//! Domain rules by capability area: pure types and state machines, plus a
//! repository of the area's SQL. Handlers and jobs call these; they hold no
//! rules of their own.

pub mod booking;
pub mod claims;
pub mod directory;
pub mod shortlists;
