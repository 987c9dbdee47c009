//! The stops of a tour: confirmed bookings of its artist (shows) and
//! free-standing days (travel, day off, promo, rehearsal), each on a date
//! in a city of the reference data. `position` is the routing order, 1..n
//! without gaps; a new stop goes where its date belongs unless told where.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::tours;
use crate::Code;
use crate::DomainError;
use crate::access::{self, Party};
use crate::reference::Refs;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum StopKind {
    /// A confirmed booking of the tour's artist.
    Show,
    Travel,
    DayOff,
    Promo,
    Rehearsal,
}

impl StopKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Show => "show",
            Self::Travel => "travel",
            Self::DayOff => "day_off",
            Self::Promo => "promo",
            Self::Rehearsal => "rehearsal",
        }
    }
}

/// The city of a stop, from the reference data.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StopCity {
    pub id: i64,
    pub name: String,
    pub country_code: String,
    pub region_code: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TourStop {
    pub id: Uuid,
    pub tour_id: Uuid,
    /// 1-based routing order.
    pub position: i32,
    pub kind: StopKind,
    pub date: NaiveDate,
    pub city: StopCity,
    /// The booking of a show.
    pub booking_id: Option<Uuid>,
    pub venue_name: Option<String>,
    pub title: Option<String>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A show (`booking_id`; its date and city come from the booking, and
/// `city_id` only when the booking's venue names no city) or a
/// free-standing day (`date` and `city_id` required).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TourStopIn {
    pub kind: StopKind,
    #[serde(default)]
    pub booking_id: Option<Uuid>,
    #[serde(default)]
    pub date: Option<NaiveDate>,
    #[serde(default)]
    pub city_id: Option<i64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Where to insert (1-based); by default after the last stop on or
    /// before its date.
    #[serde(default)]
    pub position: Option<i32>,
}

/// Changes to a stop. A show's date and city follow its booking.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TourStopPatch {
    #[serde(default)]
    pub kind: Option<StopKind>,
    #[serde(default)]
    pub date: Option<NaiveDate>,
    #[serde(default)]
    pub city_id: Option<i64>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

/// The new order: every stop of the tour, once each.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopOrderIn {
    pub stop_ids: Vec<Uuid>,
}

/// Most stops one tour holds.
pub const MAX_STOPS: i64 = 500;
const TITLE_MAX: usize = 200;
const NOTES_MAX: usize = 10_000;

struct Row {
    id: Uuid,
    tour_id: Uuid,
    position: i32,
    kind: StopKind,
    stop_date: NaiveDate,
    city_id: i64,
    city_name: String,
    country_code: String,
    region_code: Option<String>,
    timezone: String,
    latitude: f64,
    longitude: f64,
    booking_id: Option<Uuid>,
    venue_name: Option<String>,
    title: Option<String>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for TourStop {
    fn from(r: Row) -> Self {
        TourStop {
            id: r.id,
            tour_id: r.tour_id,
            position: r.position,
            kind: r.kind,
            date: r.stop_date,
            city: StopCity {
                id: r.city_id,
                name: r.city_name,
                country_code: r.country_code,
                region_code: r.region_code,
                timezone: r.timezone,
                latitude: r.latitude,
                longitude: r.longitude,
            },
            booking_id: r.booking_id,
            venue_name: r.venue_name,
            title: r.title,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load_all(conn: &mut PgConnection, tour_id: Uuid) -> Result<Vec<TourStop>, DomainError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT s.id, s.tour_id, s.position, s.kind AS "kind: StopKind", s.stop_date, s.city_id,
                  ci.name AS city_name, ci.country_code::text AS "country_code!", ci.region_code, ci.timezone,
                  ci.latitude, ci.longitude, s.booking_id, o.venue ->> 'name' AS venue_name,
                  s.title, s.notes, s.created_at, s.updated_at
             FROM tour_stops s
             JOIN cities ci ON ci.id = s.city_id
             LEFT JOIN bookings b ON b.id = s.booking_id
             LEFT JOIN offers o ON o.id = b.offer_id
            WHERE s.tour_id = $1
            ORDER BY s.position"#,
        tour_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(TourStop::from).collect())
}

/// The stops of a tour in routing order (the artist side only; a
/// promoter sees its days through the itinerary).
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
) -> Result<Vec<TourStop>, DomainError> {
    let access = access::tour_access(&mut *conn, org_id, tour_id).await?;
    access.require_artist_side()?;
    load_all(conn, tour_id).await
}

async fn one(conn: &mut PgConnection, tour_id: Uuid, id: Uuid) -> Result<TourStop, DomainError> {
    load_all(conn, tour_id)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(DomainError::NotFound)
}

/// The date and venue city (when the venue names one) of a show: its
/// booking must be a confirmed booking of the tour's artist on which the
/// caller is the agency.
async fn show_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
    booking_id: Uuid,
) -> Result<(NaiveDate, Option<i64>), DomainError> {
    let not_yours = || DomainError::invalid("booking_id", "is not a booking of yours");
    let row = sqlx::query!(
        r#"SELECT b.artist_id, b.agency_company_id, b.promoter_company_id, b.event_date,
                  b.status, o.venue_city_id
             FROM bookings b JOIN offers o ON o.id = b.offer_id
            WHERE b.id = $1"#,
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(not_yours)?;
    let party = access::party_of(
        &mut *conn,
        org_id,
        access::Parties {
            agency: row.agency_company_id,
            promoter: row.promoter_company_id,
        },
    )
    .await?;
    if party != Some(Party::Agency) {
        return Err(not_yours());
    }
    if row.artist_id != artist_id {
        return Err(DomainError::invalid(
            "booking_id",
            "is a booking of another artist",
        ));
    }
    if row.status != "confirmed" {
        return Err(DomainError::conflict(
            Code::BookingNotConfirmed,
            format!(
                "the booking is {}; only a confirmed show joins a tour",
                row.status
            ),
        ));
    }
    Ok((row.event_date, row.venue_city_id))
}

/// Adds a stop (the artist side).
pub async fn add(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    tour_id: Uuid,
    input: TourStopIn,
) -> Result<TourStop, DomainError> {
    let access = tours::lock_for_change(&mut *conn, org_id, tour_id).await?;
    let mut check = Check::new();
    let title = check.opt_text("title", input.title.as_deref(), TITLE_MAX);
    let notes = check.opt_text("notes", input.notes.as_deref(), NOTES_MAX);
    if input.position.is_some_and(|p| p < 1) {
        check.add("position", "must be at least 1");
    }
    out_of_range(&mut check, input.date);
    match input.kind {
        StopKind::Show => {
            if input.booking_id.is_none() {
                check.add("booking_id", "is required for a show");
            }
            if input.date.is_some() {
                check.add("date", "a show takes its booking's date");
            }
        }
        _ => {
            if input.booking_id.is_some() {
                check.add("booking_id", "only a show has a booking");
            }
            if input.date.is_none() {
                check.add("date", "is required");
            }
            if input.city_id.is_none() {
                check.add("city_id", "is required");
            }
        }
    }
    check.finish()?;
    Refs::new()
        .city("city_id", input.city_id)
        .check(&mut *conn)
        .await?;
    let (date, city_id) = match (input.booking_id, input.date, input.city_id) {
        (Some(booking), _, city) => {
            let (date, venue_city) =
                show_booking(&mut *conn, org_id, access.artist_id, booking).await?;
            match (venue_city, city) {
                (Some(venue), Some(given)) if venue != given => {
                    return Err(DomainError::invalid(
                        "city_id",
                        "differs from the booking's venue city",
                    ));
                }
                (Some(venue), _) => (date, venue),
                (None, Some(given)) => (date, given),
                (None, None) => {
                    return Err(DomainError::invalid(
                        "city_id",
                        "is required: the booking's venue names no city",
                    ));
                }
            }
        }
        (None, Some(date), Some(city)) => (date, city),
        _ => return Err(DomainError::invalid("date", "is required")),
    };
    if input.booking_id.is_some() {
        super::check_date("booking_id", date)?;
    }
    let taken = sqlx::query!(
        r#"SELECT count(*) AS "count!",
                  count(*) FILTER (WHERE stop_date <= $2) AS "before!",
                  EXISTS (SELECT 1 FROM tour_stops WHERE tour_id = $1 AND booking_id = $3) AS "booked!"
             FROM tour_stops WHERE tour_id = $1"#,
        tour_id,
        date,
        input.booking_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    if taken.booked {
        return Err(DomainError::conflict(
            Code::BookingOnTour,
            "this booking is already a stop of the tour",
        ));
    }
    if taken.count >= MAX_STOPS {
        return Err(DomainError::conflict(
            Code::TourFull,
            format!("a tour holds at most {MAX_STOPS} stops"),
        ));
    }
    let last = i32::try_from(taken.count).unwrap_or(i32::MAX);
    let position = match input.position {
        Some(p) => p.min(last + 1),
        None => {
            // After the last stop dated on or before this one, in routing order.
            let after = sqlx::query_scalar!(
                "SELECT max(position) FROM tour_stops WHERE tour_id = $1 AND stop_date <= $2",
                tour_id,
                date
            )
            .fetch_one(&mut *conn)
            .await?;
            after.unwrap_or(0) + 1
        }
    };
    sqlx::query!(
        "UPDATE tour_stops SET position = position + 1 WHERE tour_id = $1 AND position >= $2",
        tour_id,
        position
    )
    .execute(&mut *conn)
    .await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO tour_stops (id, tour_id, position, kind, stop_date, city_id, booking_id, title, notes, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id,
        tour_id,
        position,
        input.kind as StopKind,
        date,
        city_id,
        input.booking_id,
        title,
        notes,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    tours::touch(&mut *conn, tour_id).await?;
    one(conn, tour_id, id).await
}

fn out_of_range(check: &mut Check, date: Option<NaiveDate>) {
    if let Some(Err(DomainError::Validation(errors))) = date.map(|d| super::check_date("date", d)) {
        for e in errors {
            check.add(&e.field, e.message);
        }
    }
}

/// The city a booking's venue names, if any.
async fn venue_city(
    conn: &mut PgConnection,
    booking_id: Option<Uuid>,
) -> Result<Option<i64>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT o.venue_city_id FROM bookings b JOIN offers o ON o.id = b.offer_id WHERE b.id = $1",
        booking_id
    )
    .fetch_optional(conn)
    .await?
    .flatten())
}

/// Changes a stop (the artist side). A show's city changes only when its
/// booking's venue names none.
pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    id: Uuid,
    input: TourStopPatch,
) -> Result<TourStop, DomainError> {
    tours::lock_for_change(&mut *conn, org_id, tour_id).await?;
    let current = one(&mut *conn, tour_id, id).await?;
    let mut check = Check::new();
    let title = input
        .title
        .map(|t| check.opt_text("title", t.as_deref(), TITLE_MAX));
    let notes = input
        .notes
        .map(|n| check.opt_text("notes", n.as_deref(), NOTES_MAX));
    out_of_range(&mut check, input.date);
    let show = current.kind == StopKind::Show;
    if show {
        if input.kind.is_some_and(|k| k != StopKind::Show) {
            check.add("kind", "a show stays a show; remove the stop instead");
        }
        if input.date.is_some() {
            check.add("date", "a show takes its booking's date");
        }
        if input.city_id.is_some() && venue_city(&mut *conn, current.booking_id).await?.is_some() {
            check.add("city_id", "a show takes its booking's venue city");
        }
    } else if input.kind == Some(StopKind::Show) {
        check.add("kind", "add a show as a new stop with its booking");
    }
    check.finish()?;
    Refs::new()
        .city("city_id", input.city_id)
        .check(&mut *conn)
        .await?;
    sqlx::query!(
        "UPDATE tour_stops SET kind = COALESCE($3, kind), stop_date = COALESCE($4, stop_date),
                               city_id = COALESCE($5, city_id),
                               title = CASE WHEN $6 THEN $7 ELSE title END,
                               notes = CASE WHEN $8 THEN $9 ELSE notes END,
                               updated_at = now()
          WHERE id = $1 AND tour_id = $2",
        id,
        tour_id,
        input.kind as Option<StopKind>,
        input.date,
        input.city_id,
        title.is_some(),
        title.flatten(),
        notes.is_some(),
        notes.flatten(),
    )
    .execute(&mut *conn)
    .await?;
    tours::touch(&mut *conn, tour_id).await?;
    one(conn, tour_id, id).await
}

/// Removes a stop and closes the gap in positions (the artist side).
pub async fn remove(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    id: Uuid,
) -> Result<(), DomainError> {
    tours::lock_for_change(&mut *conn, org_id, tour_id).await?;
    let position = sqlx::query_scalar!(
        "DELETE FROM tour_stops WHERE id = $1 AND tour_id = $2 RETURNING position",
        id,
        tour_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    sqlx::query!(
        "UPDATE tour_stops SET position = position - 1 WHERE tour_id = $1 AND position > $2",
        tour_id,
        position
    )
    .execute(&mut *conn)
    .await?;
    tours::touch(conn, tour_id).await
}

/// Puts the stops in a new routing order (the artist side). `stop_ids`
/// must name every stop of the tour once; `If-Match` names the tour
/// version the order was made against.
pub async fn reorder(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    input: StopOrderIn,
    if_match: Option<i32>,
) -> Result<Vec<TourStop>, DomainError> {
    tours::lock_for_change(&mut *conn, org_id, tour_id).await?;
    let version = sqlx::query_scalar!("SELECT version FROM tours WHERE id = $1", tour_id)
        .fetch_one(&mut *conn)
        .await?;
    crate::domain::precondition(if_match, version)?;
    let mut current: Vec<Uuid> =
        sqlx::query_scalar!("SELECT id FROM tour_stops WHERE tour_id = $1", tour_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut given = input.stop_ids.clone();
    current.sort_unstable();
    given.sort_unstable();
    if given != current {
        return Err(DomainError::invalid(
            "stop_ids",
            format!(
                "must name each of the tour's {} stops exactly once",
                current.len()
            ),
        ));
    }
    sqlx::query!(
        "UPDATE tour_stops s SET position = o.position::int, updated_at = now()
           FROM unnest($2::uuid[]) WITH ORDINALITY AS o (id, position)
          WHERE s.id = o.id AND s.tour_id = $1 AND s.position <> o.position",
        tour_id,
        &input.stop_ids,
    )
    .execute(&mut *conn)
    .await?;
    tours::touch(&mut *conn, tour_id).await?;
    load_all(conn, tour_id).await
}
