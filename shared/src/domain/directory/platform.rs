//! Platform accounts (Spotify, Instagram, ...) of artists and companies.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Platform {
    Spotify,
    Instagram,
    Youtube,
    Tiktok,
    Soundcloud,
    Bandcamp,
    AppleMusic,
    Deezer,
    Beatport,
    ResidentAdvisor,
    Facebook,
    X,
    Threads,
    Twitch,
    Mixcloud,
    Website,
}

/// Whose account it is.
#[derive(Clone, Copy, Debug)]
pub enum Owner {
    Artist(Uuid),
    Company(Uuid),
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PlatformAccount {
    pub id: Uuid,
    pub platform: Platform,
    pub handle: String,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformAccountIn {
    pub platform: Platform,
    /// The account's handle or id on the platform (`@` is dropped).
    pub handle: String,
    #[serde(default)]
    pub url: Option<String>,
}

async fn require_editor(
    conn: &mut PgConnection,
    owner: Owner,
    org_id: Uuid,
) -> Result<(), DomainError> {
    match owner {
        Owner::Artist(id) => access::require_artist_editor(conn, id, org_id).await,
        Owner::Company(id) => access::require_company_owner(conn, id, org_id).await,
    }
}

fn ids(owner: Owner) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        Owner::Artist(id) => (Some(id), None),
        Owner::Company(id) => (None, Some(id)),
    }
}

pub async fn list(
    conn: &mut PgConnection,
    owner: Owner,
) -> Result<Vec<PlatformAccount>, DomainError> {
    let (artist_id, company_id) = ids(owner);
    let exists = match owner {
        Owner::Artist(id) => sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM artists WHERE id = $1 AND archived_at IS NULL) AS "e!""#,
            id
        )
        .fetch_one(&mut *conn)
        .await?,
        Owner::Company(id) => sqlx::query_scalar!(r#"SELECT EXISTS (SELECT 1 FROM companies WHERE id = $1) AS "e!""#, id)
            .fetch_one(&mut *conn)
            .await?,
    };
    if !exists {
        return Err(DomainError::NotFound);
    }
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    Ok(sqlx::query_as!(
        PlatformAccount,
        r#"SELECT id, platform AS "platform: Platform", handle, url, created_at
             FROM platform_accounts
            WHERE ($1::uuid IS NULL OR artist_id = $1) AND ($2::uuid IS NULL OR company_id = $2)
            ORDER BY platform, handle"#,
        artist_id,
        company_id,
    )
    .fetch_all(Unnamed(conn))
    .await?)
}

pub async fn add(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: Owner,
    input: PlatformAccountIn,
) -> Result<PlatformAccount, DomainError> {
    let mut check = Check::new();
    let handle = check.text(
        "handle",
        input.handle.trim().trim_start_matches('@'),
        1,
        200,
    );
    let url = check.url("url", input.url.as_deref());
    check.finish()?;
    require_editor(&mut *conn, owner, org_id).await?;
    let (artist_id, company_id) = ids(owner);
    // An artist's handles are aliases in the marketplace.
    if let Some(artist) = artist_id {
        crate::domain::changes::mark_artist(&mut *conn, artist).await?;
    }
    Ok(sqlx::query_as!(
        PlatformAccount,
        r#"INSERT INTO platform_accounts (id, artist_id, company_id, platform, handle, url)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, platform AS "platform: Platform", handle, url, created_at"#,
        Uuid::now_v7(),
        artist_id,
        company_id,
        input.platform as Platform,
        handle,
        url,
    )
    .fetch_one(conn)
    .await?)
}

pub async fn remove(
    conn: &mut PgConnection,
    org_id: Uuid,
    owner: Owner,
    account_id: Uuid,
) -> Result<(), DomainError> {
    require_editor(&mut *conn, owner, org_id).await?;
    let (artist_id, company_id) = ids(owner);
    if let Some(artist) = artist_id {
        crate::domain::changes::mark_artist(&mut *conn, artist).await?;
    }
    // Generic plan: the row is found by its primary key; the optional owners only filter it.
    let deleted = sqlx::query!(
        "DELETE FROM platform_accounts
          WHERE id = $1 AND ($2::uuid IS NULL OR artist_id = $2) AND ($3::uuid IS NULL OR company_id = $3)",
        account_id,
        artist_id,
        company_id,
    )
    .execute(conn)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(DomainError::NotFound);
    }
    Ok(())
}
