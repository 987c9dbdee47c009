//! Agency provisioning: bridges a fresh Auth org to an agency, by taking
//! over a sleeping (unclaimed) agency or by proposing a new one. An operator
//! approves or rejects (internal key). One pending request per org and one
//! pending takeover per (target, org) are unique indexes; approval is one
//! transaction and a conflict changes nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::company_claims::{DecisionIn, close_competitors};
use super::{Audit, Decision, RequestStatus, audit};
use crate::Code;
use crate::DomainError;
use crate::domain::directory::companies::{self, Company, CompanyIn, CompanyKind};
use crate::domain::guarded;
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RequestKind {
    /// Take over an existing unclaimed agency.
    Takeover,
    /// Create a new agency from a spec.
    Creation,
}

/// The agency a creation request proposes.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencySpec {
    pub name: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub city_id: Option<i64>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

impl AgencySpec {
    fn company(&self) -> CompanyIn {
        CompanyIn {
            kind: CompanyKind::Agency,
            name: self.name.clone(),
            country: self.country.clone(),
            city_id: self.city_id,
            website: self.website.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            description: self.description.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProvisioningRequest {
    pub id: Uuid,
    pub org_id: Uuid,
    pub kind: RequestKind,
    pub target_company_id: Option<Uuid>,
    pub spec: Option<AgencySpec>,
    pub message: Option<String>,
    pub status: RequestStatus,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The agency the org owns after approval.
    pub company_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeoverIn {
    pub company_id: Uuid,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreationIn {
    pub spec: AgencySpec,
    #[serde(default)]
    pub message: Option<String>,
}

/// Where a fresh org stands (`GET /api/v1/me/agency`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgencyState {
    /// The org owns an agency.
    Agency,
    /// A request is waiting for review.
    Pending,
    /// Neither.
    None,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MyAgency {
    pub state: AgencyState,
    pub company: Option<Company>,
    pub request: Option<ProvisioningRequest>,
}

const ENTITY: &str = "provisioning_request";

async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<ProvisioningRequest, DomainError> {
    let row = if lock {
        sqlx::query_as!(
            Row,
            r#"SELECT id, org_id, kind AS "kind: RequestKind", target_company_id, spec AS "spec: Json<AgencySpec>", message,
                      status AS "status: RequestStatus", requested_by, decided_by, reason, decided_at, company_id, created_at, updated_at
                 FROM artists_provisioning_requests WHERE id = $1 FOR UPDATE"#,
            id
        )
        .fetch_optional(conn)
        .await?
    } else {
        sqlx::query_as!(
            Row,
            r#"SELECT id, org_id, kind AS "kind: RequestKind", target_company_id, spec AS "spec: Json<AgencySpec>", message,
                      status AS "status: RequestStatus", requested_by, decided_by, reason, decided_at, company_id, created_at, updated_at
                 FROM artists_provisioning_requests WHERE id = $1"#,
            id
        )
        .fetch_optional(conn)
        .await?
    };
    row.map(Row::into_request).ok_or(DomainError::NotFound)
}

struct Row {
    id: Uuid,
    org_id: Uuid,
    kind: RequestKind,
    target_company_id: Option<Uuid>,
    spec: Option<Json<AgencySpec>>,
    message: Option<String>,
    status: RequestStatus,
    requested_by: String,
    decided_by: Option<String>,
    reason: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    company_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn into_request(self) -> ProvisioningRequest {
        ProvisioningRequest {
            id: self.id,
            org_id: self.org_id,
            kind: self.kind,
            target_company_id: self.target_company_id,
            spec: self.spec.map(|s| s.0),
            message: self.message,
            status: self.status,
            requested_by: self.requested_by,
            decided_by: self.decided_by,
            reason: self.reason,
            decided_at: self.decided_at,
            company_id: self.company_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

async fn refuse_if_agency_owned(conn: &mut PgConnection, org_id: Uuid) -> Result<(), DomainError> {
    if crate::access::owned_agency(conn, org_id).await?.is_some() {
        return Err(DomainError::conflict(
            Code::OrgAlreadyHasAgency,
            "this org already owns an agency",
        ));
    }
    Ok(())
}

fn check_message(message: Option<&str>) -> Result<Option<String>, DomainError> {
    let mut check = Check::new();
    let message = check.opt_text("message", message, 2000);
    check.finish()?;
    Ok(message)
}

/// Asks to take over a sleeping agency.
pub async fn request_takeover(
    conn: &mut PgConnection,
    org_id: Uuid,
    user: &str,
    input: TakeoverIn,
) -> Result<ProvisioningRequest, DomainError> {
    let message = check_message(input.message.as_deref())?;
    let target = sqlx::query!(
        r#"SELECT kind AS "kind: CompanyKind", claimed FROM companies WHERE id = $1"#,
        input.company_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if target.kind != CompanyKind::Agency {
        return Err(DomainError::Unprocessable {
            code: Code::NotAnAgency,
            detail: "only agencies are taken over; other companies are claimed with /api/v1/company-claims".into(),
        });
    }
    if target.claimed {
        return Err(DomainError::conflict(
            Code::CompanyAlreadyClaimed,
            "another org already owns this agency",
        ));
    }
    refuse_if_agency_owned(&mut *conn, org_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO artists_provisioning_requests (id, org_id, kind, target_company_id, message, requested_by)
         VALUES ($1, $2, 'takeover', $3, $4, $5)",
        id,
        org_id,
        input.company_id,
        message,
        user,
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

/// Proposes a new agency.
pub async fn request_creation(
    conn: &mut PgConnection,
    org_id: Uuid,
    user: &str,
    input: CreationIn,
) -> Result<ProvisioningRequest, DomainError> {
    let message = check_message(input.message.as_deref())?;
    companies::check_place(&mut *conn, &input.spec.company())
        .await
        .map_err(|e| prefix_fields(e, "spec."))?;
    refuse_if_agency_owned(&mut *conn, org_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO artists_provisioning_requests (id, org_id, kind, spec, message, requested_by)
         VALUES ($1, $2, 'creation', $3, $4, $5)",
        id,
        org_id,
        Json(&input.spec) as _,
        message,
        user,
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

fn prefix_fields(error: DomainError, prefix: &str) -> DomainError {
    match error {
        DomainError::Validation(errors) => DomainError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("{prefix}{}", e.field);
                    e
                })
                .collect(),
        ),
        other => other,
    }
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<ProvisioningRequest, DomainError> {
    load(conn, id, false).await
}

/// Requests, newest first: one org's, or all (for operators) by status.
pub async fn list(
    conn: &mut PgConnection,
    org_id: Option<Uuid>,
    status: Option<RequestStatus>,
    page: &PageRequest<Uuid>,
) -> Result<Page<ProvisioningRequest>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, org_id, kind AS "kind: RequestKind", target_company_id, spec AS "spec: Json<AgencySpec>", message,
                  status AS "status: RequestStatus", requested_by, decided_by, reason, decided_at, company_id, created_at, updated_at
             FROM artists_provisioning_requests
            WHERE ($1::uuid IS NULL OR org_id = $1) AND ($2::text IS NULL OR status = $2)
              AND ($3::uuid IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4"#,
        org_id,
        status.map(RequestStatus::as_str),
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(Page::from_rows(
        rows.into_iter().map(Row::into_request).collect(),
        page.limit,
        |r| r.id,
    ))
}

/// Approves in one transaction: a creation inserts the agency from the
/// spec; then the approved claim, `claimed = true`, the request closed and
/// competing requests cancelled. A target claimed meanwhile is 409 and the
/// caller's transaction is to be rolled back (nothing is kept).
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<ProvisioningRequest, DomainError> {
    // Lock order: the target company, then the request, so concurrent
    // approvals for one agency queue up instead of deadlocking.
    let target = load(&mut *conn, id, false).await?.target_company_id;
    let target_claimed = match target {
        Some(target) => Some(
            sqlx::query_scalar!(
                "SELECT claimed FROM companies WHERE id = $1 FOR UPDATE",
                target
            )
            .fetch_one(&mut *conn)
            .await?,
        ),
        None => None,
    };
    let request = load(&mut *conn, id, true).await?;
    let to = request.status.apply(Decision::Approve)?;
    let company_id = match (request.kind, request.target_company_id, &request.spec) {
        (RequestKind::Takeover, Some(target), _) => {
            if target_claimed == Some(true) {
                return Err(DomainError::conflict(
                    Code::CompanyAlreadyClaimed,
                    "the agency was claimed by another org meanwhile",
                ));
            }
            target
        }
        (RequestKind::Creation, _, Some(spec)) => {
            companies::insert_agency(&mut *conn, &spec.company()).await?
        }
        _ => {
            return Err(DomainError::Internal(anyhow::anyhow!(
                "provisioning request {id} is malformed"
            )));
        }
    };
    sqlx::query!(
        "INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by, decided_at, decided_by, message)
         VALUES ($1, $2, $3, 'approved', $4, now(), $5, 'agency provisioning')",
        Uuid::now_v7(),
        company_id,
        request.org_id,
        request.requested_by,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE companies SET claimed = true, updated_at = now() WHERE id = $1",
        company_id
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "UPDATE artists_provisioning_requests
            SET status = 'approved', company_id = $2, decided_by = $3, decided_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'pending'",
        id,
        company_id,
        actor,
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
            action: "approved",
            from: Some(request.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(request.org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    close_competitors(&mut *conn, company_id, None, actor).await?;
    load(conn, id, false).await
}

pub async fn reject(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
    input: DecisionIn,
) -> Result<ProvisioningRequest, DomainError> {
    let reason = Some(super::rejection_reason(input.reason.as_deref())?);
    let request = load(&mut *conn, id, true).await?;
    let to = request.status.apply(Decision::Reject)?;
    let rows = sqlx::query!(
        "UPDATE artists_provisioning_requests
            SET status = 'rejected', reason = $2, decided_by = $3, decided_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'pending'",
        id,
        reason,
        actor,
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
            from: Some(request.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(request.org_id),
            actor,
            reason: reason.as_deref(),
        },
    )
    .await?;
    load(conn, id, false).await
}

/// Whether the org has an agency, a pending request, or nothing.
pub async fn my_agency(conn: &mut PgConnection, org_id: Uuid) -> Result<MyAgency, DomainError> {
    if let Some(company_id) = crate::access::owned_agency(&mut *conn, org_id).await? {
        return Ok(MyAgency {
            state: AgencyState::Agency,
            company: Some(companies::get(conn, company_id).await?),
            request: None,
        });
    }
    let pending = sqlx::query_scalar!(
        "SELECT id FROM artists_provisioning_requests WHERE org_id = $1 AND status = 'pending'",
        org_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match pending {
        Some(id) => MyAgency {
            state: AgencyState::Pending,
            company: None,
            request: Some(load(conn, id, false).await?),
        },
        None => MyAgency {
            state: AgencyState::None,
            company: None,
            request: None,
        },
    })
}
