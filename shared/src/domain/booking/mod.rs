//! The booking pipeline (SPEC 5.4): holds, offers with versioned deals, and
//! bookings, each with its state machine, and the activity trail. Rules live
//! in this module, once; handlers and jobs call them.

pub mod activity;
pub mod availability;
pub mod bookings;
pub mod deal;
pub mod holds;
pub mod offers;
pub mod requests;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;

/// Serialises every change to one artist's date until the transaction
/// ends: placing, promoting, expiring and challenging holds, and confirming
/// a booking. Everything that decides who has the date takes this lock,
/// whose key is the SQL function `kisum_artist_date_key` (placing a hold
/// takes it inside its statement, through `kisum_next_hold_priority`).
pub async fn lock_artist_date(
    conn: &mut PgConnection,
    artist_id: Uuid,
    date: NaiveDate,
) -> Result<(), DomainError> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(kisum_artist_date_key($1, $2))",
        artist_id,
        date
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// [`lock_artist_date`] without waiting: false when another transaction
/// holds the date.
pub async fn try_lock_artist_date(
    conn: &mut PgConnection,
    artist_id: Uuid,
    date: NaiveDate,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(kisum_artist_date_key($1, $2)) AS "locked!""#,
        artist_id,
        date
    )
    .fetch_one(conn)
    .await?)
}
