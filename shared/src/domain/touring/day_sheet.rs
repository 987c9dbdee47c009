//! The day sheet: one day of a tour on one page, for the crew and the
//! promoter's production team. JSON, or a self-contained printable HTML
//! page in which every value is HTML-escaped.
//!
//! It shows what the reader may see: the artist side any day with every
//! item; a promoter only its show days (any other date is 404) with the
//! day's `shared` items, and booking and venue only of its own shows.

use std::collections::HashSet;
use std::fmt::Write;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::itinerary::{self, ItineraryItem, ItineraryKind, TimePrecision};
use super::stops::StopKind;
use crate::DomainError;
use crate::access::{self, TourRole};

/// How a day sheet is served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DaySheetFormat {
    #[default]
    Json,
    Html,
}

/// One day of a tour.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DaySheet {
    pub tour_id: Uuid,
    pub tour_name: String,
    pub artist_id: Uuid,
    pub artist_name: String,
    pub date: NaiveDate,
    /// The tour's stops on this date, in routing order.
    pub stops: Vec<DaySheetStop>,
    /// The day's items the reader may see, by UTC start; items without a
    /// time last.
    pub items: Vec<DaySheetItem>,
}

/// A stop on a day sheet.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DaySheetStop {
    pub id: Uuid,
    /// `show`, `travel`, `day_off`, `promo` or `rehearsal`.
    pub kind: StopKind,
    pub title: Option<String>,
    pub city_id: i64,
    pub city_name: String,
    pub country_code: String,
    /// IANA zone of the city.
    pub timezone: String,
    /// The booking of a show (only for the artist side and that show's promoter).
    pub booking_id: Option<Uuid>,
    /// The venue of a show, as its offer names it.
    pub venue_name: Option<String>,
}

/// An item on a day sheet, with its local times in its own zones.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DaySheetItem {
    pub id: Uuid,
    pub kind: ItineraryKind,
    pub title: String,
    #[schema(value_type = Option<String>, example = "2026-10-24T20:00:00")]
    pub starts_at_local: Option<NaiveDateTime>,
    #[schema(value_type = Option<String>, example = "2026-10-24T21:30:00")]
    pub ends_at_local: Option<NaiveDateTime>,
    pub timezone: String,
    pub end_timezone: String,
    pub precision: TimePrecision,
    pub location: Option<String>,
    pub notes: Option<String>,
}

impl From<ItineraryItem> for DaySheetItem {
    fn from(i: ItineraryItem) -> Self {
        Self {
            id: i.id,
            kind: i.kind,
            title: i.title,
            starts_at_local: i.starts_at_local,
            ends_at_local: i.ends_at_local,
            timezone: i.timezone,
            end_timezone: i.end_timezone,
            precision: i.precision,
            location: i.location,
            notes: i.notes,
        }
    }
}

/// A tour's name and its artist's.
pub struct TourTitle {
    pub name: String,
    pub artist_name: String,
}

/// The names a tour is shown under.
pub async fn tour_title(conn: &mut PgConnection, tour_id: Uuid) -> Result<TourTitle, DomainError> {
    sqlx::query_as!(
        TourTitle,
        "SELECT t.name, a.name AS artist_name FROM tours t JOIN artists a ON a.id = t.artist_id WHERE t.id = $1",
        tour_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

struct StopRow {
    id: Uuid,
    kind: StopKind,
    title: Option<String>,
    city_id: i64,
    city_name: String,
    country_code: String,
    timezone: String,
    booking_id: Option<Uuid>,
    promoter_company_id: Option<Uuid>,
    venue_name: Option<String>,
}

/// The day sheet of `date` as `org_id` may see it.
pub async fn day_sheet(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    date: NaiveDate,
) -> Result<DaySheet, DomainError> {
    let tour = access::tour_access(&mut *conn, org_id, tour_id).await?;
    if tour.role == TourRole::Promoter && !tour.promoter_days.contains(&date) {
        return Err(DomainError::NotFound);
    }
    let title = tour_title(&mut *conn, tour_id).await?;
    let stops = sqlx::query_as!(
        StopRow,
        r#"SELECT s.id, s.kind AS "kind: StopKind", s.title, s.city_id, c.name AS city_name,
                  c.country_code AS "country_code!", c.timezone,
                  s.booking_id, b.promoter_company_id AS "promoter_company_id?",
                  o.venue ->> 'name' AS venue_name
             FROM tour_stops s
             JOIN cities c ON c.id = s.city_id
             LEFT JOIN bookings b ON b.id = s.booking_id
             LEFT JOIN offers o ON o.id = b.offer_id
            WHERE s.tour_id = $1 AND s.stop_date = $2
            ORDER BY s.position"#,
        tour_id,
        date
    )
    .fetch_all(&mut *conn)
    .await?;
    let own: HashSet<Uuid> = match tour.role {
        TourRole::ArtistSide => HashSet::new(),
        TourRole::Promoter => access::owned_companies(&mut *conn, org_id)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect(),
    };
    // A promoter sees its own shows of the day, nothing else of the route.
    let stops = stops
        .into_iter()
        .filter(|s| {
            tour.role == TourRole::ArtistSide
                || s.promoter_company_id.is_some_and(|c| own.contains(&c))
        })
        .map(|s| DaySheetStop {
            id: s.id,
            kind: s.kind,
            title: s.title,
            city_id: s.city_id,
            city_name: s.city_name,
            country_code: s.country_code,
            timezone: s.timezone,
            booking_id: s.booking_id,
            venue_name: s.venue_name,
        })
        .collect();
    let items = itinerary::of_day(&mut *conn, &tour, date)
        .await?
        .into_iter()
        .map(DaySheetItem::from)
        .collect();
    Ok(DaySheet {
        tour_id,
        tour_name: title.name,
        artist_id: tour.artist_id,
        artist_name: title.artist_name,
        date,
        stops,
        items,
    })
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's one style sheet, inline so a saved copy is complete; the
/// API allows it in its `Content-Security-Policy` by hash.
pub const STYLE: &str = "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:2rem;color:#111}\
h1{font-size:1.5rem;margin:0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\
.sub{color:#555;margin:.25rem 0 1rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
th{font-size:.8rem;text-transform:uppercase;color:#555}.time{white-space:nowrap;font-variant-numeric:tabular-nums}\
.notes{white-space:pre-wrap;color:#333}.empty{color:#777}\
@media print{body{margin:0;font-size:11pt}a{color:inherit;text-decoration:none}tr{page-break-inside:avoid}}";

fn local_time(at: Option<NaiveDateTime>, date: NaiveDate) -> String {
    match at {
        None => String::new(),
        Some(at) if at.date() == date => at.format("%H:%M").to_string(),
        Some(at) => at.format("%a %d %b %H:%M").to_string(),
    }
}

fn when(item: &DaySheetItem, date: NaiveDate) -> String {
    if item.precision == TimePrecision::Tbd && item.starts_at_local.is_none() {
        return "TBD".to_owned();
    }
    let prefix = match item.precision {
        TimePrecision::Approx => "~ ",
        TimePrecision::Tbd => "TBD ",
        TimePrecision::Exact => "",
    };
    let start = local_time(item.starts_at_local, date);
    let mut out = format!("{prefix}{start}");
    if item.ends_at_local.is_some() {
        out.push_str(" – ");
        out.push_str(&local_time(item.ends_at_local, date));
        if item.end_timezone != item.timezone {
            let _ = write!(out, " ({})", item.end_timezone);
        }
    }
    out
}

/// The day sheet as a self-contained printable HTML page.
pub fn html(sheet: &DaySheet) -> String {
    let e = escape_html;
    let mut out = String::with_capacity(4096);
    let title = format!(
        "{} — {} — {}",
        sheet.artist_name, sheet.tour_name, sheet.date
    );
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n\
         <h1>{}</h1><p class=\"sub\">{} · {}</p>\n",
        e(&title),
        e(&sheet.artist_name),
        e(&sheet.tour_name),
        e(&sheet.date.format("%A %-d %B %Y").to_string()),
    );
    out.push_str("<h2>Stops</h2>\n");
    if sheet.stops.is_empty() {
        out.push_str("<p class=\"empty\">No stop on this day.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>Kind</th><th>City</th><th>Time zone</th><th>Venue</th><th>Booking</th></tr></thead><tbody>\n",
        );
        for s in &sheet.stops {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}, {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(s.kind.as_str()),
                e(&s.city_name),
                e(&s.country_code),
                e(&s.timezone),
                e(s.venue_name.as_deref().or(s.title.as_deref()).unwrap_or("")),
                e(&s.booking_id.map(|b| b.to_string()).unwrap_or_default()),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<h2>Schedule</h2>\n");
    if sheet.items.is_empty() {
        out.push_str("<p class=\"empty\">Nothing scheduled.</p>\n");
    } else {
        out.push_str(
            "<table><thead><tr><th>Time</th><th>Zone</th><th>What</th><th>Where</th><th>Notes</th></tr></thead><tbody>\n",
        );
        for i in &sheet.items {
            let _ = writeln!(
                out,
                "<tr><td class=\"time\">{}</td><td>{}</td><td><strong>{}</strong><br>{}</td><td>{}</td><td class=\"notes\">{}</td></tr>",
                e(&when(i, sheet.date)),
                e(&i.timezone),
                e(&i.title),
                e(i.kind.as_str()),
                e(i.location.as_deref().unwrap_or("")),
                e(i.notes.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(title: &str) -> DaySheet {
        DaySheet {
            tour_id: Uuid::nil(),
            tour_name: "Fall <Tour> & \"friends\"".into(),
            artist_id: Uuid::nil(),
            artist_name: "O'Neil".into(),
            date: "2026-10-24".parse().unwrap(),
            stops: vec![DaySheetStop {
                id: Uuid::nil(),
                kind: StopKind::Show,
                title: None,
                city_id: 1,
                city_name: "Berlin".into(),
                country_code: "DE".into(),
                timezone: "Europe/Berlin".into(),
                booking_id: Some(Uuid::nil()),
                venue_name: Some("<img src=x onerror=alert(1)>".into()),
            }],
            items: vec![DaySheetItem {
                id: Uuid::nil(),
                kind: ItineraryKind::Set,
                title: title.into(),
                starts_at_local: Some("2026-10-24T20:00:00".parse().unwrap()),
                ends_at_local: Some("2026-10-25T01:30:00".parse().unwrap()),
                timezone: "Europe/Berlin".into(),
                end_timezone: "Europe/Berlin".into(),
                precision: TimePrecision::Approx,
                location: None,
                notes: Some("a < b".into()),
            }],
        }
    }

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn every_value_on_the_page_is_escaped() {
        let page = html(&sheet("<script>alert(1)</script>"));
        assert!(!page.contains("<script"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("<Tour>"), "{page}");
        assert!(page.contains("O&#39;Neil"), "{page}");
        assert!(page.contains("a &lt; b"), "{page}");
        assert!(page.contains("@media print"), "{page}");
        assert!(page.contains("~ 20:00 – Sun 25 Oct 01:30"), "{page}");
        assert!(!page.contains("http"), "self-contained: {page}");
    }
}
