//! Erasure of one subject everywhere the map says, in one transaction.
//!
//! Idempotent: a second erasure of the same subject finds nothing of theirs
//! and answers the first one's record without writing. Where a signed
//! (sealed) contract must be kept for legal claims, the signer's name and
//! typed signature stay where the signed document shows them (the signer
//! row and the signature) and everything else goes: their email, IP, user
//! agent and every personal value of the audit, whose chain and seal stay
//! valid because they commit to salted digests, not to the values
//! ([`crate::domain::contracts::audit`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Subject, SubjectIn, free_text_locations, resolve};
use crate::DomainError;
use crate::domain::contracts::audit::{self, PLACEHOLDER};
use crate::domain::contracts::seal::SealKey;
use crate::validate::Check;

/// The name an erased contact keeps.
pub const ERASED_CONTACT: &str = "Erased contact";
/// The name an erased signer of an unsigned contract keeps.
pub const ERASED_SIGNER: &str = "Erased signer";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PersonalDataErasureIn)]
pub struct ErasureIn {
    /// The subject's email address; or give `person_id`.
    pub email: Option<String>,
    /// A contact's id in the directory; or give `email`.
    pub person_id: Option<Uuid>,
    /// Why (the request's reference, the legal basis): kept with the record.
    pub reason: String,
}

/// What one erasure did, without the data it erased.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = PersonalDataErasure)]
pub struct Erasure {
    pub id: Uuid,
    /// `person:<uuid>` or `email-sha256:<hex of the lowercased address>`.
    pub subject: String,
    pub reason: String,
    /// Records changed, by `table.column`.
    pub erased: BTreeMap<String, u64>,
    /// What was kept, where and why.
    pub retained: Vec<Retained>,
    pub requested_at: DateTime<Utc>,
}

/// Personal data an erasure kept, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = PersonalDataRetained)]
pub struct Retained {
    pub table: String,
    pub id: String,
    pub fields: Vec<String>,
    pub why: String,
}

/// The answer: the erasure, and whether this request made it.
pub struct Outcome {
    pub erasure: Option<Erasure>,
    /// `false`: nothing of the subject was held (any earlier erasure is
    /// the one answered), and nothing was written.
    pub erased_now: bool,
}

const SIGNED_WHY: &str =
    "a signed contract: kept for legal claims, where the signed document shows it";

/// Erases the subject; the caller commits.
pub async fn erase(
    conn: &mut PgConnection,
    input: ErasureIn,
    key: &SealKey,
) -> Result<Outcome, DomainError> {
    let mut check = Check::new();
    let reason = check.text("reason", &input.reason, 1, 2000);
    check.finish()?;
    let subject = resolve(
        &mut *conn,
        &SubjectIn {
            email: input.email,
            person_id: input.person_id,
        },
    )
    .await?;
    sqlx::query("SELECT set_config('kisum.erasure', 'on', true)")
        .execute(&mut *conn)
        .await?;
    let mut erased: BTreeMap<String, u64> = BTreeMap::new();
    let mut retained = Vec::new();
    if !subject.identifiers().is_empty() || !subject.person_ids.is_empty() {
        contracts(&mut *conn, &subject, key, &mut erased, &mut retained).await?;
        directory(&mut *conn, &subject, &mut erased).await?;
        documents(&mut *conn, &subject, &mut erased).await?;
        free_text(&mut *conn, &subject, &mut erased).await?;
    }
    erased.retain(|_, n| *n > 0);
    if erased.is_empty() {
        let earlier = sqlx::query!(
            r#"SELECT id, subject, reason, erased, retained, requested_at FROM privacy_erasures
                WHERE subject = $1 ORDER BY requested_at DESC LIMIT 1"#,
            subject.key
        )
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| -> Result<Erasure, DomainError> {
            Ok(Erasure {
                id: r.id,
                subject: r.subject,
                reason: r.reason,
                erased: serde_json::from_value(r.erased).map_err(anyhow::Error::from)?,
                retained: serde_json::from_value(r.retained).map_err(anyhow::Error::from)?,
                requested_at: r.requested_at,
            })
        })
        .transpose()?;
        return Ok(Outcome {
            erasure: earlier,
            erased_now: false,
        });
    }
    let erasure = Erasure {
        id: Uuid::now_v7(),
        subject: subject.key.clone(),
        reason,
        erased,
        retained,
        requested_at: Utc::now(),
    };
    sqlx::query!(
        "INSERT INTO privacy_erasures (id, subject, reason, erased, retained, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        erasure.id,
        erasure.subject,
        erasure.reason,
        serde_json::to_value(&erasure.erased).map_err(anyhow::Error::from)?,
        serde_json::to_value(&erasure.retained).map_err(anyhow::Error::from)?,
        erasure.requested_at,
    )
    .execute(&mut *conn)
    .await?;
    tracing::info!(erasure = %erasure.id, subject = %erasure.subject, "personal data erased");
    Ok(Outcome {
        erasure: Some(erasure),
        erased_now: true,
    })
}

fn count(erased: &mut BTreeMap<String, u64>, location: &str, n: u64) {
    *erased.entry(location.to_owned()).or_default() += n;
}

/// Signers, signatures and the audit's personal values.
async fn contracts(
    conn: &mut PgConnection,
    subject: &Subject,
    key: &SealKey,
    erased: &mut BTreeMap<String, u64>,
    retained: &mut Vec<Retained>,
) -> Result<(), DomainError> {
    let patterns = subject.like_patterns();
    if patterns.is_empty() && subject.emails.is_empty() {
        return Ok(());
    }
    // Chains still holding values inline move to committed values first.
    let legacy = sqlx::query_scalar!(
        r#"SELECT DISTINCT contract_id AS "id!" FROM contract_audit
            WHERE format = 1 AND details::text ILIKE ANY($1)"#,
        &patterns
    )
    .fetch_all(&mut *conn)
    .await?;
    for id in legacy {
        audit::upgrade(&mut *conn, id, key).await?;
    }
    // The audit: the subject's values, and the IP and user agent of an
    // entry that holds one of them (that signer's evidence).
    let contracts = sqlx::query_scalar!(
        r#"SELECT DISTINCT contract_id AS "id!" FROM contract_audit_personal
            WHERE value #>> '{}' ILIKE ANY($1)"#,
        &patterns
    )
    .fetch_all(&mut *conn)
    .await?;
    for contract_id in contracts {
        for entry in audit::entries(&mut *conn, contract_id).await? {
            let keys = placeholder_keys(&entry.details);
            let theirs: Vec<&audit::PersonalValue> = entry
                .personal
                .iter()
                .filter(|p| value_text(&p.value).is_some_and(|t| subject.appears_in(&t)))
                .collect();
            if theirs.is_empty() {
                continue;
            }
            let doomed: Vec<String> = entry
                .personal
                .iter()
                .filter(|p| {
                    theirs.contains(p)
                        || keys
                            .get(p.digest.as_str())
                            .is_some_and(|k| *k == "ip" || *k == "user_agent")
                })
                .map(|p| p.digest.clone())
                .collect();
            let n = sqlx::query!(
                "DELETE FROM contract_audit_personal WHERE contract_id = $1 AND seq = $2 AND digest = ANY($3)",
                contract_id,
                entry.seq,
                &doomed
            )
            .execute(&mut *conn)
            .await?
            .rows_affected();
            count(erased, "contract_audit_personal.value", n);
        }
    }
    let signers = sqlx::query!(
        r#"UPDATE contract_signers s
              SET email = 'erased+' || s.id::text || '@erased.invalid',
                  name = CASE WHEN c.seal IS NULL THEN $2 ELSE s.name END,
                  updated_at = now()
             FROM contracts c
            WHERE c.id = s.contract_id AND lower(s.email) = ANY($1)
        RETURNING s.id, s.contract_id, c.seal IS NOT NULL AS "sealed!""#,
        &subject.emails,
        ERASED_SIGNER,
    )
    .fetch_all(&mut *conn)
    .await?;
    count(erased, "contract_signers.email", signers.len() as u64);
    let unsealed: Vec<Uuid> = signers.iter().filter(|s| !s.sealed).map(|s| s.id).collect();
    count(erased, "contract_signers.name", unsealed.len() as u64);
    let ids: Vec<Uuid> = signers.iter().map(|s| s.id).collect();
    let signatures = sqlx::query!(
        r#"UPDATE contract_signatures
              SET ip = NULL, user_agent = NULL,
                  typed_name = CASE WHEN signer_id = ANY($2) THEN $3 ELSE typed_name END
            WHERE signer_id = ANY($1)
              AND (ip IS NOT NULL OR user_agent IS NOT NULL OR (signer_id = ANY($2) AND typed_name <> $3))
        RETURNING signer_id"#,
        &ids,
        &unsealed,
        ERASED_SIGNER,
    )
    .fetch_all(&mut *conn)
    .await?;
    count(erased, "contract_signatures", signatures.len() as u64);
    for s in signers.iter().filter(|s| s.sealed) {
        retained.push(Retained {
            table: "contract_signers".into(),
            id: s.id.to_string(),
            fields: vec!["name".into()],
            why: SIGNED_WHY.into(),
        });
        retained.push(Retained {
            table: "contract_signatures".into(),
            id: s.id.to_string(),
            fields: vec!["typed_name".into()],
            why: SIGNED_WHY.into(),
        });
        retained.push(Retained {
            table: "contract_versions".into(),
            id: s.contract_id.to_string(),
            fields: vec!["body".into()],
            why: "the signed text, as the parties agreed it".into(),
        });
    }
    Ok(())
}

/// The detail key each placeholder of `details` stands for.
fn placeholder_keys(details: &Value) -> HashMap<&str, &str> {
    fn walk<'a>(value: &'a Value, key: Option<&'a str>, out: &mut HashMap<&'a str, &'a str>) {
        if let (Some(digest), Some(key)) = (audit::placeholder_digest(value), key) {
            out.insert(digest, key);
            return;
        }
        match value {
            Value::Object(map) if !map.contains_key(PLACEHOLDER) => {
                for (k, v) in map {
                    walk(v, Some(k), out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, key, out)),
            _ => {}
        }
    }
    let mut out = HashMap::new();
    walk(details, None, &mut out);
    out
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The subject's contacts, and companies whose address is theirs.
async fn directory(
    conn: &mut PgConnection,
    subject: &Subject,
    erased: &mut BTreeMap<String, u64>,
) -> Result<(), DomainError> {
    let people = sqlx::query!(
        "UPDATE people SET name = $3, title = NULL, email = NULL, phone = NULL, notes = NULL,
                version = version + 1, updated_at = now()
          WHERE (id = ANY($1) OR lower(email) = ANY($2))
            AND (name <> $3 OR title IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL OR notes IS NOT NULL)",
        &subject.person_ids,
        &subject.emails,
        ERASED_CONTACT,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    count(erased, "people", people);
    let companies = sqlx::query!(
        "UPDATE companies
            SET email = CASE WHEN lower(email) = ANY($1) THEN NULL ELSE email END,
                phone = CASE WHEN phone = ANY($2) THEN NULL ELSE phone END,
                version = version + 1, updated_at = now()
          WHERE lower(email) = ANY($1) OR phone = ANY($2)",
        &subject.emails,
        &subject.phones,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    count(erased, "companies", companies);
    Ok(())
}

/// JSON documents: logistics sheets and proposals, activity details, and
/// stored responses.
async fn documents(
    conn: &mut PgConnection,
    subject: &Subject,
    erased: &mut BTreeMap<String, u64>,
) -> Result<(), DomainError> {
    let patterns = subject.like_patterns();
    let mut tables: Vec<(String, &str, &str)> = vec![
        (
            "booking_logistics".into(),
            "sheet",
            ", version = version + 1, updated_at = now()",
        ),
        (
            "logistics_proposals".into(),
            "content",
            ", version = version + 1, updated_at = now()",
        ),
        ("booking_activity".into(), "details", ""),
    ];
    // Archived activity months are history too.
    for part in sqlx::query_scalar!(
        "SELECT name FROM history_partitions WHERE parent = 'booking_activity' AND archived_at IS NOT NULL"
    )
    .fetch_all(&mut *conn)
    .await?
    {
        if sqlx::query_scalar!("SELECT to_regclass(format('archive.%I', $1::text)) IS NOT NULL", part)
            .fetch_one(&mut *conn)
            .await?
            .unwrap_or(false)
        {
            tables.push((format!("archive.\"{part}\""), "details", ""));
        }
    }
    for (table, column, bump) in tables {
        let key = if table == "booking_logistics" {
            "booking_id"
        } else {
            "id"
        };
        let sql = format!(
            "SELECT {key} AS key, {column} AS doc FROM {table} WHERE {column}::text ILIKE ANY($1)"
        );
        let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(&patterns)
            .fetch_all(&mut *conn)
            .await?;
        let mut n = 0;
        for row in rows {
            let id: Uuid = row.try_get("key")?;
            let mut doc: Value = row.try_get("doc")?;
            if subject.scrub(&mut doc) {
                let update = format!("UPDATE {table} SET {column} = $2{bump} WHERE {key} = $1");
                n += sqlx::query(AssertSqlSafe(update.as_str()))
                    .bind(id)
                    .bind(&doc)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
            }
        }
        let label = table.trim_start_matches("archive.").trim_matches('"');
        let label = if label.starts_with("booking_activity") {
            "booking_activity"
        } else {
            label
        };
        count(erased, &format!("{label}.{column}"), n);
    }
    let identifiers: Vec<&str> = subject.identifiers();
    let responses = sqlx::query!(
        "DELETE FROM idempotency_keys k
          WHERE EXISTS (SELECT 1 FROM unnest($1::text[]) i
                         WHERE position(convert_to(i, 'UTF8') IN k.response_body) > 0)",
        &identifiers as &[&str]
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    count(erased, "idempotency_keys.response_body", responses);
    Ok(())
}

/// Every free-text column of the map, redacted where it names the subject.
async fn free_text(
    conn: &mut PgConnection,
    subject: &Subject,
    erased: &mut BTreeMap<String, u64>,
) -> Result<(), DomainError> {
    if subject.identifiers().is_empty() {
        return Ok(());
    }
    let regex = subject.regex();
    for l in free_text_locations() {
        let sql = format!(
            "UPDATE {table} SET {column} = regexp_replace({column}, $1, '[erased]', 'gi') WHERE {column} ~* $1",
            table = l.table,
            column = l.column
        );
        let n = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(&regex)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        count(erased, &format!("{}.{}", l.table, l.column), n);
    }
    Ok(())
}
