//! Availability (SPEC 5.3): windows of dates an artist's booking agency
//! publishes, avails search across artists, and the artist calendar.
//!
//! Rules: only the booking agency writes availabilities; everyone sees the
//! published ones. Avails search returns published, not blocked windows
//! overlapping the range, with the dates still open: minus dates already
//! booked or under a first hold. The calendar merges availabilities, holds
//! and bookings; the parties see details, others see busy dates only.

use std::collections::HashMap;

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access::{AgencyOf, booking_agency};
use crate::domain::claims::territory::{self, Territory, TerritoryIn};
use crate::domain::directory::artists;
use crate::pagination::{Page, PageRequest};
use crate::serde_util::double_option;
use crate::unnamed::Unnamed;
use crate::validate::Check;

/// Longest range a search or calendar covers.
pub const MAX_RANGE_DAYS: i64 = 366;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AvailabilityStatus {
    Available,
    Tentative,
    Blocked,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Availability {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub company_id: Uuid,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub status: AvailabilityStatus,
    pub territory: Territory,
    /// Minor units of `currency`.
    pub min_fee: Option<i64>,
    pub currency: Option<String>,
    pub published: bool,
    pub notes: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityIn {
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub status: AvailabilityStatus,
    pub territory: TerritoryIn,
    #[serde(default)]
    pub min_fee: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub published: bool,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityPatch {
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub status: Option<AvailabilityStatus>,
    pub territory: Option<TerritoryIn>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub min_fee: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub currency: Option<Option<String>>,
    pub published: Option<bool>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

/// An avails search hit: a window and its dates still open in the range.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Avail {
    pub availability: Availability,
    pub artist_name: String,
    pub open_dates: Vec<NaiveDate>,
}

#[derive(Debug, Default)]
pub struct AvailsQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub country: Option<String>,
    pub market_id: Option<Uuid>,
    pub genre: Option<String>,
    pub max_fee: Option<i64>,
    pub currency: Option<String>,
    pub q: Option<String>,
}

/// One entry of an artist's calendar.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarEntry {
    /// `availability`, `hold`, `booking`, or `busy` for another party's hold
    /// or booking.
    pub kind: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub id: Option<Uuid>,
    pub status: Option<String>,
    pub priority: Option<i32>,
}

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), DomainError> {
    if to < from {
        return Err(DomainError::invalid("to", "must not be before from"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(DomainError::invalid(
            "to",
            format!("the range is at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok(())
}

struct Checked {
    notes: Option<String>,
    currency: Option<String>,
}

fn check(
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    min_fee: Option<i64>,
    currency: Option<&str>,
    notes: Option<&str>,
) -> Result<Checked, DomainError> {
    let mut check = Check::new();
    if ends_on < starts_on {
        check.add("ends_on", "must not be before starts_on");
    } else if ends_on - starts_on > Duration::days(MAX_RANGE_DAYS) {
        check.add(
            "ends_on",
            format!("a window spans at most {MAX_RANGE_DAYS} days"),
        );
    }
    if ends_on < Utc::now().date_naive() {
        check.add("ends_on", "must not be in the past");
    }
    if min_fee.is_some_and(|f| f < 0) {
        check.add("min_fee", "must not be negative");
    }
    let currency = check.currency("currency", currency);
    if min_fee.is_some() && currency.is_none() {
        check.add("currency", "is required with a minimum fee");
    }
    let notes = check.opt_text("notes", notes, 2000);
    check.finish()?;
    Ok(Checked { notes, currency })
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Availability, DomainError> {
    load_many(conn, &[id])
        .await?
        .remove(&id)
        .ok_or(DomainError::NotFound)
}

async fn load_many(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Availability>, DomainError> {
    let rows = sqlx::query!(
        r#"SELECT id, artist_id, company_id, starts_on, ends_on, status AS "status: AvailabilityStatus", worldwide, areas,
                  market_ids, min_fee, currency::text AS currency, published, notes, version, created_at, updated_at
             FROM availabilities WHERE id = ANY ($1)"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let availability = Availability {
                id: r.id,
                artist_id: r.artist_id,
                company_id: r.company_id,
                starts_on: r.starts_on,
                ends_on: r.ends_on,
                status: r.status,
                territory: Territory {
                    worldwide: r.worldwide,
                    areas: r.areas,
                    market_ids: r.market_ids,
                },
                min_fee: r.min_fee,
                currency: r.currency,
                published: r.published,
                notes: r.notes,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            };
            (r.id, availability)
        })
        .collect())
}

async fn require_agency(
    conn: &mut PgConnection,
    artist_id: Uuid,
    org_id: Uuid,
) -> Result<Uuid, DomainError> {
    booking_agency(conn, artist_id, AgencyOf::Org(org_id), None)
        .await?
        .ok_or(DomainError::Forbidden(
            "only the artist's booking agency writes availability",
        ))
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    artist_id: Uuid,
    input: AvailabilityIn,
) -> Result<Availability, DomainError> {
    let c = check(
        input.starts_on,
        input.ends_on,
        input.min_fee,
        input.currency.as_deref(),
        input.notes.as_deref(),
    )?;
    artists::get(&mut *conn, artist_id).await?;
    let company = require_agency(&mut *conn, artist_id, org_id).await?;
    let territory = territory::resolve(&mut *conn, "territory", &input.territory).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO availabilities (id, artist_id, company_id, starts_on, ends_on, status, worldwide, areas, market_ids,
                                     min_fee, currency, published, notes, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        id,
        artist_id,
        company,
        input.starts_on,
        input.ends_on,
        input.status as AvailabilityStatus,
        territory.worldwide,
        &territory.areas,
        &territory.market_ids,
        input.min_fee,
        c.currency,
        input.published,
        c.notes,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, artist_id).await?;
    load(conn, id).await
}

/// An artist's availabilities in a range: all for its agency, published
/// ones for everyone else.
pub async fn of_artist(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Availability>, DomainError> {
    check_range(from, to)?;
    artists::get(&mut *conn, artist_id).await?;
    let agency = booking_agency(&mut *conn, artist_id, AgencyOf::Org(org_id), None)
        .await?
        .is_some();
    let ids = sqlx::query_scalar!(
        "SELECT id FROM availabilities
          WHERE artist_id = $1 AND starts_on <= $3 AND ends_on >= $2 AND (published OR $4)
          ORDER BY starts_on, id LIMIT 1000",
        artist_id,
        from,
        to,
        agency,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut windows = load_many(&mut *conn, &ids).await?;
    Ok(ids.iter().filter_map(|id| windows.remove(id)).collect())
}

pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    patch: AvailabilityPatch,
    expected_version: Option<i32>,
) -> Result<Availability, DomainError> {
    let current = load(&mut *conn, id).await?;
    if booking_agency(&mut *conn, current.artist_id, AgencyOf::Org(org_id), None)
        .await?
        .is_none()
    {
        return Err(if current.published {
            DomainError::Forbidden("only the artist's booking agency writes availability")
        } else {
            DomainError::NotFound
        });
    }
    sqlx::query_scalar!("SELECT id FROM availabilities WHERE id = $1 FOR UPDATE", id)
        .fetch_one(&mut *conn)
        .await?;
    let current = load(&mut *conn, id).await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::StaleVersion);
    }
    let starts_on = patch.starts_on.unwrap_or(current.starts_on);
    let ends_on = patch.ends_on.unwrap_or(current.ends_on);
    let min_fee = patch.min_fee.unwrap_or(current.min_fee);
    let currency = patch.currency.unwrap_or(current.currency);
    let notes = patch.notes.unwrap_or(current.notes);
    let c = check(
        starts_on,
        ends_on,
        min_fee,
        currency.as_deref(),
        notes.as_deref(),
    )?;
    let territory = match &patch.territory {
        Some(t) => territory::resolve(&mut *conn, "territory", t).await?,
        None => current.territory,
    };
    sqlx::query!(
        "UPDATE availabilities SET starts_on = $2, ends_on = $3, status = $4, worldwide = $5, areas = $6, market_ids = $7,
                min_fee = $8, currency = $9, published = $10, notes = $11, version = version + 1, updated_at = now()
          WHERE id = $1",
        id,
        starts_on,
        ends_on,
        patch.status.unwrap_or(current.status) as AvailabilityStatus,
        territory.worldwide,
        &territory.areas,
        &territory.market_ids,
        min_fee,
        c.currency,
        patch.published.unwrap_or(current.published),
        c.notes,
    )
    .execute(&mut *conn)
    .await?;
    crate::domain::changes::mark_artist(&mut *conn, current.artist_id).await?;
    load(conn, id).await
}

pub async fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), DomainError> {
    let current = load(&mut *conn, id).await?;
    if booking_agency(&mut *conn, current.artist_id, AgencyOf::Org(org_id), None)
        .await?
        .is_none()
    {
        return Err(if current.published {
            DomainError::Forbidden("only the artist's booking agency writes availability")
        } else {
            DomainError::NotFound
        });
    }
    sqlx::query!("DELETE FROM availabilities WHERE id = $1", id)
        .execute(&mut *conn)
        .await?;
    crate::domain::changes::mark_artist(&mut *conn, current.artist_id).await?;
    Ok(())
}

/// Avails search; keyset-paginated on (first open day in range, id).
pub async fn search(
    conn: &mut PgConnection,
    query: &AvailsQuery,
    page: &PageRequest<(NaiveDate, Uuid)>,
) -> Result<Page<Avail>, DomainError> {
    let today = Utc::now().date_naive();
    let from = query.from.unwrap_or(today).max(today);
    let to = query.to.unwrap_or_else(|| {
        from.checked_add_days(Days::new(30))
            .unwrap_or(NaiveDate::MAX)
    });
    check_range(from, to)?;
    let mut check = Check::new();
    if query.max_fee.is_some_and(|f| f < 0) {
        check.add("max_fee", "must not be negative");
    }
    let currency = check.currency("currency", query.currency.as_deref());
    let country = check.country("country", query.country.as_deref());
    check.finish()?;
    crate::reference::Refs::new()
        .currency("currency", currency.as_deref())
        .country("country", country.as_deref())
        .market("market_id", query.market_id)
        .check(&mut *conn)
        .await?;
    let market_areas = match query.market_id {
        Some(m) => Some(
            territory::resolve(
                &mut *conn,
                "market_id",
                &TerritoryIn {
                    worldwide: false,
                    countries: Vec::new(),
                    market_ids: vec![m],
                },
            )
            .await?
            .areas,
        ),
        None => None,
    };
    let genres: Option<Vec<Uuid>> = match query.genre.as_deref() {
        Some(g) => {
            let root =
                [crate::domain::directory::geo::resolve_genre(&mut *conn, "genre", g).await?];
            Some(
                sqlx::query_scalar!(
                    "SELECT id FROM genres WHERE id = ANY($1) OR parent_id = ANY($1)",
                    &root[..]
                )
                .fetch_all(&mut *conn)
                .await?,
            )
        }
        None => None,
    };
    // The places that drive the search (by the place index), and a second
    // set every hit must also overlap when both a country and a market are
    // given.
    let country = country.map(|c| vec![c]);
    let (places, also_places) = match (country, market_areas) {
        (Some(c), m) => (Some(c), m),
        (None, m) => (m, None),
    };
    let (after_day, after_id) = page.after.unzip();
    // Each step is materialized so Postgres cannot reorder it into a plan
    // that scans the big tables: windows come from the place index (or the
    // range index when no place is given), artists are looked up per
    // window, and blocked days are collected once for the artists found.
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query!(
        r#"WITH found AS MATERIALIZED (
               SELECT DISTINCT p.availability_id AS id, p.artist_id,
                      greatest(lower(p.days), $1) AS first_day, least(upper(p.days) - 1, $2) AS last_day
                 FROM unnest(kisum_area_query($3)) k
                 JOIN availability_places p ON p.place = k
                WHERE $3::text[] IS NOT NULL AND p.days && daterange($1, $2, '[]')
                  AND ($5::bigint IS NULL OR p.min_fee IS NULL OR (p.min_fee <= $5 AND ($6::text IS NULL OR p.currency = $6)))
                  AND ($4::text[] IS NULL OR EXISTS (SELECT 1 FROM availability_places p2
                                                      WHERE p2.availability_id = p.availability_id
                                                        AND p2.place = ANY (kisum_area_query($4))))
               UNION ALL
               SELECT av.id, av.artist_id, greatest(av.starts_on, $1), least(av.ends_on, $2)
                 FROM availabilities av
                WHERE $3::text[] IS NULL AND av.published AND av.status <> 'blocked'
                  AND daterange(av.starts_on, av.ends_on, '[]') && daterange($1, $2, '[]')
                  AND ($5::bigint IS NULL OR av.min_fee IS NULL OR (av.min_fee <= $5 AND ($6::text IS NULL OR av.currency = $6)))
           ),
           windows AS MATERIALIZED (
               SELECT f.id, f.artist_id, f.first_day, f.last_day, a.name
                 FROM found f
                 -- LIMIT keeps this a per-window primary-key lookup.
                 CROSS JOIN LATERAL (SELECT a.name FROM artists a
                                      WHERE a.id = f.artist_id AND a.archived_at IS NULL
                                        AND ($8::text IS NULL OR a.search_name % kisum_fold($8) OR kisum_fold($8) <% a.search_name)
                                      LIMIT 1) a
                WHERE $7::uuid[] IS NULL OR f.artist_id IN (SELECT ag.artist_id FROM artist_genres ag WHERE ag.genre_id = ANY ($7))
           ),
           blocked AS MATERIALIZED (
               SELECT b.artist_id, b.event_date AS day FROM bookings b
                WHERE b.status = 'confirmed' AND b.event_date BETWEEN $1 AND $2
                  AND b.artist_id IN (SELECT artist_id FROM windows)
               UNION
               SELECT h.artist_id, h.hold_date FROM holds h
                WHERE h.priority = 1 AND h.status IN ('active', 'challenged') AND h.hold_date BETWEEN $1 AND $2
                  AND h.artist_id IN (SELECT artist_id FROM windows)
           )
           SELECT w.id AS "id!", min(w.name) AS "artist_name!", array_agg(d::date ORDER BY d) AS "open_dates!: Vec<NaiveDate>"
             FROM windows w
             CROSS JOIN LATERAL generate_series(w.first_day, w.last_day, interval '1 day') d
            WHERE NOT EXISTS (SELECT 1 FROM blocked x WHERE x.artist_id = w.artist_id AND x.day = d::date)
            GROUP BY w.id
           HAVING $9::date IS NULL OR (min(d)::date, w.id) > ($9, $10::uuid)
            ORDER BY min(d), w.id
            LIMIT $11"#,
        from,
        to,
        places.as_deref(),
        also_places.as_deref(),
        query.max_fee,
        currency,
        genres.as_deref(),
        query.q.as_deref().filter(|q| !q.trim().is_empty()),
        after_day,
        after_id,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(&mut *conn))
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut windows = load_many(&mut *conn, &ids).await?;
    let mut avails = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(availability) = windows.remove(&row.id) else {
            continue;
        };
        avails.push(Avail {
            availability,
            artist_name: row.artist_name,
            open_dates: row.open_dates,
        });
    }
    Ok(Page::from_rows(avails, page.limit, |a| {
        (
            a.open_dates.first().copied().unwrap_or(from),
            a.availability.id,
        )
    }))
}

/// The artist's calendar in a range.
pub async fn calendar(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<CalendarEntry>, DomainError> {
    let mut entries: Vec<CalendarEntry> = of_artist(&mut *conn, org_id, artist_id, from, to)
        .await?
        .into_iter()
        .map(|a| CalendarEntry {
            kind: "availability".into(),
            starts_on: a.starts_on,
            ends_on: a.ends_on,
            id: Some(a.id),
            status: Some(format!("{:?}", a.status).to_lowercase()),
            priority: None,
        })
        .collect();
    let rows = sqlx::query!(
        r#"SELECT 'hold' AS "kind!", h.id, h.hold_date AS "day!", h.status, h.priority AS "priority?",
                  EXISTS (SELECT 1 FROM org_companies oc WHERE oc.org_id = $4
                           AND oc.company_id IN (h.agency_company_id, h.promoter_company_id)) AS "party!"
             FROM holds h
            WHERE h.artist_id = $1 AND h.hold_date BETWEEN $2 AND $3 AND h.status IN ('active', 'challenged')
           UNION ALL
           SELECT 'booking', b.id, b.event_date, b.status, NULL,
                  EXISTS (SELECT 1 FROM org_companies oc WHERE oc.org_id = $4
                           AND oc.company_id IN (b.agency_company_id, b.promoter_company_id))
             FROM bookings b
            WHERE b.artist_id = $1 AND b.event_date BETWEEN $2 AND $3 AND b.status = 'confirmed'"#,
        artist_id,
        from,
        to,
        org_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        entries.push(if r.party {
            CalendarEntry {
                kind: r.kind,
                starts_on: r.day,
                ends_on: r.day,
                id: r.id,
                status: r.status,
                priority: r.priority,
            }
        } else {
            CalendarEntry {
                kind: "busy".into(),
                starts_on: r.day,
                ends_on: r.day,
                id: None,
                status: None,
                priority: None,
            }
        });
    }
    entries.sort_by(|a, b| (a.starts_on, &a.kind).cmp(&(b.starts_on, &b.kind)));
    Ok(entries)
}
