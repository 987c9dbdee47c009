//! Calendar subscriptions: a secret feed URL per member, tour and org, for
//! calendar apps that cannot send a bearer token.
//!
//! The token is 32 random bytes (base64url), shown once; only its SHA-256
//! is kept. It belongs to the member who made it (`created_by`): a member
//! has at most one live token per tour and org (a partial unique index),
//! and a new one revokes only that member's previous one, so one member
//! rotating never cuts another off. Every token expires
//! (`CALENDAR_TOKEN_TTL_DAYS` after it was made). A revoked or expired token
//! stays on file and answers 404, like an unknown one. A member lists and
//! revokes their own tokens only.
//!
//! At each read the feed is rendered as the subscribing org sees the tour
//! then, so an org that has lost the tour gets 404. The owner's membership
//! is checked then too, and how depends on the access mode:
//! - remote mode (`AUTH_ACCESS_URL`): Auth is asked whether the owner is
//!   still a member of the org with `artist.touring.read` (through the same
//!   resolver and cache as bearer calls, so an answer is at most
//!   `AUTH_ACCESS_CACHE_SECONDS` old). A member who left, or lost the
//!   permission, gets 404 on the next read; if Auth cannot answer the feed
//!   is 503, never served on a guess. Nothing is revoked on file: an Auth
//!   mistake must not destroy every feed URL, and a member added back
//!   finds their URL working again until it expires.
//! - claims mode: a membership is known only from the member's own token,
//!   and a calendar app sends none, so the service cannot learn that a
//!   member left. What it knows is that the owner was a member with
//!   `artist.touring.write` when the token was made; the token then works
//!   until it expires or is revoked. The lifetime is the bound on a
//!   leaver's access: deployments that need leavers cut off at once run in
//!   remote mode, or set a short `CALENDAR_TOKEN_TTL_DAYS`.

use std::time::Duration;

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
use crate::pagination::{Page, PageRequest};

/// A live subscription, as its owner sees it later (without the token).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarSubscription {
    pub id: Uuid,
    pub tour_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// From then on the feed URL answers 404; make a new one.
    pub expires_at: DateTime<Utc>,
}

/// A new subscription: the token is shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CalendarSubscriptionCreated {
    pub id: Uuid,
    pub tour_id: Uuid,
    /// The secret; keep it: it is not stored and cannot be shown again.
    pub token: String,
    /// Where a calendar app reads the feed (no other credentials needed).
    #[schema(example = "/api/v1/tour-feeds/3q2-7wE.../itinerary.ics")]
    pub feed_path: String,
    pub created_at: DateTime<Utc>,
    /// From then on the feed URL answers 404; make a new one.
    pub expires_at: DateTime<Utc>,
}

/// A live token, found by its secret: what its feed opens and for whom.
#[derive(Clone, Debug)]
pub struct LiveToken {
    pub id: Uuid,
    pub tour_id: Uuid,
    pub org_id: Uuid,
    /// The member who made it, in Auth's user ids.
    pub owner: String,
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

/// Makes the member's token for a tour their org can see, valid for `ttl`,
/// revoking that member's previous one (and no one else's).
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: &str,
    tour_id: Uuid,
    ttl: Duration,
) -> Result<CalendarSubscriptionCreated, DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    sqlx::query!(
        "UPDATE tour_calendar_subscriptions SET revoked_at = now()
          WHERE tour_id = $1 AND org_id = $2 AND created_by = $3 AND revoked_at IS NULL",
        tour_id,
        org_id,
        owner
    )
    .execute(&mut *conn)
    .await?;
    let token = new_token();
    let id = Uuid::now_v7();
    let row = sqlx::query!(
        "INSERT INTO tour_calendar_subscriptions
                (id, tour_id, org_id, token_sha256, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         RETURNING created_at, expires_at",
        id,
        tour_id,
        org_id,
        token_hash(&token),
        owner,
        ttl.as_secs_f64(),
    )
    .fetch_one(conn)
    .await?;
    Ok(CalendarSubscriptionCreated {
        id,
        tour_id,
        feed_path: feed_path(&token),
        token,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

/// The member's live subscription to a tour; 404 when there is none.
pub async fn get(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: &str,
    tour_id: Uuid,
) -> Result<CalendarSubscription, DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    sqlx::query_as!(
        CalendarSubscription,
        "SELECT id, tour_id, created_at, expires_at FROM tour_calendar_subscriptions
          WHERE tour_id = $1 AND org_id = $2 AND created_by = $3
            AND revoked_at IS NULL AND expires_at > now()",
        tour_id,
        org_id,
        owner
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Revokes the member's live subscription to a tour; 404 when there is
/// none.
pub async fn revoke(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: &str,
    tour_id: Uuid,
) -> Result<(), DomainError> {
    access::tour_access(&mut *conn, org_id, tour_id).await?;
    let rows = sqlx::query!(
        "UPDATE tour_calendar_subscriptions SET revoked_at = now()
          WHERE tour_id = $1 AND org_id = $2 AND created_by = $3
            AND revoked_at IS NULL AND expires_at > now()",
        tour_id,
        org_id,
        owner
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The member's live subscriptions in the org, every tour, by id. These
/// are the member's own credentials, so a tour the org has since lost
/// still lists its token (which opens nothing), and it can be revoked.
pub async fn list_own(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: &str,
    page: &PageRequest<Uuid>,
) -> Result<Page<CalendarSubscription>, DomainError> {
    // Generic plan: a member's own live tokens are a handful, found by
    // org and owner; the cursor filters them, it needs no index.
    let rows = sqlx::query_as!(
        CalendarSubscription,
        "SELECT id, tour_id, created_at, expires_at FROM tour_calendar_subscriptions
          WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL AND expires_at > now()
            AND ($3::uuid IS NULL OR id > $3)
          ORDER BY id LIMIT $4",
        org_id,
        owner,
        page.after,
        page.fetch_limit()
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |s| s.id))
}

/// Revokes one of the member's live subscriptions by id; another member's,
/// or a revoked or expired one, is 404.
pub async fn revoke_own(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: &str,
    id: Uuid,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "UPDATE tour_calendar_subscriptions SET revoked_at = now()
          WHERE id = $1 AND org_id = $2 AND created_by = $3
            AND revoked_at IS NULL AND expires_at > now()",
        id,
        org_id,
        owner
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

/// The live token with this secret; an unknown, revoked or expired one is
/// 404.
pub async fn live_token(conn: &mut PgConnection, token: &str) -> Result<LiveToken, DomainError> {
    sqlx::query_as!(
        LiveToken,
        "SELECT id, tour_id, org_id, created_by AS owner FROM tour_calendar_subscriptions
          WHERE token_sha256 = $1 AND revoked_at IS NULL AND expires_at > now()",
        token_hash(token)
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// The feed a live token opens, as its org sees the tour now; 404 when the
/// org has lost the tour. The API asks Auth first whether the token's owner
/// is still a member (see the module doc).
pub async fn feed(conn: &mut PgConnection, token: &LiveToken) -> Result<String, DomainError> {
    calendar::feed(conn, token.org_id, token.tour_id).await
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
