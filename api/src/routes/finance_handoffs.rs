//! Finance handoff (SPEC 5.8, 5.9): the audit of every handoff of a booking
//! for its parties, and the Finance endpoint's state for operators.

use axum::extract::State;
use shared::auth::Permission;
use shared::domain::finance::handoff::{self, FinanceEndpoint, Handoff};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::{Json, Path};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_finance_handoffs))
}

pub fn internal_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(finance_endpoint))
        .routes(routes!(enable_finance_endpoint))
}

/// Every handoff of the booking to Finance, with each delivery attempt
/// (time, status code, duration, error, response excerpt). Either party,
/// with `artist.finance.read`.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/finance/handoffs", tag = "finance",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Handoff>), (status = 404, body = Problem)))]
async fn list_finance_handoffs(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Handoff>>, AppError> {
    caller.require(Permission::FinanceRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        handoff::list_for(&mut conn, caller.org_id(), id).await?,
    ))
}

/// Whether the Finance endpoint is disabled (it answered 410) and how many
/// handoffs wait for it.
#[utoipa::path(get, path = "/internal/finance/endpoint", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = FinanceEndpoint)))]
async fn finance_endpoint(
    State(state): State<AppState>,
) -> Result<Json<FinanceEndpoint>, AppError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(handoff::endpoint(&mut conn).await?))
}

/// Enables the Finance endpoint again; every paused handoff is sent now.
#[utoipa::path(post, path = "/internal/finance/endpoint/enable", tag = "ops",
    security(("internal_key" = [])),
    responses((status = 200, body = FinanceEndpoint)))]
async fn enable_finance_endpoint(
    State(state): State<AppState>,
) -> Result<Json<FinanceEndpoint>, AppError> {
    let mut tx = state.pool.begin().await?;
    let endpoint = handoff::enable_endpoint(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(endpoint))
}
