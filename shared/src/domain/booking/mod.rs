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

/// The advisory-lock key of one artist's date.
fn artist_date_key(artist_id: Uuid, date: NaiveDate) -> String {
    format!("hold:{artist_id}:{date}")
}

/// Serialises every change to one artist's date until the transaction
/// ends: placing, promoting, expiring and challenging holds, and confirming
/// a booking. Everything that decides who has the date takes this lock.
pub async fn lock_artist_date(
    conn: &mut PgConnection,
    artist_id: Uuid,
    date: NaiveDate,
) -> Result<(), DomainError> {
    let key = artist_date_key(artist_id, date);
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7205))",
        key
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
    let key = artist_date_key(artist_id, date);
    Ok(sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtextextended($1, 7205)) AS "locked!""#,
        key
    )
    .fetch_one(conn)
    .await?)
}
