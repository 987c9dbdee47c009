//! Operator decisions on ownership (internal key): company claims and the
//! four admin routes of agency provisioning.

use axum::extract::State;
use serde::Deserialize;
use shared::domain::claims::RequestStatus;
use shared::domain::claims::company_claims::{self, CompanyClaim, DecisionIn};
use shared::domain::claims::provisioning::{self, ProvisioningRequest};
use shared::domain::claims::representation::{self, Dispute, RepresentationClaim, ResolutionIn};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::internal::InternalCaller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(approve_company_claim))
        .routes(routes!(reject_company_claim))
        .routes(routes!(list_provisioning_requests))
        .routes(routes!(get_provisioning_request))
        .routes(routes!(approve_provisioning_request))
        .routes(routes!(reject_provisioning_request))
        .routes(routes!(approve_representation_claim))
        .routes(routes!(reject_representation_claim))
        .routes(routes!(resolve_dispute))
}

/// Approves a pending representation claim and writes its roster link.
#[utoipa::path(post, path = "/internal/representation-claims/{id}/approve", tag = "representation",
    security(("internal_key" = [])),
    responses((status = 200, body = RepresentationClaim), (status = 409, description = "Disputed, decided, or conflicting", body = Problem)))]
async fn approve_representation_claim(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<RepresentationClaim>, AppError> {
    let mut tx = state.pool.begin().await?;
    let claim = representation::approve_claim(&mut tx, id, &actor(caller)).await?;
    tx.commit().await?;
    Ok(Json(claim))
}

#[utoipa::path(post, path = "/internal/representation-claims/{id}/reject", tag = "representation",
    security(("internal_key" = [])), request_body = DecisionIn,
    responses((status = 200, body = RepresentationClaim), (status = 409, body = Problem)))]
async fn reject_representation_claim(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
    Json(input): Json<DecisionIn>,
) -> Result<Json<RepresentationClaim>, AppError> {
    let mut tx = state.pool.begin().await?;
    let claim = representation::reject_claim(&mut tx, id, &actor(caller), input).await?;
    tx.commit().await?;
    Ok(Json(claim))
}

/// Resolves a dispute: uphold (approve the claim) or reject it.
#[utoipa::path(post, path = "/internal/representation-disputes/{id}/resolve", tag = "representation",
    security(("internal_key" = [])), request_body = ResolutionIn,
    responses((status = 200, body = Dispute), (status = 409, body = Problem)))]
async fn resolve_dispute(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
    Json(input): Json<ResolutionIn>,
) -> Result<Json<Dispute>, AppError> {
    let mut tx = state.pool.begin().await?;
    let dispute = representation::resolve_dispute(&mut tx, id, &actor(caller), input).await?;
    tx.commit().await?;
    Ok(Json(dispute))
}

/// The operator acting: the tenant named by `x-org`, if any, else "internal".
fn actor(caller: InternalCaller) -> String {
    caller
        .org_id
        .map_or_else(|| "internal".to_owned(), |org| format!("internal:{org}"))
}

/// Approves a claim: the org owns the company from now on.
#[utoipa::path(post, path = "/internal/company-claims/{id}/approve", tag = "ownership",
    security(("internal_key" = [])),
    responses((status = 200, body = CompanyClaim), (status = 409, body = Problem)))]
async fn approve_company_claim(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<CompanyClaim>, AppError> {
    let mut tx = state.pool.begin().await?;
    let claim = company_claims::approve(&mut tx, id, &actor(caller)).await?;
    tx.commit().await?;
    Ok(Json(claim))
}

/// Rejects a claim, with a reason.
#[utoipa::path(post, path = "/internal/company-claims/{id}/reject", tag = "ownership",
    security(("internal_key" = [])), request_body = DecisionIn,
    responses((status = 200, body = CompanyClaim), (status = 409, body = Problem)))]
async fn reject_company_claim(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
    Json(input): Json<DecisionIn>,
) -> Result<Json<CompanyClaim>, AppError> {
    let mut tx = state.pool.begin().await?;
    let claim = company_claims::reject(&mut tx, id, &actor(caller), input).await?;
    tx.commit().await?;
    Ok(Json(claim))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    pub status: Option<RequestStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Provisioning requests, newest first, optionally by status.
#[utoipa::path(get, path = "/internal/admin/artist-company-requests", tag = "ownership",
    security(("internal_key" = [])), params(RequestQuery),
    responses((status = 200, body = Page<ProvisioningRequest>)))]
async fn list_provisioning_requests(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Query(query): Query<RequestQuery>,
) -> Result<Json<Page<ProvisioningRequest>>, AppError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        provisioning::list(&mut conn, None, query.status, &page).await?,
    ))
}

#[utoipa::path(get, path = "/internal/admin/artist-company-requests/{id}", tag = "ownership",
    security(("internal_key" = [])),
    responses((status = 200, body = ProvisioningRequest), (status = 404, body = Problem)))]
async fn get_provisioning_request(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<ProvisioningRequest>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(provisioning::get(&mut conn, id).await?))
}

/// Approves in one transaction; 409 (and no change) when the agency was
/// claimed meanwhile or the org already owns one.
#[utoipa::path(post, path = "/internal/admin/artist-company-requests/{id}/approve", tag = "ownership",
    security(("internal_key" = [])),
    responses((status = 200, body = ProvisioningRequest), (status = 409, body = Problem)))]
async fn approve_provisioning_request(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<ProvisioningRequest>, AppError> {
    let mut tx = state.pool.begin().await?;
    let request = provisioning::approve(&mut tx, id, &actor(caller)).await?;
    tx.commit().await?;
    Ok(Json(request))
}

/// Rejects, with a reason; the org may ask again.
#[utoipa::path(post, path = "/internal/admin/artist-company-requests/{id}/reject", tag = "ownership",
    security(("internal_key" = [])), request_body = DecisionIn,
    responses((status = 200, body = ProvisioningRequest), (status = 409, body = Problem)))]
async fn reject_provisioning_request(
    State(state): State<AppState>,
    caller: InternalCaller,
    Path(id): Path<Uuid>,
    Json(input): Json<DecisionIn>,
) -> Result<Json<ProvisioningRequest>, AppError> {
    let mut tx = state.pool.begin().await?;
    let request = provisioning::reject(&mut tx, id, &actor(caller), input).await?;
    tx.commit().await?;
    Ok(Json(request))
}
