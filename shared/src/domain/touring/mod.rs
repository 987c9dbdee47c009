//! Touring (SPEC 5.6): tours of one artist and their stops, routing with
//! its warnings, the itinerary of each day, day sheets and the calendar feed.

pub mod calendar;
pub mod day_sheet;
pub mod itinerary;
pub mod routing;
pub mod stops;
pub mod subscriptions;
pub mod tours;

use chrono::NaiveDate;

use crate::DomainError;

/// The dates a tour, its stops and its itinerary may use. Outside them is a
/// 422 naming the field, which also keeps date arithmetic (the 06:00 day
/// boundary, all-day calendar events, days off) far from chrono's limits.
pub const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(2100, 12, 31).expect("a valid date");

/// Ok for a date within [`FIRST_DATE`]..=[`LAST_DATE`]; 422 on `field` otherwise.
pub fn check_date(field: &str, date: NaiveDate) -> Result<(), DomainError> {
    if (FIRST_DATE..=LAST_DATE).contains(&date) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            field,
            format!("must be between {FIRST_DATE} and {LAST_DATE}"),
        ))
    }
}
