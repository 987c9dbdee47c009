//! Contracts (SPEC 5.5): template libraries, booking-linked contracts,
//! versions, signers, signatures, the audit trail and documents.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use shared::Code;
use shared::auth::Permission;
use shared::domain::contracts::contracts::{
    self, Attachment, AttachmentIn, Contract, ContractIn, ContractStatus, ContractVersion,
    ContractVersionIn, ReasonIn, Signer, SignerIn,
};
use shared::domain::contracts::library::{
    self, ContractTemplate, ContractTemplateIn, ContractTemplatePatch, ContractTemplateVersion,
    TemplateCatalogue,
};
use shared::domain::contracts::signing::{self, SignContext, SignIn};
use shared::domain::contracts::store::{self, AuditTrail, DocumentFormat};
use shared::jobs::ContractReminder;
use shared::pagination::Page;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::AppState;
use crate::extract::auth::Caller;
use crate::extract::client::ClientAddr;
use crate::extract::consistency::{Consistency, replica_read};
use crate::extract::pagination::PageParams;
use crate::extract::{IfMatch, Json, OptionalJson, Path, Query, etag};
use crate::problem::{AppError, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_contract_templates, create_contract_template))
        .routes(routes!(get_contract_template, update_contract_template))
        .routes(routes!(archive_contract_template))
        .routes(routes!(list_contract_template_versions))
        .routes(routes!(contract_template_catalogue))
        .routes(routes!(create_contract))
        .routes(routes!(list_contracts))
        .routes(routes!(get_contract))
        .routes(routes!(list_contract_versions, create_contract_version))
        .routes(routes!(list_contract_signers, add_contract_signer))
        .routes(routes!(send_contract))
        .routes(routes!(void_contract))
        .routes(routes!(sign_contract))
        .routes(routes!(decline_contract))
        .routes(routes!(contract_audit))
        .routes(routes!(contract_document))
        .routes(routes!(list_contract_attachments, add_contract_attachment))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateListParams {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Include archived templates.
    #[serde(default)]
    pub include_archived: Option<bool>,
}

/// A company's contract templates (its owner only; 404 for anyone else).
#[utoipa::path(get, path = "/api/v1/artists-companies/{id}/contract-templates", tag = "contracts",
    security(("bearer" = [], "org" = [])), params(TemplateListParams),
    responses((status = 200, body = Page<ContractTemplate>), (status = 404, body = Problem)))]
async fn list_contract_templates(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Query(params): Query<TemplateListParams>,
) -> Result<Json<Page<ContractTemplate>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        library::list_for_company(
            &mut conn,
            caller.org_id(),
            company_id,
            params.include_archived.unwrap_or(false),
            &page,
        )
        .await?,
    ))
}

/// Adds a template to a company's library: its own body, or a copy of a
/// starter. An unknown `{{variable}}` is 422 naming it.
#[utoipa::path(post, path = "/api/v1/artists-companies/{id}/contract-templates", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ContractTemplateIn,
    responses((status = 201, body = ContractTemplate, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 404, body = Problem), (status = 422, description = "Unknown variable, syntax error or invalid fields", body = Problem)))]
async fn create_contract_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(company_id): Path<Uuid>,
    Json(input): Json<ContractTemplateIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let template = library::create(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        company_id,
        input,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(template.version), Json(template)))
}

#[utoipa::path(get, path = "/api/v1/contract-templates/{id}", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = ContractTemplate, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_contract_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    let template = library::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(template.version), Json(template)))
}

/// Renames a template or changes its body; a new body makes a new template
/// version (contracts keep the version they were made from).
#[utoipa::path(patch, path = "/api/v1/contract-templates/{id}", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ContractTemplatePatch,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = ContractTemplate, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 404, body = Problem), (status = 409, description = "Archived, or a concurrent change won", body = Problem), (status = 412, body = Problem)))]
async fn update_contract_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<ContractTemplatePatch>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let template = library::patch(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(template.version), Json(template)))
}

/// Archives a template: it stays readable, and no new contract uses it.
#[utoipa::path(post, path = "/api/v1/contract-templates/{id}/archive", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = ContractTemplate, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn archive_contract_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let template = library::archive(&mut tx, caller.org_id(), id, expected).await?;
    tx.commit().await?;
    Ok((etag(template.version), Json(template)))
}

/// Every saved body of a template, newest first.
#[utoipa::path(get, path = "/api/v1/contract-templates/{id}/versions", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<ContractTemplateVersion>), (status = 404, body = Problem)))]
async fn list_contract_template_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<ContractTemplateVersion>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        library::versions(&mut conn, caller.org_id(), id).await?,
    ))
}

/// The variables a template may use and the starter templates to copy.
#[utoipa::path(get, path = "/api/v1/contract-template-catalogue", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = TemplateCatalogue)))]
async fn contract_template_catalogue(caller: Caller) -> Result<Json<TemplateCatalogue>, AppError> {
    caller.require(Permission::ContractsRead)?;
    Ok(Json(library::catalogue()))
}

/// Creates a contract for a confirmed booking from one of the agency's
/// templates, rendered with the booking's terms (the booking's agency only).
#[utoipa::path(post, path = "/api/v1/bookings/{id}/contracts", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ContractIn,
    responses((status = 201, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, description = "The promoter does not write the contract", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Booking not confirmed, template archived, or a live contract exists", body = Problem)))]
async fn create_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(booking_id): Path<Uuid>,
    Json(input): Json<ContractIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let contract = contracts::create(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        booking_id,
        input,
    )
    .await?;
    if let Some(at) = contract.expires_at {
        ContractReminder::enqueue_for(&mut tx, contract.id, Some(at)).await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(contract.version), Json(contract)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContractListParams {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only the contracts of this booking.
    #[serde(default)]
    pub booking_id: Option<Uuid>,
}

/// Contracts my org is party to, newest first.
#[utoipa::path(get, path = "/api/v1/contracts", tag = "contracts",
    security(("bearer" = [], "org" = [])), params(("Consistency-Token" = Option<String>, Header, description = "A write's token: the read sees that write"), ContractListParams),
    responses((status = 200, body = Page<Contract>)))]
async fn list_contracts(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ContractListParams>,
    Consistency(token): Consistency,
) -> Result<Json<Page<Contract>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .request()?;
    let found = replica_read!(state.reads, token, |conn| {
        Ok(Json(
            contracts::list_for(&mut *conn, caller.org_id(), params.booking_id, &page).await?,
        ))
    })?;
    Ok(found)
}

#[utoipa::path(get, path = "/api/v1/contracts/{id}", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))), (status = 404, body = Problem)))]
async fn get_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    let contract = contracts::get_for(&mut conn, caller.org_id(), id).await?;
    Ok((etag(contract.version), Json(contract)))
}

/// Every version of a contract with its exact text and SHA-256, newest first.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/versions", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<ContractVersion>), (status = 404, body = Problem)))]
async fn list_contract_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<ContractVersion>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        contracts::versions(&mut conn, caller.org_id(), id).await?,
    ))
}

/// A new version (an edited text, or the template rendered again with the
/// booking's current terms). Every signature so far is cleared, and the
/// audit says so.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/versions", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ContractVersionIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 201, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn create_contract_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    OptionalJson(input): OptionalJson<ContractVersionIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let contract = contracts::add_version(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    if contract.status == ContractStatus::OutForSignature {
        ContractReminder::enqueue_for(&mut tx, contract.id, None).await?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(contract.version), Json(contract)))
}

/// The signers, in signing order, each with its signature on the current
/// version.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/signers", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Signer>), (status = 404, body = Problem)))]
async fn list_contract_signers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Signer>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        contracts::signers(&mut conn, caller.org_id(), id).await?,
    ))
}

/// Adds a signer to a draft. Default order: promoter 1, agency 2.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/signers", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = SignerIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 201, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn add_contract_signer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<SignerIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let contract = contracts::add_signer(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, etag(contract.version), Json(contract)))
}

/// Sends a draft for signature (it needs a signer of each party); reminders
/// start from now.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/send", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn send_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let contract =
        contracts::send(&mut tx, caller.org_id(), caller.user_id(), id, expected).await?;
    ContractReminder::enqueue_for(&mut tx, contract.id, None).await?;
    tx.commit().await?;
    Ok((etag(contract.version), Json(contract)))
}

/// Voids an open contract, with a reason (the booking's agency).
#[utoipa::path(post, path = "/api/v1/contracts/{id}/void", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ReasonIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn void_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    IfMatch(expected): IfMatch,
    Json(input): Json<ReasonIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let contract = contracts::void(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(contract.version), Json(contract)))
}

/// Where a request came from: the client address (the peer, or what
/// trusted proxies forwarded for; [`ClientAddr`]), and its `User-Agent`.
struct ClientInfo {
    ip: Option<String>,
    user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Ok(ClientAddr(ip)) = ClientAddr::from_request_parts(parts, state).await;
        Ok(Self {
            ip: ip.map(|ip| ip.to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(1000).collect()),
        })
    }
}

/// Signs the current version for one signer of my party, in signing order.
/// The body repeats the contract's `content_sha256` and `consent_statement`;
/// both are recorded with the typed name, user, time, IP and user agent.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/signers/{signer_id}/sign", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = SignIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, description = "The signer signs for the other party, or the caller lacks artist.contracts.sign", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Not this signer's turn, already signed, not out for signature, or the version changed", body = Problem),
        (status = 412, body = Problem)))]
async fn sign_contract(
    State(state): State<AppState>,
    caller: Caller,
    client: ClientInfo,
    Path((id, signer_id)): Path<(Uuid, Uuid)>,
    IfMatch(expected): IfMatch,
    Json(input): Json<SignIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsSign)?;
    let mut tx = state.pool.begin().await?;
    let contract = signing::sign(
        &mut tx,
        SignContext {
            org_id: caller.org_id(),
            user_id: caller.user_id(),
            ip: client.ip,
            user_agent: client.user_agent,
        },
        id,
        signer_id,
        input,
        expected,
        &state.config.contract_signing_key,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(contract.version), Json(contract)))
}

/// Declines for one signer of my party, with a reason the sender sees.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/signers/{signer_id}/decline", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = ReasonIn,
    params(("If-Match" = Option<String>, Header, description = "Expected version, as its ETag")),
    responses((status = 200, body = Contract, headers(("ETag" = String, description = "Version of the record, for If-Match"))),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)))]
async fn decline_contract(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, signer_id)): Path<(Uuid, Uuid)>,
    IfMatch(expected): IfMatch,
    Json(input): Json<ReasonIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsSign)?;
    let mut tx = state.pool.begin().await?;
    let contract = signing::decline(
        &mut tx,
        caller.org_id(),
        caller.user_id(),
        id,
        signer_id,
        input,
        expected,
    )
    .await?;
    tx.commit().await?;
    Ok((etag(contract.version), Json(contract)))
}

/// The hash-chained audit trail, whether it verifies, and the platform seal.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/audit", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = AuditTrail), (status = 404, body = Problem)))]
async fn contract_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<AuditTrail>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        store::audit_trail(
            &mut conn,
            caller.org_id(),
            id,
            &state.config.contract_signing_key,
        )
        .await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentParams {
    /// `pdf` or `html`; without it, `Accept` decides (PDF by default).
    #[serde(default)]
    pub format: Option<DocumentFormat>,
    /// A version number; default the current one.
    #[serde(default)]
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

/// The contract as a document, HTML or PDF: the version's text, a signature
/// block per signer, and the version's SHA-256 on every page. Rendered once
/// and served from storage afterwards.
#[utoipa::path(get, path = "/api/v1/contracts/{id}/document", tag = "contracts",
    security(("bearer" = [], "org" = [])), params(DocumentParams),
    responses((status = 200, description = "The document",
            content((Vec<u8> = "application/pdf"), (String = "text/html")),
            headers(("X-Document-SHA256" = String, description = "SHA-256 of these bytes (the verification route takes it)"),
                    ("X-Content-SHA256" = String, description = "SHA-256 of the version's text: what was signed"),
                    ("Content-Disposition" = String, description = "A file name for the document"))),
        (status = 404, body = Problem)))]
async fn contract_document(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(params): Query<DocumentParams>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsRead)?;
    let format = params.format.unwrap_or_else(|| {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.contains("text/html") && !accept.contains("application/pdf") {
            DocumentFormat::Html
        } else {
            DocumentFormat::Pdf
        }
    });
    let rendered =
        store::document(&state.pool, caller.org_id(), id, format, params.version).await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.media_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"contract-{id}-v{}.{}\"",
                    rendered.version,
                    format.as_str()
                ),
            ),
            (
                header::HeaderName::from_static("x-document-sha256"),
                rendered.sha256,
            ),
            (
                header::HeaderName::from_static("x-content-sha256"),
                rendered.content_sha256,
            ),
            (header::VARY, "Accept".to_owned()),
        ],
        rendered.bytes,
    ))
}

#[utoipa::path(get, path = "/api/v1/contracts/{id}/attachments", tag = "contracts",
    security(("bearer" = [], "org" = [])),
    responses((status = 200, body = Vec<Attachment>), (status = 404, body = Problem)))]
async fn list_contract_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Attachment>>, AppError> {
    caller.require(Permission::ContractsRead)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        contracts::attachments(&mut conn, caller.org_id(), id).await?,
    ))
}

/// Attaches a file by reference (rider, stage plot): URL, media type and
/// SHA-256. Either party may attach while the contract is open.
#[utoipa::path(post, path = "/api/v1/contracts/{id}/attachments", tag = "contracts",
    security(("bearer" = [], "org" = [])), request_body = AttachmentIn,
    responses((status = 201, body = Attachment), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn add_contract_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(input): Json<AttachmentIn>,
) -> Result<impl IntoResponse, AppError> {
    caller.require(Permission::ContractsWrite)?;
    let mut tx = state.pool.begin().await?;
    let attachment =
        contracts::add_attachment(&mut tx, caller.org_id(), caller.user_id(), id, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// Public routes: the platform's verification key and verification by hash.
pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(contract_signing_keys))
        .routes(routes!(verify_contract_document))
}

/// The platform's contract signing keys (Ed25519), for checking seals offline.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SigningKeys {
    pub keys: Vec<shared::domain::contracts::seal::PublicKey>,
}

/// The public keys that verify contract seals: the current one first, then
/// retired ones (seals made before a rotation). No authentication.
#[utoipa::path(get, path = "/api/v1/contract-signing-keys", tag = "contracts",
    responses((status = 200, body = SigningKeys)))]
async fn contract_signing_keys(State(state): State<AppState>) -> Json<SigningKeys> {
    Json(SigningKeys {
        keys: state.config.contract_signing_key.public_keys(),
    })
}

/// Which contract and version a SHA-256 is of (the version's text, or a PDF
/// or HTML document served here), who signed it, and whether its audit chain
/// and seal verify. No authentication: the hash is what a holder of the
/// document has, and the answer shows no more than the document does.
#[utoipa::path(get, path = "/api/v1/contract-verifications/{sha256}", tag = "contracts",
    params(("sha256" = String, Path, description = "SHA-256, 64 hex digits", pattern = "^[0-9a-fA-F]{64}$")),
    responses((status = 200, body = store::Verification), (status = 404, description = "No contract has this hash", body = Problem)))]
async fn verify_contract_document(
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<Json<store::Verification>, AppError> {
    if !contracts::is_sha256(&sha256.to_ascii_lowercase()) {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            Code::InvalidPath,
            "sha256 must be 64 hex digits",
        ));
    }
    let mut conn = state.pool.acquire().await?;
    Ok(Json(
        store::verify(&mut conn, &sha256, &state.config.contract_signing_key).await?,
    ))
}
