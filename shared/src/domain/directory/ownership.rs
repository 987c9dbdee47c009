//! Who may act through which company. An org owns a company through an
//! approved claim (`IsCompanyOwnedByOrg`); everything an org may change in
//! the directory follows from that, and is decided here, once.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::DomainError;

/// Whether `org_id` owns `company_id` (holds its approved claim).
pub async fn is_company_owned_by_org(
    conn: &mut PgConnection,
    company_id: Uuid,
    org_id: Uuid,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (
             SELECT 1 FROM artists_company_claims
              WHERE company_id = $1 AND org_id = $2 AND status = 'approved'
           ) AS "owned!""#,
        company_id,
        org_id,
    )
    .fetch_one(conn)
    .await?)
}

/// Ok when `org_id` owns the company; 404 when the company does not exist,
/// 403 when it does (companies are public) but belongs to someone else.
pub async fn require_company_owner(
    conn: &mut PgConnection,
    company_id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (
             SELECT 1 FROM artists_company_claims
              WHERE company_id = c.id AND org_id = $2 AND status = 'approved'
           ) AS "owned!"
             FROM companies c WHERE c.id = $1"#,
        company_id,
        org_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if row.owned {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the org that owns this company may change it",
        ))
    }
}

/// Whether `org_id` may edit `artist_id`: it owns a company that
/// represents the artist (a roster link), or the company that created it.
pub async fn can_edit_artist(
    conn: &mut PgConnection,
    artist_id: Uuid,
    org_id: Uuid,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (
             SELECT 1 FROM artists a
               JOIN artists_company_claims c
                 ON c.company_id = a.created_by_company_id AND c.status = 'approved'
              WHERE a.id = $1 AND c.org_id = $2
             UNION ALL
             SELECT 1 FROM roster_links l
               JOIN artists_company_claims c ON c.company_id = l.company_id AND c.status = 'approved'
              WHERE l.artist_id = $1 AND c.org_id = $2
           ) AS "editable!""#,
        artist_id,
        org_id,
    )
    .fetch_one(conn)
    .await?)
}

/// Ok when `org_id` may edit the artist; 404 when the artist does not
/// exist (or is archived), 403 otherwise.
pub async fn require_artist_editor(
    conn: &mut PgConnection,
    artist_id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM artists WHERE id = $1 AND archived_at IS NULL) AS "exists!""#,
        artist_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Err(DomainError::NotFound);
    }
    if can_edit_artist(conn, artist_id, org_id).await? {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the artist's representing company may change it",
        ))
    }
}

/// The companies an org owns, by kind and name.
pub async fn owned_company_ids(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Vec<(Uuid, String)>, DomainError> {
    Ok(sqlx::query!(
        "SELECT c.id, c.kind FROM companies c
           JOIN artists_company_claims cl ON cl.company_id = c.id AND cl.status = 'approved'
          WHERE cl.org_id = $1
          ORDER BY c.kind, c.name, c.id",
        org_id
    )
    .fetch_all(conn)
    .await?
    .into_iter()
    .map(|r| (r.id, r.kind))
    .collect())
}
