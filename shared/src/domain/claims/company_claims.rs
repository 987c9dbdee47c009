//! In-app company claims: an org asks to own a company; an operator
//! approves or rejects (internal key). Approval writes the one approved claim
//! the database allows per company and sets `companies.claimed`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Audit, Decision, RequestStatus, audit};
use crate::Code;
use crate::DomainError;
use crate::domain::directory::companies::CompanyKind;
use crate::domain::guarded;
use crate::domain::machine::Machine;
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompanyClaim {
    pub id: Uuid,
    pub company_id: Uuid,
    pub org_id: Uuid,
    pub status: RequestStatus,
    pub message: Option<String>,
    pub reason: Option<String>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyClaimIn {
    pub company_id: Uuid,
    #[serde(default)]
    pub message: Option<String>,
}

/// An operator's decision; a rejection needs a reason.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionIn {
    #[serde(default)]
    pub reason: Option<String>,
}

const ENTITY: &str = "company_claim";

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<CompanyClaim, DomainError> {
    let claim = if lock {
        sqlx::query_as!(
            CompanyClaim,
            r#"SELECT id, company_id, org_id, status AS "status: RequestStatus", message, reason, requested_by,
                      decided_by, decided_at, created_at
                 FROM artists_company_claims WHERE id = $1 FOR UPDATE"#,
            id
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            CompanyClaim,
            r#"SELECT id, company_id, org_id, status AS "status: RequestStatus", message, reason, requested_by,
                      decided_by, decided_at, created_at
                 FROM artists_company_claims WHERE id = $1"#,
            id
        )
        .fetch_optional(conn)
        .await?
    };
    claim.ok_or(DomainError::NotFound)
}

/// An org asks to own a company that nobody owns yet.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    user: &str,
    input: CompanyClaimIn,
) -> Result<CompanyClaim, DomainError> {
    let mut check = Check::new();
    let message = check.opt_text("message", input.message.as_deref(), 2000);
    check.finish()?;
    let company = sqlx::query!(
        r#"SELECT claimed, kind AS "kind: CompanyKind" FROM companies WHERE id = $1 FOR SHARE"#,
        input.company_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if company.kind == CompanyKind::Agency {
        return Err(DomainError::Unprocessable {
            code: Code::AgencyRequiresProvisioning,
            detail: "agencies are taken over with POST /api/v1/artists-companies/takeover-requests"
                .into(),
        });
    }
    if company.claimed {
        return Err(DomainError::conflict(
            Code::CompanyAlreadyClaimed,
            "another org already owns this company",
        ));
    }
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by, message)
         VALUES ($1, $2, $3, 'pending', $4, $5)",
        id,
        input.company_id,
        org_id,
        user,
        message,
    )
    .execute(&mut *conn)
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: ENTITY,
            entity_id: id,
            action: "requested",
            from: None,
            to: Some(RequestStatus::Pending.as_str()),
            org_id: Some(org_id),
            actor: user,
            reason: None,
        },
    )
    .await?;
    load(conn, id, false).await
}

/// My org's claims, newest first.
pub async fn list_for_org(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<CompanyClaim>, DomainError> {
    let rows = sqlx::query_as!(
        CompanyClaim,
        r#"SELECT id, company_id, org_id, status AS "status: RequestStatus", message, reason, requested_by,
                  decided_by, decided_at, created_at
             FROM artists_company_claims
            WHERE org_id = $1 AND id < COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            ORDER BY id DESC LIMIT $3"#,
        org_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |c| c.id))
}

/// Approves a pending claim in one transaction: the claim becomes the
/// company's one approved claim (the unique index makes a race lose with
/// 409), the company is marked claimed, and other pending claims and
/// takeover requests for it are closed.
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<CompanyClaim, DomainError> {
    // Lock order: the company, then the claim, so concurrent approvals for
    // one company queue up instead of deadlocking.
    let company_id = load(&mut *conn, id, false).await?.company_id;
    sqlx::query!(
        "SELECT id FROM companies WHERE id = $1 FOR UPDATE",
        company_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let claim = load(&mut *conn, id, true).await?;
    let to = claim.status.apply(Decision::Approve)?;
    let rows = sqlx::query!(
        "UPDATE artists_company_claims SET status = $3, decided_by = $2, decided_at = now() WHERE id = $1 AND status = $4",
        id,
        actor,
        to as RequestStatus,
        claim.status as RequestStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    sqlx::query!(
        "UPDATE companies SET claimed = true, updated_at = now() WHERE id = $1",
        claim.company_id
    )
    .execute(&mut *conn)
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: ENTITY,
            entity_id: id,
            action: "approved",
            from: Some(claim.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(claim.org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    close_competitors(&mut *conn, claim.company_id, Some(id), actor).await?;
    load(conn, id, false).await
}

/// Once a company has an owner, other pending claims for it are rejected
/// and pending takeover requests cancelled, each audited.
pub async fn close_competitors(
    conn: &mut PgConnection,
    company_id: Uuid,
    winner: Option<Uuid>,
    actor: &str,
) -> Result<(), DomainError> {
    let reason = "the company was claimed by another org";
    let reject = RequestStatus::set_transition(Decision::Reject)?;
    // Generic plan: the claims are found by company_id; `id <> $2` is no index condition anyway.
    let losers = sqlx::query!(
        r#"UPDATE artists_company_claims c
              SET status = $3, reason = $4, decided_by = $5, decided_at = now()
             FROM (SELECT id, status FROM artists_company_claims
                    WHERE company_id = $1 AND status = ANY($6) AND ($2::uuid IS NULL OR id <> $2)
                      FOR UPDATE) b
            WHERE c.id = b.id AND c.status = b.status
           RETURNING c.id, c.org_id, b.status AS "from: RequestStatus""#,
        company_id,
        winner,
        reject.to as RequestStatus,
        reason,
        actor,
        &reject.from as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?;
    for loser in losers {
        audit(
            &mut *conn,
            Audit {
                entity_type: ENTITY,
                entity_id: loser.id,
                action: "rejected",
                from: Some(loser.from.as_str()),
                to: Some(reject.to.as_str()),
                org_id: Some(loser.org_id),
                actor,
                reason: Some(reason),
            },
        )
        .await?;
    }
    let cancel = RequestStatus::set_transition(Decision::Cancel)?;
    let cancelled = sqlx::query!(
        r#"UPDATE artists_provisioning_requests r
              SET status = $2, reason = $3, decided_by = $4, decided_at = now(), updated_at = now()
             FROM (SELECT id, status FROM artists_provisioning_requests
                    WHERE target_company_id = $1 AND status = ANY($5)
                      FOR UPDATE) b
            WHERE r.id = b.id AND r.status = b.status
           RETURNING r.id, r.org_id, b.status AS "from: RequestStatus""#,
        company_id,
        cancel.to as RequestStatus,
        reason,
        actor,
        &cancel.from as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?;
    for request in cancelled {
        audit(
            &mut *conn,
            Audit {
                entity_type: "provisioning_request",
                entity_id: request.id,
                action: "cancelled",
                from: Some(request.from.as_str()),
                to: Some(cancel.to.as_str()),
                org_id: Some(request.org_id),
                actor,
                reason: Some(reason),
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
    input: DecisionIn,
) -> Result<CompanyClaim, DomainError> {
    let reason = Some(super::rejection_reason(input.reason.as_deref())?);
    let claim = load(&mut *conn, id, true).await?;
    let to = claim.status.apply(Decision::Reject)?;
    let rows = sqlx::query!(
        "UPDATE artists_company_claims SET status = $4, reason = $2, decided_by = $3, decided_at = now()
          WHERE id = $1 AND status = $5",
        id,
        reason,
        actor,
        to as RequestStatus,
        claim.status as RequestStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    audit(
        &mut *conn,
        Audit {
            entity_type: ENTITY,
            entity_id: id,
            action: "rejected",
            from: Some(claim.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(claim.org_id),
            actor,
            reason: reason.as_deref(),
        },
    )
    .await?;
    load(conn, id, false).await
}
