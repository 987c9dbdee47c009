//! (filled in by the logistics work)
