//! Roster, team, representation claims and disputes (SPEC 5.2), tenant
//! side. Operator decisions are in `ownership_admin`.

use axum::extract::State;
use axum::http::StatusCode;
use shared::auth::Permission;
use shared::domain::claims::representation::{
    self, Dispute, DisputeIn, RepresentationClaim, RepresentationClaimIn, RosterLink, RosterLinkIn,
    TeamAssignment, TeamAssignmentIn,
};
use shared::pagination::Page;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roster, add_to_roster))
        .routes(routes!(remove_from_roster))
        .routes(routes!(list_team, assign_team))
        .routes(routes!(unassign_team))
        .routes(routes!(
            list_representation_claims,
            create_representation_claim
        ))
        .routes(routes!(withdraw_representation_claim))
        .routes(routes!(open_dispute))
        .routes(routes!(list_disputes))
        .routes(routes!(artist_representation))
}

/// A company's roster: the artists it represents, with role and territory.
#[utoipa::path(get, path = "/api/v1/artists-companies/{id}/roster", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<RosterLink>)))]
async fn list_roster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<RosterLink>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let mut conn = state.pool.acquire().await?;
    shared::domain::directory::companies::get(&mut conn, id).await?;
    Ok(Json(
        representation::links(&mut conn, Some(id), None).await?,
    ))
}

/// Adds an artist to the roster where nobody else represents it in an
/// overlapping territory for that role (409 otherwise: file a claim).
#[utoipa::path(post, path = "/api/v1/artists-companies/{id}/roster", tag = "representation",
    security(("bearer" = [], "org" = [])), request_body = RosterLinkIn,
    responses((status = 201, body = RosterLink), (status = 409, body = Problem)))]
async fn add_to_roster(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<RosterLinkIn>,
) -> Result<(StatusCode, Json<RosterLink>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let link = representation::add_to_roster(&mut tx, caller.org_id(), caller.user_id(), id, input)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(link)))
}

#[utoipa::path(delete, path = "/api/v1/artists-companies/{id}/roster/{artist_id}", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn remove_from_roster(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, artist_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    representation::remove_from_roster(&mut tx, caller.org_id(), caller.user_id(), id, artist_id)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The artist's team: responsible agent, assistant, tour manager, manager.
#[utoipa::path(get, path = "/api/v1/artists/{id}/team", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<TeamAssignment>), (status = 404, body = Problem)))]
async fn list_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<TeamAssignment>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        representation::team(&mut conn, caller.org_id(), id).await?,
    ))
}

/// Assigns a person of the org's company to the artist's team.
#[utoipa::path(post, path = "/api/v1/artists/{id}/team", tag = "representation",
    security(("bearer" = [], "org" = [])), request_body = TeamAssignmentIn,
    responses((status = 201, body = TeamAssignment), (status = 409, body = Problem)))]
async fn assign_team(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<TeamAssignmentIn>,
) -> Result<(StatusCode, Json<TeamAssignment>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let assignment =
        representation::assign(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(assignment)))
}

#[utoipa::path(delete, path = "/api/v1/artists/{id}/team/{assignment_id}", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn unassign_team(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, assignment_id)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    representation::unassign(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        assignment_id,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Claims to represent an artist in a territory. A claim overlapping
/// another company's approved representation starts `disputed`.
#[utoipa::path(post, path = "/api/v1/representation-claims", tag = "representation",
    security(("bearer" = [], "org" = [])), request_body = RepresentationClaimIn,
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = RepresentationClaim), (status = 409, body = Problem)))]
async fn create_representation_claim(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<RepresentationClaimIn>,
) -> Result<(StatusCode, Json<RepresentationClaim>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let claim =
        representation::create_claim(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(claim)))
}

/// My org's representation claims, newest first.
#[utoipa::path(get, path = "/api/v1/representation-claims", tag = "representation",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<RepresentationClaim>)))]
async fn list_representation_claims(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<RepresentationClaim>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        representation::list_claims(&mut conn, Some(caller.org_id()), None, &page).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/representation-claims/{id}/withdraw", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = RepresentationClaim), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn withdraw_representation_claim(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RepresentationClaim>, AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let claim =
        representation::withdraw_claim(&mut tx, caller.org_id(), caller.user_id(), id).await?;
    tx.commit().await?;
    Ok(Json(claim))
}

/// Disputes a claim: by a company holding an overlapping approved
/// representation, or on the artist's team.
#[utoipa::path(post, path = "/api/v1/representation-claims/{id}/disputes", tag = "representation",
    security(("bearer" = [], "org" = [])), request_body = DisputeIn,
    responses((status = 201, body = Dispute), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn open_dispute(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<DisputeIn>,
) -> Result<(StatusCode, Json<Dispute>), AppError> {
    caller.require(Permission::RosterWrite)?;
    let mut tx = state.pool.begin().await?;
    let dispute =
        representation::open_dispute(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(dispute)))
}

/// Disputes my org opened or faces.
#[utoipa::path(get, path = "/api/v1/representation-disputes", tag = "representation",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<Dispute>)))]
async fn list_disputes(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<Dispute>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        representation::disputes_for(&mut conn, caller.org_id(), &page).await?,
    ))
}

/// Who represents the artist where.
#[utoipa::path(get, path = "/api/v1/artists/{id}/representation", tag = "representation",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<RosterLink>), (status = 404, body = Problem)))]
async fn artist_representation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<RosterLink>>, AppError> {
    caller.require(Permission::RosterRead)?;
    let mut conn = state.pool.acquire().await?;
    shared::domain::directory::artists::get(&mut conn, id).await?;
    Ok(Json(
        representation::links(&mut conn, None, Some(id)).await?,
    ))
}
