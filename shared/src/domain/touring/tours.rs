//! Tours: one artist's run of stops, kept by an artist-side company (the
//! agency or management planning it). The org owning that company changes
//! it; promoters of its shows see the tour and their days' shared itinerary.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access::{self, TourAccess, TourRole};
use crate::domain::{guarded, precondition};
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

/// How the party travels between stops; it sets the average speed of legs.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TravelMode {
    #[default]
    Bus,
    Van,
    Car,
}

/// How the caller stands to a tour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TourViewer {
    /// The org keeping the tour: sees and changes everything.
    ArtistSide,
    /// A promoter of one of its shows: sees the tour and the shared
    /// itinerary of its show days.
    Promoter,
}

impl From<TourRole> for TourViewer {
    fn from(role: TourRole) -> Self {
        match role {
            TourRole::ArtistSide => Self::ArtistSide,
            TourRole::Promoter => Self::Promoter,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Tour {
    pub id: Uuid,
    pub artist_id: Uuid,
    /// The artist-side company keeping the tour.
    pub company_id: Uuid,
    pub name: String,
    pub travel_mode: TravelMode,
    /// Internal notes; only the artist side sees them.
    pub notes: Option<String>,
    /// The tour's extent; only the artist side sees it.
    pub stop_count: Option<i64>,
    pub first_date: Option<NaiveDate>,
    pub last_date: Option<NaiveDate>,
    pub viewer: TourViewer,
    /// Rises with every change of the tour or its stops.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TourIn {
    pub artist_id: Uuid,
    /// A company of the caller's org that represents the artist (or created it).
    pub company_id: Uuid,
    pub name: String,
    #[serde(default)]
    pub travel_mode: Option<TravelMode>,
    #[serde(default)]
    pub notes: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TourPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub travel_mode: Option<TravelMode>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

pub const NAME_MAX: usize = 200;
pub const NOTES_MAX: usize = 10_000;

struct Row {
    id: Uuid,
    artist_id: Uuid,
    company_id: Uuid,
    name: String,
    travel_mode: TravelMode,
    notes: Option<String>,
    stop_count: i64,
    first_date: Option<NaiveDate>,
    last_date: Option<NaiveDate>,
    artist_side: bool,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Tour {
    fn from(row: Row) -> Self {
        let viewer = if row.artist_side {
            TourViewer::ArtistSide
        } else {
            TourViewer::Promoter
        };
        let artist_side = viewer == TourViewer::ArtistSide;
        Tour {
            id: row.id,
            artist_id: row.artist_id,
            company_id: row.company_id,
            name: row.name,
            travel_mode: row.travel_mode,
            notes: row.notes.filter(|_| artist_side),
            stop_count: Some(row.stop_count).filter(|_| artist_side),
            first_date: row.first_date.filter(|_| artist_side),
            last_date: row.last_date.filter(|_| artist_side),
            viewer,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// The tours an org reaches ([`access::tours_reached`]), by id.
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Option<Uuid>,
    page: &PageRequest<Uuid>,
) -> Result<Page<Tour>, DomainError> {
    let reached = access::tours_reached(
        &mut *conn,
        org_id,
        artist_id,
        page.after,
        page.fetch_limit(),
    )
    .await?;
    let ids: Vec<Uuid> = reached.iter().map(|a| a.tour_id).collect();
    let artist_side: Vec<bool> = reached
        .iter()
        .map(|a| a.role == TourRole::ArtistSide)
        .collect();
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT t.id, t.artist_id, t.company_id, t.name, t.travel_mode AS "travel_mode: TravelMode", t.notes,
                  (SELECT count(*) FROM tour_stops s WHERE s.tour_id = t.id) AS "stop_count!",
                  (SELECT min(s.stop_date) FROM tour_stops s WHERE s.tour_id = t.id) AS first_date,
                  (SELECT max(s.stop_date) FROM tour_stops s WHERE s.tour_id = t.id) AS last_date,
                  r.artist_side AS "artist_side!",
                  t.version, t.created_at, t.updated_at
             FROM unnest($1::uuid[], $2::bool[]) AS r (id, artist_side)
             JOIN tours t ON t.id = r.id
            ORDER BY t.id"#,
        &ids,
        &artist_side,
    )
    .fetch_all(conn)
    .await?;
    let items = rows.into_iter().map(Tour::from).collect();
    Ok(Page::from_rows(items, page.limit, |t| t.id))
}

async fn load(conn: &mut PgConnection, access: &TourAccess) -> Result<Tour, DomainError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT t.id, t.artist_id, t.company_id, t.name, t.travel_mode AS "travel_mode: TravelMode", t.notes,
                  (SELECT count(*) FROM tour_stops s WHERE s.tour_id = t.id) AS "stop_count!",
                  (SELECT min(s.stop_date) FROM tour_stops s WHERE s.tour_id = t.id) AS first_date,
                  (SELECT max(s.stop_date) FROM tour_stops s WHERE s.tour_id = t.id) AS last_date,
                  $2::bool AS "artist_side!",
                  t.version, t.created_at, t.updated_at
             FROM tours t WHERE t.id = $1"#,
        access.tour_id,
        access.role == TourRole::ArtistSide,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(row.into())
}

/// A tour the org reaches (404 otherwise).
pub async fn get_for(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Tour, DomainError> {
    let access = access::tour_access(&mut *conn, org_id, id).await?;
    load(conn, &access).await
}

/// Starts a tour for an artist the caller's company represents.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: TourIn,
) -> Result<Tour, DomainError> {
    let mut check = Check::new();
    let name = check.text("name", &input.name, 1, NAME_MAX);
    let notes = check.opt_text("notes", input.notes.as_deref(), NOTES_MAX);
    check.finish()?;
    let known = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM artists WHERE id = $1 AND archived_at IS NULL) AS "artist!",
                  EXISTS (SELECT 1 FROM org_companies WHERE company_id = $2 AND org_id = $3) AS "owned!",
                  EXISTS (SELECT 1 FROM roster_links WHERE company_id = $2 AND artist_id = $1
                          UNION ALL SELECT 1 FROM artists WHERE id = $1 AND created_by_company_id = $2) AS "represents!""#,
        input.artist_id,
        input.company_id,
        org_id,
    )
    .fetch_one(&mut *conn)
    .await?;
    if !known.artist {
        return Err(DomainError::invalid("artist_id", "is not a known artist"));
    }
    if !known.owned {
        return Err(DomainError::invalid(
            "company_id",
            "is not a company of yours",
        ));
    }
    if !known.represents {
        return Err(DomainError::invalid(
            "company_id",
            "does not represent this artist",
        ));
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO tours (id, artist_id, company_id, name, travel_mode, notes, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        input.artist_id,
        input.company_id,
        name,
        input.travel_mode.unwrap_or_default() as TravelMode,
        notes,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    get_for(conn, org_id, id).await
}

/// Renames a tour, changes its travel mode or notes (the artist side).
pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    input: TourPatch,
    if_match: Option<i32>,
) -> Result<Tour, DomainError> {
    let access = lock_for_change(&mut *conn, org_id, id).await?;
    let current = load(&mut *conn, &access).await?;
    precondition(if_match, current.version)?;
    let mut check = Check::new();
    let name = input
        .name
        .as_deref()
        .map(|n| check.text("name", n, 1, NAME_MAX));
    let notes = input
        .notes
        .map(|n| check.opt_text("notes", n.as_deref(), NOTES_MAX));
    check.finish()?;
    let rows = sqlx::query!(
        "UPDATE tours SET name = COALESCE($2, name), travel_mode = COALESCE($3, travel_mode),
                          notes = CASE WHEN $4 THEN $5 ELSE notes END,
                          version = version + 1, updated_at = now()
          WHERE id = $1 AND version = $6",
        id,
        name,
        input.travel_mode as Option<TravelMode>,
        notes.is_some(),
        notes.flatten(),
        current.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    load(conn, &access).await
}

/// The tour's access for a change by the artist side, with the tour row
/// locked so stop positions and the version change one writer at a time.
pub async fn lock_for_change(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<TourAccess, DomainError> {
    let access = access::tour_access(&mut *conn, org_id, id).await?;
    access.require_artist_side()?;
    sqlx::query!("SELECT id FROM tours WHERE id = $1 FOR NO KEY UPDATE", id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(access)
}

/// Marks a change of the tour's stops: the version rises, so a reorder
/// made against an older view is refused.
pub async fn touch(conn: &mut PgConnection, id: Uuid) -> Result<(), DomainError> {
    sqlx::query!(
        "UPDATE tours SET version = version + 1, updated_at = now() WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}
