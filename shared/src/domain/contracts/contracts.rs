//! Booking-linked contracts: the record, its state machine, versions,
//! signers, sending, voiding and attachments. Signing and declining live in
//! [`super::signing`].
//!
//! The booking's agency writes the contract (from one of its templates) and
//! runs it: versions, signers, send, void. Both parties read it, and each
//! party's signers sign or decline for it. Every write takes the contract's
//! row lock first, so the audit chain and the signing order never race; the
//! status change itself is the guarded `UPDATE ... WHERE status AND version`.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::audit::{self, Event};
use super::seal::Seal;
use super::{library, template};
use crate::access::{self, Parties, Party};
use crate::domain::booking::activity::{self, Change};
use crate::domain::booking::bookings::{self, BookingStatus};
use crate::domain::{guarded, precondition};
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;
use crate::validate::Check;
use crate::{Code, DomainError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ContractStatus {
    Draft,
    OutForSignature,
    PartiallySigned,
    Signed,
    Declined,
    Void,
}

/// What happens to a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractEvent {
    Send,
    /// A signature; `last` when it was the last one awaited.
    Sign {
        last: bool,
    },
    Decline,
    Void,
    /// A new version: signatures are cleared, signing starts over.
    NewVersion,
}

impl ContractStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::OutForSignature => "out_for_signature",
            Self::PartiallySigned => "partially_signed",
            Self::Signed => "signed",
            Self::Declined => "declined",
            Self::Void => "void",
        }
    }

    /// Still open: neither signed, declined nor void.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Draft | Self::OutForSignature | Self::PartiallySigned
        )
    }

    /// The one transition function of a contract. Signed, declined and
    /// void are final.
    pub fn apply(self, event: ContractEvent) -> Result<Self, DomainError> {
        use ContractEvent as E;
        use ContractStatus as S;
        match (self, event) {
            (S::Draft, E::Send) => Ok(S::OutForSignature),
            (S::OutForSignature | S::PartiallySigned, E::Sign { last: true }) => Ok(S::Signed),
            (S::OutForSignature | S::PartiallySigned, E::Sign { last: false }) => {
                Ok(S::PartiallySigned)
            }
            (S::OutForSignature | S::PartiallySigned, E::Decline) => Ok(S::Declined),
            (S::Draft | S::OutForSignature | S::PartiallySigned, E::Void) => Ok(S::Void),
            (S::Draft, E::NewVersion) => Ok(S::Draft),
            (S::OutForSignature | S::PartiallySigned, E::NewVersion) => Ok(S::OutForSignature),
            (from, event) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!(
                    "the contract is {} and cannot {}",
                    from.as_str(),
                    match event {
                        E::Send => "be sent",
                        E::Sign { .. } => "be signed",
                        E::Decline => "be declined",
                        E::Void => "be voided",
                        E::NewVersion => "get a new version",
                    }
                ),
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SignerStatus {
    Pending,
    Signed,
    Declined,
}

/// What happens to a signer of the current version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerEvent {
    Sign,
    Decline,
    /// A new version: every signature and decline was for the old one.
    NewVersion,
}

impl SignerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Signed => "signed",
            Self::Declined => "declined",
        }
    }

    /// The one transition function of a signer: a pending signer signs or
    /// declines once per version; a new version makes every signer who
    /// answered pending again.
    pub fn apply(self, event: SignerEvent) -> Result<Self, DomainError> {
        match (self, event) {
            (Self::Pending, SignerEvent::Sign) => Ok(Self::Signed),
            (Self::Pending, SignerEvent::Decline) => Ok(Self::Declined),
            (Self::Signed | Self::Declined, SignerEvent::NewVersion) => Ok(Self::Pending),
            (from, SignerEvent::Sign | SignerEvent::Decline) => Err(DomainError::conflict(
                Code::AlreadySigned,
                format!("this signer has already {} this version", from.as_str()),
            )),
            (from, SignerEvent::NewVersion) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the signer is {} and has nothing to clear", from.as_str()),
            )),
        }
    }
}

impl crate::domain::machine::Machine for SignerStatus {
    type Event = SignerEvent;
    const ALL: &'static [Self] = &[Self::Pending, Self::Signed, Self::Declined];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: SignerEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

/// What a signer typed and agreed to, on the current version.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SignatureOut {
    pub typed_name: String,
    pub content_sha256: String,
    pub version_number: i32,
    pub consent_statement: String,
    pub user_id: String,
    pub signed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Signer {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub party: Party,
    /// Signers sign in ascending order; equal orders sign in parallel.
    pub order: i32,
    pub status: SignerStatus,
    pub decline_reason: Option<String>,
    /// The signature on the current version, once signed.
    pub signature: Option<SignatureOut>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Contract {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub artist_id: Uuid,
    pub agency_company_id: Uuid,
    pub promoter_company_id: Uuid,
    /// The template (and its version) the contract was made from; shown to
    /// the agency only, as its template library is its own.
    pub template_id: Option<Uuid>,
    pub template_version: Option<i32>,
    pub title: String,
    pub status: ContractStatus,
    /// The number of the current version: the one that is signed.
    pub current_version: i32,
    /// SHA-256 (hex) of the current version's exact UTF-8 bytes.
    pub content_sha256: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    /// Why it was declined or voided (`expired` when it ran out of time).
    pub status_reason: Option<String>,
    pub signers: Vec<Signer>,
    /// The platform's signature, once signed.
    pub seal: Option<Seal>,
    /// The statement a signer agrees to, sent back verbatim when signing.
    pub consent_statement: &'static str,
    /// Record version, for `If-Match`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contract {
    pub fn parties(&self) -> Parties {
        Parties {
            agency: self.agency_company_id,
            promoter: self.promoter_company_id,
        }
    }

    /// The contract as `party` sees it: the template it came from is the
    /// agency's private record.
    pub fn seen_by(mut self, party: Party) -> Self {
        if party != Party::Agency {
            self.template_id = None;
            self.template_version = None;
        }
        self
    }
}

/// What a signer agrees to by signing, recorded verbatim with the signature.
pub const CONSENT_STATEMENT: &str = "I agree that the name I typed is my electronic signature on this contract, \
in the version identified by its SHA-256, that I have read that version, and that I sign on behalf of the party \
named for me with the authority to bind it.";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignerIn {
    pub name: String,
    pub email: String,
    pub party: Party,
    /// Default: promoter signers 1, agency signers 2 (the agency countersigns).
    #[serde(default)]
    pub order: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractIn {
    /// A template of a company the caller's org owns.
    pub template_id: Uuid,
    /// Default: the template's name.
    #[serde(default)]
    pub title: Option<String>,
    /// Past this, an unsigned contract is voided with reason `expired`.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub signers: Vec<SignerIn>,
}

/// A new version: an edited text, or (without `body`) the current template
/// version rendered again with the booking's current terms.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractVersionIn {
    /// The full Markdown text of the new version.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContractVersion {
    pub number: i32,
    /// The exact text: its UTF-8 bytes hash to `content_sha256`.
    pub body: String,
    pub content_sha256: String,
    /// `template` (rendered) or `edited`.
    pub source: String,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonIn {
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    pub name: String,
    pub url: String,
    pub media_type: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    #[serde(default)]
    pub size_bytes: Option<i64>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Attachment {
    pub id: Uuid,
    pub name: String,
    pub url: String,
    pub media_type: String,
    pub sha256: String,
    pub size_bytes: Option<i64>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

pub(super) const SUBJECT: &str = "contract";

/// The longest version text, in bytes (the table's CHECK says the same).
pub const MAX_VERSION_BYTES: usize = 1024 * 1024;

/// The SHA-256 of a version's exact bytes, hex.
pub fn content_hash(body: &str) -> String {
    hex::encode(Sha256::digest(body.as_bytes()))
}

/// Whether `value` is a SHA-256 as we write it: 64 lowercase hex digits.
pub fn is_sha256(value: &str) -> bool {
    value.len() == 64
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

struct Row {
    id: Uuid,
    booking_id: Uuid,
    artist_id: Uuid,
    agency_company_id: Uuid,
    promoter_company_id: Uuid,
    template_id: Option<Uuid>,
    template_version: Option<i32>,
    title: String,
    status: ContractStatus,
    current_version: i32,
    content_sha256: String,
    expires_at: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    signed_at: Option<DateTime<Utc>>,
    status_reason: Option<String>,
    seal: Option<Json<Seal>>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn with(self, signers: Vec<Signer>) -> Contract {
        Contract {
            id: self.id,
            booking_id: self.booking_id,
            artist_id: self.artist_id,
            agency_company_id: self.agency_company_id,
            promoter_company_id: self.promoter_company_id,
            template_id: self.template_id,
            template_version: self.template_version,
            title: self.title,
            status: self.status,
            current_version: self.current_version,
            content_sha256: self.content_sha256,
            expires_at: self.expires_at,
            sent_at: self.sent_at,
            signed_at: self.signed_at,
            status_reason: self.status_reason,
            signers,
            seal: self.seal.map(|s| s.0),
            consent_statement: CONSENT_STATEMENT,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The signers of contracts, in signing order, with their signatures on
/// each contract's current version: one query for any number of contracts.
async fn signers_of(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Signer>>, DomainError> {
    let rows = sqlx::query!(
        r#"SELECT s.contract_id, s.id, s.name, s.email, s.party AS "party: Party", s.signing_order,
                  s.status AS "status: SignerStatus", s.decline_reason,
                  g.typed_name AS "typed_name?", g.content_sha256 AS "content_sha256?", g.version_number AS "version_number?",
                  g.consent_statement AS "consent_statement?", g.user_id AS "user_id?", g.signed_at AS "signed_at?"
             FROM contract_signers s
             JOIN contracts c ON c.id = s.contract_id
             LEFT JOIN contract_signatures g ON g.signer_id = s.id AND g.version_number = c.current_version
            WHERE s.contract_id = ANY ($1)
            ORDER BY s.contract_id, s.signing_order, s.id"#,
        ids
    )
    .fetch_all(conn)
    .await?;
    let mut by_contract: HashMap<Uuid, Vec<Signer>> = HashMap::new();
    for r in rows {
        let signature = match (
            r.typed_name,
            r.content_sha256,
            r.version_number,
            r.consent_statement,
            r.user_id,
            r.signed_at,
        ) {
            (Some(typed_name), Some(sha), Some(n), Some(consent), Some(user), Some(at)) => {
                Some(SignatureOut {
                    typed_name,
                    content_sha256: sha,
                    version_number: n,
                    consent_statement: consent,
                    user_id: user,
                    signed_at: at,
                })
            }
            _ => None,
        };
        by_contract.entry(r.contract_id).or_default().push(Signer {
            id: r.id,
            name: r.name,
            email: r.email,
            party: r.party,
            order: r.signing_order,
            status: r.status,
            decline_reason: r.decline_reason,
            signature,
        });
    }
    Ok(by_contract)
}

async fn load_row(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Row, DomainError> {
    if lock {
        sqlx::query!(
            "SELECT id FROM contracts WHERE id = $1 FOR NO KEY UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound)?;
    }
    sqlx::query_as!(
        Row,
        r#"SELECT c.id, c.booking_id, c.artist_id, c.agency_company_id, c.promoter_company_id, c.template_id,
                  c.template_version, c.title, c.status AS "status: ContractStatus", c.current_version,
                  v.content_sha256, c.expires_at, c.sent_at, c.signed_at, c.status_reason,
                  c.seal AS "seal: Json<Seal>", c.version, c.created_at, c.updated_at
             FROM contracts c
             JOIN contract_versions v ON v.contract_id = c.id AND v.number = c.current_version
            WHERE c.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

pub(super) async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Contract, DomainError> {
    let row = load_row(&mut *conn, id, false).await?;
    let mut signers = signers_of(conn, &[id]).await?;
    Ok(row.with(signers.remove(&id).unwrap_or_default()))
}

/// The contract, locked for a change, and the party the org is on (404
/// when none).
pub(super) async fn lock_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(Contract, Party), DomainError> {
    let row = load_row(&mut *conn, id, true).await?;
    let mut signers = signers_of(&mut *conn, &[id]).await?;
    let contract = row.with(signers.remove(&id).unwrap_or_default());
    let party = access::require_party(conn, org_id, contract.parties()).await?;
    Ok((contract, party))
}

/// A contract the org is party to (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Contract, DomainError> {
    let contract = load(&mut *conn, id).await?;
    let party = access::require_party(&mut *conn, org_id, contract.parties()).await?;
    Ok(contract.seen_by(party))
}

/// Only the booking's agency writes and runs the contract.
fn require_author(party: Party) -> Result<(), DomainError> {
    if party == Party::Agency {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "the booking's agency writes and runs its contract; the promoter signs or declines",
        ))
    }
}

/// What a transition writes besides the new status.
#[derive(Default)]
pub(super) struct Transition<'a> {
    /// Why it was declined or voided.
    pub reason: Option<&'a str>,
    /// A new current version.
    pub version: Option<i32>,
    /// The platform seal, on the last signature.
    pub seal: Option<&'a Seal>,
    /// Signing starts (again) now: reminders count from here.
    pub restart_signing: bool,
    /// The template version a new version was rendered from.
    pub template_version: Option<i32>,
}

/// The one guarded status change of a contract the caller has locked:
/// `UPDATE ... WHERE status = $from AND version = $v`, never a silent
/// overwrite.
pub(super) async fn transition(
    conn: &mut PgConnection,
    contract: &Contract,
    to: ContractStatus,
    change: Transition<'_>,
    if_match: Option<i32>,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "UPDATE contracts
            SET status = $2, status_reason = COALESCE($3, status_reason),
                current_version = COALESCE($4, current_version), seal = COALESCE($5, seal),
                sent_at = CASE WHEN $6 THEN now() ELSE sent_at END,
                template_version = COALESCE($9, template_version),
                signed_at = CASE WHEN $2 = 'signed' THEN now() ELSE signed_at END,
                version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $7 AND version = $8",
        contract.id,
        to as ContractStatus,
        change.reason,
        change.version,
        change.seal.map(Json) as _,
        change.restart_signing,
        contract.status as ContractStatus,
        contract.version,
        change.template_version,
    )
    .execute(conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)
}

/// The audit entry and the booking activity of one state change.
#[allow(clippy::too_many_arguments)]
pub(super) async fn record(
    conn: &mut PgConnection,
    contract: &Contract,
    actor: &str,
    org_id: Option<Uuid>,
    action: &str,
    from: Option<ContractStatus>,
    to: Option<ContractStatus>,
    details: serde_json::Value,
) -> Result<audit::ContractAuditEntry, DomainError> {
    let entry = audit::append(
        &mut *conn,
        contract.id,
        Event {
            actor,
            org_id,
            action,
            from: from.map(ContractStatus::as_str),
            to: to.map(ContractStatus::as_str),
            details: details.clone(),
        },
    )
    .await?;
    if from != to {
        activity::record(
            conn,
            Change {
                artist_id: contract.artist_id,
                subject_type: SUBJECT,
                subject_id: contract.id,
                action,
                from: from.map(ContractStatus::as_str),
                to: to.map(ContractStatus::as_str),
                actor,
                // Personal values stay in the audit, where they can be erased.
                details: serde_json::json!({"booking_id": contract.booking_id, "audit_seq": entry.seq, "details": audit::without_personal(&details)}),
            },
        )
        .await?;
    }
    Ok(entry)
}

/// Checked signers, with default orders (promoter 1, agency 2).
fn checked_signers(
    check: &mut Check,
    signers: &[SignerIn],
    list: Option<&str>,
) -> Vec<(String, String, Party, i32)> {
    signers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let field = |f: &str| match list {
                Some(list) => format!("{list}[{i}].{f}"),
                None => f.to_owned(),
            };
            let name = check.text(&field("name"), &s.name, 1, 200);
            let email = check
                .email(&field("email"), Some(&s.email))
                .unwrap_or_default();
            if email.is_empty() {
                check.add(&field("email"), "is required");
            }
            let order = s.order.unwrap_or(match s.party {
                Party::Promoter => 1,
                Party::Agency => 2,
            });
            if !(1..=20).contains(&order) {
                check.add(&field("order"), "must be between 1 and 20");
            }
            (name, email, s.party, order)
        })
        .collect()
}

async fn insert_signers(
    conn: &mut PgConnection,
    contract_id: Uuid,
    actor: &str,
    signers: &[(String, String, Party, i32)],
) -> Result<Vec<Uuid>, DomainError> {
    let mut ids = Vec::with_capacity(signers.len());
    for (name, email, party, order) in signers {
        let id = Uuid::now_v7();
        sqlx::query!(
            "INSERT INTO contract_signers (id, contract_id, name, email, party, signing_order, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id,
            contract_id,
            name,
            email,
            party.as_str(),
            order,
            actor,
        )
        .execute(&mut *conn)
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

/// Creates a contract for a confirmed booking from one of the agency's
/// templates, rendered with the booking's terms as version 1.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    booking_id: Uuid,
    input: ContractIn,
) -> Result<Contract, DomainError> {
    // A booking cannot be cancelled while its contract is being made.
    sqlx::query!(
        "SELECT id FROM bookings WHERE id = $1 FOR SHARE",
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let booking = bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let party = access::require_party(&mut *conn, org_id, booking.parties()).await?;
    require_author(party)?;
    let mut check = Check::new();
    let title = input
        .title
        .as_deref()
        .map(|t| check.text("title", t, 1, 200));
    if input.expires_at.is_some_and(|at| at <= Utc::now()) {
        check.add("expires_at", "must be in the future");
    }
    let signers = checked_signers(&mut check, &input.signers, Some("signers"));
    check.finish()?;
    let template = library::get_for(&mut *conn, org_id, input.template_id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound => {
                DomainError::invalid("template_id", "is not a template of a company you own")
            }
            e => e,
        })?;
    template.status.apply(library::TemplateEvent::Use)?;
    if booking.status != BookingStatus::Confirmed {
        return Err(DomainError::conflict(
            Code::BookingNotConfirmed,
            format!(
                "a contract is made for a confirmed booking; this one is {}",
                booking.status.as_str()
            ),
        ));
    }
    let title = title.unwrap_or_else(|| template.name.clone());
    let today = Utc::now().date_naive();
    let body = render(&mut *conn, booking_id, &title, today, &template.body).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO contracts (id, booking_id, artist_id, agency_company_id, promoter_company_id, template_id,
                                template_version, title, status, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft', $9, $10)",
        id,
        booking.id,
        booking.artist_id,
        booking.agency_company_id,
        booking.promoter_company_id,
        template.id,
        template.current_version,
        title,
        input.expires_at,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    let sha = insert_version(&mut *conn, id, 1, &body, "template", None, actor).await?;
    insert_signers(&mut *conn, id, actor, &signers).await?;
    let contract = load(&mut *conn, id).await?;
    record(
        &mut *conn,
        &contract,
        actor,
        Some(org_id),
        "created",
        None,
        Some(ContractStatus::Draft),
        serde_json::json!({
            "version": 1,
            "content_sha256": sha,
            "signers": contract.signers.iter().map(signer_summary).collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(contract)
}

pub(super) fn signer_summary(s: &Signer) -> serde_json::Value {
    serde_json::json!({"signer_id": s.id, "name": s.name, "email": s.email, "party": s.party, "order": s.order})
}

async fn render(
    conn: &mut PgConnection,
    booking_id: Uuid,
    title: &str,
    today: NaiveDate,
    body: &str,
) -> Result<String, DomainError> {
    let terms = template::terms_for_booking(conn, booking_id, title, today).await?;
    let text = template::render(body, &terms)?;
    if text.len() > MAX_VERSION_BYTES {
        return Err(DomainError::invalid(
            "template_id",
            format!("the template renders to more than {MAX_VERSION_BYTES} bytes"),
        ));
    }
    Ok(text)
}

async fn insert_version(
    conn: &mut PgConnection,
    contract_id: Uuid,
    number: i32,
    body: &str,
    source: &str,
    note: Option<&str>,
    actor: &str,
) -> Result<String, DomainError> {
    let sha = content_hash(body);
    sqlx::query!(
        "INSERT INTO contract_versions (contract_id, number, body, content_sha256, source, note, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        contract_id,
        number,
        body,
        sha,
        source,
        note,
        actor,
    )
    .execute(conn)
    .await?;
    Ok(sha)
}

/// Contracts the org is party to, newest first, optionally of one booking.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Option<Uuid>,
    page: &PageRequest<Uuid>,
) -> Result<Page<Contract>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT c.id, c.booking_id, c.artist_id, c.agency_company_id, c.promoter_company_id, c.template_id,
                  c.template_version, c.title, c.status AS "status: ContractStatus", c.current_version,
                  v.content_sha256, c.expires_at, c.sent_at, c.signed_at, c.status_reason,
                  c.seal AS "seal: Json<Seal>", c.version, c.created_at, c.updated_at
             FROM contracts c
             JOIN contract_versions v ON v.contract_id = c.id AND v.number = c.current_version
            WHERE EXISTS (SELECT 1 FROM org_companies oc
                           WHERE oc.org_id = $1 AND oc.company_id IN (c.agency_company_id, c.promoter_company_id))
              AND ($2::uuid IS NULL OR c.booking_id = $2)
              AND ($3::uuid IS NULL OR c.id < $3)
            ORDER BY c.id DESC LIMIT $4"#,
        org_id,
        booking_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(&mut *conn))
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let owned: Vec<Uuid> = access::owned_companies(&mut *conn, org_id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut signers = signers_of(conn, &ids).await?;
    let contracts = rows
        .into_iter()
        .map(|row| {
            let mine = signers.remove(&row.id).unwrap_or_default();
            let party = if owned.contains(&row.agency_company_id) {
                Party::Agency
            } else {
                Party::Promoter
            };
            row.with(mine).seen_by(party)
        })
        .collect();
    Ok(Page::from_rows(contracts, page.limit, |c| c.id))
}

/// Every version of a contract, newest first.
pub async fn versions(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<ContractVersion>, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    Ok(sqlx::query_as!(
        ContractVersion,
        "SELECT number, body, content_sha256, source, note, created_by, created_at
           FROM contract_versions WHERE contract_id = $1 ORDER BY number DESC",
        id
    )
    .fetch_all(conn)
    .await?)
}

/// One version's text and hash.
pub(super) async fn version_of(
    conn: &mut PgConnection,
    id: Uuid,
    number: i32,
) -> Result<ContractVersion, DomainError> {
    sqlx::query_as!(
        ContractVersion,
        "SELECT number, body, content_sha256, source, note, created_by, created_at
           FROM contract_versions WHERE contract_id = $1 AND number = $2",
        id,
        number
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// A new version: every signature of the old one stops counting, every
/// signer is pending again, and a contract out for signature starts its
/// signing over. The audit says how many signatures were cleared.
pub async fn add_version(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: ContractVersionIn,
    if_match: Option<i32>,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, org_id, id).await?;
    precondition(if_match, contract.version)?;
    require_author(party)?;
    let to = contract.status.apply(ContractEvent::NewVersion)?;
    let mut check = Check::new();
    let note = check.opt_text("note", input.note.as_deref(), 2000);
    if let Some(body) = &input.body {
        if body.trim().is_empty() {
            check.add("body", "must not be blank");
        } else if body.len() > MAX_VERSION_BYTES {
            check.add("body", format!("must be at most {MAX_VERSION_BYTES} bytes"));
        }
    }
    check.finish()?;
    let (body, source, template_version) = match input.body {
        Some(body) => (body, "edited", None),
        None => {
            let template_id = contract.template_id.ok_or_else(|| {
                DomainError::invalid("body", "is required: this contract has no template")
            })?;
            let number = sqlx::query_scalar!(
                "SELECT current_version FROM contract_templates WHERE id = $1",
                template_id
            )
            .fetch_one(&mut *conn)
            .await?;
            let template_body = library::body_of(&mut *conn, template_id, number).await?;
            let today = Utc::now().date_naive();
            let text = render(
                &mut *conn,
                contract.booking_id,
                &contract.title,
                today,
                &template_body,
            )
            .await?;
            (text, "template", Some(number))
        }
    };
    let number = contract.current_version + 1;
    let sha = insert_version(
        &mut *conn,
        id,
        number,
        &body,
        source,
        note.as_deref(),
        actor,
    )
    .await?;
    let cleared = contract
        .signers
        .iter()
        .filter(|s| s.status != SignerStatus::Pending)
        .count();
    let reset =
        <SignerStatus as crate::domain::machine::Machine>::set_transition(SignerEvent::NewVersion)?;
    sqlx::query!(
        "UPDATE contract_signers SET status = $2, decline_reason = NULL, updated_at = now()
          WHERE contract_id = $1 AND status = ANY($3)",
        id,
        reset.to as SignerStatus,
        &reset.from as &[&str],
    )
    .execute(&mut *conn)
    .await?;
    transition(
        &mut *conn,
        &contract,
        to,
        Transition {
            version: Some(number),
            restart_signing: to == ContractStatus::OutForSignature,
            template_version,
            ..Transition::default()
        },
        if_match,
    )
    .await?;
    record(
        &mut *conn,
        &contract,
        actor,
        Some(org_id),
        "version_created",
        Some(contract.status),
        Some(to),
        serde_json::json!({
            "version": number,
            "previous_version": contract.current_version,
            "content_sha256": sha,
            "source": source,
            "note": note,
        }),
    )
    .await?;
    if cleared > 0 {
        record(
            &mut *conn,
            &contract,
            actor,
            Some(org_id),
            "signatures_cleared",
            Some(to),
            Some(to),
            serde_json::json!({
                "cleared": cleared,
                "version": contract.current_version,
                "reason": format!("version {number} replaces version {}", contract.current_version),
            }),
        )
        .await?;
    }
    load(conn, id).await
}

/// Adds a signer while the contract is a draft.
pub async fn add_signer(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: SignerIn,
    if_match: Option<i32>,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, org_id, id).await?;
    precondition(if_match, contract.version)?;
    require_author(party)?;
    let mut check = Check::new();
    let signers = checked_signers(&mut check, std::slice::from_ref(&input), None);
    check.finish()?;
    if contract.status != ContractStatus::Draft {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            "signers are added while the contract is a draft; make a new version to change them",
        ));
    }
    let ids = insert_signers(&mut *conn, id, actor, &signers).await?;
    let rows = sqlx::query!(
        "UPDATE contracts SET version = version + 1, updated_at = now() WHERE id = $1 AND version = $2",
        id,
        contract.version
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    let updated = load(&mut *conn, id).await?;
    let added: Vec<_> = updated
        .signers
        .iter()
        .filter(|s| ids.contains(&s.id))
        .map(signer_summary)
        .collect();
    record(
        &mut *conn,
        &updated,
        actor,
        Some(org_id),
        "signer_added",
        Some(contract.status),
        Some(contract.status),
        serde_json::json!({"signers": added}),
    )
    .await?;
    Ok(updated)
}

/// The signers of a contract, in signing order.
pub async fn signers(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<Signer>, DomainError> {
    Ok(get_for(conn, org_id, id).await?.signers)
}

/// Sends a draft for signature: it needs a signer of each party.
pub async fn send(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    if_match: Option<i32>,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, org_id, id).await?;
    precondition(if_match, contract.version)?;
    require_author(party)?;
    let to = contract.status.apply(ContractEvent::Send)?;
    for needed in [Party::Promoter, Party::Agency] {
        if !contract.signers.iter().any(|s| s.party == needed) {
            return Err(DomainError::conflict(
                Code::ContractNeedsSigners,
                format!("add a {} signer before sending", needed.as_str()),
            ));
        }
    }
    let restart = Transition {
        restart_signing: true,
        ..Transition::default()
    };
    transition(&mut *conn, &contract, to, restart, if_match).await?;
    record(
        &mut *conn,
        &contract,
        actor,
        Some(org_id),
        "sent",
        Some(contract.status),
        Some(to),
        serde_json::json!({
            "version": contract.current_version,
            "content_sha256": contract.content_sha256,
            "signers": contract.signers.iter().map(signer_summary).collect::<Vec<_>>(),
        }),
    )
    .await?;
    load(conn, id).await
}

/// Voids an open contract, with a reason.
pub async fn void(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: ReasonIn,
    if_match: Option<i32>,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, org_id, id).await?;
    precondition(if_match, contract.version)?;
    require_author(party)?;
    let mut check = Check::new();
    let reason = check.text("reason", &input.reason, 1, 2000);
    check.finish()?;
    void_locked(conn, &contract, actor, Some(org_id), &reason).await
}

pub(super) async fn void_locked(
    conn: &mut PgConnection,
    contract: &Contract,
    actor: &str,
    org_id: Option<Uuid>,
    reason: &str,
) -> Result<Contract, DomainError> {
    let to = contract.status.apply(ContractEvent::Void)?;
    let change = Transition {
        reason: Some(reason),
        ..Transition::default()
    };
    transition(&mut *conn, contract, to, change, None).await?;
    record(
        &mut *conn,
        contract,
        actor,
        org_id,
        "voided",
        Some(contract.status),
        Some(to),
        serde_json::json!({"reason": reason}),
    )
    .await?;
    load(conn, contract.id).await
}

/// Voids the booking's open contract, if any: a cancelled booking is not
/// signed for. A signed contract stays signed (its cancellation terms
/// apply).
pub async fn void_for_cancelled_booking(
    conn: &mut PgConnection,
    booking_id: Uuid,
    actor: &str,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let open = sqlx::query_scalar!(
        "SELECT id FROM contracts
          WHERE booking_id = $1 AND status IN ('draft', 'out_for_signature', 'partially_signed')",
        booking_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = open {
        load_row(&mut *conn, id, true).await?;
        let contract = load(&mut *conn, id).await?;
        void_locked(
            conn,
            &contract,
            actor,
            Some(org_id),
            "the booking was cancelled",
        )
        .await?;
    }
    Ok(())
}

/// Voids the contract with reason `expired` when it is open and past its
/// `expires_at`; `false` when there is nothing to do.
pub async fn expire_if_due(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, DomainError> {
    let row = load_row(&mut *conn, id, true).await?;
    let due = row.status.is_open() && row.expires_at.is_some_and(|at| at <= Utc::now());
    if !due {
        return Ok(false);
    }
    let contract = load(&mut *conn, id).await?;
    void_locked(conn, &contract, actor, None, "expired").await?;
    Ok(true)
}

/// Open contracts past their `expires_at`, oldest first.
pub async fn overdue(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM contracts
          WHERE expires_at <= now() AND status IN ('draft', 'out_for_signature', 'partially_signed')
          ORDER BY expires_at LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await?)
}

pub async fn attachments(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<Attachment>, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    Ok(sqlx::query_as!(
        Attachment,
        "SELECT id, name, url, media_type, sha256, size_bytes, created_by, created_at
           FROM contract_attachments WHERE contract_id = $1 ORDER BY id",
        id
    )
    .fetch_all(conn)
    .await?)
}

/// Adds an attachment's metadata. Either party may attach (a promoter adds
/// its technical rider); a signed or void contract takes no more.
pub async fn add_attachment(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: AttachmentIn,
) -> Result<Attachment, DomainError> {
    let (contract, _) = lock_for(&mut *conn, org_id, id).await?;
    let mut check = Check::new();
    let name = check.text("name", &input.name, 1, 200);
    let url = check.url("url", Some(&input.url)).unwrap_or_default();
    let media_type = check.text("media_type", &input.media_type, 3, 200);
    if !media_type.contains('/') {
        check.add("media_type", "must be a media type such as application/pdf");
    }
    let sha256 = input.sha256.to_ascii_lowercase();
    if !is_sha256(&sha256) {
        check.add("sha256", "must be 64 hex digits");
    }
    if input.size_bytes.is_some_and(|s| s < 0) {
        check.add("size_bytes", "must not be negative");
    }
    check.finish()?;
    if !contract.status.is_open() {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            format!(
                "the contract is {} and takes no attachments",
                contract.status.as_str()
            ),
        ));
    }
    if contract.signers.iter().any(|s| s.signature.is_some()) {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            "a signature covers the contract as it stands; make a new version to attach more",
        ));
    }
    let attachment = sqlx::query_as!(
        Attachment,
        "INSERT INTO contract_attachments (id, contract_id, name, url, media_type, sha256, size_bytes, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING id, name, url, media_type, sha256, size_bytes, created_by, created_at",
        Uuid::now_v7(),
        id,
        name,
        url,
        media_type,
        sha256,
        input.size_bytes,
        actor,
    )
    .fetch_one(&mut *conn)
    .await?;
    record(
        conn,
        &contract,
        actor,
        Some(org_id),
        "attachment_added",
        Some(contract.status),
        Some(contract.status),
        serde_json::json!({
            "attachment_id": attachment.id,
            "name": attachment.name,
            "url": attachment.url,
            "media_type": attachment.media_type,
            "sha256": attachment.sha256,
        }),
    )
    .await?;
    Ok(attachment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_transitions() {
        use SignerEvent::*;
        use SignerStatus::*;
        crate::domain::machine::assert_exhaustive(
            &[Sign, Decline, NewVersion],
            &[
                (Pending, Sign, Signed),
                (Pending, Decline, Declined),
                (Signed, NewVersion, Pending),
                (Declined, NewVersion, Pending),
            ],
        );
        // A new version resets every answered signer in one update.
        let reset =
            <SignerStatus as crate::domain::machine::Machine>::set_transition(NewVersion).unwrap();
        assert_eq!(
            (reset.from, reset.to),
            (vec!["signed", "declined"], Pending)
        );
        for from in [Signed, Declined] {
            for event in [Sign, Decline] {
                assert!(matches!(
                    from.apply(event),
                    Err(DomainError::Conflict {
                        code: Code::AlreadySigned,
                        ..
                    })
                ));
            }
        }
    }

    #[test]
    fn contract_transitions() {
        use ContractEvent as E;
        use ContractStatus as S;
        let events = [
            E::Send,
            E::Sign { last: false },
            E::Sign { last: true },
            E::Decline,
            E::Void,
            E::NewVersion,
        ];
        let all = [
            S::Draft,
            S::OutForSignature,
            S::PartiallySigned,
            S::Signed,
            S::Declined,
            S::Void,
        ];
        for from in all {
            for event in events {
                let expected = match (from, event) {
                    (S::Draft, E::Send) => Some(S::OutForSignature),
                    (S::OutForSignature | S::PartiallySigned, E::Sign { last: false }) => {
                        Some(S::PartiallySigned)
                    }
                    (S::OutForSignature | S::PartiallySigned, E::Sign { last: true }) => {
                        Some(S::Signed)
                    }
                    (S::OutForSignature | S::PartiallySigned, E::Decline) => Some(S::Declined),
                    (S::Draft | S::OutForSignature | S::PartiallySigned, E::Void) => Some(S::Void),
                    (S::Draft, E::NewVersion) => Some(S::Draft),
                    (S::OutForSignature | S::PartiallySigned, E::NewVersion) => {
                        Some(S::OutForSignature)
                    }
                    _ => None,
                };
                assert_eq!(from.apply(event).ok(), expected, "{from:?} {event:?}");
            }
        }
        for final_state in [S::Signed, S::Declined, S::Void] {
            assert!(!final_state.is_open());
        }
    }

    #[test]
    fn content_hash_is_sha256_of_the_exact_bytes() {
        assert_eq!(
            content_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(content_hash("abc\n"), content_hash("abc"));
        assert!(is_sha256(&content_hash("")));
        assert!(!is_sha256("ABC"));
    }
}
