//! Touring (SPEC 5.6): tours of one artist and their stops, routing with
//! its warnings, the itinerary of each day, day sheets and the calendar feed.

pub mod calendar;
pub mod day_sheet;
pub mod itinerary;
pub mod routing;
pub mod stops;
pub mod subscriptions;
pub mod tours;
