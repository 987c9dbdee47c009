//! The caller, its active org and what it may do there.

use axum::extract::State;
use serde::Serialize;
use shared::auth::{Permission, Role};
use shared::domain::directory::companies::{self, Company};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::Json;
use crate::extract::auth::Caller;
use crate::problem::AppError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me))
}

#[derive(Serialize, ToSchema)]
pub struct MeOut {
    pub user_id: String,
    pub email: Option<String>,
    pub org_id: Uuid,
    pub role: Role,
    /// Effective `artist.*` permission keys in this org.
    #[schema(value_type = Vec<String>)]
    pub permissions: Vec<&'static str>,
    /// Companies the org owns (approved claims).
    pub companies: Vec<Company>,
}

/// Who the caller is in the org named by `x-org`.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    security(("bearer" = [], "org" = [])),
    responses(
        (status = 200, body = MeOut),
        (status = 400, description = "x-org missing or malformed", body = crate::problem::Problem),
        (status = 401, description = "Missing, invalid or expired token", body = crate::problem::Problem),
        (status = 403, description = "Not a member of the org", body = crate::problem::Problem),
        (status = 503, description = "Effective access cannot be resolved", body = crate::problem::Problem),
    ))]
async fn get_me(State(state): State<AppState>, caller: Caller) -> Result<Json<MeOut>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let companies = companies::owned_by(&mut conn, caller.org_id()).await?;
    Ok(Json(MeOut {
        user_id: caller.user_id().to_owned(),
        email: caller.email.clone(),
        org_id: caller.org_id(),
        role: caller.access.role,
        permissions: caller
            .access
            .permissions
            .iter()
            .map(|p: &Permission| p.key())
            .collect(),
        companies,
    }))
}
