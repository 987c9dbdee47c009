//! Calendar subscriptions: a secret feed URL per tour and org, for
//! calendar apps that cannot send a bearer token.
//!
//! The token is 32 random bytes (base64url), shown once; only its SHA-256
//! is kept. An org has at most one live token per tour (a partial unique
//! index): a new one revokes the old in the same transaction. A revoked
//! token stays on file and keeps answering 404. The feed is rendered as the
//! subscribing org sees the tour at the time of the read, so an org that
//! has lost its access gets 404 as well.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::calendar;
use crate::DomainError;
use crate::access;

/// A live subscription, as its org sees it later (without the token).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarSubscription {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// A new subscription: the token is shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarSubscriptionCreated {
    pub id: Uuid,
    /// The secret; keep it: it is not stored and cannot be shown again.
    pub token: String,
    /// Where a calendar app reads the feed (no other credentials needed).
    #[schema(example = "/api/v1/tour-feeds/3q2-7wE.../itinerary.ics")]
    pub feed_path: String,
    pub created_at: DateTime<Utc>,
}

/// SHA-256 hex of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh token: 32 bytes from the OS, base64url without padding.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The feed path of a token.
pub fn feed_path(token: &str) -> String {
    format!("/api/v1/tour-feeds/{token}/itinerary.ics")
}

/// Creates the org's token for a tour it can see, revoking its previous one.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    tour_id: Uuid,
) -> Result<CalendarSubscriptionCreated, DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    sqlx::query!(
        "UPDATE tour_calendar_subscriptions SET revoked_at = now()
          WHERE tour_id = $1 AND org_id = $2 AND revoked_at IS NULL",
        tour_id,
        org_id
    )
    .execute(&mut *conn)
    .await?;
    let token = new_token();
    let id = Uuid::now_v7();
    let created_at = sqlx::query_scalar!(
        "INSERT INTO tour_calendar_subscriptions (id, tour_id, org_id, token_sha256, created_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING created_at",
        id,
        tour_id,
        org_id,
        token_hash(&token),
        actor,
    )
    .fetch_one(conn)
    .await?;
    Ok(CalendarSubscriptionCreated {
        id,
        feed_path: feed_path(&token),
        token,
        created_at,
    })
}

/// The org's live subscription to a tour; 404 when there is none.
pub async fn get(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
) -> Result<CalendarSubscription, DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    sqlx::query_as!(
        CalendarSubscription,
        "SELECT id, created_at FROM tour_calendar_subscriptions
          WHERE tour_id = $1 AND org_id = $2 AND revoked_at IS NULL",
        tour_id,
        org_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Revokes the org's live subscription; 404 when there is none.
pub async fn revoke(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
) -> Result<(), DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    let rows = sqlx::query!(
        "UPDATE tour_calendar_subscriptions SET revoked_at = now()
          WHERE tour_id = $1 AND org_id = $2 AND revoked_at IS NULL",
        tour_id,
        org_id
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The feed a live token opens, as its org sees the tour now. An unknown
/// or revoked token, or an org that lost its access, is 404.
pub async fn feed_by_token(conn: &mut PgConnection, token: &str) -> Result<String, DomainError> {
    let sub = sqlx::query!(
        "SELECT tour_id, org_id FROM tour_calendar_subscriptions
          WHERE token_sha256 = $1 AND revoked_at IS NULL",
        token_hash(token)
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    calendar::feed(conn, sub.org_id, sub.tour_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(token_hash(&a).len(), 64);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(feed_path("t"), "/api/v1/tour-feeds/t/itinerary.ics");
    }
}
