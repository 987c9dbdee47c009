//! Provider references: external ids (MusicBrainz, Spotify, Songkick, a
//! legacy CRM ...) of directory records, unique per (provider, external id,
//! entity type).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::people;
use crate::DomainError;
use crate::access;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum EntityType {
    Artist,
    Company,
    Person,
}

impl EntityType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Artist => "artist",
            Self::Company => "company",
            Self::Person => "person",
        }
    }
}

/// A provider and the record's id there.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderRefIn {
    /// Lowercase name: `musicbrainz`, `spotify`, `songkick`, `legacy_crm` ...
    pub provider: String,
    pub external_id: String,
}

impl ProviderRefIn {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut check = Check::new();
        let valid_provider = (2..=40).contains(&self.provider.len())
            && self
                .provider
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_provider {
            check.add("provider", "must be 2-40 characters of a-z, 0-9 and _");
        }
        check.text("external_id", &self.external_id, 1, 200);
        check.finish()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderReferenceIn {
    pub provider: String,
    pub external_id: String,
    pub entity_type: EntityType,
    pub entity_id: Uuid,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProviderReference {
    pub id: Uuid,
    pub provider: String,
    pub external_id: String,
    pub entity_type: EntityType,
    pub entity_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// Serialises imports of one reference (a transaction-scoped lock), so two
/// concurrent imports of the same record create it once.
pub async fn lock(
    conn: &mut PgConnection,
    r: &ProviderRefIn,
    entity: EntityType,
) -> Result<(), DomainError> {
    let key = format!(
        "{}:{}:{}",
        entity.as_str(),
        r.provider,
        r.external_id.trim()
    );
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7204))",
        key
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(
    conn: &mut PgConnection,
    r: &ProviderRefIn,
    entity: EntityType,
) -> Result<Option<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT entity_id FROM provider_references WHERE provider = $1 AND external_id = $2 AND entity_type = $3",
        r.provider,
        r.external_id.trim(),
        entity.as_str(),
    )
    .fetch_optional(conn)
    .await?)
}

pub async fn insert(
    conn: &mut PgConnection,
    r: &ProviderRefIn,
    entity: EntityType,
    entity_id: Uuid,
) -> Result<ProviderReference, DomainError> {
    Ok(sqlx::query_as!(
        ProviderReference,
        r#"INSERT INTO provider_references (id, provider, external_id, entity_type, entity_id)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, provider, external_id, entity_type AS "entity_type: EntityType", entity_id, created_at"#,
        Uuid::now_v7(),
        r.provider,
        r.external_id.trim(),
        entity.as_str(),
        entity_id,
    )
    .fetch_one(conn)
    .await?)
}

/// Adds a reference to a record the org may edit.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    input: ProviderReferenceIn,
) -> Result<ProviderReference, DomainError> {
    let reference = ProviderRefIn {
        provider: input.provider,
        external_id: input.external_id,
    };
    reference.validate()?;
    match input.entity_type {
        EntityType::Artist => {
            access::require_artist_editor(&mut *conn, input.entity_id, org_id).await?
        }
        EntityType::Company => {
            access::require_company_owner(&mut *conn, input.entity_id, org_id).await?
        }
        EntityType::Person => {
            people::require_person_editor(&mut *conn, input.entity_id, org_id).await?
        }
    }
    insert(conn, &reference, input.entity_type, input.entity_id).await
}

/// References of one record, or of one external id; references of people
/// the org may not see are left out.
pub async fn search(
    conn: &mut PgConnection,
    org_id: Uuid,
    entity: Option<(EntityType, Uuid)>,
    external: Option<(&str, &str)>,
) -> Result<Vec<ProviderReference>, DomainError> {
    let (entity_type, entity_id) = entity.map(|(t, id)| (t.as_str(), id)).unzip();
    let (provider, external_id) = external.unzip();
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    Ok(sqlx::query_as!(
        ProviderReference,
        r#"SELECT r.id, r.provider, r.external_id, r.entity_type AS "entity_type: EntityType", r.entity_id, r.created_at
             FROM provider_references r
            WHERE ($1::text IS NULL OR (r.entity_type = $1 AND r.entity_id = $2))
              AND ($3::text IS NULL OR (r.provider = $3 AND r.external_id = $4))
              AND (r.entity_type <> 'person' OR EXISTS (
                    SELECT 1 FROM people p
                     WHERE p.id = r.entity_id
                       AND kisum_person_visible(p.visibility, p.company_id, $5)))
            ORDER BY r.provider, r.external_id, r.entity_type
            LIMIT 200"#,
        entity_type,
        entity_id,
        provider,
        external_id,
        org_id,
    )
    .fetch_all(Unnamed(conn))
    .await?)
}
