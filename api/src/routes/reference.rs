//! Reference data: genres and geo (SPEC 5.1).

use axum::extract::State;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::directory::geo::{self, City, Country, Currency, Genre, Market, MarketSummary};
use shared::pagination::Page;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Path, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_genres))
        .routes(routes!(list_countries))
        .routes(routes!(list_currencies))
        .routes(routes!(list_cities))
        .routes(routes!(list_markets))
        .routes(routes!(get_market))
}

/// The genre tree: genres with their subgenres.
#[utoipa::path(get, path = "/api/v1/genres", tag = "reference",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Genre>)))]
async fn list_genres(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Genre>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(geo::genres(&mut conn).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountryQuery {
    /// Part of the name, or the code.
    pub q: Option<String>,
}

/// ISO 3166-1 countries.
#[utoipa::path(get, path = "/api/v1/geo/countries", tag = "reference",
    security(("bearer" = [], "org" = [])), params(CountryQuery),
    responses((status = 200, body = Vec<Country>)))]
async fn list_countries(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<CountryQuery>,
) -> Result<Json<Vec<Country>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut conn = state.pool.acquire().await?;
    Ok(Json(geo::countries(&mut conn, q).await?))
}

/// ISO 4217 currencies with their minor units.
#[utoipa::path(get, path = "/api/v1/geo/currencies", tag = "reference",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Currency>)))]
async fn list_currencies(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Currency>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(geo::currencies(&mut conn).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CityQuery {
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Name prefix or a close spelling.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Cities (GeoNames, population above 15,000), largest first.
#[utoipa::path(get, path = "/api/v1/geo/cities", tag = "reference",
    security(("bearer" = [], "org" = [])), params(CityQuery),
    responses((status = 200, body = Page<City>)))]
async fn list_cities(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<CityQuery>,
) -> Result<Json<Page<City>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let country = query.country.map(|c| c.trim().to_ascii_uppercase());
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        geo::cities(&mut conn, country.as_deref(), q, &page).await?,
    ))
}

/// Booking markets (groups of countries or regions).
#[utoipa::path(get, path = "/api/v1/geo/markets", tag = "reference",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<MarketSummary>)))]
async fn list_markets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<MarketSummary>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(geo::markets(&mut conn).await?))
}

/// One market, by id or slug, with its countries and regions.
#[utoipa::path(get, path = "/api/v1/geo/markets/{id}", tag = "reference",
    security(("bearer" = [], "org" = [])),
    params(("id" = String, Path, description = "Market id or slug")),
    responses((status = 200, body = Market), (status = 404, body = Problem)))]
async fn get_market(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Market>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(geo::market(&mut conn, &id).await?))
}
