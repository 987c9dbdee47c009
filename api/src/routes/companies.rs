//! Market companies, their platform accounts, and the org's own companies.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::directory::companies::{
    self, Company, CompanyFilter, CompanyIn, CompanyKind, CompanyPatch,
};
use shared::domain::directory::platform::{self, Owner, PlatformAccount, PlatformAccountIn};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, update_company))
        .routes(routes!(list_company_accounts, add_company_account))
        .routes(routes!(remove_company_account))
        .routes(routes!(my_companies))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyQuery {
    pub kind: Option<CompanyKind>,
    /// Name search, typo-tolerant.
    pub q: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Only claimed (owned) or only unclaimed companies.
    pub claimed: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Lists companies by name.
#[utoipa::path(get, path = "/api/v1/artists-companies", tag = "directory",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), CompanyQuery),
    responses((status = 200, body = Page<Company>)))]
async fn list_companies(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<CompanyQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Company>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let filter = CompanyFilter {
        kind: query.kind,
        q: query.q.filter(|q| !q.trim().is_empty()),
        country: query.country.map(|c| c.trim().to_ascii_uppercase()),
        claimed: query.claimed,
    };
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(companies::list(&mut *conn, &filter, &page).await?))
    })?;
    Ok(found)
}

/// Creates a promoter, venue, management, label or other company owned by
/// the org. Agencies come through provisioning.
#[utoipa::path(post, path = "/api/v1/artists-companies", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = CompanyIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = Company, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 422, body = Problem)))]
async fn create_company(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CompanyIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let company = companies::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(company.version), Json(company)))
}

#[utoipa::path(get, path = "/api/v1/artists-companies/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write")),
    responses((status = 200, body = Company, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_company(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Consistency(token): Consistency,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        let company = companies::get(&mut *conn, id).await?;
        Ok((etag(company.version), Json(company)))
    })?;
    Ok(found)
}

/// Edits a company the org owns.
#[utoipa::path(patch, path = "/api/v1/artists-companies/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = CompanyPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Company, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 412, body = Problem)))]
async fn update_company(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<CompanyPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let company = companies::update(&mut tx, caller.org_id(), id, patch, expected).await?;
    tx.commit().await?;
    Ok((etag(company.version), Json(company)))
}

#[utoipa::path(get, path = "/api/v1/artists-companies/{id}/platform-accounts", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<PlatformAccount>), (status = 404, body = Problem)))]
async fn list_company_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<PlatformAccount>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(platform::list(&mut conn, Owner::Company(id)).await?))
}

#[utoipa::path(post, path = "/api/v1/artists-companies/{id}/platform-accounts", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = PlatformAccountIn,
    responses((status = 201, body = PlatformAccount), (status = 409, body = Problem)))]
async fn add_company_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<PlatformAccountIn>,
) -> Result<(StatusCode, Json<PlatformAccount>), AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let account = platform::add(&mut tx, caller.org_id(), Owner::Company(id), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(delete, path = "/api/v1/artists-companies/{id}/platform-accounts/{account_id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn remove_company_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, account_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    platform::remove(&mut tx, caller.org_id(), Owner::Company(id), account_id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Companies my org owns.
#[utoipa::path(get, path = "/api/v1/me/companies", tag = "me",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Company>)))]
async fn my_companies(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Company>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(companies::owned_by(&mut conn, caller.org_id()).await?))
}
