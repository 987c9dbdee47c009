//! Shortlists: an org's saved lists of artists under consideration.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::pagination::{Page, PageRequest};
use crate::serde_util::double_option;
use crate::{DomainError, FieldError};

pub const NAME_MAX: usize = 120;
pub const DESCRIPTION_MAX: usize = 2000;

#[derive(Clone, Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Shortlist {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub version: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortlistIn {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// A partial update; absent fields stay, `description: null` clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortlistPatch {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if has_control(name) {
        errors.push(FieldError::new(
            "name",
            "must not contain control characters",
        ));
    } else if name.is_empty() {
        errors.push(FieldError::new("name", "must not be blank"));
    } else if name.chars().count() > NAME_MAX {
        errors.push(FieldError::new(
            "name",
            format!("must be at most {NAME_MAX} characters"),
        ));
    }
    name.to_owned()
}

fn check_description(description: Option<&str>, errors: &mut Vec<FieldError>) -> Option<String> {
    let description = description.map(str::trim).filter(|d| !d.is_empty())?;
    if has_control(description) {
        errors.push(FieldError::new(
            "description",
            "must not contain control characters",
        ));
    } else if description.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    Some(description.to_owned())
}

fn finish<T>(value: T, errors: Vec<FieldError>) -> Result<T, DomainError> {
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(DomainError::Validation(errors))
    }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    created_by: &str,
    input: ShortlistIn,
) -> Result<Shortlist, DomainError> {
    let mut errors = Vec::new();
    let name = check_name(&input.name, &mut errors);
    let description = check_description(input.description.as_deref(), &mut errors);
    finish((), errors)?;
    let shortlist = sqlx::query_as!(
        Shortlist,
        "INSERT INTO shortlists (id, org_id, name, description, created_by)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, org_id, name, description, version, created_by, created_at, updated_at",
        Uuid::now_v7(),
        org_id,
        name,
        description,
        created_by,
    )
    .fetch_one(conn)
    .await?;
    Ok(shortlist)
}

pub async fn get(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Shortlist, DomainError> {
    sqlx::query_as!(
        Shortlist,
        "SELECT id, org_id, name, description, version, created_by, created_at, updated_at
           FROM shortlists WHERE id = $1 AND org_id = $2",
        id,
        org_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Newest first; the cursor is the last id served (ids are time-ordered).
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Shortlist>, DomainError> {
    let rows = sqlx::query_as!(
        Shortlist,
        "SELECT id, org_id, name, description, version, created_by, created_at, updated_at
           FROM shortlists
          WHERE org_id = $1 AND ($2::uuid IS NULL OR id < $2)
          ORDER BY id DESC
          LIMIT $3",
        org_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Page::from_rows(rows, page.limit, |s| s.id))
}

/// Applies a patch under a row lock; with `expected_version` it only lands
/// on that version (412 otherwise).
pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    patch: ShortlistPatch,
    expected_version: Option<i32>,
) -> Result<Shortlist, DomainError> {
    let current = sqlx::query_as!(
        Shortlist,
        "SELECT id, org_id, name, description, version, created_by, created_at, updated_at
           FROM shortlists WHERE id = $1 AND org_id = $2
            FOR UPDATE",
        id,
        org_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::StaleVersion);
    }
    let mut errors = Vec::new();
    let name = match &patch.name {
        Some(name) => check_name(name, &mut errors),
        None => current.name.clone(),
    };
    let description = match &patch.description {
        Some(d) => check_description(d.as_deref(), &mut errors),
        None => current.description.clone(),
    };
    finish((), errors)?;
    let updated = sqlx::query_as!(
        Shortlist,
        "UPDATE shortlists
            SET name = $3, description = $4, version = version + 1, updated_at = now()
          WHERE id = $1 AND org_id = $2
          RETURNING id, org_id, name, description, version, created_by, created_at, updated_at",
        id,
        org_id,
        name,
        description,
    )
    .fetch_one(conn)
    .await?;
    Ok(updated)
}

pub async fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), DomainError> {
    let deleted = sqlx::query!(
        "DELETE FROM shortlists WHERE id = $1 AND org_id = $2",
        id,
        org_id
    )
    .execute(conn)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}
