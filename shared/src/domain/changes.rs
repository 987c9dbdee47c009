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
use crate::jobs::{Batch, ReadModelRefresh, Schedule, TrustScore};

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
    let mut marks = Marks::default();
    marks.add(model, keys);
    leave(conn, &marks).await
}

/// Leaves `marks` in one statement and enqueues the refreshes the keys
/// not already waiting need.
async fn leave(conn: &mut PgConnection, marks: &Marks) -> Result<(), DomainError> {
    let fresh = sqlx::query_scalar!(
        r#"SELECT kisum_mark_read_models($1, $2) AS "fresh!""#,
        marks.models() as &[&str],
        marks.keys(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut jobs = Batch::new();
    follow_ups(&mut jobs, &fresh, None)?;
    jobs.enqueue(conn).await?;
    Ok(())
}

/// The read-model keys one write marks, for a statement that leaves them
/// with its change: it passes [`Marks::models`] and [`Marks::keys`] to the
/// SQL function `kisum_mark_read_models` (which takes them in one order and
/// answers the models with a key not already waiting), then hands that
/// answer to [`follow_ups`].
#[derive(Clone, Debug, Default)]
pub struct Marks {
    models: Vec<&'static str>,
    keys: Vec<Uuid>,
}

impl Marks {
    pub fn add(&mut self, model: Model, keys: &[Uuid]) -> &mut Self {
        for key in keys {
            self.models.push(model.as_str());
            self.keys.push(*key);
        }
        self
    }

    /// What a change of a booking-linked record marks: the dashboards of
    /// its two companies and, for holds and bookings (which change the
    /// artist's open dates), the artist's search row.
    pub fn of_subject(artist_id: Uuid, subject_type: &str, companies: &[Uuid]) -> Self {
        let mut marks = Self::default();
        marks.add(Model::CompanyDashboard, companies);
        if matches!(subject_type, "hold" | "booking") {
            marks.add(Model::ArtistSearch, &[artist_id]);
        }
        marks
    }

    pub fn models(&self) -> &[&'static str] {
        &self.models
    }

    pub fn keys(&self) -> &[Uuid] {
        &self.keys
    }
}

/// The jobs new marks call for, added to the write's batch: a refresh of
/// each model in `fresh_models` (what `kisum_mark_read_models` answered),
/// and a trust run woken by `fresh_trust` (what `kisum_mark_trust`
/// answered), each a moment ahead.
pub fn follow_ups(
    jobs: &mut Batch,
    fresh_models: &[String],
    fresh_trust: Option<Uuid>,
) -> Result<(), DomainError> {
    for model in fresh_models {
        jobs.push(
            &ReadModelRefresh {
                model: model.clone(),
            },
            Schedule::at(Utc::now() + READ_MODEL_DEBOUNCE),
        )?;
    }
    if let Some(company_id) = fresh_trust {
        jobs.push(
            &TrustScore { company_id },
            Schedule::at(Utc::now() + TRUST_DEBOUNCE),
        )?;
    }
    Ok(())
}

/// Enqueues a refresh of `model`, a moment ahead.
pub async fn enqueue_refresh(conn: &mut PgConnection, model: Model) -> Result<(), DomainError> {
    let mut jobs = Batch::new();
    follow_ups(&mut jobs, &[model.as_str().to_owned()], None)?;
    jobs.enqueue(conn).await?;
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
    let marks = Marks::of_subject(artist_id, subject_type, &companies);
    leave(conn, &marks).await
}

/// How long after the first write of a burst its recomputation runs: the
/// writes in between are recomputed with it.
pub const TRUST_DEBOUNCE: chrono::Duration = chrono::Duration::seconds(2);

/// Marks companies for recomputation, in the caller's transaction. Only
/// a company not already waiting enqueues a job. Rows are taken in id
/// order, so two writes marking the same pair cannot deadlock.
pub async fn mark_trust(conn: &mut PgConnection, companies: &[Uuid]) -> Result<(), DomainError> {
    let fresh = sqlx::query_scalar!("SELECT kisum_mark_trust($1)", companies)
        .fetch_one(&mut *conn)
        .await?;
    let mut jobs = Batch::new();
    follow_ups(&mut jobs, &[], fresh)?;
    jobs.enqueue(conn).await?;
    Ok(())
}

/// Enqueues a `trust_score` run, a moment ahead, woken by `company_id`.
pub async fn enqueue_trust(conn: &mut PgConnection, company_id: Uuid) -> Result<(), DomainError> {
    let mut jobs = Batch::new();
    follow_ups(&mut jobs, &[], Some(company_id))?;
    jobs.enqueue(conn).await?;
    Ok(())
}
