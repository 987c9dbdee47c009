//! The itinerary of a tour: what happens when on each day (travel, load-in,
//! soundcheck, doors, set, curfew, hotel, press).
//!
//! Times are entered as the wall clock of the place they happen
//! (`starts_at_local` in `timezone`; a travel item may end in another zone,
//! `end_timezone`) and stored both ways: local, as entered, and as UTC
//! instants for ordering and the calendar feed. A local time that does not
//! exist (a daylight-saving gap) is refused; one that happens twice (the
//! fold when clocks go back) means the earlier instant.
//!
//! Each item belongs to a show day ([`show_day`]): a 01:30 set is part of
//! the night before. The artist side writes and sees every item; a promoter
//! of a show on the tour sees the `shared` items of its show days and
//! changes nothing.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access::{self, TourAccess, TourRole};
use crate::domain::{guarded, precondition};
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;
use crate::validate::Check;

/// What an itinerary item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ItineraryKind {
    Travel,
    LoadIn,
    Soundcheck,
    Doors,
    Set,
    Curfew,
    Hotel,
    Press,
    Other,
}

impl ItineraryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Travel => "travel",
            Self::LoadIn => "load_in",
            Self::Soundcheck => "soundcheck",
            Self::Doors => "doors",
            Self::Set => "set",
            Self::Curfew => "curfew",
            Self::Hotel => "hotel",
            Self::Press => "press",
            Self::Other => "other",
        }
    }
}

/// How sure the times are: `exact`, `approx` (shown with a `~`), or `tbd`
/// (times may be missing; the item then names its `day`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TimePrecision {
    Exact,
    Approx,
    Tbd,
}

impl TimePrecision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Approx => "approx",
            Self::Tbd => "tbd",
        }
    }
}

/// Who sees an item: the artist side only, or also the promoter of that
/// day's show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ItemVisibility {
    ArtistSide,
    Shared,
}

/// An itinerary item.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ItineraryItem {
    pub id: Uuid,
    pub tour_id: Uuid,
    /// The show day the item belongs to (see `starts_at_local`).
    pub day: NaiveDate,
    pub kind: ItineraryKind,
    pub title: String,
    /// Wall-clock start in `timezone`, `YYYY-MM-DDTHH:MM:SS`; an item
    /// starting before 06:00 belongs to the previous day.
    #[schema(value_type = Option<String>, example = "2026-10-24T20:00:00")]
    pub starts_at_local: Option<NaiveDateTime>,
    /// Wall-clock end in `end_timezone`.
    #[schema(value_type = Option<String>, example = "2026-10-24T21:30:00")]
    pub ends_at_local: Option<NaiveDateTime>,
    /// IANA time zone of the start.
    pub timezone: String,
    /// IANA time zone of the end (the start's unless the item travels).
    pub end_timezone: String,
    /// The start as a UTC instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// The end as a UTC instant.
    pub ends_at: Option<DateTime<Utc>>,
    pub precision: TimePrecision,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub visibility: ItemVisibility,
    /// RFC 5545 `SEQUENCE` of the item's calendar event: rises on every change.
    pub sequence: i32,
    /// Record version, for `If-Match`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new itinerary item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItineraryItemIn {
    pub kind: ItineraryKind,
    pub title: String,
    /// Wall-clock start, `YYYY-MM-DDTHH:MM[:SS]`. Required unless `tbd`.
    #[serde(default)]
    #[schema(example = "2026-10-24T20:00")]
    pub starts_at_local: Option<String>,
    /// Wall-clock end in `end_timezone`, `YYYY-MM-DDTHH:MM[:SS]`.
    #[serde(default)]
    pub ends_at_local: Option<String>,
    /// IANA zone. Default: the zone of the city of the tour's stop on the
    /// item's day (422 when there is none).
    #[serde(default)]
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    /// IANA zone of the end; default `timezone`.
    #[serde(default)]
    pub end_timezone: Option<String>,
    /// Default `exact`.
    #[serde(default)]
    pub precision: Option<TimePrecision>,
    /// The show day, for a `tbd` item without a start; otherwise it follows
    /// from the start (and must agree with it when given).
    #[serde(default)]
    pub day: Option<NaiveDate>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Default `artist_side`.
    #[serde(default)]
    pub visibility: Option<ItemVisibility>,
}

/// Changes to an item; absent fields stay, `null` clears a nullable one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItineraryItemPatch {
    #[serde(default)]
    pub kind: Option<ItineraryKind>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub starts_at_local: Option<Option<String>>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub ends_at_local: Option<Option<String>>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub end_timezone: Option<Option<String>>,
    #[serde(default)]
    pub precision: Option<TimePrecision>,
    #[serde(default)]
    pub day: Option<NaiveDate>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub location: Option<Option<String>>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    #[serde(default)]
    pub visibility: Option<ItemVisibility>,
}

/// The hour before which an item belongs to the previous show day.
pub const DAY_STARTS_AT_HOUR: i64 = 6;

/// The show day of an item starting at `local` (wall clock): its date less
/// six hours, so the night after a show (a 01:30 set, a 03:00 bus) belongs
/// to the show's day.
pub fn show_day(local: NaiveDateTime) -> NaiveDate {
    (local - Duration::hours(DAY_STARTS_AT_HOUR)).date()
}

/// An IANA zone name, or a 422 on `field`.
pub fn parse_zone(field: &str, name: &str) -> Result<Tz, DomainError> {
    name.parse::<Tz>()
        .map_err(|_| DomainError::invalid(field, "must be an IANA time zone such as Europe/Berlin"))
}

/// A wall-clock time `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`, or a 422
/// on `field`.
pub fn parse_local(field: &str, value: &str) -> Result<NaiveDateTime, DomainError> {
    let value = value.trim();
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M"))
        .map_err(|_| {
            DomainError::invalid(
                field,
                "must be a local date and time YYYY-MM-DDTHH:MM[:SS] without offset",
            )
        })
        .and_then(|local| super::check_date(field, local.date()).map(|()| local))
}

/// The UTC instant of wall-clock `local` in `zone`. A time skipped by a
/// daylight-saving change is a 422 on `field`; a time that happens twice
/// (clocks going back) is the earlier of the two instants.
pub fn to_utc(field: &str, local: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, DomainError> {
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(a, b) => Ok(a.min(b).with_timezone(&Utc)),
        chrono::LocalResult::None => Err(DomainError::invalid(
            field,
            format!("{local} does not exist in {zone} (clocks skip it for daylight saving)"),
        )),
    }
}

/// An item's fields after a create or a patch, before its zones are
/// checked and its instants computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    pub kind: ItineraryKind,
    pub title: String,
    pub starts_at_local: Option<String>,
    pub ends_at_local: Option<String>,
    pub timezone: Option<String>,
    pub end_timezone: Option<String>,
    pub precision: TimePrecision,
    pub day: Option<NaiveDate>,
    pub location: Option<String>,
    pub notes: Option<String>,
    pub visibility: ItemVisibility,
}

/// The times of a draft, checked: its show day, local times and instants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Times {
    pub day: NaiveDate,
    pub starts_local: Option<NaiveDateTime>,
    pub ends_local: Option<NaiveDateTime>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// The day of a draft before its zone is known: from the start when there
/// is one (a `day` given beside it must agree), else the `day` given.
pub fn draft_day(draft: &Draft) -> Result<NaiveDate, DomainError> {
    let mut check = Check::new();
    let starts = draft
        .starts_at_local
        .as_deref()
        .and_then(|s| field(&mut check, parse_local("starts_at_local", s)));
    if draft.precision != TimePrecision::Tbd && draft.starts_at_local.is_none() {
        check.add("starts_at_local", "is required unless precision is tbd");
    }
    if let Some(day) = draft.day {
        field(&mut check, super::check_date("day", day));
    }
    let day = match (starts.map(show_day), draft.day) {
        (Some(computed), Some(given)) if computed != given => {
            check.add(
                "day",
                format!("the start makes this item part of {computed} (items before 06:00 belong to the previous day)"),
            );
            None
        }
        (Some(day), _) | (None, Some(day)) => Some(day),
        (None, None) => {
            if draft.starts_at_local.is_none() {
                check.add("day", "is required for a tbd item without a start");
            }
            None
        }
    };
    check.finish()?;
    day.ok_or_else(|| DomainError::invalid("day", "is required"))
}

/// The value of a field check, or its errors added to `check`.
fn field<T>(check: &mut Check, result: Result<T, DomainError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(DomainError::Validation(errors)) => {
            for e in errors {
                check.add(&e.field, e.message);
            }
            None
        }
        Err(_) => None,
    }
}

/// Checks a draft's times in its zones: every problem at once, each naming
/// its field. `timezone` must be set by now (given, kept, or defaulted).
pub fn times(draft: &Draft, day: NaiveDate) -> Result<Times, DomainError> {
    let mut check = Check::new();
    let zone = match draft.timezone.as_deref() {
        Some(name) => field(&mut check, parse_zone("timezone", name)),
        None => {
            check.add(
                "timezone",
                "is required: the tour has no stop on this day to take its city's zone from",
            );
            None
        }
    };
    let end_zone = match draft.end_timezone.as_deref() {
        Some(name) => field(&mut check, parse_zone("end_timezone", name)),
        None => zone,
    };
    let starts_local = draft
        .starts_at_local
        .as_deref()
        .and_then(|s| field(&mut check, parse_local("starts_at_local", s)));
    let ends_local = draft
        .ends_at_local
        .as_deref()
        .and_then(|s| field(&mut check, parse_local("ends_at_local", s)));
    if draft.ends_at_local.is_some() && draft.starts_at_local.is_none() {
        check.add("ends_at_local", "needs starts_at_local");
    }
    let starts_at = match (starts_local, zone) {
        (Some(local), Some(zone)) => field(&mut check, to_utc("starts_at_local", local, zone)),
        _ => None,
    };
    let ends_at = match (ends_local, end_zone) {
        (Some(local), Some(zone)) => field(&mut check, to_utc("ends_at_local", local, zone)),
        _ => None,
    };
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e < s
    {
        check.add("ends_at_local", "must not be before the start");
    }
    check.finish()?;
    Ok(Times {
        day,
        starts_local,
        ends_local,
        starts_at,
        ends_at,
    })
}

struct Row {
    id: Uuid,
    tour_id: Uuid,
    day: NaiveDate,
    kind: ItineraryKind,
    title: String,
    starts_local: Option<NaiveDateTime>,
    ends_local: Option<NaiveDateTime>,
    timezone: String,
    end_timezone: Option<String>,
    starts_at: Option<DateTime<Utc>>,
    ends_at: Option<DateTime<Utc>>,
    precision: TimePrecision,
    location: Option<String>,
    notes: Option<String>,
    visibility: ItemVisibility,
    sequence: i32,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for ItineraryItem {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            tour_id: r.tour_id,
            day: r.day,
            kind: r.kind,
            title: r.title,
            starts_at_local: r.starts_local,
            ends_at_local: r.ends_local,
            end_timezone: r.end_timezone.unwrap_or_else(|| r.timezone.clone()),
            timezone: r.timezone,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            precision: r.precision,
            location: r.location,
            notes: r.notes,
            visibility: r.visibility,
            sequence: r.sequence,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Row, DomainError> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, tour_id, day, kind AS "kind: ItineraryKind", title, starts_local, ends_local,
                  timezone, end_timezone, starts_at, ends_at, precision AS "precision: TimePrecision",
                  location, notes, visibility AS "visibility: ItemVisibility", sequence, version,
                  created_at, updated_at
             FROM itinerary_items WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// The zone of the city of the tour's stop on `day` (the first by routing
/// order), if there is one.
pub async fn stop_zone(
    conn: &mut PgConnection,
    tour_id: Uuid,
    day: NaiveDate,
) -> Result<Option<String>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT c.timezone FROM tour_stops s JOIN cities c ON c.id = s.city_id
          WHERE s.tour_id = $1 AND s.stop_date = $2 ORDER BY s.position LIMIT 1",
        tour_id,
        day
    )
    .fetch_optional(conn)
    .await?)
}

/// Checks a draft completely: its text fields, its day, its zone (defaulted
/// from the day's stop when missing) and its times.
async fn checked(
    conn: &mut PgConnection,
    tour_id: Uuid,
    mut draft: Draft,
) -> Result<(Draft, Times), DomainError> {
    let mut check = Check::new();
    draft.title = check.text("title", &draft.title, 1, 200);
    draft.location = check.opt_text("location", draft.location.as_deref(), 500);
    draft.notes = check.opt_text("notes", draft.notes.as_deref(), 10_000);
    draft.timezone = check.opt_text("timezone", draft.timezone.as_deref(), 64);
    draft.end_timezone = check.opt_text("end_timezone", draft.end_timezone.as_deref(), 64);
    check.finish()?;
    let day = draft_day(&draft)?;
    if draft.timezone.is_none() {
        draft.timezone = stop_zone(conn, tour_id, day).await?;
    }
    let times = times(&draft, day)?;
    Ok((draft, times))
}

/// Adds an item to a tour (the artist side).
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    tour_id: Uuid,
    input: ItineraryItemIn,
) -> Result<ItineraryItem, DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id)
        .await?
        .require_artist_side()?;
    let draft = Draft {
        kind: input.kind,
        title: input.title,
        starts_at_local: input.starts_at_local,
        ends_at_local: input.ends_at_local,
        timezone: input.timezone,
        end_timezone: input.end_timezone,
        precision: input.precision.unwrap_or(TimePrecision::Exact),
        day: input.day,
        location: input.location,
        notes: input.notes,
        visibility: input.visibility.unwrap_or(ItemVisibility::ArtistSide),
    };
    let (draft, t) = checked(&mut *conn, tour_id, draft).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO itinerary_items (id, tour_id, day, kind, title, starts_local, ends_local, timezone,
                                      end_timezone, starts_at, ends_at, precision, location, notes,
                                      visibility, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        id,
        tour_id,
        t.day,
        draft.kind.as_str(),
        draft.title,
        t.starts_local,
        t.ends_local,
        draft.timezone,
        draft.end_timezone,
        t.starts_at,
        t.ends_at,
        draft.precision.as_str(),
        draft.location,
        draft.notes,
        visibility_str(draft.visibility),
        actor,
    )
    .execute(&mut *conn)
    .await?;
    load(conn, id).await.map(ItineraryItem::from)
}

fn visibility_str(v: ItemVisibility) -> &'static str {
    match v {
        ItemVisibility::ArtistSide => "artist_side",
        ItemVisibility::Shared => "shared",
    }
}

/// The list key: show day, UTC start (items without one last), id.
pub type ItemKey = (NaiveDate, Option<DateTime<Utc>>, Uuid);

/// The items of a tour the org may see, by day, start and id; `day` keeps
/// one day's.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
    day: Option<NaiveDate>,
    page: &PageRequest<ItemKey>,
) -> Result<Page<ItineraryItem>, DomainError> {
    let tour = access::tour_access(&mut *conn, org_id, tour_id).await?;
    let (after_day, after_start, after_id) = match page.after {
        Some((d, s, id)) => (Some(d), s, Some(id)),
        None => (None, None, None),
    };
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, tour_id, day, kind AS "kind: ItineraryKind", title, starts_local, ends_local,
                  timezone, end_timezone, starts_at, ends_at, precision AS "precision: TimePrecision",
                  location, notes, visibility AS "visibility: ItemVisibility", sequence, version,
                  created_at, updated_at
             FROM itinerary_items
            WHERE tour_id = $1
              AND ($2 OR (visibility = 'shared' AND day = ANY($3)))
              AND ($4::date IS NULL OR day = $4)
              AND ($5::date IS NULL OR (day, coalesce(starts_at, 'infinity'), id)
                                       > ($5, coalesce($6, 'infinity'::timestamptz), $7))
            ORDER BY day, starts_at NULLS LAST, id
            LIMIT $8"#,
        tour_id,
        tour.role == TourRole::ArtistSide,
        &tour.promoter_days,
        day,
        after_day,
        after_start,
        after_id,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    let items = rows.into_iter().map(ItineraryItem::from).collect();
    Ok(Page::from_rows(items, page.limit, |i: &ItineraryItem| {
        (i.day, i.starts_at, i.id)
    }))
}

/// The items of one day the org may see, ordered by UTC start (times to be
/// decided last), for a day sheet.
pub async fn of_day(
    conn: &mut PgConnection,
    tour: &TourAccess,
    day: NaiveDate,
) -> Result<Vec<ItineraryItem>, DomainError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, tour_id, day, kind AS "kind: ItineraryKind", title, starts_local, ends_local,
                  timezone, end_timezone, starts_at, ends_at, precision AS "precision: TimePrecision",
                  location, notes, visibility AS "visibility: ItemVisibility", sequence, version,
                  created_at, updated_at
             FROM itinerary_items
            WHERE tour_id = $1 AND day = $2 AND ($3 OR visibility = 'shared')
            ORDER BY starts_at NULLS LAST, id"#,
        tour.tour_id,
        day,
        tour.role == TourRole::ArtistSide,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(ItineraryItem::from)
        .filter(|i| tour.sees_item(i.day, i.visibility == ItemVisibility::Shared))
        .collect())
}

/// Every item of a tour the org may see, for its calendar feed.
pub async fn visible(
    conn: &mut PgConnection,
    tour: &TourAccess,
) -> Result<Vec<ItineraryItem>, DomainError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, tour_id, day, kind AS "kind: ItineraryKind", title, starts_local, ends_local,
                  timezone, end_timezone, starts_at, ends_at, precision AS "precision: TimePrecision",
                  location, notes, visibility AS "visibility: ItemVisibility", sequence, version,
                  created_at, updated_at
             FROM itinerary_items
            WHERE tour_id = $1 AND ($2 OR (visibility = 'shared' AND day = ANY($3)))
            ORDER BY day, starts_at NULLS LAST, id"#,
        tour.tour_id,
        tour.role == TourRole::ArtistSide,
        &tour.promoter_days,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(ItineraryItem::from).collect())
}

/// An item the org may change: 404 when it may not see it, 403 when it
/// sees it as a promoter.
async fn writable(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Row, DomainError> {
    let row = load(&mut *conn, id).await?;
    let tour = access::tour_access(&mut *conn, org_id, row.tour_id).await?;
    if !tour.sees_item(row.day, row.visibility == ItemVisibility::Shared) {
        return Err(DomainError::NotFound);
    }
    tour.require_artist_side()?;
    Ok(row)
}

/// Changes an item; every change raises its `version` and its calendar
/// `sequence`.
pub async fn patch(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    input: ItineraryItemPatch,
    if_match: Option<i32>,
) -> Result<ItineraryItem, DomainError> {
    let current = writable(&mut *conn, org_id, id).await?;
    precondition(if_match, current.version)?;
    let fmt = |t: Option<NaiveDateTime>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
    let starts_at_local = input
        .starts_at_local
        .unwrap_or_else(|| fmt(current.starts_local));
    let draft = Draft {
        kind: input.kind.unwrap_or(current.kind),
        title: input.title.unwrap_or(current.title),
        ends_at_local: input
            .ends_at_local
            .unwrap_or_else(|| fmt(current.ends_local)),
        timezone: input.timezone.or(Some(current.timezone)),
        end_timezone: input.end_timezone.unwrap_or(current.end_timezone),
        precision: input.precision.unwrap_or(current.precision),
        // An item with a start takes its day from it; one without keeps
        // its day unless the patch names another.
        day: input
            .day
            .or(starts_at_local.is_none().then_some(current.day)),
        starts_at_local,
        location: input.location.unwrap_or(current.location),
        notes: input.notes.unwrap_or(current.notes),
        visibility: input.visibility.unwrap_or(current.visibility),
    };
    let (draft, t) = checked(&mut *conn, current.tour_id, draft).await?;
    let rows = sqlx::query!(
        "UPDATE itinerary_items
            SET day = $2, kind = $3, title = $4, starts_local = $5, ends_local = $6, timezone = $7,
                end_timezone = $8, starts_at = $9, ends_at = $10, precision = $11, location = $12,
                notes = $13, visibility = $14, sequence = sequence + 1, version = version + 1,
                updated_at = now()
          WHERE id = $1 AND version = $15",
        id,
        t.day,
        draft.kind.as_str(),
        draft.title,
        t.starts_local,
        t.ends_local,
        draft.timezone,
        draft.end_timezone,
        t.starts_at,
        t.ends_at,
        draft.precision.as_str(),
        draft.location,
        draft.notes,
        visibility_str(draft.visibility),
        if_match.unwrap_or(current.version),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    load(conn, id).await.map(ItineraryItem::from)
}

/// Removes an item (the artist side).
pub async fn delete(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    if_match: Option<i32>,
) -> Result<(), DomainError> {
    let current = writable(&mut *conn, org_id, id).await?;
    precondition(if_match, current.version)?;
    let rows = sqlx::query!(
        "DELETE FROM itinerary_items WHERE id = $1 AND version = $2",
        id,
        if_match.unwrap_or(current.version),
    )
    .execute(conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        parse_local("t", s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn draft() -> Draft {
        Draft {
            kind: ItineraryKind::Set,
            title: "Headline set".into(),
            starts_at_local: Some("2026-10-24T20:00".into()),
            ends_at_local: Some("2026-10-24T21:30".into()),
            timezone: Some("Europe/Berlin".into()),
            end_timezone: None,
            precision: TimePrecision::Exact,
            day: None,
            location: None,
            notes: None,
            visibility: ItemVisibility::Shared,
        }
    }

    fn fields(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn items_before_six_belong_to_the_previous_day() {
        assert_eq!(show_day(local("2026-10-25T01:30")), date("2026-10-24"));
        assert_eq!(show_day(local("2026-10-25T05:59:59")), date("2026-10-24"));
        assert_eq!(show_day(local("2026-10-25T06:00")), date("2026-10-25"));
        assert_eq!(show_day(local("2026-10-24T23:59")), date("2026-10-24"));
        assert_eq!(show_day(local("2026-01-01T00:00")), date("2025-12-31"));
    }

    #[test]
    fn local_times_take_minutes_or_seconds_and_nothing_else() {
        assert_eq!(local("2026-10-24T20:00"), local("2026-10-24T20:00:00"));
        for bad in [
            "2026-10-24 20:00",
            "2026-10-24T20:00Z",
            "2026-10-24T20:00+02:00",
            "20:00",
            "2026-02-30T10:00",
        ] {
            assert!(parse_local("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_follows_the_zone_across_a_dst_change() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let summer = to_utc("f", local("2026-10-24T20:00"), berlin).unwrap();
        assert_eq!(summer.to_rfc3339(), "2026-10-24T18:00:00+00:00");
        let winter = to_utc("f", local("2026-10-25T20:00"), berlin).unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-10-25T19:00:00+00:00");
    }

    #[test]
    fn a_skipped_time_is_refused_and_a_repeated_one_is_the_earlier() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let gap = to_utc("starts_at_local", local("2026-03-29T02:30"), berlin).unwrap_err();
        assert_eq!(fields(gap), vec!["starts_at_local"]);
        let fold = to_utc("f", local("2026-10-25T02:30"), berlin).unwrap();
        assert_eq!(fold.to_rfc3339(), "2026-10-25T00:30:00+00:00");
    }

    #[test]
    fn zones_are_iana_names() {
        assert!(parse_zone("timezone", "Europe/Berlin").is_ok());
        assert!(parse_zone("timezone", "Mars/Olympus").is_err());
        assert!(parse_zone("timezone", "+02:00").is_err());
    }

    #[test]
    fn a_draft_checks_every_time_rule() {
        let d = draft();
        let day = draft_day(&d).unwrap();
        let t = times(&d, day).unwrap();
        assert_eq!(t.day, date("2026-10-24"));
        assert_eq!(
            t.ends_at.unwrap() - t.starts_at.unwrap(),
            Duration::minutes(90)
        );

        let backwards = Draft {
            ends_at_local: Some("2026-10-24T19:00".into()),
            ..draft()
        };
        assert_eq!(
            fields(times(&backwards, day).unwrap_err()),
            vec!["ends_at_local"]
        );

        // A flight leaving Berlin 22:00 and landing in London 22:45 lasts 1h45.
        let flight = Draft {
            kind: ItineraryKind::Travel,
            starts_at_local: Some("2026-10-24T22:00".into()),
            ends_at_local: Some("2026-10-24T22:45".into()),
            end_timezone: Some("Europe/London".into()),
            ..draft()
        };
        let t = times(&flight, day).unwrap();
        assert_eq!(
            t.ends_at.unwrap() - t.starts_at.unwrap(),
            Duration::minutes(105)
        );

        let no_zone = Draft {
            timezone: None,
            ..draft()
        };
        assert_eq!(fields(times(&no_zone, day).unwrap_err()), vec!["timezone"]);
        let bad = Draft {
            timezone: Some("Nowhere/Town".into()),
            end_timezone: Some("Else/Where".into()),
            ..draft()
        };
        assert_eq!(
            fields(times(&bad, day).unwrap_err()),
            vec!["timezone", "end_timezone"]
        );
    }

    #[test]
    fn tbd_items_may_leave_out_times_but_then_name_their_day() {
        let tbd = Draft {
            precision: TimePrecision::Tbd,
            starts_at_local: None,
            ends_at_local: None,
            day: Some(date("2026-10-24")),
            ..draft()
        };
        assert_eq!(draft_day(&tbd).unwrap(), date("2026-10-24"));
        let t = times(&tbd, date("2026-10-24")).unwrap();
        assert!(t.starts_at.is_none() && t.ends_at.is_none());
        let dayless = Draft {
            day: None,
            ..tbd.clone()
        };
        assert_eq!(fields(draft_day(&dayless).unwrap_err()), vec!["day"]);
        let exact = Draft {
            precision: TimePrecision::Exact,
            ..tbd
        };
        assert_eq!(
            fields(draft_day(&exact).unwrap_err()),
            vec!["starts_at_local"]
        );
        let disagreeing = Draft {
            starts_at_local: Some("2026-10-25T01:30".into()),
            ends_at_local: None,
            day: Some(date("2026-10-25")),
            ..draft()
        };
        assert_eq!(fields(draft_day(&disagreeing).unwrap_err()), vec!["day"]);
    }
}
