//! Stored outcomes of `Idempotency-Key` requests (IETF draft semantics,
//! scoped per org, kept 24 h). The API's idempotency layer is the only user.

use sqlx::PgPool;
use uuid::Uuid;

/// How long a key is remembered.
pub const KEY_TTL_HOURS: i32 = 24;
/// An in-progress claim older than this is taken to be abandoned (its
/// process died): well above the longest request time.
pub const STALE_LOCK_SECONDS: i32 = 600;

/// What a new request with a key may do.
#[derive(Debug)]
pub enum Claim {
    /// First use (or the earlier use expired or was abandoned): run it.
    Acquired,
    /// A request with this key is still running.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
    /// The same request already completed: send this again.
    Replay(StoredResponse),
}

#[derive(Debug)]
pub struct StoredResponse {
    pub response_status: i16,
    pub response_headers: sqlx::types::Json<Vec<(String, String)>>,
    pub response_body: Vec<u8>,
}

struct Existing {
    request_hash: Vec<u8>,
    state: String,
    response_status: Option<i16>,
    response_headers: Option<sqlx::types::Json<Vec<(String, String)>>>,
    response_body: Option<Vec<u8>>,
}

pub async fn claim(
    pool: &PgPool,
    org_id: Uuid,
    key: &str,
    request_hash: &[u8],
) -> sqlx::Result<Claim> {
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys (org_id, key, request_hash, state, locked_at, expires_at)
         VALUES ($1, $2, $3, 'in_progress', now(), now() + make_interval(hours => $4))
         ON CONFLICT (org_id, key) DO NOTHING",
        org_id,
        key,
        request_hash,
        KEY_TTL_HOURS,
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        tx.commit().await?;
        return Ok(Claim::Acquired);
    }
    let retaken = sqlx::query!(
        "UPDATE idempotency_keys
            SET request_hash = $3, state = 'in_progress', locked_at = now(),
                expires_at = now() + make_interval(hours => $4),
                response_status = NULL, response_headers = NULL, response_body = NULL
          WHERE org_id = $1 AND key = $2
            AND (expires_at < now()
                 OR (state = 'in_progress' AND locked_at < now() - make_interval(secs => $5)))",
        org_id,
        key,
        request_hash,
        KEY_TTL_HOURS,
        f64::from(STALE_LOCK_SECONDS),
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if retaken == 1 {
        tx.commit().await?;
        return Ok(Claim::Acquired);
    }
    let existing = sqlx::query_as!(
        Existing,
        r#"SELECT request_hash, state, response_status,
                  response_headers AS "response_headers: sqlx::types::Json<Vec<(String, String)>>",
                  response_body
             FROM idempotency_keys WHERE org_id = $1 AND key = $2"#,
        org_id,
        key,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(if existing.request_hash != request_hash {
        Claim::Mismatch
    } else if existing.state == "in_progress" {
        Claim::InProgress
    } else {
        match (
            existing.response_status,
            existing.response_headers,
            existing.response_body,
        ) {
            (Some(response_status), Some(response_headers), Some(response_body)) => {
                Claim::Replay(StoredResponse {
                    response_status,
                    response_headers,
                    response_body,
                })
            }
            _ => Claim::InProgress,
        }
    })
}

/// Records the final response of a claimed key.
pub async fn complete(
    pool: &PgPool,
    org_id: Uuid,
    key: &str,
    status: u16,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE idempotency_keys
            SET state = 'completed', response_status = $3, response_headers = $4, response_body = $5
          WHERE org_id = $1 AND key = $2",
        org_id,
        key,
        i16::try_from(status).unwrap_or(500),
        sqlx::types::Json(headers) as _,
        body,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Forgets a claimed key, so a retry runs again (after a server error).
pub async fn release(pool: &PgPool, org_id: Uuid, key: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM idempotency_keys WHERE org_id = $1 AND key = $2 AND state = 'in_progress'",
        org_id,
        key,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes expired keys; run by a scheduled job.
pub async fn prune_expired(pool: &PgPool) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_at < now()")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
