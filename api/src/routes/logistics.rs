//! Booking logistics (SPEC 5.6): the advance sheet of a booking and the
//! promoter's proposals for its hotel, hospitality, technical and
//! transport sections.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use shared::auth::Permission;
use shared::domain::logistics::proposals::{
    self, LogisticsDecisionIn, LogisticsProposal, LogisticsProposalIn, LogisticsRevisionIn,
};
use shared::domain::logistics::sheet::{self, BookingLogistics, LogisticsSheet};
use shared::pagination::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_booking_logistics, put_booking_logistics))
        .routes(routes!(list_logistics_proposals, submit_logistics_proposal))
        .routes(routes!(get_logistics_proposal))
        .routes(routes!(revise_logistics_proposal))
        .routes(routes!(approve_logistics_proposal))
        .routes(routes!(reject_logistics_proposal))
        .routes(routes!(request_logistics_proposal_changes))
}

/// The booking's advance sheet (either party). A booking without a saved
/// sheet answers an empty one at version 0.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/logistics", tag = "logistics",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = BookingLogistics, headers(("ETag" = String, description = "Version of the sheet, for If-Match"))),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn get_booking_logistics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsRead)?;
    let mut conn = state.pool.acquire().await?;
    let logistics = sheet::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(logistics.version), Json(logistics)))
}

/// Replaces the whole advance sheet (the booking's agency; the promoter
/// proposes sections instead) and bumps its version.
#[utoipa::path(put, path = "/api/v1/bookings/{id}/logistics", tag = "logistics",
    security(("bearer" = [], "org" = [])), request_body = LogisticsSheet,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag (\"0\" before the first save)")),
    responses((status = 200, body = BookingLogistics, headers(("ETag" = String, description = "Version of the sheet, for If-Match"))),
        (status = 400, body = Problem),
        (status = 403, description = "The promoter proposes instead", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The booking is not confirmed", body = Problem),
        (status = 412, body = Problem),
        (status = 422, description = "Invalid fields, each named (e.g. `hotel.rooms[0].count`)", body = Problem)))]
async fn put_booking_logistics(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<LogisticsSheet>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsWrite)?;
    let mut tx = state.pool.begin().await?;
    let logistics = sheet::replace(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(logistics.version), Json(logistics)))
}

/// The logistics proposals of a booking (either party), newest first.
#[utoipa::path(get, path = "/api/v1/bookings/{id}/logistics-proposals", tag = "logistics",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<LogisticsProposal>), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn list_logistics_proposals(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<LogisticsProposal>>, AppError> {
    caller.require(Permission::LogisticsRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        proposals::list_for_booking(&mut conn, caller.org_id(), id, &page).await?,
    ))
}

/// The promoter proposes one section of a confirmed booking's sheet; one
/// open proposal per section.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/logistics-proposals", tag = "logistics",
    security(("bearer" = [], "org" = [])), request_body = LogisticsProposalIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 201, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 400, body = Problem),
        (status = 403, description = "The agency writes the sheet instead", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The booking is not confirmed, or the section already has an open proposal", body = Problem),
        (status = 422, description = "Content that does not fit the section, each field named under `content`", body = Problem)))]
async fn submit_logistics_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<LogisticsProposalIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsWrite)?;
    let mut tx = state.pool.begin().await?;
    let proposal = proposals::submit(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(proposal.version), Json(proposal)))
}

#[utoipa::path(get, path = "/api/v1/logistics-proposals/{id}", tag = "logistics",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn get_logistics_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsRead)?;
    let mut conn = state.pool.acquire().await?;
    let proposal = proposals::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(proposal.version), Json(proposal)))
}

/// The promoter revises an open proposal: it becomes `superseded`, and the
/// answer is the new `submitted` proposal for the same section.
#[utoipa::path(post, path = "/api/v1/logistics-proposals/{id}/revise", tag = "logistics",
    security(("bearer" = [], "org" = [])), request_body = LogisticsRevisionIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version of the revised proposal, as its ETag")),
    responses((status = 201, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the new proposal, for If-Match"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not open, the booking is not confirmed, or a concurrent change won", body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn revise_logistics_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<LogisticsRevisionIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsWrite)?;
    let mut tx = state.pool.begin().await?;
    let proposal = proposals::revise(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(proposal.version), Json(proposal)))
}

/// The artist side approves a submitted proposal; its section is written
/// into the booking's advance sheet (a new sheet version).
#[utoipa::path(post, path = "/api/v1/logistics-proposals/{id}/approve", tag = "logistics",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn approve_logistics_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsApprove)?;
    let mut tx = state.pool.begin().await?;
    let proposal =
        proposals::approve(&mut tx, caller.org_id(), caller.user_id(), id, expected).await?;
    tx.commit().await?;
    Ok((etag(proposal.version), Json(proposal)))
}

/// The artist side rejects a submitted proposal, with a comment.
#[utoipa::path(post, path = "/api/v1/logistics-proposals/{id}/reject", tag = "logistics",
    security(("bearer" = [], "org" = [])), request_body = LogisticsDecisionIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn reject_logistics_proposal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<LogisticsDecisionIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsApprove)?;
    let mut tx = state.pool.begin().await?;
    let proposal = proposals::reject(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(proposal.version), Json(proposal)))
}

/// The artist side asks for changes to a submitted proposal, with a
/// comment; the promoter revises it.
#[utoipa::path(post, path = "/api/v1/logistics-proposals/{id}/request-changes", tag = "logistics",
    security(("bearer" = [], "org" = [])), request_body = LogisticsDecisionIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = LogisticsProposal, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn request_logistics_proposal_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<LogisticsDecisionIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::LogisticsApprove)?;
    let mut tx = state.pool.begin().await?;
    let proposal = proposals::request_changes(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(proposal.version), Json(proposal)))
}
