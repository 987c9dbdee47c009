//! Change marks: what a write records, in its own transaction, so that
//! the worker brings the derived tables up to date (SPEC 5.7, 5.8). A mark
//! is a row in a dirty set (`read_model_dirty`, `trust_dirty`) plus, for
//! the first mark of a burst, one job; `read_models` and
//! `relationships::refresh` drain the sets.
//!
//! Every area's writes call this module, and it calls only the job queue:
//! the areas never depend on the projections that read them.

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;
use crate::jobs::{ReadModelRefresh, Schedule, TrustScore, enqueue};

/// The read models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// `artist_search`, keyed by artist.
    ArtistSearch,
    /// `company_dashboards`, keyed by company.
    CompanyDashboard,
}

impl Model {
    pub const ALL: [Self; 2] = [Self::ArtistSearch, Self::CompanyDashboard];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ArtistSearch => "artist_search",
            Self::CompanyDashboard => "company_dashboard",
        }
    }
}

/// How long after the first write of a burst its refresh runs: the writes
/// in between are refreshed with it.
pub const READ_MODEL_DEBOUNCE: chrono::Duration = chrono::Duration::milliseconds(300);

/// Marks `keys` of `model` for refresh, in the caller's transaction. Keys
/// are taken in order, so two writes marking the same keys cannot
/// deadlock; only a key not already waiting enqueues a job.
pub async fn mark(conn: &mut PgConnection, model: Model, keys: &[Uuid]) -> Result<(), DomainError> {
    // `DO UPDATE`, not `DO NOTHING`: an existing mark is locked until this
    // transaction commits, so a drain (which skips locked rows) cannot take
    // it and refresh before this write is visible.
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO read_model_dirty AS d (model, key)
           SELECT $1, k FROM unnest($2::uuid[]) AS u (k) WHERE k IS NOT NULL GROUP BY k ORDER BY k
           ON CONFLICT (model, key) DO UPDATE SET marked_at = d.marked_at
           RETURNING (xmax = 0) AS "inserted!""#,
        model.as_str(),
        keys
    )
    .fetch_all(&mut *conn)
    .await?;
    if inserted.iter().any(|i| *i) {
        enqueue_refresh(conn, model).await?;
    }
    Ok(())
}

/// Enqueues a refresh of `model`, a moment ahead.
pub async fn enqueue_refresh(conn: &mut PgConnection, model: Model) -> Result<(), DomainError> {
    enqueue(
        conn,
        &ReadModelRefresh {
            model: model.as_str().to_owned(),
        },
        Schedule::at(Utc::now() + READ_MODEL_DEBOUNCE),
    )
    .await?;
    Ok(())
}

/// Marks an artist's search row: the write changed what the marketplace
/// shows of it.
pub async fn mark_artist(conn: &mut PgConnection, artist_id: Uuid) -> Result<(), DomainError> {
    mark(conn, Model::ArtistSearch, &[artist_id]).await
}

/// Marks the dashboards of the two companies of a booking-linked record
/// and the search row of its artist: called with every activity entry.
pub async fn mark_subject(
    conn: &mut PgConnection,
    artist_id: Uuid,
    subject_type: &str,
    subject_id: Uuid,
) -> Result<(), DomainError> {
    let companies = sqlx::query_scalar!(
        r#"SELECT c AS "c!" FROM (
               SELECT agency_company_id, promoter_company_id FROM booking_requests WHERE $1 = 'request' AND id = $2
               UNION ALL SELECT agency_company_id, promoter_company_id FROM offers WHERE $1 = 'offer' AND id = $2
               UNION ALL SELECT agency_company_id, promoter_company_id FROM holds WHERE $1 = 'hold' AND id = $2
               UNION ALL SELECT agency_company_id, promoter_company_id FROM bookings WHERE $1 IN ('booking', 'finance') AND id = $2
               UNION ALL SELECT agency_company_id, promoter_company_id FROM contracts WHERE $1 = 'contract' AND id = $2
               UNION ALL SELECT b.agency_company_id, b.promoter_company_id FROM logistics_proposals p
                           JOIN bookings b ON b.id = p.booking_id WHERE $1 = 'proposal' AND p.id = $2
           ) x CROSS JOIN LATERAL unnest(ARRAY[x.agency_company_id, x.promoter_company_id]) AS c"#,
        subject_type,
        subject_id
    )
    .fetch_all(&mut *conn)
    .await?;
    mark(&mut *conn, Model::CompanyDashboard, &companies).await?;
    if matches!(subject_type, "hold" | "booking") {
        mark_artist(conn, artist_id).await?;
    }
    Ok(())
}

/// How long after the first write of a burst its recomputation runs: the
/// writes in between are recomputed with it.
pub const TRUST_DEBOUNCE: chrono::Duration = chrono::Duration::seconds(2);

/// Marks companies for recomputation, in the caller's transaction. Only
/// a company not already waiting enqueues a job. Rows are taken in id
/// order, so two writes marking the same pair cannot deadlock.
pub async fn mark_trust(conn: &mut PgConnection, companies: &[Uuid]) -> Result<(), DomainError> {
    // `DO UPDATE` locks an existing mark until this transaction commits,
    // so a drain cannot take it before this write is visible.
    let marked = sqlx::query!(
        r#"INSERT INTO trust_dirty AS d (company_id)
           SELECT id FROM unnest($1::uuid[]) AS u (id) GROUP BY id ORDER BY id
           ON CONFLICT (company_id) DO UPDATE SET marked_at = d.marked_at
           RETURNING company_id, (xmax = 0) AS "inserted!""#,
        companies
    )
    .fetch_all(&mut *conn)
    .await?;
    if let Some(first) = marked.iter().find(|m| m.inserted) {
        enqueue_trust(conn, first.company_id).await?;
    }
    Ok(())
}

/// Enqueues a `trust_score` run, a moment ahead, woken by `company_id`.
pub async fn enqueue_trust(conn: &mut PgConnection, company_id: Uuid) -> Result<(), DomainError> {
    enqueue(
        conn,
        &TrustScore { company_id },
        Schedule::at(Utc::now() + TRUST_DEBOUNCE),
    )
    .await?;
    Ok(())
}
