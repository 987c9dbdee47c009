//! Notes and flags an org keeps on a counterparty company: private to
//! the writing org. Another org gets 404 for them, lists included.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

pub const NOTE_MAX: usize = 5000;
pub const FLAG_NOTE_MAX: usize = 2000;

/// 404 unless the company exists.
async fn company_exists(conn: &mut PgConnection, id: Uuid) -> Result<(), DomainError> {
    let found = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM companies WHERE id = $1) AS "found!""#,
        id
    )
    .fetch_one(conn)
    .await?;
    if found {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = RelationshipNote)]
pub struct Note {
    pub id: Uuid,
    pub counterparty_id: Uuid,
    pub body: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelationshipNoteIn)]
pub struct NoteIn {
    /// 1 to 5,000 characters.
    pub body: String,
}

pub async fn add_note(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    counterparty_id: Uuid,
    input: NoteIn,
) -> Result<Note, DomainError> {
    let mut check = Check::new();
    let body = check.text("body", &input.body, 1, NOTE_MAX);
    check.finish()?;
    company_exists(&mut *conn, counterparty_id).await?;
    Ok(sqlx::query_as!(
        Note,
        "INSERT INTO relationship_notes (id, org_id, counterparty_id, body, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, counterparty_id, body, created_by, created_at",
        Uuid::now_v7(),
        org_id,
        counterparty_id,
        body,
        actor,
    )
    .fetch_one(conn)
    .await?)
}

/// The org's notes on a counterparty, newest first.
pub async fn notes(
    conn: &mut PgConnection,
    org_id: Uuid,
    counterparty_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Note>, DomainError> {
    company_exists(&mut *conn, counterparty_id).await?;
    let rows = sqlx::query_as!(
        Note,
        "SELECT id, counterparty_id, body, created_by, created_at FROM relationship_notes
          WHERE org_id = $1 AND counterparty_id = $2 AND id < COALESCE($3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
          ORDER BY id DESC LIMIT $4",
        org_id,
        counterparty_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |n| n.id))
}

pub async fn delete_note(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "DELETE FROM relationship_notes WHERE id = $1 AND org_id = $2",
        id,
        org_id
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 1 {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// What a flag says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum FlagKind {
    LatePayment,
    NoShow,
    GreatPartner,
    DifficultAdvance,
    GreatHospitality,
    SlowToSign,
    PoorCommunication,
    Other,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = RelationshipFlag)]
pub struct Flag {
    pub id: Uuid,
    pub counterparty_id: Uuid,
    pub kind: FlagKind,
    /// The booking it is about, when it names one.
    pub booking_id: Option<Uuid>,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelationshipFlagIn)]
pub struct FlagIn {
    pub kind: FlagKind,
    /// A booking between my org and the counterparty.
    #[serde(default)]
    pub booking_id: Option<Uuid>,
    /// Free text, up to 2,000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

pub async fn add_flag(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    counterparty_id: Uuid,
    input: FlagIn,
) -> Result<Flag, DomainError> {
    let mut check = Check::new();
    let note = check.opt_text("note", input.note.as_deref(), FLAG_NOTE_MAX);
    check.finish()?;
    company_exists(&mut *conn, counterparty_id).await?;
    if let Some(booking_id) = input.booking_id {
        // The booking is one between a company of mine and the counterparty.
        let ours = sqlx::query_scalar!(
            r#"SELECT EXISTS (
                 SELECT 1 FROM bookings b JOIN org_companies oc ON oc.org_id = $2
                  WHERE b.id = $1
                    AND ((b.agency_company_id = oc.company_id AND b.promoter_company_id = $3)
                      OR (b.promoter_company_id = oc.company_id AND b.agency_company_id = $3))) AS "ours!""#,
            booking_id,
            org_id,
            counterparty_id
        )
        .fetch_one(&mut *conn)
        .await?;
        if !ours {
            return Err(DomainError::invalid(
                "booking_id",
                "is not a booking between your org and this company",
            ));
        }
    }
    Ok(sqlx::query_as!(
        Flag,
        r#"INSERT INTO relationship_flags (id, org_id, counterparty_id, kind, booking_id, note, created_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING id, counterparty_id, kind AS "kind: FlagKind", booking_id, note, created_by, created_at"#,
        Uuid::now_v7(),
        org_id,
        counterparty_id,
        input.kind as FlagKind,
        input.booking_id,
        note,
        actor,
    )
    .fetch_one(conn)
    .await?)
}

/// The org's flags on a counterparty, newest first.
pub async fn flags(
    conn: &mut PgConnection,
    org_id: Uuid,
    counterparty_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Flag>, DomainError> {
    company_exists(&mut *conn, counterparty_id).await?;
    let rows = sqlx::query_as!(
        Flag,
        r#"SELECT id, counterparty_id, kind AS "kind: FlagKind", booking_id, note, created_by, created_at
             FROM relationship_flags
            WHERE org_id = $1 AND counterparty_id = $2 AND id < COALESCE($3, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            ORDER BY id DESC LIMIT $4"#,
        org_id,
        counterparty_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |f| f.id))
}

pub async fn delete_flag(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "DELETE FROM relationship_flags WHERE id = $1 AND org_id = $2",
        id,
        org_id
    )
    .execute(conn)
    .await?
    .rows_affected();
    if rows == 1 {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}
