//! (filled in by its area's work)

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
