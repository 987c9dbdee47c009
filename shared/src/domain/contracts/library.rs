//! Template libraries: each company keeps its own contract templates,
//! private to the org that owns it (another org gets 404). A body edit makes
//! a new template version; contracts name the version they were made from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::template;
use crate::access;
use crate::domain::{guarded, precondition};
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;
use crate::{Code, DomainError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TemplateStatus {
    Active,
    Archived,
}

/// What happens to a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateEvent {
    /// Its name, description or body changes.
    Edit,
    /// A contract is made from it.
    Use,
    Archive,
}

impl TemplateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }

    /// The one transition function of a template: an active one is
    /// edited, used or archived; an archived one is kept as it is, for the
    /// contracts made from it.
    pub fn apply(self, event: TemplateEvent) -> Result<Self, DomainError> {
        match (self, event) {
            (Self::Active, TemplateEvent::Edit | TemplateEvent::Use) => Ok(Self::Active),
            (Self::Active, TemplateEvent::Archive) => Ok(Self::Archived),
            (Self::Archived, event) => Err(DomainError::conflict(
                Code::TemplateArchived,
                match event {
                    TemplateEvent::Edit => "an archived template cannot change",
                    TemplateEvent::Use => "the template is archived; pick an active one",
                    TemplateEvent::Archive => "the template is already archived",
                },
            )),
        }
    }
}

impl crate::domain::machine::Machine for TemplateStatus {
    type Event = TemplateEvent;
    const ALL: &'static [Self] = &[Self::Active, Self::Archived];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: TemplateEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

/// A template with its current version's body.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContractTemplate {
    pub id: Uuid,
    pub company_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub status: TemplateStatus,
    /// The number of the current template version.
    pub current_version: i32,
    /// The current version's body: Markdown with `{{variable}}` placeholders.
    pub body: String,
    /// The catalogue variables the body uses.
    pub variables: Vec<String>,
    /// Record version, for `If-Match`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One saved body of a template.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ContractTemplateVersion {
    pub number: i32,
    pub body: String,
    pub variables: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A new template: its own `body`, or a copy of a starter by `starter` key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractTemplateIn {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Copy a starter body (see `GET /api/v1/contract-template-catalogue`).
    #[serde(default)]
    pub starter: Option<String>,
}

/// Changes to a template; a new `body` makes a new template version.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractTemplatePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "crate::serde_util::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub body: Option<String>,
}

/// The variable catalogue and the starter templates.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateCatalogue {
    pub variables: Vec<CatalogueVariable>,
    pub starters: Vec<CatalogueStarter>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueVariable {
    pub name: &'static str,
    pub description: &'static str,
    pub example: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueStarter {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub body: &'static str,
}

pub fn catalogue() -> TemplateCatalogue {
    TemplateCatalogue {
        variables: template::VARIABLES
            .iter()
            .map(|v| CatalogueVariable {
                name: v.name,
                description: v.description,
                example: v.example,
            })
            .collect(),
        starters: template::STARTERS
            .iter()
            .map(|s| CatalogueStarter {
                key: s.key,
                name: s.name,
                description: s.description,
                body: s.body,
            })
            .collect(),
    }
}

struct Row {
    id: Uuid,
    company_id: Uuid,
    name: String,
    description: Option<String>,
    status: TemplateStatus,
    current_version: i32,
    body: String,
    variables: Vec<String>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for ContractTemplate {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            company_id: r.company_id,
            name: r.name,
            description: r.description,
            status: r.status,
            current_version: r.current_version,
            body: r.body,
            variables: r.variables,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<ContractTemplate, DomainError> {
    sqlx::query_as!(
        Row,
        r#"SELECT t.id, t.company_id, t.name, t.description, t.status AS "status: TemplateStatus", t.current_version,
                  v.body, v.variables, t.version, t.created_at, t.updated_at
             FROM contract_templates t
             JOIN contract_template_versions v ON v.template_id = t.id AND v.number = t.current_version
            WHERE t.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(ContractTemplate::from)
    .ok_or(DomainError::NotFound)
}

/// A template of a company the org owns; 404 otherwise.
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<ContractTemplate, DomainError> {
    let t = load(&mut *conn, id).await?;
    if !access::owns(&mut *conn, org_id, t.company_id).await? {
        return Err(DomainError::NotFound);
    }
    Ok(t)
}

/// A company's library is seen only by its owner: 404 for everyone else.
async fn require_library(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Uuid,
) -> Result<(), DomainError> {
    if access::owns(conn, org_id, company_id).await? {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// The variables a body to save uses; a blank body, a syntax error or an
/// unknown variable is 422 naming it.
fn checked_body(body: &str) -> Result<Vec<String>, DomainError> {
    if body.trim().is_empty() {
        return Err(DomainError::invalid("body", "must not be blank"));
    }
    template::check(body)
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    company_id: Uuid,
    input: ContractTemplateIn,
) -> Result<ContractTemplate, DomainError> {
    require_library(&mut *conn, org_id, company_id).await?;
    let mut check = Check::new();
    let name = check.text("name", &input.name, 1, 200);
    let description = check.opt_text("description", input.description.as_deref(), 2000);
    let body = match (input.body.as_deref(), input.starter.as_deref()) {
        (Some(body), None) => Some(body),
        (None, Some(key)) => match template::STARTERS.iter().find(|s| s.key == key) {
            Some(starter) => Some(starter.body),
            None => {
                check.add("starter", "is not a starter template key");
                None
            }
        },
        (Some(_), Some(_)) => {
            check.add("body", "give either body or starter, not both");
            None
        }
        (None, None) => {
            check.add("body", "is required (or name a starter)");
            None
        }
    };
    check.finish()?;
    let body = body.unwrap_or_default();
    let variables = checked_body(body)?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO contract_templates (id, company_id, name, description, created_by) VALUES ($1, $2, $3, $4, $5)",
        id,
        company_id,
        name,
        description,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO contract_template_versions (template_id, number, body, variables, created_by) VALUES ($1, 1, $2, $3, $4)",
        id,
        body,
        &variables,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    load(conn, id).await
}

pub async fn list_for_company(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Uuid,
    include_archived: bool,
    page: &PageRequest<Uuid>,
) -> Result<Page<ContractTemplate>, DomainError> {
    require_library(&mut *conn, org_id, company_id).await?;
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT t.id, t.company_id, t.name, t.description, t.status AS "status: TemplateStatus", t.current_version,
                  v.body, v.variables, t.version, t.created_at, t.updated_at
             FROM contract_templates t
             JOIN contract_template_versions v ON v.template_id = t.id AND v.number = t.current_version
            WHERE t.company_id = $1 AND ($2 OR t.status = 'active') AND t.id > COALESCE($3, '00000000-0000-0000-0000-000000000000'::uuid)
            ORDER BY t.id LIMIT $4"#,
        company_id,
        include_archived,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    let items = rows.into_iter().map(ContractTemplate::from).collect();
    Ok(Page::from_rows(items, page.limit, |t| t.id))
}

pub async fn patch(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: ContractTemplatePatch,
    if_match: Option<i32>,
) -> Result<ContractTemplate, DomainError> {
    let current = get_for(&mut *conn, org_id, id).await?;
    precondition(if_match, current.version)?;
    let to = current.status.apply(TemplateEvent::Edit)?;
    let mut check = Check::new();
    let name = input
        .name
        .as_deref()
        .map(|n| check.text("name", n, 1, 200))
        .unwrap_or(current.name);
    let description = match input.description {
        Some(d) => check.opt_text("description", d.as_deref(), 2000),
        None => current.description,
    };
    check.finish()?;
    let new_body = match input.body.as_deref() {
        Some(body) if body != current.body => Some((body, checked_body(body)?)),
        _ => None,
    };
    let next_version = current.current_version + i32::from(new_body.is_some());
    let rows = sqlx::query!(
        "UPDATE contract_templates
            SET name = $2, description = $3, current_version = $4, status = $6, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $7 AND version = $5",
        id,
        name,
        description,
        next_version,
        if_match.unwrap_or(current.version),
        to as TemplateStatus,
        current.status as TemplateStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    if let Some((body, variables)) = new_body {
        sqlx::query!(
            "INSERT INTO contract_template_versions (template_id, number, body, variables, created_by) VALUES ($1, $2, $3, $4, $5)",
            id,
            next_version,
            body,
            &variables,
            actor,
        )
        .execute(&mut *conn)
        .await?;
    }
    load(conn, id).await
}

pub async fn archive(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    if_match: Option<i32>,
) -> Result<ContractTemplate, DomainError> {
    let current = get_for(&mut *conn, org_id, id).await?;
    precondition(if_match, current.version)?;
    let to = current.status.apply(TemplateEvent::Archive)?;
    let rows = sqlx::query!(
        "UPDATE contract_templates SET status = $3, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $4 AND version = $2",
        id,
        if_match.unwrap_or(current.version),
        to as TemplateStatus,
        current.status as TemplateStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    load(conn, id).await
}

/// Every saved body of a template, newest first.
pub async fn versions(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<ContractTemplateVersion>, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    Ok(sqlx::query_as!(
        ContractTemplateVersion,
        "SELECT number, body, variables, created_by, created_at
           FROM contract_template_versions WHERE template_id = $1 ORDER BY number DESC",
        id
    )
    .fetch_all(conn)
    .await?)
}

/// The body of one template version, for rendering a contract.
pub(crate) async fn body_of(
    conn: &mut PgConnection,
    template_id: Uuid,
    number: i32,
) -> Result<String, DomainError> {
    sqlx::query_scalar!(
        "SELECT body FROM contract_template_versions WHERE template_id = $1 AND number = $2",
        template_id,
        number
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_transitions() {
        use TemplateEvent::*;
        use TemplateStatus::*;
        crate::domain::machine::assert_exhaustive(
            &[Edit, Use, Archive],
            &[
                (Active, Edit, Active),
                (Active, Use, Active),
                (Active, Archive, Archived),
            ],
        );
        for event in [Edit, Use, Archive] {
            assert!(matches!(
                Archived.apply(event),
                Err(DomainError::Conflict {
                    code: Code::TemplateArchived,
                    ..
                })
            ));
        }
    }
}
