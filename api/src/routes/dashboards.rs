//! Dashboards and the marketplace (SPEC 5.8): reads of the read models
//! the worker keeps. Nothing is recomputed on the request.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::read_models::dashboards::{self, AgencyDashboard, PromoterDashboard};
use shared::domain::read_models::search::{MarketplacePage, MarketplaceQuery};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::{Json, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(agency_dashboard))
        .routes(routes!(promoter_dashboard))
        .routes(routes!(marketplace))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DashboardParams {
    /// One company of my org; all of them when absent.
    company_id: Option<Uuid>,
}

/// The agency's morning screen: upcoming shows, inquiries, offers awaiting
/// our answer, holds expiring within 48 h and challenged holds, contracts
/// awaiting signature, proposals awaiting approval, fees by month and the
/// 90-day conversion, with series for charts.
#[utoipa::path(get, path = "/api/v1/dashboards/agency", tag = "dashboards",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), DashboardParams),
    responses((status = 200, body = AgencyDashboard), (status = 404, description = "`company_id` is not my org's", body = Problem)))]
async fn agency_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<DashboardParams>,
    Consistency(token): Consistency,
) -> Result<Json<AgencyDashboard>, AppError> {
    caller.require(Permission::BookingRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            dashboards::agency(&mut *conn, caller.org_id(), params.company_id, Utc::now()).await?,
        ))
    })?;
    Ok(found)
}

/// The promoter's screen: offers by state, confirmed shows, logistics
/// proposals and their answers, deposits due and overdue.
#[utoipa::path(get, path = "/api/v1/dashboards/promoter", tag = "dashboards",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), DashboardParams),
    responses((status = 200, body = PromoterDashboard), (status = 404, description = "`company_id` is not my org's", body = Problem)))]
async fn promoter_dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<DashboardParams>,
    Consistency(token): Consistency,
) -> Result<Json<PromoterDashboard>, AppError> {
    caller.require(Permission::BookingRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            dashboards::promoter(&mut *conn, caller.org_id(), params.company_id, Utc::now())
                .await?,
        ))
    })?;
    Ok(found)
}

/// Find artists: typo-tolerant text, genre (with subgenres), home country
/// or market, fee ceiling, an open date in a window; ranked by relevance,
/// trust and availability; keyset paged; with genre and country facets.
#[utoipa::path(get, path = "/api/v1/marketplace/artists", tag = "dashboards",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), MarketplaceQuery),
    responses((status = 200, body = MarketplacePage), (status = 422, body = Problem)))]
async fn marketplace(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<MarketplaceQuery>,
    Consistency(token): Consistency,
) -> Result<Json<MarketplacePage>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        state
            .search_index
            .search(&mut *conn, state.reads.primary(), &query)
            .await
    })?;
    Ok(Json(found))
}
