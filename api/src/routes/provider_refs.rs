//! Provider references: external ids of directory records.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::directory::provider_refs::{
    self, EntityType, ProviderReference, ProviderReferenceIn,
};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::{Json, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_references, create_reference))
        .routes(routes!(lookup_reference))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntityQuery {
    pub entity_type: EntityType,
    pub entity_id: Uuid,
}

/// References of one record.
#[utoipa::path(get, path = "/api/v1/provider-references", tag = "directory",
    security(("bearer" = [], "org" = [])), params(EntityQuery),
    responses((status = 200, body = Vec<ProviderReference>)))]
async fn list_references(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<EntityQuery>,
) -> Result<Json<Vec<ProviderReference>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    let entity = Some((query.entity_type, query.entity_id));
    Ok(Json(
        provider_refs::search(&mut conn, caller.org_id(), entity, None).await?,
    ))
}

/// Adds an external id to a record the org may edit.
#[utoipa::path(post, path = "/api/v1/provider-references", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = ProviderReferenceIn,
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = ProviderReference), (status = 409, description = "The id already points at a record", body = Problem)))]
async fn create_reference(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<ProviderReferenceIn>,
) -> Result<(StatusCode, Json<ProviderReference>), AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let reference = provider_refs::create(&mut tx, caller.org_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(reference)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    pub provider: String,
    pub external_id: String,
}

/// Which records an external id points at.
#[utoipa::path(get, path = "/api/v1/provider-references/lookup", tag = "directory",
    security(("bearer" = [], "org" = [])), params(LookupQuery),
    responses((status = 200, body = Vec<ProviderReference>)))]
async fn lookup_reference(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LookupQuery>,
) -> Result<Json<Vec<ProviderReference>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    let external = Some((query.provider.as_str(), query.external_id.as_str()));
    Ok(Json(
        provider_refs::search(&mut conn, caller.org_id(), None, external).await?,
    ))
}
