//! People and contacts (SPEC 5.1): private to the owning org unless shared
//! with the network.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::auth::Permission;
use shared::domain::directory::people::{self, Person, PersonIn, PersonPatch};
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
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person, update_person, delete_person))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    pub company_id: Option<Uuid>,
    /// Part of the name.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// People my org may see: its companies' contacts and network-visible ones.
#[utoipa::path(get, path = "/api/v1/people", tag = "directory",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), PeopleQuery),
    responses((status = 200, body = Page<Person>)))]
async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PeopleQuery>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Person>>, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            people::list(&mut *conn, caller.org_id(), query.company_id, q, &page).await?,
        ))
    })?;
    Ok(found)
}

/// Adds a contact to a company the org owns.
#[utoipa::path(post, path = "/api/v1/people", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = PersonIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe")),
    responses((status = 404, description = "A record the body names does not exist or is not visible to this org", body = Problem), (status = 201, body = Person, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn create_person(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<PersonIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let person = people::create(&mut tx, caller.org_id(), input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(person.version), Json(person)))
}

#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write")),
    responses((status = 200, body = Person, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Consistency(token): Consistency,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryRead)?;
    let found = replica_read!(state.reads, token, |conn| {
        let person = people::get(&mut *conn, caller.org_id(), id).await?;
        Ok((etag(person.version), Json(person)))
    })?;
    Ok(found)
}

#[utoipa::path(patch, path = "/api/v1/people/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])), request_body = PersonPatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Person, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 403, body = Problem), (status = 404, body = Problem), (status = 412, body = Problem)))]
async fn update_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(patch): Json<PersonPatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    let person = people::update(&mut tx, caller.org_id(), id, patch, expected).await?;
    tx.commit().await?;
    Ok((etag(person.version), Json(person)))
}

#[utoipa::path(delete, path = "/api/v1/people/{id}", tag = "directory",
    security(("bearer" = [], "org" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_person(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::DirectoryWrite)?;
    let mut tx = state.pool.begin().await?;
    people::delete(&mut tx, caller.org_id(), id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
