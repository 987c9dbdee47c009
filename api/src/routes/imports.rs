//! Trusted imports (internal key): unclaimed directory records from data
//! pipelines and legacy migration, idempotent on a provider reference.

use axum::extract::State;
use axum::http::StatusCode;
use shared::domain::directory::artists::{self, Artist, ArtistImport};
use shared::domain::directory::companies::{self, Company, CompanyImport};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::Json;
use crate::extract::internal::InternalCaller;
use crate::problem::AppError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_company))
        .routes(routes!(import_artist))
}

fn created(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Imports an unclaimed company; 200 with the existing record when its
/// provider reference is known.
#[utoipa::path(post, path = "/internal/artists-companies", tag = "imports",
    security(("internal_key" = [])), request_body = CompanyImport,
    responses((status = 201, body = Company), (status = 200, description = "Already imported", body = Company)))]
async fn import_company(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Json(input): Json<CompanyImport>,
) -> Result<(StatusCode, Json<Company>), AppError> {
    let mut tx = state.pool.begin().await?;
    let (company, was_created) = companies::import(&mut tx, input).await?;
    tx.commit().await?;
    Ok((created(was_created), Json(company)))
}

/// Imports an artist; 200 with the existing record when its provider
/// reference is known.
#[utoipa::path(post, path = "/internal/artists", tag = "imports",
    security(("internal_key" = [])), request_body = ArtistImport,
    responses((status = 201, body = Artist), (status = 200, description = "Already imported", body = Artist)))]
async fn import_artist(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Json(input): Json<ArtistImport>,
) -> Result<(StatusCode, Json<Artist>), AppError> {
    let mut tx = state.pool.begin().await?;
    let (artist, was_created) = artists::import(&mut tx, input).await?;
    tx.commit().await?;
    Ok((created(was_created), Json(artist)))
}
