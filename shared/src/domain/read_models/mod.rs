//! Read models (SPEC 5.8): tables the worker keeps and reads never
//! recompute. A write marks the keys it changes, in its own transaction
//! ([`mark`]); the `read_model_refresh` job drains the marks in batches
//! ([`drain`], `FOR UPDATE SKIP LOCKED`) and rewrites those rows
//! ([`refresh`]); the nightly `read_model_rebuild` rewrites every row
//! ([`rebuild_batch`]), which repairs drift.
//!
//! apalis's idempotency key is a permanent unique index, so it cannot
//! coalesce pending jobs: the dirty set is our own table. Only the mark
//! that inserts a key enqueues a job, so a burst of writes to one key is
//! refreshed once.

pub mod dashboards;
pub mod search;

use chrono::Utc;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;
use crate::jobs::{ReadModelRefresh, Schedule, enqueue};

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
pub const DEBOUNCE: chrono::Duration = chrono::Duration::milliseconds(300);

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
        enqueue(
            conn,
            &ReadModelRefresh {
                model: model.as_str().to_owned(),
            },
            Schedule::at(Utc::now() + DEBOUNCE),
        )
        .await?;
    }
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

/// Whether keys of `model` are still marked (held by a writer that has
/// not committed, or marked meanwhile): the job then runs again.
pub async fn pending(conn: &mut PgConnection, model: Model) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM read_model_dirty WHERE model = $1) AS "pending!""#,
        model.as_str()
    )
    .fetch_one(conn)
    .await?)
}

/// Enqueues one more refresh of `model`, a moment ahead.
pub async fn enqueue_refresh(conn: &mut PgConnection, model: Model) -> Result<(), DomainError> {
    enqueue(
        conn,
        &ReadModelRefresh {
            model: model.as_str().to_owned(),
        },
        Schedule::at(Utc::now() + DEBOUNCE),
    )
    .await?;
    Ok(())
}

/// Takes up to `limit` dirty keys of `model` off the set, in the caller's
/// transaction; keys other runs or writers hold are skipped, and a
/// rollback puts them back. A writer marking one of them meanwhile waits
/// for this transaction, whose [`refresh`] takes `FOR KEY SHARE` on the
/// artists and companies it writes rows for (foreign keys): a writer that
/// marks locks those rows `FOR NO KEY UPDATE`, never `FOR UPDATE`, or the
/// two wait for each other.
pub async fn drain(
    conn: &mut PgConnection,
    model: Model,
    limit: i64,
) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "DELETE FROM read_model_dirty WHERE (model, key) IN (
             SELECT model, key FROM read_model_dirty WHERE model = $1 ORDER BY marked_at
              LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING key",
        model.as_str(),
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Rewrites the rows of `keys`, in the caller's transaction.
pub async fn refresh(
    conn: &mut PgConnection,
    model: Model,
    keys: &[Uuid],
) -> Result<(), DomainError> {
    if keys.is_empty() {
        return Ok(());
    }
    match model {
        Model::ArtistSearch => search::refresh(conn, keys).await,
        Model::CompanyDashboard => dashboards::refresh(conn, keys).await,
    }
}

/// One batch of the full rebuild of `model`: the next `limit` keys after
/// `after`, their marks cleared and their rows rewritten. Returns the
/// last key, `None` when none were left.
pub async fn rebuild_batch(
    conn: &mut PgConnection,
    model: Model,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Option<Uuid>, DomainError> {
    let keys =
        match model {
            Model::ArtistSearch => {
                sqlx::query_scalar!(
                    "SELECT id FROM artists WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2",
                    after,
                    limit
                )
                .fetch_all(&mut *conn)
                .await?
            }
            Model::CompanyDashboard => sqlx::query_scalar!(
                "SELECT id FROM companies WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2",
                after,
                limit
            )
            .fetch_all(&mut *conn)
            .await?,
        };
    sqlx::query!(
        "DELETE FROM read_model_dirty WHERE model = $1 AND key = ANY ($2)",
        model.as_str(),
        &keys
    )
    .execute(&mut *conn)
    .await?;
    refresh(conn, model, &keys).await?;
    Ok(keys.last().copied())
}

/// Whether keys have waited over five minutes with no live
/// `read_model_refresh` job (its job ended dead): if so, one more is
/// enqueued per model. Run by the maintenance job.
pub async fn resume_stranded(conn: &mut PgConnection) -> Result<u32, DomainError> {
    let models = sqlx::query_scalar!(
        r#"SELECT DISTINCT d.model AS "model!" FROM read_model_dirty d
            WHERE d.marked_at < now() - interval '5 minutes'
              AND NOT EXISTS (SELECT 1 FROM apalis.jobs j
                               WHERE j.job_type = 'read_model_refresh' AND j.status NOT IN ('Done', 'Failed', 'Killed'))"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut resumed = 0;
    for model in models {
        enqueue(&mut *conn, &ReadModelRefresh { model }, Schedule::now()).await?;
        resumed += 1;
    }
    Ok(resumed)
}
