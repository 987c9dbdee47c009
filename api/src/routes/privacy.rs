//! Personal data of one subject (internal key, for the platform's privacy
//! tooling): everything held on them, and their erasure (SPEC 5.12).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use shared::privacy::erase::{self, Erasure, ErasureIn};
use shared::privacy::{self, Export, SubjectIn};
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::internal::InternalCaller;
use crate::extract::pagination::PageParams;
use crate::extract::{Json, Query};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_subject))
        .routes(routes!(erase_subject))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubjectQuery {
    /// The subject's email address (any case); or give `person_id`.
    pub email: Option<String>,
    /// A contact's id in the directory; or give `email`.
    pub person_id: Option<Uuid>,
    /// Page size: default 50, values above 200 are clamped.
    pub limit: Option<i64>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Every record holding the subject's data, by area, a page at a time: the
/// contacts, signers and signatures, audit values, logistics sheets and
/// proposals, activity entries and free text that hold their email, phone
/// or name (the map of personal data is in the README).
#[utoipa::path(get, path = "/internal/privacy/subjects", tag = "privacy",
    security(("internal_key" = [])), params(SubjectQuery),
    responses((status = 200, body = Export),
        (status = 404, description = "No contact has this person id", body = Problem),
        (status = 422, description = "Neither or both of email and person_id, or a malformed one", body = Problem)))]
async fn export_subject(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Query(query): Query<SubjectQuery>,
) -> Result<Json<Export>, AppError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let mut conn = state.pool.acquire().await?;
    let subject = SubjectIn {
        email: query.email,
        person_id: query.person_id,
    };
    Ok(Json(privacy::export(&mut conn, &subject, page).await?))
}

/// Erases or pseudonymises the subject everywhere, in one transaction, and
/// records what was erased and why (without the data). A signed contract
/// keeps the signer's name and typed signature where the signed document
/// shows them; every audit chain and seal stay valid. Idempotent: when
/// nothing of the subject is held any more, nothing is written and the
/// answer is 200 with the earlier erasure (or `null`).
#[utoipa::path(post, path = "/internal/privacy/erasures", tag = "privacy",
    security(("internal_key" = [])), request_body = ErasureIn,
    responses((status = 201, description = "Erased now", body = Erasure),
        (status = 200, description = "Nothing of the subject was held: the earlier erasure, if any", body = Option<Erasure>),
        (status = 404, description = "No contact has this person id", body = Problem),
        (status = 422, description = "Neither or both of email and person_id, a malformed one, or no reason", body = Problem)))]
async fn erase_subject(
    State(state): State<AppState>,
    _caller: InternalCaller,
    Json(input): Json<ErasureIn>,
) -> Result<(StatusCode, Json<Option<Erasure>>), AppError> {
    let mut tx = state.pool.begin().await?;
    let outcome = erase::erase(&mut tx, input, &state.config.contract_signing_key).await?;
    tx.commit().await?;
    let status = if outcome.erased_now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome.erasure)))
}
