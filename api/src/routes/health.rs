//! Liveness and readiness probes.

use shared::Code;
use std::time::Duration;

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::AppState;
use crate::extract::Json;
use crate::problem::AppError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Serialize, ToSchema)]
pub struct HealthOut {
    pub status: &'static str,
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = HealthOut)))]
async fn healthz() -> Json<HealthOut> {
    Json(HealthOut { status: "ok" })
}

/// Readiness: the database answers (per its probe, and within 800 ms) and
/// every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, body = HealthOut),
        (status = 503, description = "Database unreachable or migrations pending", body = crate::problem::Problem),
    ))]
async fn readyz(State(state): State<AppState>) -> Result<Json<HealthOut>, AppError> {
    if !state.db_health.is_up() {
        return Err(database_unavailable("the database does not answer"));
    }
    // Within a second, whatever the database does: a probe that hangs is
    // as bad as one that fails.
    let check = tokio::time::timeout(
        Duration::from_millis(800),
        shared::db::schema_ready(&state.pool),
    )
    .await;
    match check {
        Ok(Ok(true)) => Ok(Json(HealthOut { status: "ready" })),
        Ok(Ok(false)) => Err(AppError::unavailable(
            Code::MigrationsPending,
            "the database schema is not fully migrated",
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            Err(database_unavailable("the database does not answer"))
        }
        Err(_) => Err(database_unavailable("the database does not answer in time")),
    }
}

/// `database_unavailable`, with `Retry-After` as on every other route.
fn database_unavailable(detail: &str) -> AppError {
    AppError::unavailable(Code::DatabaseUnavailable, detail).with_header(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    )
}
