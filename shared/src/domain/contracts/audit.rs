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
//!
//! Personal values (names, emails, typed signatures, IPs, user agents,
//! free-text reasons and notes: the keys of [`PERSONAL_KEYS`], at any depth
//! of the details) are not hashed as such. An entry's details hold
//! `{"$personal": "<digest>"}` in each one's place, with
//! `digest = SHA-256(salt ‖ "\n" ‖ canonical(value))` and `salt` 16 random
//! bytes as 32 lowercase hex digits; `contract_audit_personal` keeps the
//! salt and the value. Erasing a value deletes that row (crypto-shredding):
//! the entry, its hash, the chain and the seal over it stay exactly as they
//! were, and without the salt the digest says nothing about the value.
//! Entries written before this design (format 1) hold their values inline
//! and are hashed with them; [`upgrade`] moves a chain to format 2 once.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::seal::{SealKey, SealSubject};
use crate::DomainError;

/// The detail keys whose values are personal data, wherever they occur.
pub const PERSONAL_KEYS: &[&str] = &[
    "name",
    "email",
    "signer_email",
    "typed_name",
    "ip",
    "user_agent",
    "reason",
    "note",
];

/// The key of the object that stands in the details for a personal value.
pub const PLACEHOLDER: &str = "$personal";

/// The format of entries written now: personal values committed, not inline.
pub const FORMAT: i16 = 2;

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
    /// As hashed: each personal value replaced by `{"$personal": digest}`.
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
    /// 1: personal values inline (written before they were committed);
    /// 2: committed.
    pub format: i16,
    /// The personal values still held, by digest (an erased one is absent).
    pub personal: Vec<PersonalValue>,
}

/// A personal value of an entry, with what opens its digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ContractAuditPersonalValue)]
pub struct PersonalValue {
    pub digest: String,
    /// 32 lowercase hex digits.
    pub salt: String,
    pub value: Value,
}

/// The digest a placeholder carries for `value` under `salt`.
pub fn personal_digest(salt: &str, value: &Value) -> String {
    let mut canonical = String::with_capacity(64);
    canonical_json(value, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical.as_bytes());
    hex::encode(hasher.finalize())
}

fn new_salt() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The digest of a placeholder object, if `value` is one.
pub fn placeholder_digest(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) if map.len() == 1 => map.get(PLACEHOLDER).and_then(Value::as_str),
        _ => None,
    }
}

/// Replaces each non-null personal value of `details` by its placeholder;
/// returns the values with their salts.
pub fn commit_personal(details: &mut Value) -> Vec<PersonalValue> {
    fn walk(value: &mut Value, out: &mut Vec<PersonalValue>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if PERSONAL_KEYS.contains(&key.as_str())
                        && !v.is_null()
                        && placeholder_digest(v).is_none()
                    {
                        let salt = new_salt();
                        let digest = personal_digest(&salt, v);
                        let value =
                            std::mem::replace(v, serde_json::json!({ PLACEHOLDER: digest }));
                        out.push(PersonalValue {
                            digest,
                            salt,
                            value,
                        });
                    } else {
                        walk(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(details, &mut out);
    out
}

/// `details` with every placeholder whose value is held replaced by it,
/// and every other placeholder (an erased value) by `null`: what a reader
/// of the entry is shown.
pub fn reveal(details: &Value, personal: &[PersonalValue]) -> Value {
    let by_digest: HashMap<&str, &Value> = personal
        .iter()
        .map(|p| (p.digest.as_str(), &p.value))
        .collect();
    fn walk(value: &Value, by_digest: &HashMap<&str, &Value>) -> Value {
        if let Some(digest) = placeholder_digest(value) {
            return by_digest.get(digest).map_or(Value::Null, |v| (*v).clone());
        }
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, by_digest)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| walk(v, by_digest)).collect()),
            scalar => scalar.clone(),
        }
    }
    walk(details, &by_digest)
}

/// `details` without any personal key: what a copy of an entry outside the
/// audit (the booking activity) carries.
pub fn without_personal(details: &Value) -> Value {
    match details {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !PERSONAL_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), without_personal(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_personal).collect()),
        scalar => scalar.clone(),
    }
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
        "SELECT seq, hash, format FROM contract_audit WHERE contract_id = $1 ORDER BY seq DESC LIMIT 1",
        contract_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (seq, prev_hash, format) = match last {
        Some(row) => (row.seq + 1, row.hash, row.format),
        None => (1, GENESIS.to_owned(), FORMAT),
    };
    // A chain keeps one format: a format-1 chain gets format-1 entries
    // until [`upgrade`] moves all of it.
    let mut details = event.details;
    let personal = if format == FORMAT {
        commit_personal(&mut details)
    } else {
        Vec::new()
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
        &details,
        &prev_hash,
    );
    sqlx::query!(
        "INSERT INTO contract_audit (contract_id, seq, at, actor, org_id, action, from_status, to_status, details, prev_hash, hash, format)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        contract_id,
        seq,
        at,
        event.actor,
        event.org_id,
        event.action,
        event.from,
        event.to,
        &details,
        prev_hash,
        hash,
        format,
    )
    .execute(&mut *conn)
    .await?;
    store_personal(&mut *conn, contract_id, seq, &personal).await?;
    Ok(ContractAuditEntry {
        seq,
        at,
        actor: event.actor.to_owned(),
        org_id: event.org_id,
        action: event.action.to_owned(),
        from_status: event.from.map(str::to_owned),
        to_status: event.to.map(str::to_owned),
        details,
        prev_hash,
        hash,
        format,
        personal,
    })
}

async fn store_personal(
    conn: &mut PgConnection,
    contract_id: Uuid,
    seq: i32,
    personal: &[PersonalValue],
) -> Result<(), DomainError> {
    if personal.is_empty() {
        return Ok(());
    }
    let digests: Vec<&str> = personal.iter().map(|p| p.digest.as_str()).collect();
    let salts: Vec<&str> = personal.iter().map(|p| p.salt.as_str()).collect();
    let values: Vec<Value> = personal.iter().map(|p| p.value.clone()).collect();
    sqlx::query!(
        "INSERT INTO contract_audit_personal (contract_id, seq, digest, salt, value)
         SELECT $1, $2, d, s, v FROM unnest($3::text[], $4::text[], $5::jsonb[]) AS t(d, s, v)
         ON CONFLICT DO NOTHING",
        contract_id,
        seq,
        &digests as &[&str],
        &salts as &[&str],
        &values,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every entry of a contract, oldest first.
pub async fn entries(
    conn: &mut PgConnection,
    contract_id: Uuid,
) -> Result<Vec<ContractAuditEntry>, DomainError> {
    let rows = sqlx::query!(
        "SELECT seq, at, actor, org_id, action, from_status, to_status, details, prev_hash, hash, format
           FROM contract_audit WHERE contract_id = $1 ORDER BY seq",
        contract_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut personal: HashMap<i32, Vec<PersonalValue>> = HashMap::new();
    for p in sqlx::query!(
        "SELECT seq, digest, salt, value FROM contract_audit_personal WHERE contract_id = $1 ORDER BY seq, digest",
        contract_id
    )
    .fetch_all(&mut *conn)
    .await?
    {
        personal.entry(p.seq).or_default().push(PersonalValue {
            digest: p.digest,
            salt: p.salt,
            value: p.value,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| ContractAuditEntry {
            personal: personal.remove(&r.seq).unwrap_or_default(),
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            org_id: r.org_id,
            action: r.action,
            from_status: r.from_status,
            to_status: r.to_status,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
            format: r.format,
        })
        .collect())
}

/// Whether the chain verifies, and the first entry that does not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ChainCheck {
    pub valid: bool,
    /// The first entry whose hash or link is wrong, or one of whose held
    /// personal values does not open its digest.
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
        let values_open = e.personal.iter().all(|p| {
            personal_digest(&p.salt, &p.value) == p.digest
                && holds_placeholder(&e.details, &p.digest)
        });
        if e.seq != expected_seq || e.prev_hash != prev || recomputed != e.hash || !values_open {
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

/// Whether `details` holds a placeholder for `digest`.
fn holds_placeholder(details: &Value, digest: &str) -> bool {
    if placeholder_digest(details) == Some(digest) {
        return true;
    }
    match details {
        Value::Object(map) => map.values().any(|v| holds_placeholder(v, digest)),
        Value::Array(items) => items.iter().any(|v| holds_placeholder(v, digest)),
        _ => false,
    }
}

/// What [`upgrade`] did to one contract's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    pub entries: usize,
    pub resealed: bool,
}

/// Moves a contract's format-1 chain to format 2: commits every entry's
/// personal values, recomputes every hash and link, reseals a sealed
/// contract over its new head (the seal's entry keeps its place) and
/// appends an `audit_upgraded` entry recording the previous head and seal.
/// Takes the contract's row lock; a chain already in format 2 is left as is
/// (`None`). The trigger on `contract_audit` lets an entry change only this
/// once, from format 1 to 2, keeping its place, time, actor and action.
pub async fn upgrade(
    conn: &mut PgConnection,
    contract_id: Uuid,
    key: &SealKey,
) -> Result<Option<Upgraded>, DomainError> {
    let contract = sqlx::query!(
        "SELECT version, seal FROM contracts WHERE id = $1 FOR UPDATE",
        contract_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let entries = entries(&mut *conn, contract_id).await?;
    if !entries.iter().any(|e| e.format == 1) {
        return Ok(None);
    }
    let before = verify(contract_id, &entries);
    if !before.valid {
        return Err(DomainError::conflict(
            crate::Code::InvalidTransition,
            format!(
                "contract {contract_id}'s audit chain is broken at entry {}: not upgraded",
                before.broken_at.unwrap_or_default()
            ),
        ));
    }
    let mut prev = GENESIS.to_owned();
    let mut heads = HashMap::new();
    for e in &entries {
        let mut details = e.details.clone();
        let personal = commit_personal(&mut details);
        let hash = entry_hash(
            contract_id,
            e.seq,
            e.at,
            &e.actor,
            e.org_id,
            &e.action,
            e.from_status.as_deref(),
            e.to_status.as_deref(),
            &details,
            &prev,
        );
        sqlx::query!(
            "UPDATE contract_audit SET details = $3, prev_hash = $4, hash = $5, format = 2
              WHERE contract_id = $1 AND seq = $2",
            contract_id,
            e.seq,
            &details,
            prev,
            hash,
        )
        .execute(&mut *conn)
        .await?;
        store_personal(&mut *conn, contract_id, e.seq, &personal).await?;
        heads.insert(e.seq, hash.clone());
        prev = hash;
    }
    let old_seal: Option<super::seal::Seal> = contract
        .seal
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| DomainError::Internal(anyhow::anyhow!("stored seal: {e}")))?;
    let new_seal = old_seal.as_ref().and_then(|s| {
        heads.get(&s.audit_seq).map(|head| {
            key.seal(&SealSubject {
                contract_id,
                version: s.version,
                content_sha256: &s.content_sha256,
                audit_seq: s.audit_seq,
                audit_head: head,
            })
        })
    });
    append(
        &mut *conn,
        contract_id,
        Event {
            actor: "system:audit-upgrade",
            org_id: None,
            action: "audit_upgraded",
            from: None,
            to: None,
            details: serde_json::json!({
                "entries": entries.len(),
                "previous_head": before.head,
                "previous_seal": old_seal.as_ref().map(|s| serde_json::json!({
                    "key_id": s.key_id,
                    "signature": s.signature,
                    "audit_head": s.audit_head,
                    "sealed_at": s.sealed_at,
                })),
            }),
        },
    )
    .await?;
    if let Some(seal) = &new_seal {
        sqlx::query!(
            "UPDATE contracts SET seal = $2, version = version + 1, updated_at = now() WHERE id = $1 AND version = $3",
            contract_id,
            serde_json::to_value(seal).map_err(|e| DomainError::Internal(e.into()))?,
            contract.version,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(Upgraded {
        entries: entries.len(),
        resealed: new_seal.is_some(),
    }))
}

/// The contracts whose chains are still in format 1, at most `limit`.
pub async fn legacy_chains(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT DISTINCT contract_id FROM contract_audit WHERE format = 1 ORDER BY contract_id LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Upgrades every format-1 chain, one contract per transaction; returns how
/// many it upgraded. Every API process runs it at start: concurrent runs
/// meet at each contract's row lock, and the second finds it done.
pub async fn upgrade_all(pool: &sqlx::PgPool, key: &SealKey) -> Result<usize, DomainError> {
    let mut upgraded = 0;
    loop {
        let ids = legacy_chains(&mut *pool.acquire().await?, 100).await?;
        if ids.is_empty() {
            return Ok(upgraded);
        }
        let mut progressed = false;
        for id in ids {
            let mut tx = pool.begin().await?;
            match upgrade(&mut tx, id, key).await {
                Ok(done) => {
                    tx.commit().await?;
                    progressed = true;
                    upgraded += usize::from(done.is_some());
                }
                // A broken chain stays as it is, for its audit to show.
                Err(e @ DomainError::Conflict { .. }) => {
                    tracing::error!(contract = %id, error = %e, "audit chain not upgraded");
                }
                Err(e) => return Err(e),
            }
        }
        if !progressed {
            return Ok(upgraded);
        }
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
                format: 1,
                personal: Vec::new(),
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

    #[test]
    fn personal_values_are_committed_revealed_and_checked() {
        let mut details = serde_json::json!({
            "signer": {"signer_id": "s-1", "name": "Mira Quell", "email": "mira@example.com"},
            "ip": "203.0.113.9",
            "user_agent": null,
            "version": 2,
        });
        let original = details.clone();
        let personal = commit_personal(&mut details);
        assert_eq!(personal.len(), 3, "null values stay as they are");
        assert_eq!(details["version"], 2);
        assert_eq!(details["signer"]["signer_id"], "s-1");
        let digest = placeholder_digest(&details["ip"]).unwrap();
        assert_eq!(digest.len(), 64);
        assert!(!details.to_string().contains("mira"), "{details}");
        assert_eq!(reveal(&details, &personal), original);
        // An erased value reads as null; the committed form is unchanged.
        let kept: Vec<_> = personal
            .iter()
            .filter(|p| p.value != "203.0.113.9")
            .cloned()
            .collect();
        assert_eq!(reveal(&details, &kept)["ip"], Value::Null);
        // The same value under another salt has another digest.
        let mut again = original.clone();
        let other = commit_personal(&mut again);
        assert_ne!(other[0].digest, personal[0].digest);
        // Inside a chain: a held value must open its digest.
        let (id, mut entries) = chain(2);
        let mut details = serde_json::json!({"typed_name": "Mira Quell"});
        let personal = commit_personal(&mut details);
        entries[1].details = details.clone();
        entries[1].hash = entry_hash(
            id,
            2,
            entries[1].at,
            "user-1",
            None,
            "created",
            None,
            Some("draft"),
            &details,
            &entries[0].hash,
        );
        entries[1].personal = personal.clone();
        assert!(verify(id, &entries).valid);
        entries[1].personal = Vec::new();
        assert!(
            verify(id, &entries).valid,
            "an erased value leaves the chain valid"
        );
        entries[1].personal = personal;
        entries[1].personal[0].value = Value::String("Someone Else".into());
        assert_eq!(verify(id, &entries).broken_at, Some(2));
    }
}
