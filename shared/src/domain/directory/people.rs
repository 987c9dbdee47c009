//! People and contacts of a company. Private to the owning org unless
//! `visibility = network`; others get 404 on a private contact.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access::require_company_owner;
use crate::pagination::{Page, PageRequest};
use crate::serde_util::double_option;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Visibility {
    /// Only the org owning the company sees it.
    #[default]
    Private,
    /// Every org on the network sees it.
    Network,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Person {
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub notes: Option<String>,
    pub visibility: Visibility,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonIn {
    pub company_id: Uuid,
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub visibility: Visibility,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonPatch {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
    pub visibility: Option<Visibility>,
}

struct Fields {
    name: String,
    title: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    notes: Option<String>,
}

fn check(
    name: &str,
    title: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    notes: Option<&str>,
) -> Result<Fields, DomainError> {
    let mut check = Check::new();
    let fields = Fields {
        name: check.text("name", name, 1, 200),
        title: check.opt_text("title", title, 200),
        email: check.email("email", email),
        phone: check.phone("phone", phone),
        notes: check.opt_text("notes", notes, 5000),
    };
    check.finish()?;
    Ok(fields)
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    input: PersonIn,
) -> Result<Person, DomainError> {
    let f = check(
        &input.name,
        input.title.as_deref(),
        input.email.as_deref(),
        input.phone.as_deref(),
        input.notes.as_deref(),
    )?;
    require_company_owner(&mut *conn, input.company_id, org_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO people (id, company_id, name, title, email, phone, notes, visibility)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id,
        input.company_id,
        f.name,
        f.title,
        f.email,
        f.phone,
        f.notes,
        input.visibility as Visibility,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, org_id, id).await
}

/// A person the org may see (its own companies' people, or network ones).
pub async fn get(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Person, DomainError> {
    sqlx::query_as!(
        Person,
        r#"SELECT p.id, p.company_id, p.name, p.title, p.email, p.phone, p.notes,
                  p.visibility AS "visibility: Visibility", p.version, p.created_at, p.updated_at
             FROM people p
            WHERE p.id = $1
              AND kisum_person_visible(p.visibility, p.company_id, $2)"#,
        id,
        org_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// 404 unless the person is visible; 403 unless the org owns its company.
pub async fn require_person_editor(
    conn: &mut PgConnection,
    id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let person = get(&mut *conn, org_id, id).await?;
    require_company_owner(conn, person.company_id, org_id).await
}

/// People the org may see, optionally of one company, by id.
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Option<Uuid>,
    q: Option<&str>,
    page: &PageRequest<Uuid>,
) -> Result<Page<Person>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Person,
        r#"SELECT p.id, p.company_id, p.name, p.title, p.email, p.phone, p.notes,
                  p.visibility AS "visibility: Visibility", p.version, p.created_at, p.updated_at
             FROM people p
            WHERE ($2::uuid IS NULL OR p.company_id = $2)
              AND ($3::text IS NULL OR kisum_fold(p.name) LIKE '%' || kisum_fold($3) || '%')
              AND ($4::uuid IS NULL OR p.id > $4)
              AND kisum_person_visible(p.visibility, p.company_id, $1)
            ORDER BY p.id
            LIMIT $5"#,
        org_id,
        company_id,
        q,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(Page::from_rows(rows, page.limit, |p| p.id))
}

pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    patch: PersonPatch,
    expected_version: Option<i32>,
) -> Result<Person, DomainError> {
    require_person_editor(&mut *conn, id, org_id).await?;
    let current = sqlx::query_as!(
        Person,
        r#"SELECT id, company_id, name, title, email, phone, notes, visibility AS "visibility: Visibility",
                  version, created_at, updated_at
             FROM people WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::StaleVersion);
    }
    let name = patch.name.unwrap_or(current.name);
    let title = patch.title.unwrap_or(current.title);
    let email = patch.email.unwrap_or(current.email);
    let phone = patch.phone.unwrap_or(current.phone);
    let notes = patch.notes.unwrap_or(current.notes);
    let f = check(
        &name,
        title.as_deref(),
        email.as_deref(),
        phone.as_deref(),
        notes.as_deref(),
    )?;
    sqlx::query!(
        "UPDATE people SET name = $2, title = $3, email = $4, phone = $5, notes = $6, visibility = $7,
                version = version + 1, updated_at = now()
          WHERE id = $1",
        id,
        f.name,
        f.title,
        f.email,
        f.phone,
        f.notes,
        patch.visibility.unwrap_or(current.visibility) as Visibility,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, org_id, id).await
}

pub async fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), DomainError> {
    require_person_editor(&mut *conn, id, org_id).await?;
    sqlx::query!(
        "DELETE FROM provider_references WHERE entity_type = 'person' AND entity_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM people WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(())
}
