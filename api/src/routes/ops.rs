//! Operations routes (internal key): queue canaries that prove the job
//! queue works end to end.

use axum::extract::State;
use axum::http::StatusCode;
use shared::domain::canary::{self, Canary, CanaryIn};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::internal::InternalCaller;
use crate::extract::{Json, Path};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_canary))
        .routes(routes!(get_canary))
}

/// Enqueues a canary job; the worker counts its runs on the canary.
#[utoipa::path(post, path = "/internal/ops/canaries", tag = "ops",
    security(("internal_key" = [])), request_body = CanaryIn,
    responses((status = 201, body = Canary), (status = 401, body = Problem), (status = 422, body = Problem)))]
async fn create_canary(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Json(input): Json<CanaryIn>,
) -> Result<(StatusCode, Json<Canary>), AppError> {
    let mut tx = state.pool.begin().await?;
    let canary = canary::request(&mut tx, "internal", &input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(canary)))
}

#[utoipa::path(get, path = "/internal/ops/canaries/{id}", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = Canary), (status = 404, body = Problem), (status = 401, body = Problem)))]
async fn get_canary(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Path(id): Path<Uuid>,
) -> Result<Json<Canary>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(canary::get(&mut conn, id).await?))
}
