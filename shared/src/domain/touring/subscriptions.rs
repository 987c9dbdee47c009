//! (filled in by the itinerary work)
