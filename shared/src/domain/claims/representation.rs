//! Who represents an artist where: roster links, team assignments,
//! representation claims and disputes.
//!
//! Rules: a company adds an artist to its roster directly only where no other
//! company represents the artist in an overlapping territory for the same
//! role; otherwise it files a representation claim. A claim overlapping
//! another company's approved representation is `disputed`, never silently
//! approved; an operator approves, rejects, or resolves the dispute.
//! Approval creates or updates the roster link in the same transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::company_claims::DecisionIn;
use super::territory::{self, Territory, TerritoryIn};
use super::{Audit, audit};
use crate::Code;
use crate::DomainError;
use crate::access::{require_artist_editor, require_company_owner};
use crate::domain::directory::companies::CompanyKind;
use crate::domain::guarded;
use crate::domain::machine::Machine;
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RepresentationRole {
    /// The booking agency.
    Booking,
    Management,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[schema(as = RepresentationClaimStatus)]
pub enum ClaimStatus {
    Pending,
    Disputed,
    Approved,
    Rejected,
    Withdrawn,
}

/// What happens to a representation claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimEvent {
    Dispute,
    Approve,
    Reject,
    Withdraw,
    /// An operator resolves its dispute in its favour.
    Uphold,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Disputed => "disputed",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// The transitions of a representation claim. A disputed claim is
    /// approved only by resolving its dispute.
    pub fn apply(self, event: ClaimEvent) -> Result<Self, DomainError> {
        use ClaimEvent::*;
        use ClaimStatus::*;
        match (self, event) {
            (Pending, Dispute) => Ok(Disputed),
            (Pending, Approve) | (Disputed, Uphold) => Ok(Approved),
            (Pending | Disputed, Reject) => Ok(Rejected),
            (Pending | Disputed, Withdraw) => Ok(Withdrawn),
            (Disputed, Approve) => Err(DomainError::conflict(
                Code::ClaimDisputed,
                "the claim is disputed; resolve the dispute instead",
            )),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the claim is {} and cannot change that way", from.as_str()),
            )),
        }
    }
}

impl crate::domain::machine::Machine for ClaimStatus {
    type Event = ClaimEvent;
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Disputed,
        Self::Approved,
        Self::Rejected,
        Self::Withdrawn,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: ClaimEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[schema(as = RepresentationDisputeStatus)]
pub enum DisputeStatus {
    Open,
    Resolved,
}

/// What happens to a dispute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisputeEvent {
    /// An operator decides it, or its claim is rejected or withdrawn.
    Resolve,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }

    /// The one transition function of a dispute: resolved once.
    pub fn apply(self, event: DisputeEvent) -> Result<Self, DomainError> {
        match (self, event) {
            (Self::Open, DisputeEvent::Resolve) => Ok(Self::Resolved),
            (Self::Resolved, DisputeEvent::Resolve) => Err(DomainError::conflict(
                Code::InvalidTransition,
                "the dispute is already resolved",
            )),
        }
    }
}

impl crate::domain::machine::Machine for DisputeStatus {
    type Event = DisputeEvent;
    const ALL: &'static [Self] = &[Self::Open, Self::Resolved];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: DisputeEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RosterLink {
    pub id: Uuid,
    pub company_id: Uuid,
    pub company_name: String,
    pub artist_id: Uuid,
    pub artist_name: String,
    pub role: RepresentationRole,
    pub territory: Territory,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterLinkIn {
    pub artist_id: Uuid,
    pub role: RepresentationRole,
    pub territory: TerritoryIn,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RepresentationClaim {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub company_id: Uuid,
    pub org_id: Uuid,
    pub role: RepresentationRole,
    pub territory: Territory,
    pub status: ClaimStatus,
    pub message: Option<String>,
    pub reason: Option<String>,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepresentationClaimIn {
    pub artist_id: Uuid,
    /// The agency or management company (owned by the org) claiming.
    pub company_id: Uuid,
    pub role: RepresentationRole,
    pub territory: TerritoryIn,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Dispute {
    pub id: Uuid,
    pub claim_id: Uuid,
    pub opened_by_company_id: Option<Uuid>,
    pub opened_by_org: Uuid,
    pub reason: String,
    pub status: DisputeStatus,
    pub resolution: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisputeIn {
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The claim stands: it is approved.
    ClaimUpheld,
    /// The claim falls: it is rejected.
    ClaimRejected,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionIn {
    pub resolution: Resolution,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TeamRole {
    ResponsibleAgent,
    Assistant,
    TourManager,
    Manager,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TeamAssignment {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub company_id: Uuid,
    pub person_id: Uuid,
    pub person_name: String,
    pub role: TeamRole,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamAssignmentIn {
    pub person_id: Uuid,
    pub role: TeamRole,
}

const CLAIM: &str = "representation_claim";

/// The agency or management company through which the org acts.
async fn require_representing_company(
    conn: &mut PgConnection,
    company_id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    require_company_owner(&mut *conn, company_id, org_id).await?;
    let kind = sqlx::query_scalar!(
        r#"SELECT kind AS "kind: CompanyKind" FROM companies WHERE id = $1"#,
        company_id
    )
    .fetch_one(conn)
    .await?;
    if !kind.represents_artists() {
        return Err(DomainError::Unprocessable {
            code: Code::NotARepresentingCompany,
            detail: "only agencies and management companies represent artists".into(),
        });
    }
    Ok(())
}

async fn artist_exists(conn: &mut PgConnection, artist_id: Uuid) -> Result<(), DomainError> {
    sqlx::query_scalar!(
        "SELECT id FROM artists WHERE id = $1 AND archived_at IS NULL",
        artist_id
    )
    .fetch_optional(conn)
    .await?
    .map(|_| ())
    .ok_or(DomainError::NotFound)
}

/// Other companies' roster links for the artist and role whose territory
/// overlaps `territory`.
async fn overlapping_links(
    conn: &mut PgConnection,
    artist_id: Uuid,
    role: RepresentationRole,
    company_id: Uuid,
    territory: &Territory,
) -> Result<Vec<Uuid>, DomainError> {
    let links = sqlx::query!(
        "SELECT company_id, worldwide, areas FROM roster_links
          WHERE artist_id = $1 AND role = $2 AND company_id <> $3",
        artist_id,
        role as RepresentationRole,
        company_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(links
        .into_iter()
        .filter(|l| {
            territory.overlaps(&Territory {
                worldwide: l.worldwide,
                areas: l.areas.clone(),
                market_ids: Vec::new(),
            })
        })
        .map(|l| l.company_id)
        .collect())
}

async fn upsert_link(
    conn: &mut PgConnection,
    company_id: Uuid,
    artist_id: Uuid,
    role: RepresentationRole,
    territory: &Territory,
    actor: &str,
) -> Result<Uuid, DomainError> {
    // The marketplace shows the artist's booking agency.
    crate::domain::changes::mark_artist(&mut *conn, artist_id).await?;
    Ok(sqlx::query_scalar!(
        "INSERT INTO roster_links (id, company_id, artist_id, role, worldwide, areas, market_ids, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (company_id, artist_id, role) DO UPDATE
            SET worldwide = EXCLUDED.worldwide, areas = EXCLUDED.areas, market_ids = EXCLUDED.market_ids, updated_at = now()
         RETURNING id",
        Uuid::now_v7(),
        company_id,
        artist_id,
        role as RepresentationRole,
        territory.worldwide,
        &territory.areas,
        &territory.market_ids,
        actor,
    )
    .fetch_one(conn)
    .await?)
}

/// Roster links, of a company or of an artist.
pub async fn links(
    conn: &mut PgConnection,
    company_id: Option<Uuid>,
    artist_id: Option<Uuid>,
) -> Result<Vec<RosterLink>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query!(
        r#"SELECT l.id, l.company_id, c.name AS company_name, l.artist_id, a.name AS artist_name,
                  l.role AS "role: RepresentationRole", l.worldwide, l.areas, l.market_ids, l.created_at, l.updated_at
             FROM roster_links l
             JOIN companies c ON c.id = l.company_id
             JOIN artists a ON a.id = l.artist_id AND a.archived_at IS NULL
            WHERE ($1::uuid IS NULL OR l.company_id = $1) AND ($2::uuid IS NULL OR l.artist_id = $2)
            ORDER BY a.search_name, l.role, c.name
            LIMIT 1000"#,
        company_id,
        artist_id,
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| RosterLink {
            id: r.id,
            company_id: r.company_id,
            company_name: r.company_name,
            artist_id: r.artist_id,
            artist_name: r.artist_name,
            role: r.role,
            territory: Territory {
                worldwide: r.worldwide,
                areas: r.areas,
                market_ids: r.market_ids,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
        .collect())
}

/// Adds an artist to the company's roster, where nobody else represents
/// it in an overlapping territory for that role (else 409: file a claim).
pub async fn add_to_roster(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    company_id: Uuid,
    input: RosterLinkIn,
) -> Result<RosterLink, DomainError> {
    require_representing_company(&mut *conn, company_id, org_id).await?;
    artist_exists(&mut *conn, input.artist_id).await?;
    let territory = territory::resolve(&mut *conn, "territory", &input.territory).await?;
    // Serialise roster changes of one artist. `NO KEY UPDATE`, not
    // `UPDATE`: a read-model refresh holding this artist's drained mark
    // checks the row with `FOR KEY SHARE` (its foreign key), and the mark
    // below waits for that refresh, so `FOR UPDATE` here deadlocks with it.
    sqlx::query!(
        "SELECT id FROM artists WHERE id = $1 FOR NO KEY UPDATE",
        input.artist_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !overlapping_links(
        &mut *conn,
        input.artist_id,
        input.role,
        company_id,
        &territory,
    )
    .await?
    .is_empty()
    {
        return Err(DomainError::conflict(
            Code::RepresentationConflict,
            "another company represents this artist in an overlapping territory; file a representation claim",
        ));
    }
    let id = upsert_link(
        &mut *conn,
        company_id,
        input.artist_id,
        input.role,
        &territory,
        actor,
    )
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: "roster_link",
            entity_id: id,
            action: "linked",
            from: None,
            to: None,
            org_id: Some(org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    links(conn, Some(company_id), Some(input.artist_id))
        .await?
        .into_iter()
        .find(|l| l.id == id)
        .ok_or(DomainError::NotFound)
}

pub async fn remove_from_roster(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    company_id: Uuid,
    artist_id: Uuid,
) -> Result<(), DomainError> {
    require_company_owner(&mut *conn, company_id, org_id).await?;
    let removed = sqlx::query_scalar!(
        "DELETE FROM roster_links WHERE company_id = $1 AND artist_id = $2 RETURNING id",
        company_id,
        artist_id
    )
    .fetch_all(&mut *conn)
    .await?;
    if removed.is_empty() {
        return Err(DomainError::NotFound);
    }
    crate::domain::changes::mark_artist(&mut *conn, artist_id).await?;
    for id in removed {
        audit(
            &mut *conn,
            Audit {
                entity_type: "roster_link",
                entity_id: id,
                action: "unlinked",
                from: None,
                to: None,
                org_id: Some(org_id),
                actor,
                reason: None,
            },
        )
        .await?;
    }
    Ok(())
}

async fn load_claim(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<RepresentationClaim, DomainError> {
    if lock {
        sqlx::query_scalar!(
            "SELECT id FROM representation_claims WHERE id = $1 FOR UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound)?;
    }
    list_claims(
        conn,
        None,
        Some(id),
        &PageRequest {
            limit: 1,
            after: None,
        },
    )
    .await?
    .items
    .pop()
    .ok_or(DomainError::NotFound)
}

/// Claims of one org (or one claim by id), newest first.
pub async fn list_claims(
    conn: &mut PgConnection,
    org_id: Option<Uuid>,
    id: Option<Uuid>,
    page: &PageRequest<Uuid>,
) -> Result<Page<RepresentationClaim>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query!(
        r#"SELECT id, artist_id, company_id, org_id, role AS "role: RepresentationRole", worldwide, areas, market_ids,
                  status AS "status: ClaimStatus", message, reason, requested_by, decided_by, decided_at, created_at
             FROM representation_claims
            WHERE ($1::uuid IS NULL OR org_id = $1) AND ($2::uuid IS NULL OR id = $2)
              AND ($3::uuid IS NULL OR id < $3)
            ORDER BY id DESC LIMIT $4"#,
        org_id,
        id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    let claims = rows
        .into_iter()
        .map(|r| RepresentationClaim {
            id: r.id,
            artist_id: r.artist_id,
            company_id: r.company_id,
            org_id: r.org_id,
            role: r.role,
            territory: Territory {
                worldwide: r.worldwide,
                areas: r.areas,
                market_ids: r.market_ids,
            },
            status: r.status,
            message: r.message,
            reason: r.reason,
            requested_by: r.requested_by,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            created_at: r.created_at,
        })
        .collect();
    Ok(Page::from_rows(claims, page.limit, |c| c.id))
}

/// A claim visible to the org: its own, or one it may dispute.
pub async fn get_claim_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<RepresentationClaim, DomainError> {
    let claim = load_claim(&mut *conn, id, false).await?;
    if claim.org_id == org_id || has_standing(&mut *conn, &claim, org_id).await?.is_some() {
        Ok(claim)
    } else {
        Err(DomainError::NotFound)
    }
}

/// The company through which `org_id` may dispute `claim`: one holding an
/// overlapping approved representation, or one on the artist's team.
async fn has_standing(
    conn: &mut PgConnection,
    claim: &RepresentationClaim,
    org_id: Uuid,
) -> Result<Option<Uuid>, DomainError> {
    let links = sqlx::query!(
        "SELECT l.company_id, l.worldwide, l.areas FROM roster_links l
           JOIN org_companies oc ON oc.company_id = l.company_id AND oc.org_id = $2
          WHERE l.artist_id = $1 AND l.role = $3 AND l.company_id <> $4",
        claim.artist_id,
        org_id,
        claim.role as RepresentationRole,
        claim.company_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    if let Some(link) = links.into_iter().find(|l| {
        claim.territory.overlaps(&Territory {
            worldwide: l.worldwide,
            areas: l.areas.clone(),
            market_ids: Vec::new(),
        })
    }) {
        return Ok(Some(link.company_id));
    }
    Ok(sqlx::query_scalar!(
        "SELECT t.company_id FROM team_assignments t
           JOIN org_companies oc ON oc.company_id = t.company_id AND oc.org_id = $2
          WHERE t.artist_id = $1 AND t.company_id <> $3
          LIMIT 1",
        claim.artist_id,
        org_id,
        claim.company_id,
    )
    .fetch_optional(conn)
    .await?)
}

/// Files a claim. One overlapping another company's approved
/// representation starts `disputed`, with a dispute opened for it.
pub async fn create_claim(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: RepresentationClaimIn,
) -> Result<RepresentationClaim, DomainError> {
    let mut check = Check::new();
    let message = check.opt_text("message", input.message.as_deref(), 2000);
    check.finish()?;
    require_representing_company(&mut *conn, input.company_id, org_id).await?;
    artist_exists(&mut *conn, input.artist_id).await?;
    let territory = territory::resolve(&mut *conn, "territory", &input.territory).await?;
    let overlapping = overlapping_links(
        &mut *conn,
        input.artist_id,
        input.role,
        input.company_id,
        &territory,
    )
    .await?;
    let status = if overlapping.is_empty() {
        ClaimStatus::Pending
    } else {
        ClaimStatus::Disputed
    };
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO representation_claims (id, artist_id, company_id, org_id, role, worldwide, areas, market_ids, status, message, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        id,
        input.artist_id,
        input.company_id,
        org_id,
        input.role as RepresentationRole,
        territory.worldwide,
        &territory.areas,
        &territory.market_ids,
        status as ClaimStatus,
        message,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: CLAIM,
            entity_id: id,
            action: "requested",
            from: None,
            to: Some(status.as_str()),
            org_id: Some(org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    if let Some(holder) = overlapping.first() {
        let holder_org = crate::access::owner_of(&mut *conn, *holder).await?;
        let dispute = Uuid::now_v7();
        sqlx::query!(
            "INSERT INTO representation_disputes (id, claim_id, opened_by_company_id, opened_by_org, reason, status)
             VALUES ($1, $2, $3, $4, $5, $6)",
            dispute,
            id,
            holder,
            holder_org.unwrap_or(Uuid::nil()),
            "overlaps an approved representation held by another company",
            DisputeStatus::Open as DisputeStatus,
        )
        .execute(&mut *conn)
        .await?;
        audit(
            &mut *conn,
            Audit {
                entity_type: "representation_dispute",
                entity_id: dispute,
                action: "opened",
                from: None,
                to: Some(DisputeStatus::Open.as_str()),
                org_id: holder_org,
                actor: "system",
                reason: Some("automatic: overlapping representation"),
            },
        )
        .await?;
    }
    load_claim(conn, id, false).await
}

pub async fn withdraw_claim(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
) -> Result<RepresentationClaim, DomainError> {
    let claim = load_claim(&mut *conn, id, true).await?;
    if claim.org_id != org_id {
        return Err(DomainError::NotFound);
    }
    let to = claim.status.apply(ClaimEvent::Withdraw)?;
    set_status(&mut *conn, id, claim.status, to, actor, None).await?;
    close_open_dispute(
        &mut *conn,
        id,
        "claim_rejected",
        "the claim was withdrawn",
        actor,
    )
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: CLAIM,
            entity_id: id,
            action: "withdrawn",
            from: Some(claim.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    load_claim(conn, id, false).await
}

/// The guarded transition of a claim from `from` to `to`.
async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    from: ClaimStatus,
    to: ClaimStatus,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "UPDATE representation_claims SET status = $2, decided_by = $3, reason = COALESCE($4, reason),
                decided_at = CASE WHEN $2 IN ('approved', 'rejected', 'withdrawn') THEN now() ELSE decided_at END,
                updated_at = now()
          WHERE id = $1 AND status = $5",
        id,
        to as ClaimStatus,
        actor,
        reason,
        from as ClaimStatus,
    )
    .execute(conn)
    .await?
    .rows_affected();
    guarded(rows, None)
}

/// Resolves the claim's dispute if one is open (the machine says which
/// disputes a resolution may leave).
async fn close_open_dispute(
    conn: &mut PgConnection,
    claim_id: Uuid,
    resolution: &str,
    note: &str,
    actor: &str,
) -> Result<(), DomainError> {
    let resolve = DisputeStatus::set_transition(DisputeEvent::Resolve)?;
    sqlx::query!(
        "UPDATE representation_disputes SET status = $5, resolution = $2, resolution_note = $3,
                resolved_by = $4, resolved_at = now()
          WHERE claim_id = $1 AND status = ANY($6)",
        claim_id,
        resolution,
        note,
        actor,
        resolve.to as DisputeStatus,
        &resolve.from as &[&str],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a dispute on a claim, by a company with standing.
pub async fn open_dispute(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    claim_id: Uuid,
    input: DisputeIn,
) -> Result<Dispute, DomainError> {
    let mut check = Check::new();
    let reason = check.text("reason", &input.reason, 1, 2000);
    check.finish()?;
    let claim = load_claim(&mut *conn, claim_id, true).await?;
    let Some(company) = has_standing(&mut *conn, &claim, org_id).await? else {
        return Err(if claim.org_id == org_id {
            DomainError::Forbidden("a claim cannot be disputed by its own claimant")
        } else {
            DomainError::NotFound
        });
    };
    let to = match claim.status {
        ClaimStatus::Disputed => ClaimStatus::Disputed,
        other => other.apply(ClaimEvent::Dispute)?,
    };
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO representation_disputes (id, claim_id, opened_by_company_id, opened_by_org, reason, status)
         VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        claim_id,
        company,
        org_id,
        reason,
        DisputeStatus::Open as DisputeStatus,
    )
    .execute(&mut *conn)
    .await?;
    set_status(&mut *conn, claim_id, claim.status, to, actor, None).await?;
    if to != claim.status {
        audit(
            &mut *conn,
            Audit {
                entity_type: CLAIM,
                entity_id: claim_id,
                action: "disputed",
                from: Some(claim.status.as_str()),
                to: Some(to.as_str()),
                org_id: Some(claim.org_id),
                actor,
                reason: Some(&reason),
            },
        )
        .await?;
    }
    audit(
        &mut *conn,
        Audit {
            entity_type: "representation_dispute",
            entity_id: id,
            action: "opened",
            from: None,
            to: Some(DisputeStatus::Open.as_str()),
            org_id: Some(org_id),
            actor,
            reason: Some(&reason),
        },
    )
    .await?;
    get_dispute(conn, id).await
}

async fn get_dispute(conn: &mut PgConnection, id: Uuid) -> Result<Dispute, DomainError> {
    sqlx::query_as!(
        Dispute,
        r#"SELECT id, claim_id, opened_by_company_id, opened_by_org, reason, status AS "status: DisputeStatus",
                resolution, resolution_note,
                resolved_by, resolved_at, created_at
           FROM representation_disputes WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Disputes my org opened or faces, newest first.
pub async fn disputes_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Dispute>, DomainError> {
    let rows = sqlx::query_as!(
        Dispute,
        r#"SELECT d.id, d.claim_id, d.opened_by_company_id, d.opened_by_org, d.reason,
                d.status AS "status: DisputeStatus", d.resolution,
                d.resolution_note, d.resolved_by, d.resolved_at, d.created_at
           FROM representation_disputes d JOIN representation_claims c ON c.id = d.claim_id
          WHERE (d.opened_by_org = $1 OR c.org_id = $1) AND d.id < COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
          ORDER BY d.id DESC LIMIT $3"#,
        org_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |d| d.id))
}

/// Approves a pending claim and writes its roster link, in one transaction.
pub async fn approve_claim(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<RepresentationClaim, DomainError> {
    let claim = load_claim(&mut *conn, id, true).await?;
    let to = claim.status.apply(ClaimEvent::Approve)?;
    finish_approval(&mut *conn, &claim, to, actor).await?;
    load_claim(conn, id, false).await
}

async fn finish_approval(
    conn: &mut PgConnection,
    claim: &RepresentationClaim,
    to: ClaimStatus,
    actor: &str,
) -> Result<(), DomainError> {
    // `NO KEY UPDATE`, as in `add_to_roster`: the link's mark must not
    // deadlock with a refresh of the artist.
    sqlx::query!(
        "SELECT id FROM artists WHERE id = $1 FOR NO KEY UPDATE",
        claim.artist_id
    )
    .fetch_one(&mut *conn)
    .await?;
    // A representation approved meanwhile turns a plain approval into a dispute.
    if to == ClaimStatus::Approved
        && claim.status == ClaimStatus::Pending
        && !overlapping_links(
            &mut *conn,
            claim.artist_id,
            claim.role,
            claim.company_id,
            &claim.territory,
        )
        .await?
        .is_empty()
    {
        return Err(DomainError::conflict(
            Code::RepresentationConflict,
            "another company now represents this artist in an overlapping territory; the claim must be disputed",
        ));
    }
    set_status(&mut *conn, claim.id, claim.status, to, actor, None).await?;
    let link = upsert_link(
        &mut *conn,
        claim.company_id,
        claim.artist_id,
        claim.role,
        &claim.territory,
        actor,
    )
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: CLAIM,
            entity_id: claim.id,
            action: "approved",
            from: Some(claim.status.as_str()),
            to: Some(to.as_str()),
            org_id: Some(claim.org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: "roster_link",
            entity_id: link,
            action: "linked",
            from: None,
            to: None,
            org_id: Some(claim.org_id),
            actor,
            reason: Some("representation claim approved"),
        },
    )
    .await?;
    Ok(())
}

pub async fn reject_claim(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
    input: DecisionIn,
) -> Result<RepresentationClaim, DomainError> {
    let reason = Some(super::rejection_reason(input.reason.as_deref())?);
    let claim = load_claim(&mut *conn, id, true).await?;
    let to = claim.status.apply(ClaimEvent::Reject)?;
    set_status(&mut *conn, id, claim.status, to, actor, reason.as_deref()).await?;
    close_open_dispute(
        &mut *conn,
        id,
        "claim_rejected",
        reason.as_deref().unwrap_or_default(),
        actor,
    )
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: CLAIM,
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
    load_claim(conn, id, false).await
}

/// Resolves an open dispute: upholding approves the claim (with its roster
/// link), rejecting rejects it.
pub async fn resolve_dispute(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
    input: ResolutionIn,
) -> Result<Dispute, DomainError> {
    let mut check = Check::new();
    let note = check.opt_text("note", input.note.as_deref(), 2000);
    check.finish()?;
    let dispute = get_dispute(&mut *conn, id).await?;
    let dispute_to = dispute.status.apply(DisputeEvent::Resolve)?;
    let claim = load_claim(&mut *conn, dispute.claim_id, true).await?;
    let (resolution, event) = match input.resolution {
        Resolution::ClaimUpheld => ("claim_upheld", ClaimEvent::Uphold),
        Resolution::ClaimRejected => ("claim_rejected", ClaimEvent::Reject),
    };
    let to = claim.status.apply(event)?;
    if to == ClaimStatus::Approved {
        finish_approval(&mut *conn, &claim, to, actor).await?;
    } else {
        set_status(
            &mut *conn,
            claim.id,
            claim.status,
            to,
            actor,
            note.as_deref(),
        )
        .await?;
    }
    let rows = sqlx::query!(
        "UPDATE representation_disputes SET status = $5, resolution = $2, resolution_note = $3,
                resolved_by = $4, resolved_at = now()
          WHERE id = $1 AND status = $6",
        id,
        resolution,
        note,
        actor,
        dispute_to as DisputeStatus,
        dispute.status as DisputeStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    audit(
        &mut *conn,
        Audit {
            entity_type: "representation_dispute",
            entity_id: id,
            action: "resolved",
            from: Some(dispute.status.as_str()),
            to: Some(dispute_to.as_str()),
            org_id: Some(claim.org_id),
            actor,
            reason: Some(resolution),
        },
    )
    .await?;
    get_dispute(conn, id).await
}

/// The artist's team as `org_id` may see it: assignments of people it may
/// see (network contacts, and its own companies' people).
pub async fn team(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
) -> Result<Vec<TeamAssignment>, DomainError> {
    artist_exists(&mut *conn, artist_id).await?;
    Ok(sqlx::query_as!(
        TeamAssignment,
        r#"SELECT t.id, t.artist_id, t.company_id, t.person_id, p.name AS person_name, t.role AS "role: TeamRole", t.created_at
             FROM team_assignments t JOIN people p ON p.id = t.person_id
            WHERE t.artist_id = $1
              AND kisum_person_visible(p.visibility, p.company_id, $2)
            ORDER BY t.role, p.name"#,
        artist_id,
        org_id,
    )
    .fetch_all(conn)
    .await?)
}

/// Assigns a person of the org's company to the artist's team; the org
/// must represent the artist.
pub async fn assign(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    artist_id: Uuid,
    input: TeamAssignmentIn,
) -> Result<TeamAssignment, DomainError> {
    require_artist_editor(&mut *conn, artist_id, org_id).await?;
    let company_id = sqlx::query_scalar!(
        "SELECT p.company_id FROM people p
           JOIN org_companies oc ON oc.company_id = p.company_id AND oc.org_id = $2
          WHERE p.id = $1",
        input.person_id,
        org_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        DomainError::invalid("person_id", "must be a person of a company your org owns")
    })?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO team_assignments (id, artist_id, company_id, person_id, role, created_by) VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        artist_id,
        company_id,
        input.person_id,
        input.role as TeamRole,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    audit(
        &mut *conn,
        Audit {
            entity_type: "team_assignment",
            entity_id: id,
            action: "assigned",
            from: None,
            to: None,
            org_id: Some(org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    team(conn, org_id, artist_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(DomainError::NotFound)
}

pub async fn unassign(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    artist_id: Uuid,
    assignment_id: Uuid,
) -> Result<(), DomainError> {
    require_artist_editor(&mut *conn, artist_id, org_id).await?;
    let removed = sqlx::query_scalar!(
        "DELETE FROM team_assignments WHERE id = $1 AND artist_id = $2 RETURNING id",
        assignment_id,
        artist_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if removed.is_none() {
        return Err(DomainError::NotFound);
    }
    audit(
        &mut *conn,
        Audit {
            entity_type: "team_assignment",
            entity_id: assignment_id,
            action: "unassigned",
            from: None,
            to: None,
            org_id: Some(org_id),
            actor,
            reason: None,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_transitions() {
        use ClaimEvent::*;
        use ClaimStatus::*;
        assert_eq!(Pending.apply(Approve).unwrap(), Approved);
        assert_eq!(Pending.apply(Dispute).unwrap(), Disputed);
        assert_eq!(Disputed.apply(Uphold).unwrap(), Approved);
        assert!(
            Disputed.apply(Approve).is_err(),
            "a disputed claim is never silently approved"
        );
        assert_eq!(Disputed.apply(Reject).unwrap(), Rejected);
        assert_eq!(Disputed.apply(Withdraw).unwrap(), Withdrawn);
        assert!(Pending.apply(Uphold).is_err());
        crate::domain::machine::assert_exhaustive(
            &[Dispute, Approve, Reject, Withdraw, Uphold],
            &[
                (Pending, Dispute, Disputed),
                (Pending, Approve, Approved),
                (Pending, Reject, Rejected),
                (Pending, Withdraw, Withdrawn),
                (Disputed, Uphold, Approved),
                (Disputed, Reject, Rejected),
                (Disputed, Withdraw, Withdrawn),
            ],
        );
        assert!(matches!(
            Disputed.apply(Approve),
            Err(DomainError::Conflict {
                code: Code::ClaimDisputed,
                ..
            })
        ));
    }

    #[test]
    fn dispute_transitions() {
        crate::domain::machine::assert_exhaustive(
            &[DisputeEvent::Resolve],
            &[(
                DisputeStatus::Open,
                DisputeEvent::Resolve,
                DisputeStatus::Resolved,
            )],
        );
        let close = DisputeStatus::set_transition(DisputeEvent::Resolve).unwrap();
        assert_eq!(
            (close.from, close.to),
            (vec!["open"], DisputeStatus::Resolved)
        );
    }
}
