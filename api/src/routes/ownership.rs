//! Ownership (SPEC 5.2): company claims and agency provisioning, tenant
//! side. Operator decisions are in `ownership_admin`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::claims::company_claims::{self, CompanyClaim, CompanyClaimIn};
use shared::domain::claims::provisioning::{
    self, CreationIn, MyAgency, ProvisioningRequest, TakeoverIn,
};
use shared::domain::directory::companies::{self, Company, CompanyFilter, CompanyKind};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_company_claims, create_company_claim))
        .routes(routes!(sleeping_agencies))
        .routes(routes!(request_takeover))
        .routes(routes!(request_creation))
        .routes(routes!(my_requests))
        .routes(routes!(my_agency))
}

/// Asks to own a company nobody owns (not agencies: see takeover requests).
#[utoipa::path(post, path = "/api/v1/company-claims", tag = "ownership",
    security(("bearer" = [], "org" = [])), request_body = CompanyClaimIn,
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = CompanyClaim), (status = 409, body = Problem)))]
async fn create_company_claim(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CompanyClaimIn>,
) -> Result<(StatusCode, Json<CompanyClaim>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let claim = company_claims::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(claim)))
}

/// My org's company claims, newest first.
#[utoipa::path(get, path = "/api/v1/company-claims", tag = "ownership",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<CompanyClaim>)))]
async fn list_company_claims(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<CompanyClaim>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        company_claims::list_for_org(&mut conn, caller.org_id(), &page).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SleepingQuery {
    /// Name search, typo-tolerant.
    pub q: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Unclaimed ("sleeping") agencies an org may ask to take over.
#[utoipa::path(get, path = "/api/v1/artists-companies/sleeping", tag = "ownership",
    security(("bearer" = [], "org" = [])), params(SleepingQuery),
    responses((status = 200, body = Page<Company>)))]
async fn sleeping_agencies(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SleepingQuery>,
) -> Result<Json<Page<Company>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let filter = CompanyFilter {
        kind: Some(CompanyKind::Agency),
        q: query.q.filter(|q| !q.trim().is_empty()),
        country: query.country.map(|c| c.trim().to_ascii_uppercase()),
        claimed: Some(false),
    };
    let mut conn = state.pool.acquire().await?;
    Ok(Json(companies::list(&mut conn, &filter, &page).await?))
}

/// Asks to take over a sleeping agency. One pending request per org.
#[utoipa::path(post, path = "/api/v1/artists-companies/takeover-requests", tag = "ownership",
    security(("bearer" = [], "org" = [])), request_body = TakeoverIn,
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = ProvisioningRequest), (status = 409, body = Problem)))]
async fn request_takeover(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<TakeoverIn>,
) -> Result<(StatusCode, Json<ProvisioningRequest>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let request =
        provisioning::request_takeover(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// Proposes a new agency for admin approval. One pending request per org.
#[utoipa::path(post, path = "/api/v1/artists-companies/creation-requests", tag = "ownership",
    security(("bearer" = [], "org" = [])), request_body = CreationIn,
    responses((status = 201, body = ProvisioningRequest), (status = 409, body = Problem)))]
async fn request_creation(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<CreationIn>,
) -> Result<(StatusCode, Json<ProvisioningRequest>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let request =
        provisioning::request_creation(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(request)))
}

/// My org's provisioning requests, newest first.
#[utoipa::path(get, path = "/api/v1/artists-companies/requests", tag = "ownership",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<ProvisioningRequest>)))]
async fn my_requests(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<ProvisioningRequest>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        provisioning::list(&mut conn, Some(caller.org_id()), None, &page).await?,
    ))
}

/// Whether my org owns an agency, has a pending request, or neither.
#[utoipa::path(get, path = "/api/v1/me/agency", tag = "me",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = MyAgency)))]
async fn my_agency(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MyAgency>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        provisioning::my_agency(&mut conn, caller.org_id()).await?,
    ))
}
