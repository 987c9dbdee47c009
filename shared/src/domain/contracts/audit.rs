//! The contract audit trail: append-only (a trigger refuses UPDATE, DELETE
//! and TRUNCATE) and hash-chained.
//!
//! Entry `n` stores `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical(entry))`,
//! where `prev_hash` is entry `n-1`'s hash (64 zeros for the first) and
//! `canonical` is the entry's fields as JSON with object keys sorted, no
//! whitespace, strings as UTF-8 (`json.dumps(sort_keys=True,
//! separators=(",", ":"), ensure_ascii=False)` in Python gives the same
//! bytes), times as RFC 3339 UTC with microseconds. Editing any stored entry
//! breaks its own hash and every later link; recomputing the whole chain
//! is caught by the platform's seal over the head (see [`super::seal`]).
//! Writers hold the contract's row lock, so sequence numbers never race.
//! Entries are stored in monthly partitions of `at` ([`crate::history`]),
//! and read by `seq`, never in storage order, so a chain spanning months
//! verifies like any other.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;

/// The `prev_hash` of a contract's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry as stored and served.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContractAuditEntry {
    pub seq: i32,
    pub at: DateTime<Utc>,
    /// The user id, or `system:<job>` for the worker.
    pub actor: String,
    pub org_id: Option<Uuid>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// An entry to append.
pub struct Event<'a> {
    pub actor: &'a str,
    pub org_id: Option<Uuid>,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub details: Value,
}

/// RFC 3339 UTC with exactly six fractional digits: what Postgres keeps.
fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `value` as JSON with object keys sorted and no whitespace.
pub fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The hash of an entry given its predecessor's hash.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    contract_id: Uuid,
    seq: i32,
    at: DateTime<Utc>,
    actor: &str,
    org_id: Option<Uuid>,
    action: &str,
    from: Option<&str>,
    to: Option<&str>,
    details: &Value,
    prev_hash: &str,
) -> String {
    let fields = serde_json::json!({
        "contract_id": contract_id,
        "seq": seq,
        "at": timestamp(at),
        "actor": actor,
        "org_id": org_id,
        "action": action,
        "from_status": from,
        "to_status": to,
        "details": details,
    });
    let mut canonical = String::with_capacity(256);
    canonical_json(&fields, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

/// Appends one entry; the caller holds the contract's row lock.
pub async fn append(
    conn: &mut PgConnection,
    contract_id: Uuid,
    event: Event<'_>,
) -> Result<ContractAuditEntry, DomainError> {
    let last = sqlx::query!(
        "SELECT seq, hash FROM contract_audit WHERE contract_id = $1 ORDER BY seq DESC LIMIT 1",
        contract_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.seq + 1, row.hash),
        None => (1, GENESIS.to_owned()),
    };
    let at = Utc::now().trunc_subsecs(6);
    let hash = entry_hash(
        contract_id,
        seq,
        at,
        event.actor,
        event.org_id,
        event.action,
        event.from,
        event.to,
        &event.details,
        &prev_hash,
    );
    sqlx::query!(
        "INSERT INTO contract_audit (contract_id, seq, at, actor, org_id, action, from_status, to_status, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        contract_id,
        seq,
        at,
        event.actor,
        event.org_id,
        event.action,
        event.from,
        event.to,
        &event.details,
        prev_hash,
        hash,
    )
    .execute(conn)
    .await?;
    Ok(ContractAuditEntry {
        seq,
        at,
        actor: event.actor.to_owned(),
        org_id: event.org_id,
        action: event.action.to_owned(),
        from_status: event.from.map(str::to_owned),
        to_status: event.to.map(str::to_owned),
        details: event.details,
        prev_hash,
        hash,
    })
}

/// Every entry of a contract, oldest first.
pub async fn entries(
    conn: &mut PgConnection,
    contract_id: Uuid,
) -> Result<Vec<ContractAuditEntry>, DomainError> {
    Ok(sqlx::query_as!(
        ContractAuditEntry,
        "SELECT seq, at, actor, org_id, action, from_status, to_status, details, prev_hash, hash
           FROM contract_audit WHERE contract_id = $1 ORDER BY seq",
        contract_id
    )
    .fetch_all(conn)
    .await?)
}

/// Whether the chain verifies, and the first entry that does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChainCheck {
    pub valid: bool,
    /// The first entry whose hash or link is wrong.
    pub broken_at: Option<i32>,
    /// The last entry's hash.
    pub head: Option<String>,
}

/// Recomputes every hash and link from the stored fields.
pub fn verify(contract_id: Uuid, entries: &[ContractAuditEntry]) -> ChainCheck {
    let mut prev = GENESIS;
    for (i, e) in entries.iter().enumerate() {
        let expected_seq = i32::try_from(i + 1).unwrap_or(i32::MAX);
        let recomputed = entry_hash(
            contract_id,
            e.seq,
            e.at,
            &e.actor,
            e.org_id,
            &e.action,
            e.from_status.as_deref(),
            e.to_status.as_deref(),
            &e.details,
            &e.prev_hash,
        );
        if e.seq != expected_seq || e.prev_hash != prev || recomputed != e.hash {
            return ChainCheck {
                valid: false,
                broken_at: Some(e.seq),
                head: entries.last().map(|e| e.hash.clone()),
            };
        }
        prev = &e.hash;
    }
    ChainCheck {
        valid: true,
        broken_at: None,
        head: entries.last().map(|e| e.hash.clone()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chain(n: i32) -> (Uuid, Vec<ContractAuditEntry>) {
        let id = Uuid::now_v7();
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for seq in 1..=n {
            let at = Utc::now().trunc_subsecs(6);
            let details = serde_json::json!({"z": 1, "a": {"y": "é", "b": [1, 2]}});
            let hash = entry_hash(
                id,
                seq,
                at,
                "user-1",
                None,
                "created",
                None,
                Some("draft"),
                &details,
                &prev,
            );
            out.push(ContractAuditEntry {
                seq,
                at,
                actor: "user-1".into(),
                org_id: None,
                action: "created".into(),
                from_status: None,
                to_status: Some("draft".into()),
                details,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        (id, out)
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut out = String::new();
        canonical_json(
            &serde_json::json!({"b": 1, "a": {"d": null, "c": "x\"y"}}),
            &mut out,
        );
        assert_eq!(out, r#"{"a":{"c":"x\"y","d":null},"b":1}"#);
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (id, entries) = chain(4);
        let check = verify(id, &entries);
        assert!(check.valid);
        assert_eq!(check.head.as_deref(), Some(entries[3].hash.as_str()));
    }

    #[test]
    fn any_edit_breaks_the_chain_where_it_was_made() {
        let (id, mut entries) = chain(4);
        entries[1].details = serde_json::json!({"z": 2});
        assert_eq!(verify(id, &entries).broken_at, Some(2));
        let (id, mut entries) = chain(4);
        entries.remove(2);
        assert_eq!(verify(id, &entries).broken_at, Some(4));
        let (id, mut entries) = chain(3);
        entries[2].actor = "someone-else".into();
        assert!(!verify(id, &entries).valid);
        let (_, entries) = chain(2);
        assert!(
            !verify(Uuid::now_v7(), &entries).valid,
            "bound to its contract"
        );
    }
}
