//! Logistics proposals: the promoter proposes one section of the advance
//! sheet (hotel, hospitality, technical, transport); the artist side (the
//! booking's agency) approves, rejects or asks for changes; the promoter
//! revises. An approval writes the section into the sheet in the same
//! transaction.
//!
//! At most one proposal per booking and section is open (submitted or
//! changes requested): a unique partial index makes that true under
//! concurrency. Every change takes the booking's row lock, then the
//! proposal's, and ends in a guarded `UPDATE ... WHERE status AND version`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::sheet::{
    self, Checker, LogisticsHospitality, LogisticsHotel, LogisticsTechnical, LogisticsTransfer,
};
use crate::access::Party;
use crate::domain::booking::activity::{self, Change};
use crate::domain::booking::bookings::{self, Booking};
use crate::domain::{guarded, precondition};
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;
use crate::{Code, DomainError};

/// The sheet sections a promoter may propose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LogisticsSection {
    Hotel,
    Hospitality,
    Technical,
    /// The sheet's `ground_transport` list.
    Transport,
}

impl LogisticsSection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hotel => "hotel",
            Self::Hospitality => "hospitality",
            Self::Technical => "technical",
            Self::Transport => "transport",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum LogisticsProposalStatus {
    Submitted,
    Approved,
    Rejected,
    ChangesRequested,
    Superseded,
}

/// What happens to a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalEvent {
    Approve,
    Reject,
    RequestChanges,
    /// The promoter revised it: a new proposal takes its place.
    Supersede,
}

impl ProposalEvent {
    pub const ALL: [Self; 4] = [
        Self::Approve,
        Self::Reject,
        Self::RequestChanges,
        Self::Supersede,
    ];

    /// The activity action of the event.
    pub fn action(self) -> &'static str {
        match self {
            Self::Approve => "approved",
            Self::Reject => "rejected",
            Self::RequestChanges => "changes_requested",
            Self::Supersede => "superseded",
        }
    }
}

impl LogisticsProposalStatus {
    pub const ALL: [Self; 5] = [
        Self::Submitted,
        Self::Approved,
        Self::Rejected,
        Self::ChangesRequested,
        Self::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::ChangesRequested => "changes_requested",
            Self::Superseded => "superseded",
        }
    }

    /// Open: awaiting the artist side's answer or the promoter's revision.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Submitted | Self::ChangesRequested)
    }

    /// The one transition function of a proposal. The artist side answers
    /// a submitted proposal; the promoter revises an open one. Approved,
    /// rejected and superseded are final.
    pub fn apply(self, event: ProposalEvent) -> Result<Self, DomainError> {
        use LogisticsProposalStatus as S;
        use ProposalEvent as E;
        match (self, event) {
            (S::Submitted, E::Approve) => Ok(S::Approved),
            (S::Submitted, E::Reject) => Ok(S::Rejected),
            (S::Submitted, E::RequestChanges) => Ok(S::ChangesRequested),
            (S::Submitted | S::ChangesRequested, E::Supersede) => Ok(S::Superseded),
            (from, event) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!(
                    "the proposal is {} and cannot {}",
                    from.as_str(),
                    match event {
                        E::Approve => "be approved",
                        E::Reject => "be rejected",
                        E::RequestChanges => "take a request for changes",
                        E::Supersede => "be revised",
                    }
                ),
            )),
        }
    }
}

/// A proposal's content: the value of its section, typed as in the sheet
/// (`transport` is a list of ground transport entries).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum LogisticsProposalContent {
    Hotel(LogisticsHotel),
    Hospitality(LogisticsHospitality),
    Technical(LogisticsTechnical),
    Transport(Vec<LogisticsTransfer>),
}

impl LogisticsProposalContent {
    /// The content of a `section`, read from JSON; 422 on `at` when it does
    /// not fit the section's shape.
    pub fn parse(
        section: LogisticsSection,
        value: serde_json::Value,
        at: &str,
    ) -> Result<Self, DomainError> {
        let parsed = match section {
            LogisticsSection::Hotel => serde_json::from_value(value).map(Self::Hotel),
            LogisticsSection::Hospitality => serde_json::from_value(value).map(Self::Hospitality),
            LogisticsSection::Technical => serde_json::from_value(value).map(Self::Technical),
            LogisticsSection::Transport => serde_json::from_value(value).map(Self::Transport),
        };
        parsed.map_err(|e| {
            DomainError::invalid(
                at,
                format!("does not fit the {} section: {e}", section.as_str()),
            )
        })
    }

    pub fn section(&self) -> LogisticsSection {
        match self {
            Self::Hotel(_) => LogisticsSection::Hotel,
            Self::Hospitality(_) => LogisticsSection::Hospitality,
            Self::Technical(_) => LogisticsSection::Technical,
            Self::Transport(_) => LogisticsSection::Transport,
        }
    }

    fn checked(self, c: &mut Checker, at: &str) -> Self {
        match self {
            Self::Hotel(v) => Self::Hotel(v.checked(c, at)),
            Self::Hospitality(v) => Self::Hospitality(v.checked(c, at)),
            Self::Technical(v) => Self::Technical(v.checked(c, at)),
            Self::Transport(v) => Self::Transport(sheet::transfers_checked(v, c, at)),
        }
    }

    /// Writes the section into a sheet, replacing what it had.
    fn apply_to(self, sheet: &mut sheet::LogisticsSheet) {
        match self {
            Self::Hotel(v) => sheet.hotel = v,
            Self::Hospitality(v) => sheet.hospitality = v,
            Self::Technical(v) => sheet.technical = v,
            Self::Transport(v) => sheet.ground_transport = v,
        }
    }

    fn to_json(&self) -> Result<serde_json::Value, DomainError> {
        serde_json::to_value(self).map_err(|e| DomainError::Internal(e.into()))
    }
}

/// The content of a section, parsed and validated: 422 naming
/// `content.<field>`.
async fn checked_content(
    conn: &mut PgConnection,
    section: LogisticsSection,
    value: serde_json::Value,
) -> Result<LogisticsProposalContent, DomainError> {
    let content = LogisticsProposalContent::parse(section, value, "content")?;
    let mut checker = Checker::default();
    let content = content.checked(&mut checker, "content");
    checker.finish(conn).await?;
    Ok(content)
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LogisticsProposal {
    pub id: Uuid,
    pub booking_id: Uuid,
    pub section: LogisticsSection,
    pub content: LogisticsProposalContent,
    /// The promoter's note with the proposal.
    pub note: Option<String>,
    pub status: LogisticsProposalStatus,
    /// The proposal this one revises.
    pub supersedes_id: Option<Uuid>,
    /// The artist side's reason, on a rejection or a request for changes.
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub submitted_by: String,
    /// Record version, for `If-Match`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsProposalIn {
    pub section: LogisticsSection,
    /// The section's value, shaped as in the sheet: a hotel, hospitality
    /// or technical object, or for `transport` a list of ground transport
    /// entries.
    #[schema(value_type = LogisticsProposalContent)]
    pub content: serde_json::Value,
    #[serde(default)]
    pub note: Option<String>,
}

/// A revision: new content for the same section.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsRevisionIn {
    #[schema(value_type = LogisticsProposalContent)]
    pub content: serde_json::Value,
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a proposal is rejected, or what should change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogisticsDecisionIn {
    /// 1-2000 characters.
    pub comment: String,
}

const SUBJECT: &str = "proposal";

struct Row {
    id: Uuid,
    booking_id: Uuid,
    section: LogisticsSection,
    content: serde_json::Value,
    note: Option<String>,
    status: LogisticsProposalStatus,
    supersedes_id: Option<Uuid>,
    comment: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    created_by: String,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for LogisticsProposal {
    type Error = DomainError;

    fn try_from(row: Row) -> Result<Self, DomainError> {
        let content = LogisticsProposalContent::parse(row.section, row.content, "content")
            .map_err(|e| {
                DomainError::Internal(anyhow::anyhow!("stored proposal {}: {e:?}", row.id))
            })?;
        Ok(Self {
            id: row.id,
            booking_id: row.booking_id,
            section: row.section,
            content,
            note: row.note,
            status: row.status,
            supersedes_id: row.supersedes_id,
            comment: row.comment,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            submitted_by: row.created_by,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

async fn load(
    conn: &mut PgConnection,
    id: Uuid,
    lock: bool,
) -> Result<LogisticsProposal, DomainError> {
    if lock {
        sqlx::query!(
            "SELECT id FROM logistics_proposals WHERE id = $1 FOR NO KEY UPDATE",
            id
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::NotFound)?;
    }
    sqlx::query_as!(
        Row,
        r#"SELECT id, booking_id, section AS "section: LogisticsSection", content, note,
                  status AS "status: LogisticsProposalStatus", supersedes_id, comment, decided_by, decided_at,
                  created_by, version, created_at, updated_at
             FROM logistics_proposals WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?
    .try_into()
}

/// A proposal the org is party to (through its booking; 404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<LogisticsProposal, DomainError> {
    let proposal = load(&mut *conn, id, false).await?;
    bookings::get_for(&mut *conn, org_id, proposal.booking_id).await?;
    Ok(proposal)
}

/// The proposals of a booking the org is party to, newest first.
pub async fn list_for_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<LogisticsProposal>, DomainError> {
    bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, booking_id, section AS "section: LogisticsSection", content, note,
                  status AS "status: LogisticsProposalStatus", supersedes_id, comment, decided_by, decided_at,
                  created_by, version, created_at, updated_at
             FROM logistics_proposals
            WHERE booking_id = $1 AND id < COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            ORDER BY id DESC LIMIT $3"#,
        booking_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    let proposals = rows
        .into_iter()
        .map(LogisticsProposal::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_rows(proposals, page.limit, |p| p.id))
}

fn require_promoter(party: Party) -> Result<(), DomainError> {
    match party {
        Party::Promoter => Ok(()),
        Party::Agency => Err(DomainError::Forbidden(
            "the agency cannot submit as promoter; it writes the advance sheet directly",
        )),
    }
}

fn require_artist_side(party: Party) -> Result<(), DomainError> {
    match party {
        Party::Agency => Ok(()),
        Party::Promoter => Err(DomainError::Forbidden(
            "only the artist side (the booking's agency) answers a logistics proposal",
        )),
    }
}

fn checked_note(check: &mut Check, note: Option<&str>) -> Option<String> {
    check.opt_text("note", note, 2000)
}

async fn proposal_open(
    conn: &mut PgConnection,
    booking_id: Uuid,
    section: LogisticsSection,
) -> Result<(), DomainError> {
    let open = sqlx::query_scalar!(
        "SELECT id FROM logistics_proposals
          WHERE booking_id = $1 AND section = $2 AND status IN ('submitted', 'changes_requested')",
        booking_id,
        section as LogisticsSection,
    )
    .fetch_optional(conn)
    .await?;
    match open {
        Some(id) => Err(DomainError::conflict(
            Code::ProposalOpen,
            format!(
                "the booking already has an open {} proposal ({id}); revise it or wait for its answer",
                section.as_str()
            ),
        )),
        None => Ok(()),
    }
}

async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    booking: &Booking,
    actor: &str,
    content: &LogisticsProposalContent,
    note: Option<&str>,
    supersedes: Option<Uuid>,
) -> Result<LogisticsProposal, DomainError> {
    let section = content.section();
    sqlx::query!(
        "INSERT INTO logistics_proposals (id, booking_id, section, content, note, status, supersedes_id, created_by)
         VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $7)",
        id,
        booking.id,
        section as LogisticsSection,
        content.to_json()?,
        note,
        supersedes,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: booking.artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action: if supersedes.is_some() {
                "revised"
            } else {
                "submitted"
            },
            from: None,
            to: Some(LogisticsProposalStatus::Submitted.as_str()),
            actor,
            details: serde_json::json!({"booking_id": booking.id, "section": section, "supersedes_id": supersedes}),
        },
    )
    .await?;
    load(conn, id, false).await
}

/// The promoter proposes one section of a confirmed booking's sheet.
pub async fn submit(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    booking_id: Uuid,
    input: LogisticsProposalIn,
) -> Result<LogisticsProposal, DomainError> {
    let (booking, party) = sheet::lock_booking(&mut *conn, org_id, booking_id).await?;
    require_promoter(party)?;
    let mut check = Check::new();
    let note = checked_note(&mut check, input.note.as_deref());
    check.finish()?;
    let content = checked_content(&mut *conn, input.section, input.content).await?;
    sheet::require_confirmed(&booking)?;
    proposal_open(&mut *conn, booking.id, input.section).await?;
    let id = Uuid::now_v7();
    insert(conn, id, &booking, actor, &content, note.as_deref(), None).await
}

/// A locked proposal, its booking (locked first) and the caller's party.
async fn lock_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(LogisticsProposal, Booking, Party), DomainError> {
    let booking_id = sqlx::query_scalar!(
        "SELECT booking_id FROM logistics_proposals WHERE id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let (booking, party) = sheet::lock_booking(&mut *conn, org_id, booking_id).await?;
    let proposal = load(&mut *conn, id, true).await?;
    Ok((proposal, booking, party))
}

/// The guarded status change of a locked proposal, and its activity entry.
#[allow(clippy::too_many_arguments)]
async fn transition(
    conn: &mut PgConnection,
    proposal: &LogisticsProposal,
    booking: &Booking,
    actor: &str,
    event: ProposalEvent,
    comment: Option<&str>,
    details: serde_json::Value,
    if_match: Option<i32>,
) -> Result<LogisticsProposalStatus, DomainError> {
    let to = proposal.status.apply(event)?;
    let decided = event != ProposalEvent::Supersede;
    let rows = sqlx::query!(
        "UPDATE logistics_proposals
            SET status = $2, comment = COALESCE($3, comment),
                decided_by = CASE WHEN $4 THEN $5 ELSE decided_by END,
                decided_at = CASE WHEN $4 THEN now() ELSE decided_at END,
                version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $6 AND version = $7",
        proposal.id,
        to as LogisticsProposalStatus,
        comment,
        decided,
        actor,
        proposal.status as LogisticsProposalStatus,
        proposal.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    let mut details = details;
    if let Some(map) = details.as_object_mut() {
        map.insert("booking_id".into(), serde_json::json!(booking.id));
        map.insert("section".into(), serde_json::json!(proposal.section));
        if let Some(comment) = comment {
            map.insert("comment".into(), serde_json::json!(comment));
        }
    }
    activity::record(
        conn,
        Change {
            artist_id: booking.artist_id,
            subject_type: SUBJECT,
            subject_id: proposal.id,
            action: event.action(),
            from: Some(proposal.status.as_str()),
            to: Some(to.as_str()),
            actor,
            details,
        },
    )
    .await?;
    Ok(to)
}

/// The promoter revises an open proposal: it is superseded, and a new
/// submitted proposal for the same section takes its place.
pub async fn revise(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: LogisticsRevisionIn,
    if_match: Option<i32>,
) -> Result<LogisticsProposal, DomainError> {
    let (old, booking, party) = lock_for(&mut *conn, org_id, id).await?;
    require_promoter(party)?;
    precondition(if_match, old.version)?;
    let mut check = Check::new();
    let note = checked_note(&mut check, input.note.as_deref());
    check.finish()?;
    let content = checked_content(&mut *conn, old.section, input.content).await?;
    old.status.apply(ProposalEvent::Supersede)?;
    sheet::require_confirmed(&booking)?;
    let new_id = Uuid::now_v7();
    transition(
        &mut *conn,
        &old,
        &booking,
        actor,
        ProposalEvent::Supersede,
        None,
        serde_json::json!({"superseded_by": new_id}),
        if_match,
    )
    .await?;
    insert(
        conn,
        new_id,
        &booking,
        actor,
        &content,
        note.as_deref(),
        Some(old.id),
    )
    .await
}

/// The artist side approves a submitted proposal: its section is written
/// into the booking's sheet (a new sheet version) in the same transaction.
pub async fn approve(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    if_match: Option<i32>,
) -> Result<LogisticsProposal, DomainError> {
    let (proposal, booking, party) = lock_for(&mut *conn, org_id, id).await?;
    require_artist_side(party)?;
    precondition(if_match, proposal.version)?;
    proposal.status.apply(ProposalEvent::Approve)?;
    sheet::require_confirmed(&booking)?;
    let current = sheet::load(&mut *conn, booking.id).await?;
    let mut updated = current.sheet;
    proposal.content.clone().apply_to(&mut updated);
    transition(
        &mut *conn,
        &proposal,
        &booking,
        actor,
        ProposalEvent::Approve,
        None,
        serde_json::json!({"logistics_version": current.version + 1}),
        if_match,
    )
    .await?;
    sheet::write(
        &mut *conn,
        &booking,
        &updated,
        current.version,
        actor,
        serde_json::json!({"source": "proposal", "proposal_id": proposal.id, "section": proposal.section}),
    )
    .await?;
    load(conn, id, false).await
}

async fn decide(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    event: ProposalEvent,
    input: LogisticsDecisionIn,
    if_match: Option<i32>,
) -> Result<LogisticsProposal, DomainError> {
    let (proposal, booking, party) = lock_for(&mut *conn, org_id, id).await?;
    require_artist_side(party)?;
    precondition(if_match, proposal.version)?;
    let mut check = Check::new();
    let comment = check.text("comment", &input.comment, 1, 2000);
    check.finish()?;
    transition(
        &mut *conn,
        &proposal,
        &booking,
        actor,
        event,
        Some(&comment),
        serde_json::json!({}),
        if_match,
    )
    .await?;
    load(conn, id, false).await
}

/// The artist side rejects a submitted proposal, saying why.
pub async fn reject(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: LogisticsDecisionIn,
    if_match: Option<i32>,
) -> Result<LogisticsProposal, DomainError> {
    decide(
        conn,
        org_id,
        actor,
        id,
        ProposalEvent::Reject,
        input,
        if_match,
    )
    .await
}

/// The artist side asks for changes to a submitted proposal; the promoter
/// revises it.
pub async fn request_changes(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: LogisticsDecisionIn,
    if_match: Option<i32>,
) -> Result<LogisticsProposal, DomainError> {
    decide(
        conn,
        org_id,
        actor,
        id,
        ProposalEvent::RequestChanges,
        input,
        if_match,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_event() {
        use LogisticsProposalStatus as S;
        use ProposalEvent as E;
        for from in S::ALL {
            for event in E::ALL {
                let expected = match (from, event) {
                    (S::Submitted, E::Approve) => Some(S::Approved),
                    (S::Submitted, E::Reject) => Some(S::Rejected),
                    (S::Submitted, E::RequestChanges) => Some(S::ChangesRequested),
                    (S::Submitted, E::Supersede) => Some(S::Superseded),
                    (S::ChangesRequested, E::Supersede) => Some(S::Superseded),
                    _ => None,
                };
                match (from.apply(event), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {event:?}"),
                    (Err(DomainError::Conflict { code, .. }), None) => {
                        assert_eq!(code, Code::InvalidTransition, "{from:?} {event:?}");
                    }
                    (got, want) => panic!("{from:?} {event:?}: {got:?}, expected {want:?}"),
                }
            }
        }
        for s in S::ALL {
            assert_eq!(
                s.is_open(),
                matches!(s, S::Submitted | S::ChangesRequested),
                "{s:?}"
            );
        }
    }

    #[test]
    fn content_fits_its_section() {
        let hotel =
            serde_json::json!({"name": "Hotel V", "rooms": [{"room_type": "double", "count": 2}]});
        let parsed =
            LogisticsProposalContent::parse(LogisticsSection::Hotel, hotel.clone(), "content")
                .unwrap();
        assert_eq!(parsed.section(), LogisticsSection::Hotel);
        for section in [LogisticsSection::Technical, LogisticsSection::Transport] {
            let Err(DomainError::Validation(errors)) =
                LogisticsProposalContent::parse(section, hotel.clone(), "content")
            else {
                panic!("{section:?} took a hotel")
            };
            assert_eq!(errors[0].field, "content");
        }
        let transport = serde_json::json!([{"kind": "van", "from": "AMS", "to": "Paradiso"}]);
        let parsed =
            LogisticsProposalContent::parse(LogisticsSection::Transport, transport, "content")
                .unwrap();
        let mut sheet = sheet::LogisticsSheet::default();
        parsed.apply_to(&mut sheet);
        assert_eq!(sheet.ground_transport.len(), 1);
        assert_eq!(sheet.ground_transport[0].kind, "van");
    }

    #[test]
    fn content_errors_are_named_under_content() {
        let content = LogisticsProposalContent::Transport(vec![LogisticsTransfer {
            kind: " ".into(),
            from: "A".into(),
            to: "B".into(),
            at: None,
            notes: None,
            confirmation: None,
        }]);
        let mut c = Checker::default();
        content.checked(&mut c, "content");
        let Err(DomainError::Validation(errors)) = c.check.finish() else {
            panic!()
        };
        assert_eq!(errors[0].field, "content[0].kind");
    }
}
