//! The OpenAPI 3.1 document's frame: info, tags and security schemes. Paths
//! and schemas come from the `#[utoipa::path]` handlers as routes register.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Tag};

/// Security scheme names used by `#[utoipa::path(security(...))]`.
pub const BEARER: &str = "bearer";
pub const ORG: &str = "org";
pub const INTERNAL_KEY: &str = "internal_key";

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
        .tags(Some(vec![
            tag("health", "Liveness and readiness"),
            tag("me", "The caller and its org"),
            tag(
                "directory",
                "Artists, companies, people, platform accounts, provider references",
            ),
            tag(
                "reference",
                "Genres, countries, currencies, cities, markets",
            ),
            tag("imports", "Trusted directory imports (internal key)"),
            tag("shortlists", "Saved artist shortlists of an org"),
            tag("ops", "Operations (internal key)"),
        ]))
        .build()
}

fn tag(name: &str, description: &str) -> Tag {
    let mut tag = Tag::new(name);
    tag.description = Some(description.to_owned());
    tag
}
