//! Relationship intelligence (SPEC 5.7): memory of counterparties, private
//! notes and flags, ratings, stored trust and an artist's booking history.
//! Everything shown here the worker computed; nothing is scored on the
//! request path.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::relationships::history::{self, HistoryEntry};
use shared::domain::relationships::memory::{self, Relationship, RelationshipDetail, Sort, Trust};
use shared::domain::relationships::notes::{self, Flag, FlagIn, Note, NoteIn};
use shared::domain::relationships::ratings::{self, Rating, RatingIn};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_relationships))
        .routes(routes!(get_relationship))
        .routes(routes!(list_notes, add_note))
        .routes(routes!(delete_note))
        .routes(routes!(list_flags, add_flag))
        .routes(routes!(delete_flag))
        .routes(routes!(rate_booking))
        .routes(routes!(company_trust))
        .routes(routes!(booking_history))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RelationshipParams {
    /// Only this company of my org.
    company_id: Option<Uuid>,
    /// `last_interaction` (default), `bookings` or `name`.
    #[param(inline)]
    sort: Option<Sort>,
    /// Page size: default 50, values above 200 are clamped.
    limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor` (same sort).
    cursor: Option<String>,
}

/// My companies' memory of their counterparties, as the worker last
/// computed it.
#[utoipa::path(get, path = "/api/v1/relationships", tag = "relationships",
    security(("bearer" = [], "org" = [])), params(RelationshipParams),
    responses((status = 200, body = Page<Relationship>)))]
async fn list_relationships(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<RelationshipParams>,
) -> Result<Json<Page<Relationship>>, AppError> {
    caller.require(Permission::RelationshipsRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        memory::list(
            &mut conn,
            caller.org_id(),
            params.company_id,
            None,
            params.sort.unwrap_or_default(),
            &page,
        )
        .await?,
    ))
}

/// A counterparty as my org knows it: its trust, my companies' memory of
/// it, my notes and flags. 404 for a company that does not exist.
#[utoipa::path(get, path = "/api/v1/relationships/{company_id}", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = RelationshipDetail), (status = 404, body = Problem)))]
async fn get_relationship(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
) -> Result<Json<RelationshipDetail>, AppError> {
    caller.require(Permission::RelationshipsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        memory::detail(&mut conn, caller.org_id(), company_id).await?,
    ))
}

/// My org's notes on a company, newest first; no other org sees them.
#[utoipa::path(get, path = "/api/v1/relationships/{company_id}/notes", tag = "relationships",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<Note>), (status = 404, body = Problem)))]
async fn list_notes(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<Note>>, AppError> {
    caller.require(Permission::RelationshipsRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        notes::notes(&mut conn, caller.org_id(), company_id, &page).await?,
    ))
}

/// Adds a private note on a company.
#[utoipa::path(post, path = "/api/v1/relationships/{company_id}/notes", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = NoteIn,
    responses((status = 201, body = Note), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Json(input): Json<NoteIn>,
) -> Result<(StatusCode, Json<Note>), AppError> {
    caller.require(Permission::RelationshipsWrite)?;
    let mut tx = state.pool.begin().await?;
    let note = notes::add_note(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        company_id,
        input,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(note)))
}

#[utoipa::path(delete, path = "/api/v1/relationship-notes/{id}", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::RelationshipsWrite)?;
    let mut tx = state.pool.begin().await?;
    notes::delete_note(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My org's flags on a company, newest first; no other org sees them.
#[utoipa::path(get, path = "/api/v1/relationships/{company_id}/flags", tag = "relationships",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<Flag>), (status = 404, body = Problem)))]
async fn list_flags(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<Flag>>, AppError> {
    caller.require(Permission::RelationshipsRead)?;
    let page = params.request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        notes::flags(&mut conn, caller.org_id(), company_id, &page).await?,
    ))
}

/// Flags a company (late payment, no-show, great partner, ...), once per
/// kind (and booking, when one is named).
#[utoipa::path(post, path = "/api/v1/relationships/{company_id}/flags", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = FlagIn,
    responses((status = 201, body = Flag), (status = 404, body = Problem),
        (status = 409, description = "`flag_exists`", body = Problem), (status = 422, body = Problem)))]
async fn add_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Json(input): Json<FlagIn>,
) -> Result<(StatusCode, Json<Flag>), AppError> {
    caller.require(Permission::RelationshipsWrite)?;
    let mut tx = state.pool.begin().await?;
    let flag = notes::add_flag(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        company_id,
        input,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(flag)))
}

#[utoipa::path(delete, path = "/api/v1/relationship-flags/{id}", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
async fn delete_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::RelationshipsWrite)?;
    let mut tx = state.pool.begin().await?;
    notes::delete_flag(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// My side rates the other side of a completed booking, once.
#[utoipa::path(post, path = "/api/v1/bookings/{id}/ratings", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    request_body = RatingIn,
    responses((status = 201, body = Rating), (status = 404, body = Problem),
        (status = 409, description = "`booking_not_completed` or `rating_exists`", body = Problem),
        (status = 422, body = Problem)))]
async fn rate_booking(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<RatingIn>,
) -> Result<(StatusCode, Json<Rating>), AppError> {
    caller.require(Permission::RelationshipsWrite)?;
    let mut tx = state.pool.begin().await?;
    let rating = ratings::rate(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(rating)))
}

/// A company's trust as the worker last computed it: score, band, sample,
/// window, factors and reason codes. Never computed on the request.
#[utoipa::path(get, path = "/api/v1/artists-companies/{id}/trust", tag = "relationships",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Trust), (status = 404, body = Problem)))]
async fn company_trust(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Trust>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(memory::trust(&mut conn, id).await?))
}

/// Completed and cancelled bookings of an artist, newest show first. The
/// parties see their own terms; others see dates, venues and cities.
#[utoipa::path(get, path = "/api/v1/artists/{id}/booking-history", tag = "relationships",
    security(("bearer" = [], "org" = [])), params(PageParams),
    responses((status = 200, body = Page<HistoryEntry>), (status = 404, body = Problem)))]
async fn booking_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(params): Query<PageParams>,
) -> Result<Json<Page<HistoryEntry>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let page = params.request::<(NaiveDate, String)>()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        history::list(&mut conn, caller.org_id(), id, &page).await?,
    ))
}
