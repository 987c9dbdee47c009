//! Signature reminders. A signer whose turn it is and who has not signed
//! `after` its turn began (the contract was sent, or the signers before it
//! finished) is reminded once per `every`, at most `max` times. The turn's
//! intervals are numbered from 0 (`slot`); a reminder row per (signer,
//! version, slot) under a unique constraint is what makes "never twice in
//! one interval" true with any number of workers. Delivery is a job per
//! reminder, so a failed POST is retried without a second reminder.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::audit::{self, Event};
use crate::DomainError;
use crate::access::Party;

/// When reminders go out (`CONTRACT_REMINDER_*`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReminderPolicy {
    pub after: Duration,
    pub every: Duration,
    pub max: i32,
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Creates the reminders due now, of one contract or of all; returns their
/// ids. A reminder already created for a slot is never created again.
pub async fn plan(
    conn: &mut PgConnection,
    policy: ReminderPolicy,
    contract_id: Option<Uuid>,
) -> Result<Vec<Uuid>, DomainError> {
    if policy.max <= 0 {
        return Ok(Vec::new());
    }
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    Ok(sqlx::query_scalar!(
        r#"WITH turn AS (
               SELECT s.id AS signer_id, c.id AS contract_id, c.current_version,
                      GREATEST(c.sent_at, (SELECT max(g.signed_at)
                                             FROM contract_signatures g JOIN contract_signers p ON p.id = g.signer_id
                                            WHERE g.contract_id = c.id AND g.version_number = c.current_version
                                              AND p.signing_order < s.signing_order)) AS started
                 FROM contracts c
                 JOIN contract_signers s ON s.contract_id = c.id AND s.status = 'pending'
                WHERE c.status IN ('out_for_signature', 'partially_signed')
                  AND ($1::uuid IS NULL OR c.id = $1)
                  AND s.signing_order = (SELECT min(o.signing_order) FROM contract_signers o
                                          WHERE o.contract_id = c.id AND o.status = 'pending')
           ),
           due AS (
               SELECT signer_id, contract_id, current_version,
                      floor((extract(epoch FROM now() - started)::float8 - $2::float8) / $3::float8) AS slot
                 FROM turn
                WHERE extract(epoch FROM now() - started)::float8 >= $2::float8
           )
           INSERT INTO contract_reminders (id, contract_id, signer_id, version_number, slot)
           SELECT gen_random_uuid(), contract_id, signer_id, current_version, slot::int
             FROM due WHERE slot < $4::float8
           ON CONFLICT ON CONSTRAINT contract_reminders_once DO NOTHING
           RETURNING id"#,
        contract_id,
        seconds(policy.after),
        seconds(policy.every).max(1.0),
        f64::from(policy.max),
    )
    .persistent(false)
    .fetch_all(conn)
    .await?)
}

/// When the contract next needs the reminder job: the next slot of a signer
/// whose turn it is, or its expiry, whichever comes first.
pub async fn next_due(
    conn: &mut PgConnection,
    policy: ReminderPolicy,
    contract_id: Uuid,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"WITH turn AS (
               SELECT GREATEST(c.sent_at, (SELECT max(g.signed_at)
                                             FROM contract_signatures g JOIN contract_signers p ON p.id = g.signer_id
                                            WHERE g.contract_id = c.id AND g.version_number = c.current_version
                                              AND p.signing_order < s.signing_order)) AS started
                 FROM contracts c
                 JOIN contract_signers s ON s.contract_id = c.id AND s.status = 'pending'
                WHERE c.id = $1 AND c.status IN ('out_for_signature', 'partially_signed')
                  AND s.signing_order = (SELECT min(o.signing_order) FROM contract_signers o
                                          WHERE o.contract_id = c.id AND o.status = 'pending')
           ),
           next AS (
               SELECT started, GREATEST(0, floor((extract(epoch FROM now() - started)::float8 - $2::float8) / $3::float8) + 1) AS slot
                 FROM turn
           )
           SELECT min(at) AS at FROM (
               SELECT started + make_interval(secs => $2::float8 + CASE WHEN extract(epoch FROM now() - started)::float8 < $2::float8
                                                               THEN 0 ELSE slot * $3::float8 END) AS at
                 FROM next
                WHERE (extract(epoch FROM now() - started)::float8 < $2::float8 AND $4::float8 > 0) OR slot < $4::float8
               UNION ALL
               SELECT expires_at FROM contracts
                WHERE id = $1 AND expires_at IS NOT NULL AND status IN ('draft', 'out_for_signature', 'partially_signed')
           ) t"#,
        contract_id,
        seconds(policy.after),
        seconds(policy.every).max(1.0),
        f64::from(policy.max),
    )
    .fetch_one(conn)
    .await?)
}

/// What a reminder notification says.
#[derive(Clone, Debug, Serialize)]
pub struct ReminderNotice {
    pub reminder_id: Uuid,
    pub contract_id: Uuid,
    pub booking_id: Uuid,
    pub title: String,
    pub version: i32,
    pub content_sha256: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub signer_id: Uuid,
    pub signer_name: String,
    pub signer_email: String,
    pub signer_party: Party,
    /// 1 for the first reminder of this signer on this version.
    pub reminder_number: i32,
    pub reminders_max: i32,
}

/// The reminder to deliver; `None` when it was delivered already or no
/// longer applies (signed, declined, void, a new version since, or the
/// signer erased).
pub async fn pending_notice(
    conn: &mut PgConnection,
    reminder_id: Uuid,
    max: i32,
) -> Result<Option<ReminderNotice>, DomainError> {
    Ok(sqlx::query!(
        r#"SELECT r.id, r.contract_id, c.booking_id, c.title, c.current_version, v.content_sha256, c.expires_at,
                  c.sent_at, s.id AS signer_id, s.name, s.email, s.party AS "party: Party", r.slot
             FROM contract_reminders r
             JOIN contracts c ON c.id = r.contract_id
             JOIN contract_versions v ON v.contract_id = c.id AND v.number = c.current_version
             JOIN contract_signers s ON s.id = r.signer_id
            WHERE r.id = $1 AND r.delivered_at IS NULL AND r.version_number = c.current_version
              AND s.status = 'pending' AND c.status IN ('out_for_signature', 'partially_signed')
              -- An erased signer's address is no address.
              AND s.email NOT LIKE 'erased+%@erased.invalid'"#,
        reminder_id
    )
    .fetch_optional(conn)
    .await?
    .map(|r| ReminderNotice {
        reminder_id: r.id,
        contract_id: r.contract_id,
        booking_id: r.booking_id,
        title: r.title,
        version: r.current_version,
        content_sha256: r.content_sha256,
        expires_at: r.expires_at,
        sent_at: r.sent_at,
        signer_id: r.signer_id,
        signer_name: r.name,
        signer_email: r.email,
        signer_party: r.party,
        reminder_number: r.slot + 1,
        reminders_max: max,
    }))
}

/// Records a delivered reminder and its audit entry, once: `false` when
/// another attempt recorded it first.
pub async fn delivered(
    conn: &mut PgConnection,
    notice: &ReminderNotice,
    actor: &str,
    channel: &str,
    response_status: Option<u16>,
) -> Result<bool, DomainError> {
    sqlx::query!(
        "SELECT id FROM contracts WHERE id = $1 FOR NO KEY UPDATE",
        notice.contract_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "UPDATE contract_reminders SET delivered_at = now(), attempts = attempts + 1, last_error = NULL
          WHERE id = $1 AND delivered_at IS NULL",
        notice.reminder_id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows == 0 {
        return Ok(false);
    }
    audit::append(
        conn,
        notice.contract_id,
        Event {
            actor,
            org_id: None,
            action: "reminder_sent",
            from: None,
            to: None,
            details: serde_json::json!({
                "reminder_id": notice.reminder_id,
                "signer_id": notice.signer_id,
                "signer_email": notice.signer_email,
                "reminder_number": notice.reminder_number,
                "version": notice.version,
                "channel": channel,
                "response_status": response_status,
            }),
        },
    )
    .await?;
    Ok(true)
}

/// Records a failed delivery attempt (the job retries it).
pub async fn failed(
    conn: &mut PgConnection,
    reminder_id: Uuid,
    error: &str,
) -> Result<(), DomainError> {
    sqlx::query!(
        "UPDATE contract_reminders SET attempts = attempts + 1, last_error = left($2, 2000) WHERE id = $1",
        reminder_id,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}
