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
          WHERE org_id = $1 AND id < COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
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

/// Most artists one shortlist holds.
pub const ITEMS_MAX: i64 = 500;
pub const NOTE_MAX: usize = 2000;

/// An artist on a shortlist.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShortlistItem {
    pub artist_id: Uuid,
    pub artist_name: String,
    pub note: Option<String>,
    /// 1..n, the order the org keeps.
    pub position: i32,
    pub added_by: String,
    pub added_at: DateTime<Utc>,
    /// With `?from=&to=`: open dates in the range and the fee range, from
    /// the marketplace's search table.
    pub annotation: Option<crate::domain::read_models::search::Annotation>,
}

/// A shortlist with its items.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShortlistDetail {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub version: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<ShortlistItem>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShortlistItemIn {
    pub artist_id: Uuid,
    #[serde(default)]
    pub note: Option<String>,
    /// Where it goes, 1-based; the end when absent. Later items move down.
    #[serde(default)]
    pub position: Option<i32>,
}

/// The shortlist with its items, in order; annotated for `range`.
pub async fn detail(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    range: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
) -> Result<ShortlistDetail, DomainError> {
    let s = get(&mut *conn, org_id, id).await?;
    let rows = sqlx::query!(
        "SELECT i.artist_id, a.name, i.note, i.position, i.added_by, i.added_at
           FROM shortlist_items i JOIN artists a ON a.id = i.artist_id
          WHERE i.shortlist_id = $1 ORDER BY i.position, i.artist_id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut annotations = match range {
        Some((from, to)) => {
            let ids: Vec<Uuid> = rows.iter().map(|r| r.artist_id).collect();
            crate::domain::read_models::search::annotations(&mut *conn, &ids, from, to)
                .await?
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>()
        }
        None => std::collections::HashMap::new(),
    };
    let items = rows
        .into_iter()
        .map(|r| ShortlistItem {
            annotation: range.map(|_| {
                annotations.remove(&r.artist_id).unwrap_or(
                    crate::domain::read_models::search::Annotation {
                        open_dates: Vec::new(),
                        fee_min: None,
                        fee_max: None,
                        fee_currency: None,
                    },
                )
            }),
            artist_id: r.artist_id,
            artist_name: r.name,
            note: r.note,
            position: r.position,
            added_by: r.added_by,
            added_at: r.added_at,
        })
        .collect();
    Ok(ShortlistDetail {
        id: s.id,
        org_id: s.org_id,
        name: s.name,
        description: s.description,
        version: s.version,
        created_by: s.created_by,
        created_at: s.created_at,
        updated_at: s.updated_at,
        items,
    })
}

/// Locks the org's shortlist for a change of its items (404 otherwise)
/// and raises its version.
async fn lock(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), DomainError> {
    sqlx::query_scalar!(
        "UPDATE shortlists SET version = version + 1, updated_at = now()
          WHERE id = $1 AND org_id = $2 RETURNING id",
        id,
        org_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(())
}

/// Adds an artist: 409 `already_shortlisted` the second time, 409
/// `shortlist_full` past 500, 422 for an artist that does not exist.
pub async fn add_item(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: ShortlistItemIn,
) -> Result<ShortlistItem, DomainError> {
    let mut errors = Vec::new();
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > NOTE_MAX || has_control(n)) {
        errors.push(FieldError::new(
            "note",
            format!("must be at most {NOTE_MAX} characters without control characters"),
        ));
    }
    if input.position.is_some_and(|p| p < 1) {
        errors.push(FieldError::new("position", "must be at least 1"));
    }
    finish((), errors)?;
    lock(&mut *conn, org_id, id).await?;
    let artist = sqlx::query_scalar!(
        "SELECT name FROM artists WHERE id = $1 AND archived_at IS NULL",
        input.artist_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| DomainError::invalid("artist_id", "is not an artist of the directory"))?;
    let count = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM shortlist_items WHERE shortlist_id = $1"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM shortlist_items WHERE shortlist_id = $1 AND artist_id = $2) AS "x!""#,
        id,
        input.artist_id
    )
    .fetch_one(&mut *conn)
    .await?
    {
        return Err(DomainError::conflict(
            crate::Code::AlreadyShortlisted,
            "the artist is already on this shortlist",
        ));
    }
    if count >= ITEMS_MAX {
        return Err(DomainError::conflict(
            crate::Code::ShortlistFull,
            "a shortlist holds at most 500 artists",
        ));
    }
    let last = i32::try_from(count).unwrap_or(i32::MAX) + 1;
    let position = input.position.map_or(last, |p| p.min(last));
    sqlx::query!(
        "UPDATE shortlist_items SET position = position + 1 WHERE shortlist_id = $1 AND position >= $2",
        id,
        position
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        "INSERT INTO shortlist_items (shortlist_id, artist_id, note, position, added_by)
         VALUES ($1, $2, $3, $4, $5) RETURNING added_at",
        id,
        input.artist_id,
        note,
        position,
        actor,
    )
    .fetch_one(conn)
    .await?;
    Ok(ShortlistItem {
        artist_id: input.artist_id,
        artist_name: artist,
        note: note.map(str::to_owned),
        position,
        added_by: actor.to_owned(),
        added_at: row.added_at,
        annotation: None,
    })
}

/// Removes an artist; the items after it move up. 404 when it is not on
/// the org's shortlist.
pub async fn remove_item(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    artist_id: Uuid,
) -> Result<(), DomainError> {
    lock(&mut *conn, org_id, id).await?;
    let position = sqlx::query_scalar!(
        "DELETE FROM shortlist_items WHERE shortlist_id = $1 AND artist_id = $2 RETURNING position",
        id,
        artist_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    sqlx::query!(
        "UPDATE shortlist_items SET position = position - 1 WHERE shortlist_id = $1 AND position > $2",
        id,
        position
    )
    .execute(conn)
    .await?;
    Ok(())
}
