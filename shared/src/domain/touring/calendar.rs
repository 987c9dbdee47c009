//! The itinerary as an RFC 5545 calendar (`text/calendar`), for calendar
//! apps to subscribe to.
//!
//! What must stay true, so a subscribed calendar updates in place:
//! - one `VEVENT` per item the reader may see, `UID` `<item id>@kisum`
//!   (stable across changes), `SEQUENCE` the item's `sequence` (rises on
//!   every change), `DTSTAMP` and `LAST-MODIFIED` its `updated_at`, so the
//!   same data gives the same bytes;
//! - times in UTC (`...Z`): no `TZID` is ever written, so no `VTIMEZONE` is
//!   needed; a `tbd` item is an all-day event on its day
//!   (`DTSTART;VALUE=DATE` and the next day as the exclusive `DTEND`); an
//!   item without an end has a `DTSTART` only;
//! - text is escaped and lines folded at 75 octets. The `icalendar` crate
//!   does both for the properties it knows as TEXT (SUMMARY, DESCRIPTION,
//!   LOCATION, and any `X-` property) but writes RFC 7986 `NAME` raw, and
//!   leaves a carriage return as it is; so text is normalised here first
//!   and `NAME` is escaped here (the tests below pin the output).

use chrono::{Duration, NaiveDate};
use icalendar::{Calendar, Component, EventLike, Property};
use sqlx::PgConnection;
use uuid::Uuid;

use super::day_sheet::tour_title;
use super::itinerary::{self, ItineraryItem, TimePrecision};
use crate::DomainError;
use crate::access;

/// The media type of the feed.
pub const MEDIA_TYPE: &str = "text/calendar; charset=utf-8";

/// `PRODID` of every feed.
pub const PRODID: &str = "-//Kisum//Artist touring itinerary//EN";

/// RFC 5545 TEXT cannot carry a bare CR (or other controls): line breaks
/// become `\n`, other controls are dropped, before the crate escapes.
fn plain(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// RFC 5545 3.3.11 escaping, for `NAME`, which the crate writes raw.
fn escaped(text: &str) -> String {
    plain(text)
        .replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// The feed of a tour as `org_id` sees it now (404 when it sees nothing of
/// the tour).
pub async fn feed(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
) -> Result<String, DomainError> {
    let tour = access::tour_access(&mut *conn, org_id, tour_id).await?;
    let title = tour_title(&mut *conn, tour_id).await?;
    let items = itinerary::visible(conn, &tour).await?;
    Ok(render(&title.name, &items))
}

/// The calendar of `items` under the name `tour_name`.
pub fn render(tour_name: &str, items: &[ItineraryItem]) -> String {
    let mut calendar = Calendar::empty();
    calendar
        .append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", PRODID))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("NAME", escaped(tour_name)))
        .append_property(Property::new("X-WR-CALNAME", plain(tour_name)));
    for item in items {
        calendar.push(event(item));
    }
    calendar.to_string()
}

fn event(item: &ItineraryItem) -> icalendar::Event {
    let mut event = icalendar::Event::new();
    let summary = match item.precision {
        TimePrecision::Approx => format!("~ {}", item.title),
        _ => item.title.clone(),
    };
    event
        .uid(&format!("{}@kisum", item.id))
        .sequence(u32::try_from(item.sequence).unwrap_or(0))
        .timestamp(item.updated_at)
        .last_modified(item.updated_at)
        .summary(&plain(&summary));
    match (item.precision, item.starts_at) {
        (TimePrecision::Tbd, _) | (_, None) => {
            all_day(&mut event, item.day);
        }
        (_, Some(starts)) => {
            event.starts(starts);
            if let Some(ends) = item.ends_at {
                event.ends(ends);
            }
        }
    }
    if let Some(notes) = item.notes.as_deref() {
        event.description(&plain(notes));
    }
    if let Some(location) = item.location.as_deref() {
        event.location(&plain(location));
    }
    event.done()
}

/// An all-day event on `day`. Not the crate's `all_day`, which writes the
/// same date as `DTEND`: RFC 5545 3.8.2.2 wants `DTEND` later than
/// `DTSTART`, and an all-day `DTEND` is exclusive.
fn all_day(event: &mut icalendar::Event, day: NaiveDate) {
    event.starts(day);
    event.ends(day + Duration::days(1));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::touring::itinerary::{ItemVisibility, ItineraryKind};
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

    fn item(title: &str, notes: Option<&str>, precision: TimePrecision) -> ItineraryItem {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        ItineraryItem {
            id: Uuid::nil(),
            tour_id: Uuid::nil(),
            day: "2026-10-24".parse().unwrap(),
            kind: ItineraryKind::Set,
            title: title.into(),
            starts_at_local: None,
            ends_at_local: None,
            timezone: "Europe/Berlin".into(),
            end_timezone: "Europe/Berlin".into(),
            starts_at: Some(at("2026-10-24T18:00:00Z")),
            ends_at: Some(at("2026-10-24T19:30:00Z")),
            precision,
            location: Some("Columbiahalle, Columbiadamm 13; Berlin".into()),
            notes: notes.map(str::to_owned),
            visibility: ItemVisibility::Shared,
            sequence: 3,
            version: 4,
            created_at: at("2026-09-01T10:00:00Z"),
            updated_at: at("2026-09-02T11:12:13Z"),
        }
    }

    fn unfold(ics: &str) -> String {
        ics.replace("\r\n ", "")
    }

    #[test]
    fn lines_fold_at_75_octets_and_unfold_to_the_text() {
        let notes = "Ünïcödé rider notes — ".repeat(20);
        let ics = render(
            &"Tour ".repeat(30),
            &[item("Set", Some(&notes), TimePrecision::Exact)],
        );
        assert!(ics.ends_with("END:VCALENDAR\r\n"), "{ics}");
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{} octets: {line}", line.len());
            assert!(!line.contains('\r') && !line.contains('\n'));
        }
        assert!(
            unfold(&ics).contains(&format!("\r\nDESCRIPTION:{notes}\r\n")),
            "{ics}"
        );
    }

    #[test]
    fn text_is_escaped_everywhere_and_cr_never_gets_through() {
        let ics = unfold(&render(
            "Fall, 2026; EU\\UK\r\nleg",
            &[item(
                "Set, late; encore",
                Some("Line 1\r\nLine 2\rLine 3"),
                TimePrecision::Approx,
            )],
        ));
        assert!(
            ics.contains("\r\nX-WR-CALNAME:Fall\\, 2026\\; EU\\\\UK\\nleg\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains("\r\nNAME:Fall\\, 2026\\; EU\\\\UK\\nleg\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains("\r\nSUMMARY:~ Set\\, late\\; encore\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains("\r\nDESCRIPTION:Line 1\\nLine 2\\nLine 3\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains("\r\nLOCATION:Columbiahalle\\, Columbiadamm 13\\; Berlin\r\n"),
            "{ics}"
        );
        assert_eq!(ics.matches('\r').count(), ics.matches("\r\n").count());
    }

    #[test]
    fn events_are_stable_and_in_utc() {
        let items = [item("Set", None, TimePrecision::Exact)];
        let ics = render("Tour", &items);
        assert_eq!(
            ics,
            render("Tour", &items),
            "the same data gives the same bytes"
        );
        for line in [
            "UID:00000000-0000-0000-0000-000000000000@kisum",
            "SEQUENCE:3",
            "DTSTAMP:20260902T111213Z",
            "LAST-MODIFIED:20260902T111213Z",
            "DTSTART:20261024T180000Z",
            "DTEND:20261024T193000Z",
            "PRODID:-//Kisum//Artist touring itinerary//EN",
            "VERSION:2.0",
        ] {
            assert!(ics.contains(&format!("\r\n{line}\r\n")), "{line} in {ics}");
        }
        assert!(!ics.contains("TZID"), "{ics}");
        assert_eq!(ics.matches("PRODID").count(), 1);
    }

    #[test]
    fn tbd_is_all_day_and_a_missing_end_leaves_only_the_start() {
        let ics = render("Tour", &[item("Press", None, TimePrecision::Tbd)]);
        assert!(ics.contains("\r\nDTSTART;VALUE=DATE:20261024\r\n"), "{ics}");
        assert!(ics.contains("\r\nDTEND;VALUE=DATE:20261025\r\n"), "{ics}");
        let open = ItineraryItem {
            ends_at: None,
            ..item("Doors", None, TimePrecision::Exact)
        };
        let ics = render("Tour", &[open]);
        assert!(ics.contains("\r\nDTSTART:20261024T180000Z\r\n"), "{ics}");
        assert!(!ics.contains("DTEND") && !ics.contains("DURATION"), "{ics}");
    }
}
