//! Read models (SPEC 5.8): tables the worker keeps and reads never
//! recompute. A write marks the keys it changes, in its own transaction
//! ([`crate::domain::changes::mark`]); the `read_model_refresh` job drains the marks in batches
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

use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;
pub use crate::domain::changes::Model;
pub use crate::domain::changes::enqueue_refresh;
use crate::jobs::{ReadModelRefresh, Schedule, enqueue};

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
                    "SELECT id FROM artists WHERE id > COALESCE($1, '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY id LIMIT $2",
                    after,
                    limit
                )
                .fetch_all(&mut *conn)
                .await?
            }
            Model::CompanyDashboard => sqlx::query_scalar!(
                "SELECT id FROM companies WHERE id > COALESCE($1, '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY id LIMIT $2",
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
    if crate::jobs::queue::in_flight::<ReadModelRefresh>(&mut *conn).await? {
        return Ok(0);
    }
    let models = sqlx::query_scalar!(
        "SELECT DISTINCT model FROM read_model_dirty
          WHERE marked_at < now() - interval '5 minutes'"
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
