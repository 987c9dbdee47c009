//! The OpenAPI 3.1 document: its frame (info, tags, security schemes), and
//! the answers of the shared middleware and extractors, added to each
//! operation they wrap.
//!
//! Paths and schemas come from the `#[utoipa::path]` handlers as routes
//! register; an attribute states what its handler decides (a 409 code, a 412
//! on a stale `If-Match`, a 403 for a permission). What every route of a kind
//! answers (the auth checks of tenant routes, the internal key, body and path
//! rejections, the `Idempotency-Key` layer, the request timeout) is added
//! here, once, by [`tenant_guard`], [`internal_guard`] and [`finish`], next
//! to where `lib.rs` applies the layers, so the document cannot forget a
//! route.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, PathItem,
    PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, Response, ResponseBuilder, Tag,
};
use utoipa::{PartialSchema, ToSchema};

use crate::problem::{PROBLEM_JSON, Problem};

/// Security scheme names used by `#[utoipa::path(security(...))]`.
pub const BEARER: &str = "bearer";
pub const ORG: &str = "org";
pub const INTERNAL_KEY: &str = "internal_key";

/// The tags every operation is filed under; an undeclared tag fails the
/// document's tests.
const TAGS: &[(&str, &str)] = &[
    ("health", "Liveness and readiness"),
    ("me", "The caller and its org"),
    (
        "directory",
        "Artists, companies, people, platform accounts, provider references",
    ),
    (
        "reference",
        "Genres, countries, currencies, cities, markets",
    ),
    (
        "ownership",
        "Company claims and agency provisioning (SPEC 5.2)",
    ),
    (
        "representation",
        "Rosters, representation claims and disputes, artist teams (SPEC 5.2)",
    ),
    (
        "availability",
        "Availability windows, avails search and calendars (SPEC 5.3)",
    ),
    (
        "booking",
        "Requests, offers, holds, bookings and their activity (SPEC 5.4)",
    ),
    (
        "contracts",
        "Contract templates, booking contracts, signing, audit and verification (SPEC 5.5)",
    ),
    (
        "privacy",
        "Personal data: export and erasure of one subject (SPEC 5.12)",
    ),
    (
        "touring",
        "Tours, stops, routing, itinerary, day sheets and calendar feeds (SPEC 5.6)",
    ),
    (
        "logistics",
        "Booking logistics (the advance sheet) and promoter proposals (SPEC 5.6)",
    ),
    (
        "finance",
        "Booking finance: handoffs to Finance and what Finance reports (SPEC 5.8)",
    ),
    ("shortlists", "Saved artist shortlists of an org"),
    ("imports", "Trusted directory imports (internal key)"),
    (
        "ops",
        "Operations: job queue, canaries, metrics (internal key)",
    ),
    (
        "relationships",
        "Relationship memory, notes, flags, ratings, trust and booking history (SPEC 5.7)",
    ),
    (
        "dashboards",
        "Dashboards and the marketplace, read from worker-kept read models (SPEC 5.8)",
    ),
    (
        "events",
        "The change feed of the records an org is a party to, paged or streamed (SPEC 5.10)",
    ),
];

pub fn base() -> OpenApi {
    let components = ComponentsBuilder::new()
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("Access token issued by Auth."))
                    .build(),
            ),
        )
        .security_scheme(
            ORG,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-org",
                "The caller's active org (tenant company in Auth), a UUID.",
            ))),
        )
        .security_scheme(
            INTERNAL_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Internal-API-Key",
                "Machine key for /internal routes (alias header x-api-key).",
            ))),
        )
        // Enums used only by query parameters: the route macros do not
        // collect the schemas of `IntoParams` fields.
        .schema_from::<shared::domain::booking::requests::RequestDirection>()
        .schema_from::<shared::domain::contracts::store::DocumentFormat>()
        .schema_from::<shared::domain::touring::day_sheet::DaySheetFormat>()
        // The Finance handoff message, described under `webhooks`.
        .schema_from::<shared::domain::finance::handoff::FinanceBookingEvent>()
        .schema_from::<shared::domain::finance::handoff::FinanceBookingTerms>()
        .schema_from::<shared::domain::finance::handoff::FinanceParty>()
        .schema_from::<shared::domain::finance::handoff::FinanceVenue>()
        .schema_from::<shared::domain::finance::handoff::FinanceDeal>()
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Kisum Artist module API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Artist and agency directory, representation, availability, booking \
                     pipeline, contracts, touring, logistics and relationship memory. \
                     Errors are RFC 9457 application/problem+json.",
                ))
                .build(),
        )
        .components(Some(components))
        .webhooks(Some(finance_webhooks()))
        .tags(Some(
            TAGS.iter()
                .map(|(name, description)| {
                    let mut tag = Tag::new(*name);
                    tag.description = Some((*description).to_owned());
                    tag
                })
                .collect::<Vec<_>>(),
        ))
        .build()
}

/// The Finance handoff (SPEC 5.9), as OpenAPI 3.1 `webhooks`: what we POST
/// to `FINANCE_BASE_URL` when a booking is confirmed, cancelled or
/// completed, so Finance reads the contract where it reads the API.
fn finance_webhooks() -> Paths {
    use shared::domain::finance::handoff::HandoffEvent;
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(String::schema()))
            .build()
    };
    let mut paths = PathsBuilder::new();
    for event in [
        HandoffEvent::Confirmed,
        HandoffEvent::Cancelled,
        HandoffEvent::Completed,
    ] {
        let name = event.as_str();
        let operation = OperationBuilder::new()
            .operation_id(Some(format!("finance_{}", name.replace('.', "_"))))
            .tags(Some(vec!["finance".to_owned()]))
            .summary(Some(format!("`{name}`, handed to Finance")))
            .description(Some(
                "A Standard Webhooks POST: `webhook-id` is the same on every attempt of \
                 this booking's event, `webhook-timestamp` is fresh per attempt, and \
                 `webhook-signature` carries one `v1,` signature per `FINANCE_WEBHOOK_SECRET`. \
                 The body's `type` is the event. Only 2xx is success; others are retried on \
                 the schedule (honouring `Retry-After`), and 410 disables the endpoint.",
            ))
            .parameter(header(
                "webhook-id",
                "`msg_<booking id>_<event>`, stable across retries",
            ))
            .parameter(header("webhook-timestamp", "Unix seconds of this attempt"))
            .parameter(header(
                "webhook-signature",
                "Space-separated `v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">`",
            ))
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("FinanceBookingEvent")))
                            .build(),
                    )
                    .build(),
            ))
            .response("200", Response::new("Accepted (any 2xx)"))
            .response(
                "410",
                Response::new("Gone: no more attempts until an operator enables the endpoint"),
            )
            .build();
        paths = paths.path(name, PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

/// The shared problem answers, by component name: status, description and
/// the headers they carry.
const PROBLEMS: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "Malformed request: a missing or malformed `x-org` or `Idempotency-Key` header, \
         a path id that is not a UUID, a bad query parameter, or a body that is not JSON.",
    ),
    (
        "Unauthorized",
        "401",
        "Missing, invalid or expired credentials (a bearer token on /api/v1, the \
         internal key on /internal).",
    ),
    (
        "Forbidden",
        "403",
        "The caller may not do this: not a member of the org in `x-org`, or missing the \
         permission the action needs.",
    ),
    (
        "NotFound",
        "404",
        "No such record, or one this org may not see.",
    ),
    (
        "Conflict",
        "409",
        "The record's state or a uniqueness rule forbids this, or a request with the same \
         `Idempotency-Key` is still running (`idempotency_in_progress`).",
    ),
    (
        "PreconditionFailed",
        "412",
        "`If-Match` names a version that is not the current one (`stale_version`).",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body exceeds `BODY_LIMIT_BYTES` (1 MiB by default).",
    ),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not sent as `application/json`.",
    ),
    (
        "UnprocessableEntity",
        "422",
        "Well-formed but invalid: wrong field types, unknown enum values, field \
         validation (`errors`), or an `Idempotency-Key` reused with another body.",
    ),
    (
        "TooManyRequests",
        "429",
        "The org's rate limit is spent; retry after `Retry-After` seconds.",
    ),
    (
        "ClientTooManyRequests",
        "429",
        "This client address has sent `PUBLIC_RATE_LIMIT_PER_MINUTE` requests to the \
         unauthenticated routes within the last minute (`client_rate_limited`); retry after \
         `Retry-After` seconds.",
    ),
    (
        "ServiceUnavailable",
        "503",
        "The database is unavailable (`database_unavailable`, with `Retry-After`), Auth \
         cannot resolve effective access, or the request timed out.",
    ),
];

fn problem_ref(status: &str) -> RefOr<Response> {
    let name = PROBLEMS
        .iter()
        .find(|(_, s, _)| *s == status)
        .map_or("BadRequest", |(name, _, _)| *name);
    RefOr::Ref(Ref::from_response_name(name))
}

fn problem_response(status: &str, description: &str) -> Response {
    let mut response = ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
    problem_headers(status, &mut response);
    response
}

/// The headers a problem answer of `status` carries, whoever documents it.
fn problem_headers(status: &str, response: &mut Response) {
    let (name, description) = match status {
        "401" => (
            "WWW-Authenticate",
            "`Bearer` on /api/v1; `ApiKey` on /internal.",
        ),
        "429" => (
            "Retry-After",
            "Seconds until the limit lets a request through again.",
        ),
        "503" => (
            "Retry-After",
            "Seconds to wait before retrying; sent with `database_unavailable`.",
        ),
        _ => return,
    };
    response.headers.entry(name.to_owned()).or_insert_with(|| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(description))
            .build()
            .into()
    });
}

/// Adds `status` as the shared problem answer unless the route states its own.
fn answers(op: &mut Operation, statuses: &[&str]) {
    for status in statuses {
        let response = op
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| problem_ref(status));
        if let RefOr::T(response) = response {
            problem_headers(status, response);
        }
    }
}

fn operations(doc: &mut OpenApi) -> impl Iterator<Item = (&String, &str, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            ("get", item.get.as_mut()),
            ("put", item.put.as_mut()),
            ("post", item.post.as_mut()),
            ("delete", item.delete.as_mut()),
            ("patch", item.patch.as_mut()),
        ]
        .into_iter()
        .filter_map(move |(method, op)| op.map(|op| (path, method, op)))
    })
}

fn has_param(op: &Operation, name: &str, location: ParameterIn) -> bool {
    op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.name.eq_ignore_ascii_case(name) && p.parameter_in == location,
        RefOr::Ref(_) => false,
    })
}

/// A status's meaning: the shared problem's words, else its reason phrase.
fn describe(status: &str) -> String {
    PROBLEMS
        .iter()
        .find(|(_, s, _)| *s == status)
        .map(|(_, _, description)| (*description).to_owned())
        .or_else(|| {
            status
                .parse()
                .ok()
                .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                .and_then(|code| code.canonical_reason())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| status.to_owned())
}

fn is_text(param: &Parameter) -> bool {
    match &param.schema {
        Some(RefOr::T(Schema::Object(object))) => {
            matches!(&object.schema_type, SchemaType::Type(Type::String))
                || matches!(&object.schema_type, SchemaType::Array(types) if types.contains(&Type::String))
        }
        _ => false,
    }
}

fn header_param(op: &mut Operation, name: &str, description: &str) {
    let params = op.parameters.get_or_insert_with(Vec::new);
    params.retain(|p| !matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(name)));
    params.push(RefOr::T(
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(255)),
            ))
            .build(),
    ));
}

fn success_header(op: &mut Operation, name: &str, description: &str) {
    for (status, response) in &mut op.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.entry(name.to_owned()).or_insert_with(|| {
                HeaderBuilder::new()
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .description(Some(description))
                    .build()
                    .into()
            });
        }
    }
}

fn etag_on_success(op: &Operation) -> bool {
    matches!(op.responses.responses.get("200"), Some(RefOr::T(r)) if r.headers.contains_key("ETag"))
}

/// What the `not_modified` layer answers on a `GET` whose answer carries
/// an `ETag`.
fn conditional_read(op: &mut Operation) {
    header_param(
        op,
        "If-None-Match",
        "`ETag`s the client holds (or `*`): `304` without a body when one is current.",
    );
    op.responses
        .responses
        .entry("304".to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description("Not Modified: the `ETag` sent in `If-None-Match` is current.")
                .header(
                    "ETag",
                    HeaderBuilder::new()
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .description(Some("Version of the record"))
                        .build(),
                )
                .build()
                .into()
        });
}

/// What `require_org` and the `idempotency` layer answer, on every
/// operation of the tenant router (`lib.rs` applies both there).
pub fn tenant_guard(doc: &mut OpenApi) {
    for (_, method, op) in operations(doc) {
        op.security = Some(vec![
            SecurityRequirement::new::<_, _, &str>(BEARER, []).add::<_, _, &str>(ORG, []),
        ]);
        answers(op, &["400", "401", "403", "429", "503"]);
        if method == "post" {
            header_param(
                op,
                "Idempotency-Key",
                "Makes a retry safe: the same key and body (per org, for 24 h) replays the \
                 first answer; another body is 422 `idempotency_key_reused`; a retry while \
                 the first runs is 409 `idempotency_in_progress`.",
            );
            answers(op, &["409", "422"]);
            success_header(
                op,
                "Idempotent-Replayed",
                "`true` when this is the replayed first answer to the `Idempotency-Key`.",
            );
        }
    }
}

/// What `limit_public` answers, on every operation of the public
/// (unauthenticated) router.
pub fn public_guard(doc: &mut OpenApi) {
    for (_, _, op) in operations(doc) {
        op.responses
            .responses
            .entry("429".to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name("ClientTooManyRequests")));
    }
}

/// What `require_internal_key` answers, on every operation of the internal
/// router.
pub fn internal_guard(doc: &mut OpenApi) {
    for (path, method, op) in operations(doc) {
        op.security = Some(vec![SecurityRequirement::new::<_, _, &str>(
            INTERNAL_KEY,
            [],
        )]);
        // A malformed `x-org` (a machine call naming a tenant) is 400.
        answers(op, &["400", "401"]);
        if path.starts_with("/internal/ops/") && method != "get" {
            // A dashboard session without the CSRF header.
            answers(op, &["403"]);
        }
    }
}

/// What every route answers through the shared extractors and layers, and
/// the shared problem responses they refer to. Problem bodies are
/// `application/problem+json`.
pub fn finish(doc: &mut OpenApi) {
    for (path, method, op) in operations(doc) {
        if op.request_body.is_some() {
            answers(op, &["400", "413", "415", "422"]);
        }
        if path.contains('{') {
            answers(op, &["400", "404"]);
        }
        let query: Vec<&Parameter> = op
            .parameters
            .iter()
            .flatten()
            .filter_map(|p| match p {
                RefOr::T(p) if p.parameter_in == ParameterIn::Query => Some(p),
                _ => None,
            })
            .collect();
        // A malformed query is 400; text the database cannot hold (a NUL
        // character) and `limit` below 1 are 422.
        let unprocessable = query.iter().any(|p| p.name == "limit" || is_text(p));
        if !query.is_empty() {
            answers(op, &["400"]);
        }
        if unprocessable {
            answers(op, &["422"]);
        }
        if has_param(op, "If-Match", ParameterIn::Header) {
            answers(op, &["412"]);
        }
        if method == "get" && etag_on_success(op) {
            conditional_read(op);
        }
        // Reads on the replica (SPEC 5.11): the route declares the header;
        // a value that is not a token is 400.
        if has_param(op, "Consistency-Token", ParameterIn::Header) {
            header_param(
                op,
                "Consistency-Token",
                "The `Consistency-Token` a write answered: the read sees that write (a \
                 replica serves it only once it has replayed past it).",
            );
            answers(op, &["400"]);
        }
        if !matches!(method, "get" | "head" | "options") {
            success_header(
                op,
                "Consistency-Token",
                "The primary's WAL position after this write: send it back on a read to \
                 see the write.",
            );
        }
        answers(op, &["503"]);
        for (status, response) in &mut op.responses.responses {
            let RefOr::T(response) = response else {
                continue;
            };
            // OpenAPI requires a description on every response.
            if response.description.is_empty() {
                response.description = describe(status);
            }
            if (status.starts_with('4') || status.starts_with('5'))
                && let Some(content) = response.content.shift_remove("application/json")
            {
                response.content.insert(PROBLEM_JSON.to_owned(), content);
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, status, description) in PROBLEMS {
        components.responses.insert(
            (*name).to_owned(),
            problem_response(status, description).into(),
        );
    }
    let mut schemas = Vec::new();
    <Problem as ToSchema>::schemas(&mut schemas);
    schemas.push((Problem::name().into_owned(), Problem::schema()));
    components.schemas.extend(schemas);
}
