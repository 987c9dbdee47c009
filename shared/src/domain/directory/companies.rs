//! Market companies: agencies, promoters, venues, management, labels.
//!
//! Rules: creating a promoter, venue, management, label or other company
//! makes the creating org its owner at once (an approved claim); an agency
//! comes into being only through provisioning or a trusted import (then
//! unclaimed, "sleeping"). Only the owner org edits a company.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::geo;
use super::provider_refs::{self, EntityType, ProviderRefIn};
use crate::Code;
use crate::DomainError;
pub use crate::access::CompanyKind;
use crate::access::require_company_owner;
use crate::pagination::{Page, PageRequest};
use crate::reference::Refs;
use crate::serde_util::double_option;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Company {
    pub id: Uuid,
    pub kind: CompanyKind,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub city_id: Option<i64>,
    pub city_name: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    /// Whether an org owns it (holds its approved claim).
    pub claimed: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyIn {
    pub kind: CompanyKind,
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

/// A trusted import: an unclaimed company, idempotent on its provider reference.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyImport {
    #[serde(flatten)]
    pub company: CompanyIn,
    #[serde(default)]
    pub provider_reference: Option<ProviderRefIn>,
}

/// Absent fields stay; `null` clears an optional one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanyPatch {
    pub name: Option<String>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub country: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub city_id: Option<Option<i64>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub website: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Default)]
pub struct CompanyFilter {
    pub kind: Option<CompanyKind>,
    pub q: Option<String>,
    pub country: Option<String>,
    pub claimed: Option<bool>,
}

/// Validated company fields.
struct Fields {
    name: String,
    country: Option<String>,
    city_id: Option<i64>,
    website: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    description: Option<String>,
}

fn check_fields(input: &CompanyIn) -> Result<Fields, DomainError> {
    let mut check = Check::new();
    let fields = Fields {
        name: check.text("name", &input.name, 1, 200),
        country: check.country("country", input.country.as_deref()),
        city_id: input.city_id,
        website: check.url("website", input.website.as_deref()),
        email: check.email("email", input.email.as_deref()),
        phone: check.phone("phone", input.phone.as_deref()),
        description: check.opt_text("description", input.description.as_deref(), 5000),
    };
    check.finish()?;
    Ok(fields)
}

/// Refuses an unknown country or city, or a city outside the country,
/// without writing anything (a proposed agency is checked when proposed,
/// not first when approved).
pub async fn check_place(conn: &mut PgConnection, input: &CompanyIn) -> Result<(), DomainError> {
    let f = check_fields(input)?;
    geo::place(conn, f.country, f.city_id).await.map(|_| ())
}

/// Inserts an agency (unclaimed; provisioning claims it in the same
/// transaction).
pub async fn insert_agency(
    conn: &mut PgConnection,
    input: &CompanyIn,
) -> Result<Uuid, DomainError> {
    let fields = check_fields(input)?;
    insert(conn, CompanyKind::Agency, fields, false).await
}

async fn insert(
    conn: &mut PgConnection,
    kind: CompanyKind,
    f: Fields,
    claimed: bool,
) -> Result<Uuid, DomainError> {
    let country = geo::place(&mut *conn, f.country, f.city_id).await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO companies (id, kind, name, country_code, city_id, website, email, phone, description, claimed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        id,
        kind as CompanyKind,
        f.name,
        country,
        f.city_id,
        f.website,
        f.email,
        f.phone,
        f.description,
        claimed,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Creates a company owned by `org_id` (an approved claim in the same
/// transaction). Agencies are refused: they come through provisioning.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: &str,
    input: CompanyIn,
) -> Result<Company, DomainError> {
    if input.kind == CompanyKind::Agency {
        return Err(DomainError::Unprocessable {
            code: Code::AgencyRequiresProvisioning,
            detail: "agencies are created through an agency creation or takeover request".into(),
        });
    }
    let kind = input.kind;
    let fields = check_fields(&input)?;
    let id = insert(&mut *conn, kind, fields, true).await?;
    sqlx::query!(
        "INSERT INTO artists_company_claims (id, company_id, org_id, status, requested_by, decided_at, decided_by)
         VALUES ($1, $2, $3, 'approved', $4, now(), 'creation')",
        Uuid::now_v7(),
        id,
        org_id,
        user_id,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

/// Trusted import: an unclaimed company. With a provider reference the
/// import is idempotent: a second import answers the first record
/// (`created == false`).
pub async fn import(
    conn: &mut PgConnection,
    input: CompanyImport,
) -> Result<(Company, bool), DomainError> {
    let fields = check_fields(&input.company)?;
    if let Some(reference) = &input.provider_reference {
        reference.validate()?;
        provider_refs::lock(&mut *conn, reference, EntityType::Company).await?;
        if let Some(existing) =
            provider_refs::find(&mut *conn, reference, EntityType::Company).await?
        {
            return Ok((get(conn, existing).await?, false));
        }
    }
    let id = insert(&mut *conn, input.company.kind, fields, false).await?;
    if let Some(reference) = &input.provider_reference {
        provider_refs::insert(&mut *conn, reference, EntityType::Company, id).await?;
    }
    Ok((get(conn, id).await?, true))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Company, DomainError> {
    sqlx::query_as!(
        Company,
        r#"SELECT c.id, c.kind AS "kind: CompanyKind", c.name, c.country_code::text AS country,
                  c.city_id, ci.name AS "city_name?", c.website, c.email, c.phone, c.description,
                  c.claimed, c.version, c.created_at, c.updated_at
             FROM companies c LEFT JOIN cities ci ON ci.id = c.city_id
            WHERE c.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// Companies by name (accent- and case-insensitive), filtered.
pub async fn list(
    conn: &mut PgConnection,
    filter: &CompanyFilter,
    page: &PageRequest<(String, Uuid)>,
) -> Result<Page<Company>, DomainError> {
    Refs::new()
        .country("country", filter.country.as_deref())
        .check(&mut *conn)
        .await?;
    let (after_name, after_id) = page.after.clone().unzip();
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query!(
        r#"SELECT c.id, c.kind AS "kind: CompanyKind", c.name, c.country_code::text AS country,
                  c.city_id, ci.name AS "city_name?", c.website, c.email, c.phone, c.description,
                  c.claimed, c.version, c.created_at, c.updated_at, c.search_name AS "sort_key!"
             FROM companies c LEFT JOIN cities ci ON ci.id = c.city_id
            WHERE ($1::text IS NULL OR c.kind = $1)
              AND ($2::text IS NULL OR c.search_name % kisum_fold($2)
                   OR c.search_name LIKE '%' || kisum_fold($2) || '%')
              AND ($3::text IS NULL OR c.country_code = $3)
              AND ($4::boolean IS NULL OR c.claimed = $4)
              AND ($5::text IS NULL OR (c.search_name, c.id) > ($5, $6::uuid))
            ORDER BY c.search_name, c.id
            LIMIT $7"#,
        filter.kind.map(kind_str),
        filter.q.as_deref(),
        filter.country.as_deref(),
        filter.claimed,
        after_name,
        after_id,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    let rows: Vec<(String, Company)> = rows
        .into_iter()
        .map(|r| {
            (
                r.sort_key,
                Company {
                    id: r.id,
                    kind: r.kind,
                    name: r.name,
                    country: r.country,
                    city_id: r.city_id,
                    city_name: r.city_name,
                    website: r.website,
                    email: r.email,
                    phone: r.phone,
                    description: r.description,
                    claimed: r.claimed,
                    version: r.version,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                },
            )
        })
        .collect();
    Ok(Page::from_rows(rows, page.limit, |(key, c)| (key.clone(), c.id)).map(|(_, c)| c))
}

pub fn kind_str(kind: CompanyKind) -> &'static str {
    match kind {
        CompanyKind::Agency => "agency",
        CompanyKind::Promoter => "promoter",
        CompanyKind::Venue => "venue",
        CompanyKind::Management => "management",
        CompanyKind::Label => "label",
        CompanyKind::Other => "other",
    }
}

/// Edits a company the org owns; `If-Match` version optional.
pub async fn update(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    patch: CompanyPatch,
    expected_version: Option<i32>,
) -> Result<Company, DomainError> {
    require_company_owner(&mut *conn, id, org_id).await?;
    let current = sqlx::query!(
        "SELECT name, country_code::text AS country, city_id, website, email, phone, description, version
           FROM companies WHERE id = $1 FOR UPDATE",
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(DomainError::StaleVersion);
    }
    let merged = CompanyIn {
        kind: CompanyKind::Other,
        name: patch.name.unwrap_or(current.name),
        country: patch.country.unwrap_or(current.country),
        city_id: patch.city_id.unwrap_or(current.city_id),
        website: patch.website.unwrap_or(current.website),
        email: patch.email.unwrap_or(current.email),
        phone: patch.phone.unwrap_or(current.phone),
        description: patch.description.unwrap_or(current.description),
    };
    let f = check_fields(&merged)?;
    let country = geo::place(&mut *conn, f.country, f.city_id).await?;
    sqlx::query!(
        "UPDATE companies SET name = $2, country_code = $3, city_id = $4, website = $5, email = $6,
                phone = $7, description = $8, version = version + 1, updated_at = now()
          WHERE id = $1",
        id,
        f.name,
        country,
        f.city_id,
        f.website,
        f.email,
        f.phone,
        f.description,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id).await
}

/// Companies an org owns (`GET /api/v1/me/companies`).
pub async fn owned_by(conn: &mut PgConnection, org_id: Uuid) -> Result<Vec<Company>, DomainError> {
    Ok(sqlx::query_as!(
        Company,
        r#"SELECT c.id, c.kind AS "kind: CompanyKind", c.name, c.country_code::text AS country,
                  c.city_id, ci.name AS "city_name?", c.website, c.email, c.phone, c.description,
                  c.claimed, c.version, c.created_at, c.updated_at
             FROM companies c
             JOIN org_companies oc ON oc.company_id = c.id
             LEFT JOIN cities ci ON ci.id = c.city_id
            WHERE oc.org_id = $1
            ORDER BY c.kind, c.name, c.id"#,
        org_id
    )
    .fetch_all(conn)
    .await?)
}
