//! Signing and declining. A signer signs for its party: only a user of an
//! org owning that party's company, with `artist.contracts.sign`. Signers
//! sign in ascending `order` (equal orders in parallel), each signature is
//! bound to the SHA-256 of the exact version the signer saw, and the last
//! signature seals the contract with the platform key.

use chrono::{SubsecRound, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contracts::{
    self, CONSENT_STATEMENT, Contract, ContractEvent, ContractStatus, ReasonIn, Signer,
    SignerEvent, SignerStatus, Transition, is_sha256, lock_for, record, transition,
};
use super::seal::{SealKey, SealSubject};
use crate::access::Party;
use crate::domain::{guarded, precondition};
use crate::validate::Check;
use crate::{Code, DomainError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The signer's name as typed: the electronic signature.
    pub typed_name: String,
    /// The contract's `consent_statement`, exactly as shown to the signer.
    pub consent_statement: String,
    /// SHA-256 of the version the signer read: the contract's
    /// `content_sha256` (a newer version makes this 409).
    pub content_sha256: String,
}

/// Who signs, from where: recorded with the signature.
pub struct SignContext<'a> {
    pub org_id: Uuid,
    pub user_id: &'a str,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The signer, which must sign for the caller's party.
fn signer_for(contract: &Contract, party: Party, signer_id: Uuid) -> Result<&Signer, DomainError> {
    let signer = contract
        .signers
        .iter()
        .find(|s| s.id == signer_id)
        .ok_or(DomainError::NotFound)?;
    if signer.party != party {
        return Err(DomainError::Forbidden(
            "this signer signs for the other party",
        ));
    }
    Ok(signer)
}

/// The guarded transition of a signer read as `signer` (its contract is
/// locked): a decline keeps its reason.
async fn set_signer_status(
    conn: &mut PgConnection,
    signer: &Signer,
    to: SignerStatus,
    decline_reason: Option<&str>,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "UPDATE contract_signers SET status = $2, decline_reason = COALESCE($3, decline_reason), updated_at = now()
          WHERE id = $1 AND status = $4",
        signer.id,
        to as SignerStatus,
        decline_reason,
        signer.status as SignerStatus,
    )
    .execute(conn)
    .await?
    .rows_affected();
    guarded(rows, None)
}

/// Signs the current version for one signer.
pub async fn sign(
    conn: &mut PgConnection,
    ctx: SignContext<'_>,
    id: Uuid,
    signer_id: Uuid,
    input: SignIn,
    if_match: Option<i32>,
    seal_key: &SealKey,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, ctx.org_id, id).await?;
    precondition(if_match, contract.version)?;
    let signer = signer_for(&contract, party, signer_id)?;
    let mut check = Check::new();
    let typed_name = check.text("typed_name", &input.typed_name, 1, 200);
    if input.consent_statement != CONSENT_STATEMENT {
        check.add(
            "consent_statement",
            "must be the contract's consent_statement, verbatim",
        );
    }
    if !is_sha256(&input.content_sha256) {
        check.add("content_sha256", "must be 64 lowercase hex digits");
    }
    check.finish()?;
    let pending: Vec<&Signer> = contract
        .signers
        .iter()
        .filter(|s| s.status == SignerStatus::Pending)
        .collect();
    let last = pending.len() == 1 && pending[0].id == signer.id;
    let to = contract.status.apply(ContractEvent::Sign { last })?;
    if contract.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            "the contract expired unsigned",
        ));
    }
    let signer_to = signer.status.apply(SignerEvent::Sign)?;
    let turn = pending
        .iter()
        .map(|s| s.order)
        .min()
        .unwrap_or(signer.order);
    if signer.order > turn {
        return Err(DomainError::conflict(
            Code::SigningOutOfOrder,
            format!(
                "signers of order {turn} sign first; this signer is order {}",
                signer.order
            ),
        ));
    }
    if input.content_sha256 != contract.content_sha256 {
        return Err(DomainError::conflict(
            Code::ContractVersionChanged,
            format!(
                "the current version is {} with SHA-256 {}; read it and sign that",
                contract.current_version, contract.content_sha256
            ),
        ));
    }
    let signed_at = Utc::now().trunc_subsecs(6);
    // The signature covers the attachments as they stand, too.
    let attachments = sqlx::query!(
        "SELECT id, sha256 FROM contract_attachments WHERE contract_id = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|a| serde_json::json!({"attachment_id": a.id, "sha256": a.sha256}))
    .collect::<Vec<_>>();
    sqlx::query!(
        "INSERT INTO contract_signatures (id, contract_id, signer_id, version_number, content_sha256, typed_name,
                                          consent_statement, user_id, org_id, ip, user_agent, signed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        Uuid::now_v7(),
        id,
        signer.id,
        contract.current_version,
        contract.content_sha256,
        typed_name,
        CONSENT_STATEMENT,
        ctx.user_id,
        ctx.org_id,
        ctx.ip,
        ctx.user_agent,
        signed_at,
    )
    .execute(&mut *conn)
    .await?;
    set_signer_status(&mut *conn, signer, signer_to, None).await?;
    let entry = record(
        &mut *conn,
        &contract,
        ctx.user_id,
        Some(ctx.org_id),
        "signed",
        Some(contract.status),
        Some(to),
        serde_json::json!({
            "signer": contracts::signer_summary(signer),
            "typed_name": typed_name,
            "consent_statement": CONSENT_STATEMENT,
            "version": contract.current_version,
            "content_sha256": contract.content_sha256,
            "attachments": attachments,
            "user_id": ctx.user_id,
            "ip": ctx.ip,
            "user_agent": ctx.user_agent,
            "signed_at": signed_at,
        }),
    )
    .await?;
    let seal = (to == ContractStatus::Signed).then(|| {
        seal_key.seal(&SealSubject {
            contract_id: id,
            version: contract.current_version,
            content_sha256: &contract.content_sha256,
            audit_seq: entry.seq,
            audit_head: &entry.hash,
        })
    });
    let change = Transition {
        seal: seal.as_ref(),
        ..Transition::default()
    };
    transition(&mut *conn, &contract, to, change, if_match).await?;
    if to == ContractStatus::Signed {
        // Signing time is part of trust and relationship memory.
        crate::domain::changes::mark_trust(
            &mut *conn,
            &[contract.agency_company_id, contract.promoter_company_id],
        )
        .await?;
    }
    Ok(contracts::load(conn, id).await?.seen_by(party))
}

/// Declines for one pending signer, with a reason that reaches the sender
/// (the contract's `status_reason`, the audit and the booking activity).
pub async fn decline(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    signer_id: Uuid,
    input: ReasonIn,
    if_match: Option<i32>,
) -> Result<Contract, DomainError> {
    let (contract, party) = lock_for(&mut *conn, org_id, id).await?;
    precondition(if_match, contract.version)?;
    let signer = signer_for(&contract, party, signer_id)?;
    let mut check = Check::new();
    let reason = check.text("reason", &input.reason, 1, 2000);
    check.finish()?;
    let to = contract.status.apply(ContractEvent::Decline)?;
    let signer_to = signer.status.apply(SignerEvent::Decline)?;
    set_signer_status(&mut *conn, signer, signer_to, Some(&reason)).await?;
    let change = Transition {
        reason: Some(&reason),
        ..Transition::default()
    };
    transition(&mut *conn, &contract, to, change, if_match).await?;
    record(
        &mut *conn,
        &contract,
        actor,
        Some(org_id),
        "declined",
        Some(contract.status),
        Some(to),
        serde_json::json!({
            "signer": contracts::signer_summary(signer),
            "reason": reason,
            "version": contract.current_version,
        }),
    )
    .await?;
    Ok(contracts::load(conn, id).await?.seen_by(party))
}
