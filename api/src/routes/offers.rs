//! Offers (SPEC 5.4): versioned deals between the booking agency and a
//! promoter.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::booking::activity::{self, Activity};
use shared::domain::booking::offers::{
    self, CounterIn, Offer, OfferEvent, OfferIn, OfferStatus, OfferVersion,
};
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
        .routes(routes!(list_offers, create_offer))
        .routes(routes!(get_offer))
        .routes(routes!(offer_versions))
        .routes(routes!(offer_activity))
        .routes(routes!(send_offer))
        .routes(routes!(counter_offer))
        .routes(routes!(accept_offer))
        .routes(routes!(decline_offer))
        .routes(routes!(withdraw_offer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferQuery {
    pub status: Option<OfferStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Offers my org is party to, newest first.
#[utoipa::path(get, path = "/api/v1/offers", tag = "booking",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), OfferQuery),
    responses((status = 200, body = Page<Offer>)))]
async fn list_offers(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<OfferQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Offer>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            offers::list_for(&mut *conn, caller.org_id(), query.status, &page).await?,
        ))
    })?;
    Ok(found)
}

/// Writes an offer (a promoter's bid or the agency's quote), as a draft or sent.
#[utoipa::path(post, path = "/api/v1/offers", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = OfferIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_offer(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<OfferIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let offer = offers::create(&mut tx, caller.org_id(), caller.user_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(offer.version), Json(offer)))
}

#[utoipa::path(get, path = "/api/v1/offers/{id}", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    let (offer, _) = offers::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(offer.version), Json(offer)))
}

/// Every version of the deal, oldest first.
#[utoipa::path(get, path = "/api/v1/offers/{id}/versions", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<OfferVersion>), (status = 404, body = Problem)))]
async fn offer_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<OfferVersion>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        offers::versions(&mut conn, caller.org_id(), id).await?,
    ))
}

/// The deal's trail: the offer's changes, its request's, and its holds'
/// and booking's, oldest first.
#[utoipa::path(get, path = "/api/v1/offers/{id}/activity", tag = "booking",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Activity>), (status = 404, body = Problem)))]
async fn offer_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Activity>>, AppError> {
    caller.require(Permission::BookingRead)?;
    let finance = caller.access.can(Permission::FinanceRead);
    let mut conn = state.pool.acquire().await?;
    offers::get_for(&mut conn, caller.org_id(), id).await?;
    Ok(Json(
        activity::deal_trail(&mut conn, &[id], &[], finance).await?,
    ))
}

async fn act(
    state: AppState,
    caller: Caller,
    id: Uuid,
    event: OfferEvent,
    expected: Option<i32>,
) -> Result<(axum::http::HeaderMap, Json<Offer>), AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let offer = offers::act(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        event,
        expected,
    )
    .await?;
    tx.commit().await?;
    let mut headers = axum::http::HeaderMap::new();
    if let Ok(value) = format!("\"{}\"", offer.version).parse() {
        headers.insert(axum::http::header::ETAG, value);
    }
    Ok((headers, Json(offer)))
}

/// Sends a draft (by the party that wrote it).
#[utoipa::path(post, path = "/api/v1/offers/{id}/send", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn send_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    act(state, caller, id, OfferEvent::Send, expected).await
}

/// Counters with a new version (by the party that did not write the current one).
#[utoipa::path(post, path = "/api/v1/offers/{id}/counter", tag = "booking",
    security(("bearer" = [], "org" = [])), request_body = CounterIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
async fn counter_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<CounterIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::BookingWrite)?;
    let mut tx = state.pool.begin().await?;
    let offer = offers::counter(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(offer.version), Json(offer)))
}

/// Accepts the current version (by the party that did not write it).
#[utoipa::path(post, path = "/api/v1/offers/{id}/accept", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn accept_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    act(state, caller, id, OfferEvent::Accept, expected).await
}

/// Declines the current version (by the party that did not write it).
#[utoipa::path(post, path = "/api/v1/offers/{id}/decline", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn decline_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    act(state, caller, id, OfferEvent::Decline, expected).await
}

/// Withdraws the offer (by the party that wrote the current version).
#[utoipa::path(post, path = "/api/v1/offers/{id}/withdraw", tag = "booking",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Offer, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn withdraw_offer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    act(state, caller, id, OfferEvent::Withdraw, expected).await
}
