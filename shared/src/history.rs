//! The history tables, `booking_activity` and `contract_audit`: append-only,
//! and partitioned by month (UTC) of `at`, each partition named
//! `<table>_YYYY_MM`; `<table>_legacy` holds every row from before
//! partitioning (migrations `20261206001000` to `20261206001040`).
//!
//! There is no default partition: a row must find its month. The partitions
//! of the current month and of [`MONTHS_AHEAD`] more are created by every
//! migrate run and by the maintenance job (every fifteen minutes), so a
//! write never lacks one unless neither ran for three months. Without a
//! default partition, old months can also be detached `CONCURRENTLY`
//! (Postgres refuses that while a default partition exists).
//!
//! Detaching is off unless `HISTORY_DETACH_AFTER_MONTHS` is set: then the
//! maintenance job moves each partition whose months ended that long ago to
//! the `archive` schema (same name), where it stays, still append-only, for
//! the operator to dump and drop (docs/operations.md).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::DomainError;

/// Months after the current one whose partitions always exist.
pub const MONTHS_AHEAD: i32 = 3;

/// Creates the missing partitions of every history table from the month of
/// `now` through [`MONTHS_AHEAD`] later; returns how many it created.
/// Idempotent, and safe when several processes run it at once: the SQL
/// function (`kisum_history_ensure`) takes a transaction advisory lock, so
/// the second caller waits and then finds the months there.
pub async fn ensure_partitions(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
) -> Result<i32, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT kisum_history_ensure($1, $2) AS "created!""#,
        now,
        MONTHS_AHEAD
    )
    .fetch_one(conn)
    .await?)
}

/// Detaches every partition whose range ended `after_months` months or
/// more before `now` and moves it to the `archive` schema; returns the
/// names moved. `DETACH PARTITION ... CONCURRENTLY` blocks neither reads
/// nor writes of the parent but cannot run in a transaction, so this takes
/// a connection of its own from `pool`. One process at a time: the others
/// find the session advisory lock taken and return nothing. A detach cut
/// short (the process died between its two transactions) is finished
/// (`FINALIZE`) by the next run.
pub async fn archive_older(
    pool: &PgPool,
    after_months: u32,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DomainError> {
    let mut conn = pool.acquire().await?;
    // The lock is the session's: closing the connection afterwards frees
    // it whatever happens below.
    conn.close_on_drop();
    let locked = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_lock(hashtext('kisum.history_archive')) AS "locked!""#
    )
    .fetch_one(&mut *conn)
    .await?;
    if !locked {
        return Ok(Vec::new());
    }
    let months = i32::try_from(after_months).unwrap_or(i32::MAX);
    let due = sqlx::query!(
        r#"SELECT p.name AS "name!",
                  format('ALTER TABLE public.%I DETACH PARTITION public.%I', p.parent, p.name) AS "detach!",
                  i.inhdetachpending AS "pending?"
             FROM history_partitions p
             LEFT JOIN pg_inherits i ON i.inhrelid = to_regclass(format('public.%I', p.name))
            WHERE p.archived_at IS NULL
              AND p.until_at <= (date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC') - make_interval(months => $2))
                                AT TIME ZONE 'UTC'
            ORDER BY p.until_at, p.name"#,
        now,
        months,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut archived = Vec::with_capacity(due.len());
    for partition in due {
        let mode = match partition.pending {
            None => None,
            Some(true) => Some("FINALIZE"),
            Some(false) => Some("CONCURRENTLY"),
        };
        if let Some(mode) = mode {
            let statement = format!("{} {mode}", partition.detach);
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await?;
        }
        let moved = sqlx::query_scalar!(
            r#"SELECT kisum_history_archive($1) AS "moved!""#,
            partition.name
        )
        .fetch_one(&mut *conn)
        .await?;
        if moved {
            archived.push(partition.name);
        }
    }
    Ok(archived)
}
