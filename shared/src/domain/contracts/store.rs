//! Documents, the audit view and verification by hash.
//!
//! A document is rendered once per (version, format, what its signature
//! blocks show) and served from `contract_documents` afterwards. Anyone
//! holding a document can ask which contract and version it is: by the
//! SHA-256 of the version's text or of a PDF or HTML file we served.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, ChainCheck, ContractAuditEntry};
use super::contracts::{self, is_sha256};
use super::document::{self, BlockState, Document, SignatureBlock};
use super::seal::{Seal, SealKey};
use crate::DomainError;
use crate::access::Party;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    Pdf,
    Html,
}

impl DocumentFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Html => "html",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

/// Bytes per statement when a document is stored: a statement over 16 KiB
/// stalls about 40 ms on Nagle's algorithm (sqlx leaves it on), so a
/// larger document goes in as an insert and appends, in one transaction.
const STORE_CHUNK: usize = 12 * 1024;

/// A rendered document and its SHA-256.
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// SHA-256 of the version's text: what was signed.
    pub content_sha256: String,
    pub format: DocumentFormat,
    pub version: i32,
}

struct BlockRow {
    name: String,
    party: Party,
    company: String,
    order: i32,
    status: String,
    typed_name: Option<String>,
    at: Option<DateTime<Utc>>,
}

/// The document of a version (default: the current one) of a contract the
/// org is party to.
///
/// Takes the pool rather than a connection because rendering a PDF is tens
/// of milliseconds of CPU: the facts are read on one connection and given
/// back, the rendering runs on a blocking thread (off the async runtime),
/// and a fresh document is stored in its own short transaction. No
/// connection or transaction is held while it renders. The stored copy is
/// keyed by everything it shows, so a signature landing meanwhile only
/// makes the next read render a new copy; two readers rendering the same
/// key store it once (the PDF is deterministic).
pub async fn document(
    pool: &PgPool,
    org_id: Uuid,
    id: Uuid,
    format: DocumentFormat,
    version: Option<i32>,
) -> Result<Rendered, DomainError> {
    let pending = {
        let mut conn = pool.acquire().await?;
        match lookup(&mut conn, org_id, id, format, version).await? {
            Lookup::Stored(rendered) => return Ok(rendered),
            Lookup::Render(pending) => pending,
        }
    };
    let (rendered, render_key) = tokio::task::spawn_blocking(move || pending.render())
        .await
        .map_err(|e| anyhow::anyhow!("rendering the contract document: {e}"))??;
    let mut tx = pool.begin().await?;
    store(&mut tx, id, &render_key, &rendered).await?;
    tx.commit().await?;
    Ok(rendered)
}

/// A document already stored, or what a new one will show.
enum Lookup {
    Stored(Rendered),
    Render(Pending),
}

/// Everything a document shows, read from the database; rendering it
/// needs nothing more.
struct Pending {
    contract_id: Uuid,
    title: String,
    body: String,
    content_sha256: String,
    status: &'static str,
    blocks: Vec<BlockRow>,
    format: DocumentFormat,
    version: i32,
    render_key: String,
}

async fn lookup(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    format: DocumentFormat,
    version: Option<i32>,
) -> Result<Lookup, DomainError> {
    let contract = contracts::get_for(&mut *conn, org_id, id).await?;
    let number = version.unwrap_or(contract.current_version);
    let text = contracts::version_of(&mut *conn, id, number).await?;
    let current = number == contract.current_version;
    // On the current version a signer shows as signed, declined or
    // awaited; on an earlier one only the signatures it got.
    let blocks = sqlx::query_as!(
        BlockRow,
        r#"SELECT s.name, s.party AS "party: Party", co.name AS company, s.signing_order AS order,
                  CASE WHEN g.id IS NOT NULL THEN 'signed'
                       WHEN $3 AND s.status = 'declined' THEN 'declined'
                       ELSE 'awaiting' END AS "status!",
                  g.typed_name AS "typed_name?",
                  COALESCE(g.signed_at, CASE WHEN $3 AND s.status = 'declined' THEN s.updated_at END) AS at
             FROM contract_signers s
             JOIN contracts c ON c.id = s.contract_id
             JOIN companies co ON co.id = CASE s.party WHEN 'agency' THEN c.agency_company_id ELSE c.promoter_company_id END
             LEFT JOIN contract_signatures g ON g.signer_id = s.id AND g.version_number = $2
            WHERE s.contract_id = $1
            ORDER BY s.signing_order, s.id"#,
        id,
        number,
        current,
    )
    .fetch_all(&mut *conn)
    .await?;
    let status = if current {
        contract.status.as_str()
    } else {
        "superseded"
    };
    let render_key = {
        let mut key = String::new();
        audit::canonical_json(
            &serde_json::json!({
                "renderer": 1,
                "title": contract.title,
                "status": status,
                "blocks": blocks.iter().map(|b| serde_json::json!([b.name, b.party, b.company, b.order, b.status, b.typed_name, b.at])).collect::<Vec<_>>(),
            }),
            &mut key,
        );
        hex::encode(Sha256::digest(key.as_bytes()))
    };
    let stored = sqlx::query!(
        "SELECT bytes, sha256 FROM contract_documents
          WHERE contract_id = $1 AND version_number = $2 AND format = $3 AND render_key = $4",
        id,
        number,
        format.as_str(),
        render_key,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match stored {
        Some(row) => Lookup::Stored(Rendered {
            bytes: row.bytes,
            sha256: row.sha256,
            content_sha256: text.content_sha256,
            format,
            version: number,
        }),
        None => Lookup::Render(Pending {
            contract_id: id,
            title: contract.title,
            body: text.body,
            content_sha256: text.content_sha256,
            status,
            blocks,
            format,
            version: number,
            render_key,
        }),
    })
}

impl Pending {
    /// The document and its render key; CPU only, for a blocking thread.
    fn render(self) -> Result<(Rendered, String), DomainError> {
        let signers: Vec<SignatureBlock<'_>> = self
            .blocks
            .iter()
            .map(|b| SignatureBlock {
                name: &b.name,
                party: match b.party {
                    Party::Agency => "Agency",
                    Party::Promoter => "Promoter",
                },
                company: &b.company,
                order: b.order,
                state: match (b.status.as_str(), b.typed_name.as_deref(), b.at) {
                    ("signed", Some(typed_name), Some(at)) => BlockState::Signed { typed_name, at },
                    ("declined", _, Some(at)) => BlockState::Declined { at },
                    _ => BlockState::Awaiting,
                },
            })
            .collect();
        let doc = Document {
            title: &self.title,
            body: &self.body,
            contract_id: self.contract_id,
            version: self.version,
            content_sha256: &self.content_sha256,
            status: self.status,
            signers: &signers,
        };
        let bytes = match self.format {
            DocumentFormat::Html => document::html(&doc).into_bytes(),
            DocumentFormat::Pdf => document::pdf(&doc).map_err(|e| anyhow::anyhow!(e))?,
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let rendered = Rendered {
            bytes,
            sha256,
            content_sha256: self.content_sha256,
            format: self.format,
            version: self.version,
        };
        Ok((rendered, self.render_key))
    }
}

/// Keeps a rendered document for the next reader; a copy another reader
/// stored first wins (same key, same bytes). The insert and its appends
/// share the caller's transaction, so no reader sees half a document.
async fn store(
    conn: &mut PgConnection,
    id: Uuid,
    render_key: &str,
    rendered: &Rendered,
) -> Result<(), DomainError> {
    let format = rendered.format.as_str();
    let mut parts = rendered.bytes.chunks(STORE_CHUNK);
    let inserted = sqlx::query!(
        "INSERT INTO contract_documents (contract_id, version_number, format, render_key, bytes, sha256)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        id,
        rendered.version,
        format,
        render_key,
        parts.next().unwrap_or_default(),
        rendered.sha256,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        for part in parts {
            sqlx::query!(
                "UPDATE contract_documents SET bytes = bytes || $5
                  WHERE contract_id = $1 AND version_number = $2 AND format = $3 AND render_key = $4",
                id,
                rendered.version,
                format,
                render_key,
                part,
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The audit trail of a contract, whether its chain verifies, and its seal.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTrail {
    pub contract_id: Uuid,
    pub entries: Vec<ContractAuditEntry>,
    pub chain: ChainCheck,
    pub seal: Option<Seal>,
    /// The seal is signed by one of the platform's keys (current or
    /// retired), verifies, and names an entry of this chain.
    pub seal_valid: Option<bool>,
    /// The chain is intact and, once signed, the seal verifies.
    pub verified: bool,
}

async fn trail(
    conn: &mut PgConnection,
    id: Uuid,
    seal: Option<Seal>,
    keys: &SealKey,
) -> Result<AuditTrail, DomainError> {
    let entries = audit::entries(conn, id).await?;
    let chain = audit::verify(id, &entries);
    let seal_valid = seal.as_ref().map(|s| {
        keys.trusts(s, id)
            && entries
                .iter()
                .any(|e| e.seq == s.audit_seq && e.hash == s.audit_head)
    });
    Ok(AuditTrail {
        contract_id: id,
        verified: chain.valid && seal_valid != Some(false),
        entries,
        chain,
        seal,
        seal_valid,
    })
}

pub async fn audit_trail(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    keys: &SealKey,
) -> Result<AuditTrail, DomainError> {
    let contract = contracts::get_for(&mut *conn, org_id, id).await?;
    trail(conn, id, contract.seal, keys).await
}

/// One contract version a hash matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedVersion {
    pub contract_id: Uuid,
    pub title: String,
    /// What the hash is of: `text` (the version's text), `pdf` or `html`.
    pub matched: String,
    pub version: i32,
    pub content_sha256: String,
    /// Who signed this version, and when.
    pub signatures: Vec<VerifiedSignature>,
    /// Every signer signed this version and the platform sealed it.
    pub fully_signed: bool,
    pub chain_valid: bool,
    pub seal: Option<Seal>,
    pub seal_valid: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedSignature {
    pub name: String,
    pub typed_name: String,
    pub party: Party,
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verification {
    pub sha256: String,
    pub matches: Vec<VerifiedVersion>,
}

/// Which contract versions a SHA-256 is of (their text, or a document we
/// served of them); 404 when none. Holding a document is what this answers
/// to, so it shows no more than the document does: which contract and
/// version, who signed it and when, whether the platform sealed that
/// version and the chain and seal verify; not the contract's state since
/// (its status, later versions).
pub async fn verify(
    conn: &mut PgConnection,
    sha256: &str,
    keys: &SealKey,
) -> Result<Verification, DomainError> {
    let sha256 = sha256.to_ascii_lowercase();
    if !is_sha256(&sha256) {
        return Err(DomainError::invalid("sha256", "must be 64 hex digits"));
    }
    let found = sqlx::query!(
        r#"SELECT contract_id AS "contract_id!", version_number AS "version!", matched AS "matched!"
             FROM (SELECT contract_id, number AS version_number, 'text' AS matched
                     FROM contract_versions WHERE content_sha256 = $1
                   UNION
                   SELECT contract_id, version_number, format
                     FROM contract_documents WHERE sha256 = $1) m
            ORDER BY 1, 2 LIMIT 20"#,
        sha256
    )
    .fetch_all(&mut *conn)
    .await?;
    if found.is_empty() {
        return Err(DomainError::NotFound);
    }
    let mut matches = Vec::with_capacity(found.len());
    for m in found {
        let contract = contracts::load(&mut *conn, m.contract_id).await?;
        let text = contracts::version_of(&mut *conn, m.contract_id, m.version).await?;
        let signatures = sqlx::query_as!(
            VerifiedSignature,
            r#"SELECT s.name, g.typed_name, s.party AS "party: Party", g.signed_at
                 FROM contract_signatures g JOIN contract_signers s ON s.id = g.signer_id
                WHERE g.contract_id = $1 AND g.version_number = $2
                ORDER BY g.signed_at"#,
            m.contract_id,
            m.version,
        )
        .fetch_all(&mut *conn)
        .await?;
        let seal = contract.seal.clone().filter(|s| s.version == m.version);
        let trail = trail(&mut *conn, m.contract_id, seal.clone(), keys).await?;
        matches.push(VerifiedVersion {
            contract_id: contract.id,
            title: contract.title,
            matched: m.matched,
            version: m.version,
            content_sha256: text.content_sha256,
            fully_signed: seal.is_some(),
            signatures,
            chain_valid: trail.chain.valid,
            seal,
            seal_valid: trail.seal_valid,
        });
    }
    Ok(Verification { sha256, matches })
}
