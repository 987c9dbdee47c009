//! Retention: what the maintenance job prunes once it is past its period.
//!
//! - Signature evidence: the IP address and user agent of a signature, and
//!   those of its audit entry, `SIGNATURE_EVIDENCE_RETENTION_DAYS` after
//!   signing (default 1095, three years: the usual limitation period for
//!   contract claims). The typed signature and the signer's name stay with
//!   a signed contract.
//! - Cancelled deals: `CANCELLED_DEAL_RETENTION_DAYS` after a booking was
//!   cancelled (default 365), its logistics sheet and proposals lose their
//!   contacts and names (guest list, hotel rooms), and the signers of its
//!   contracts that were never signed in full are erased as an erasure
//!   would, with every personal value of those contracts' audits.
//!
//! Each run handles at most [`BATCH`] bookings; the next run goes on.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::erase::ERASED_SIGNER;
use crate::DomainError;

/// Cancelled bookings pruned per run.
pub const BATCH: i64 = 200;

/// How long personal data is kept (worker settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub signature_evidence: Duration,
    pub cancelled_deals: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            signature_evidence: Duration::from_secs(1095 * 86_400),
            cancelled_deals: Duration::from_secs(365 * 86_400),
        }
    }
}

/// What one run pruned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub signatures: u64,
    pub audit_values: u64,
    pub cancelled_bookings: u64,
}

fn cutoff(now: DateTime<Utc>, period: Duration) -> Result<DateTime<Utc>, DomainError> {
    Ok(now - chrono::Duration::from_std(period).map_err(anyhow::Error::from)?)
}

/// Prunes what is past its period at `now`.
pub async fn prune(
    conn: &mut PgConnection,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<Pruned, DomainError> {
    let evidence_before = cutoff(now, policy.signature_evidence)?;
    let signatures = sqlx::query!(
        "UPDATE contract_signatures SET ip = NULL, user_agent = NULL
          WHERE signed_at < $1 AND (ip IS NOT NULL OR user_agent IS NOT NULL)",
        evidence_before
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let mut audit_values = sqlx::query!(
        r#"DELETE FROM contract_audit_personal p
            USING contract_audit a
            WHERE a.contract_id = p.contract_id AND a.seq = p.seq
              AND a.action = 'signed' AND a.at < $1
              AND p.digest IN (SELECT jsonb_path_query(a.details, 'lax $.**.ip."$personal"') #>> '{}'
                               UNION ALL
                               SELECT jsonb_path_query(a.details, 'lax $.**.user_agent."$personal"') #>> '{}')"#,
        evidence_before
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let deals_before = cutoff(now, policy.cancelled_deals)?;
    let bookings = sqlx::query_scalar!(
        "SELECT id FROM bookings
          WHERE status = 'cancelled' AND ended_at < $1 AND personal_data_pruned_at IS NULL
          ORDER BY ended_at LIMIT $2
          FOR UPDATE SKIP LOCKED",
        deals_before,
        BATCH
    )
    .fetch_all(&mut *conn)
    .await?;
    for &booking in &bookings {
        audit_values += cancelled_booking(&mut *conn, booking).await?;
    }
    Ok(Pruned {
        signatures,
        audit_values,
        cancelled_bookings: bookings.len() as u64,
    })
}

/// Empties the lists of people in a logistics document: contacts, guest
/// names, and any email or phone.
pub fn strip_people(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, v) in map.iter_mut() {
                match (key.as_str(), &*v) {
                    ("contacts" | "guest_names" | "names", Value::Array(items))
                        if !items.is_empty() =>
                    {
                        *v = Value::Array(Vec::new());
                        changed = true;
                    }
                    ("email" | "phone", Value::String(_)) => {
                        *v = Value::Null;
                        changed = true;
                    }
                    _ => changed |= strip_people(v),
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| strip_people(v) | c),
        _ => false,
    }
}

/// Prunes one cancelled booking; returns the audit values deleted.
async fn cancelled_booking(conn: &mut PgConnection, booking: Uuid) -> Result<u64, DomainError> {
    if let Some(row) = sqlx::query!(
        "SELECT sheet FROM booking_logistics WHERE booking_id = $1 FOR UPDATE",
        booking
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        let mut sheet = row.sheet;
        if strip_people(&mut sheet) {
            sqlx::query!(
                "UPDATE booking_logistics SET sheet = $2, version = version + 1, updated_at = now() WHERE booking_id = $1",
                booking,
                sheet
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    for row in sqlx::query!(
        "SELECT id, content FROM logistics_proposals WHERE booking_id = $1 FOR UPDATE",
        booking
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let mut content = row.content;
        if strip_people(&mut content) {
            sqlx::query!(
                "UPDATE logistics_proposals SET content = $2, version = version + 1, updated_at = now() WHERE id = $1",
                row.id,
                content
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    // Contracts never signed in full: nothing of them is kept for claims.
    let unsealed = sqlx::query_scalar!(
        "SELECT id FROM contracts WHERE booking_id = $1 AND seal IS NULL",
        booking
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE contract_signers
            SET name = $2, email = 'erased+' || id::text || '@erased.invalid', decline_reason = NULL, updated_at = now()
          WHERE contract_id = ANY($1) AND email NOT LIKE 'erased+%@erased.invalid'",
        &unsealed,
        ERASED_SIGNER
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE contract_signatures SET typed_name = $2, ip = NULL, user_agent = NULL
          WHERE contract_id = ANY($1) AND (typed_name <> $2 OR ip IS NOT NULL OR user_agent IS NOT NULL)",
        &unsealed,
        ERASED_SIGNER
    )
    .execute(&mut *conn)
    .await?;
    let audit_values = sqlx::query!(
        "DELETE FROM contract_audit_personal WHERE contract_id = ANY($1)",
        &unsealed
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query!(
        "UPDATE bookings SET personal_data_pruned_at = now() WHERE id = $1",
        booking
    )
    .execute(&mut *conn)
    .await?;
    Ok(audit_values)
}
