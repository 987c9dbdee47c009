//! Personal data: the map of where it lives ([`map`]), an export of
//! everything held on one person, their erasure, and the retention pruning
//! the maintenance job runs ([`retention`]).
//!
//! A subject is named by an email address or a person id (a contact of the
//! directory). Their identifiers are that address, and the names and phone
//! numbers the records found by it (or by the person id) give them: a
//! contact's name and phone, a signer's name, a logistics contact's name
//! and phone. Free text and JSON documents are searched
//! for any identifier, case-insensitively; a name shorter than three
//! characters is not searched for on its own.

pub mod erase;
pub mod map;
pub mod retention;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgConnection, Row};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::DomainError;
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

/// Whose data: an email address or a person id, exactly one.
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SubjectIn {
    /// The subject's email address (any case).
    pub email: Option<String>,
    /// A contact's id in the directory.
    pub person_id: Option<Uuid>,
}

/// A subject and the identifiers their records give them.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    /// `person:<uuid>` or `email-sha256:<hex of the lowercased address>`:
    /// how an erasure record names the subject without their data.
    pub key: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub names: Vec<String>,
    pub person_ids: Vec<Uuid>,
}

fn push_unique(list: &mut Vec<String>, value: Option<String>) {
    if let Some(v) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
        && !list.iter().any(|x| x.eq_ignore_ascii_case(&v))
    {
        list.push(v);
    }
}

impl Subject {
    /// Every identifier worth searching text for.
    pub fn identifiers(&self) -> Vec<&str> {
        self.emails
            .iter()
            .chain(&self.phones)
            .chain(self.names.iter().filter(|n| n.chars().count() >= 3))
            .map(String::as_str)
            .collect()
    }

    /// `ILIKE` patterns for [`Self::identifiers`].
    pub fn like_patterns(&self) -> Vec<String> {
        self.identifiers()
            .iter()
            .map(|i| {
                let escaped = i
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
            .collect()
    }

    /// A case-insensitive POSIX regex matching any identifier.
    pub fn regex(&self) -> String {
        let alternatives: Vec<String> = self
            .identifiers()
            .iter()
            .map(|i| {
                i.chars()
                    .map(|c| {
                        if c.is_alphanumeric() || c == ' ' {
                            c.to_string()
                        } else {
                            format!("\\{c}")
                        }
                    })
                    .collect()
            })
            .collect();
        format!("({})", alternatives.join("|"))
    }

    /// Whether `text` holds an identifier.
    pub fn appears_in(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.identifiers()
            .iter()
            .any(|i| lower.contains(&i.to_lowercase()))
    }

    /// Whether `text` is one of the identifiers (a list entry of a name).
    pub fn is(&self, text: &str) -> bool {
        let t = text.trim();
        self.emails
            .iter()
            .chain(&self.phones)
            .chain(&self.names)
            .any(|i| i.eq_ignore_ascii_case(t))
    }

    /// `text` with every identifier replaced by `[erased]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for i in self.identifiers() {
            let lower_i = i.to_lowercase();
            let mut result = String::with_capacity(out.len());
            let mut rest = out.as_str();
            loop {
                // Searching the lowercased text keeps byte offsets only for
                // characters whose lowercase has the same length: compare
                // char by char instead.
                let pos = rest.char_indices().find_map(|(at, _)| {
                    let tail = &rest[at..];
                    let mut chars = tail.chars();
                    let mut matched = 0;
                    for want in lower_i.chars() {
                        match chars.next() {
                            Some(c) if c.to_lowercase().eq(std::iter::once(want)) => {
                                matched += c.len_utf8();
                            }
                            _ => return None,
                        }
                    }
                    Some((at, matched))
                });
                match pos {
                    Some((at, len)) => {
                        result.push_str(&rest[..at]);
                        result.push_str("[erased]");
                        rest = &rest[at + len..];
                    }
                    None => {
                        result.push_str(rest);
                        break;
                    }
                }
            }
            out = result;
        }
        out
    }

    /// `value` without the subject: array entries that are the subject (a
    /// contact whose email or phone is theirs, a list name that is theirs)
    /// removed, strings redacted. Returns whether anything changed.
    pub fn scrub(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => {
                let redacted = self.redact(s);
                let changed = redacted != *s;
                *s = redacted;
                changed
            }
            Value::Array(items) => {
                let before = items.len();
                items.retain(|item| !self.is_entry(item));
                let mut changed = items.len() != before;
                for item in items.iter_mut() {
                    changed |= self.scrub(item);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                for v in map.values_mut() {
                    changed |= self.scrub(v);
                }
                changed
            }
            _ => false,
        }
    }

    /// Whether a list entry is the subject's own.
    fn is_entry(&self, item: &Value) -> bool {
        match item {
            Value::String(s) => self.is(s),
            Value::Object(map) => ["email", "phone", "signer_email"].iter().any(|k| {
                map.get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| self.is(v))
            }),
            _ => false,
        }
    }
}

fn email_key(email: &str) -> String {
    format!(
        "email-sha256:{}",
        hex::encode(Sha256::digest(email.to_lowercase().as_bytes()))
    )
}

/// Validates the request and finds the subject's identifiers. A person id
/// that names no contact is 404; an email nothing holds is a subject with
/// no records.
pub async fn resolve(conn: &mut PgConnection, input: &SubjectIn) -> Result<Subject, DomainError> {
    let mut check = Check::new();
    let email = match (&input.email, input.person_id) {
        (Some(_), Some(_)) | (None, None) => {
            check.add("email", "give either email or person_id");
            None
        }
        (Some(e), None) => check.email("email", Some(e)),
        (None, Some(_)) => None,
    };
    check.finish()?;
    let mut subject = Subject::default();
    if let Some(id) = input.person_id {
        let person = sqlx::query!("SELECT name, email, phone FROM people WHERE id = $1", id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound)?;
        subject.key = format!("person:{id}");
        subject.person_ids.push(id);
        push_unique(&mut subject.names, Some(person.name));
        push_unique(&mut subject.emails, person.email.map(|e| e.to_lowercase()));
        push_unique(&mut subject.phones, person.phone);
    }
    if let Some(email) = email {
        subject.key = email_key(&email);
        push_unique(&mut subject.emails, Some(email.to_lowercase()));
    }
    if subject.emails.is_empty() {
        return Ok(subject);
    }
    // What the address finds: contacts, signers, logistics contacts.
    let emails = subject.emails.clone();
    for p in sqlx::query!(
        "SELECT id, name, phone FROM people WHERE lower(email) = ANY($1)",
        &emails
    )
    .fetch_all(&mut *conn)
    .await?
    {
        if !subject.person_ids.contains(&p.id) {
            subject.person_ids.push(p.id);
        }
        push_unique(&mut subject.names, Some(p.name));
        push_unique(&mut subject.phones, p.phone);
    }
    // A typed signature is not searched for: it can be anything the
    // signer typed, and is found through its signer.
    for name in sqlx::query_scalar!(
        "SELECT name FROM contract_signers WHERE lower(email) = ANY($1)",
        &emails
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push_unique(&mut subject.names, Some(name));
    }
    for c in sqlx::query!(
        r#"SELECT c->>'name' AS name, c->>'phone' AS phone
             FROM booking_logistics l, jsonb_array_elements(l.sheet->'contacts') c
            WHERE lower(c->>'email') = ANY($1)"#,
        &emails
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push_unique(&mut subject.names, c.name);
        push_unique(&mut subject.phones, c.phone);
    }
    // Erased rows keep placeholders, never the subject's identifiers.
    subject
        .names
        .retain(|n| n != erase::ERASED_CONTACT && n != erase::ERASED_SIGNER);
    Ok(subject)
}

/// One record holding the subject's data.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(as = PersonalDataRecord)]
pub struct Record {
    /// The product area: directory, contracts, logistics, booking, ...
    pub area: String,
    pub table: String,
    /// The record's key (`a/b` for a two-part key).
    pub id: String,
    /// What the record holds on the subject.
    pub data: Value,
}

/// Everything held on one subject, a page at a time.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PersonalDataExport)]
pub struct Export {
    /// The identifiers searched for.
    pub identifiers: Identifiers,
    pub records: Vec<Record>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PersonalDataIdentifiers)]
pub struct Identifiers {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub names: Vec<String>,
    pub person_ids: Vec<Uuid>,
}

/// The SQL that names a row of `table` in the export (`a/b` for a
/// two-part key).
fn key_expr(table: &str) -> &'static str {
    match table {
        "shortlist_items" => "shortlist_id::text || '/' || artist_id::text",
        "offer_versions" => "offer_id::text || '/' || number::text",
        "contract_versions" => "contract_id::text || '/' || number::text",
        "booking_logistics" => "booking_id::text",
        _ => "id::text",
    }
}

/// The free-text locations of the map (plain text columns searched by
/// pattern), excluding the subject's own rows handled apart.
pub(crate) fn free_text_locations() -> impl Iterator<Item = &'static map::Location> {
    map::PERSONAL_DATA
        .iter()
        .filter(|l| l.category == map::Category::FreeText && l.fields.is_none())
        .filter(|l| !(l.table == "contract_versions" && l.column == "body"))
}

/// Every record holding the subject's data.
pub async fn records(
    conn: &mut PgConnection,
    subject: &Subject,
) -> Result<Vec<Record>, DomainError> {
    let mut out = Vec::new();
    if subject.identifiers().is_empty() && subject.person_ids.is_empty() {
        return Ok(out);
    }
    let emails = &subject.emails;
    let phones = &subject.phones;
    let patterns = subject.like_patterns();
    let mut push = |area: &str, table: &str, id: String, data: Value| {
        out.push(Record {
            area: area.to_owned(),
            table: table.to_owned(),
            id,
            data,
        });
    };
    for r in sqlx::query!(
        r#"SELECT id, company_id, name, title, email, phone, notes, visibility FROM people
            WHERE id = ANY($1) OR lower(email) = ANY($2) OR phone = ANY($3)"#,
        &subject.person_ids,
        emails,
        phones
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push(
            "directory",
            "people",
            r.id.to_string(),
            serde_json::json!({"company_id": r.company_id, "name": r.name, "title": r.title,
                "email": r.email, "phone": r.phone, "notes": r.notes, "visibility": r.visibility}),
        );
    }
    for r in sqlx::query!(
        "SELECT id, name, email, phone FROM companies WHERE lower(email) = ANY($1) OR phone = ANY($2)",
        emails,
        phones
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push(
            "directory",
            "companies",
            r.id.to_string(),
            serde_json::json!({"company": r.name, "email": r.email, "phone": r.phone}),
        );
    }
    for r in sqlx::query!(
        r#"SELECT s.id, s.contract_id, s.name, s.email, s.party, s.status, s.decline_reason,
                  g.typed_name AS "typed_name?", g.ip, g.user_agent, g.signed_at AS "signed_at?",
                  g.version_number AS "version_number?"
             FROM contract_signers s LEFT JOIN contract_signatures g ON g.signer_id = s.id
            WHERE lower(s.email) = ANY($1)"#,
        emails
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push(
            "contracts",
            "contract_signers",
            r.id.map(|id| id.to_string()).unwrap_or_default(),
            serde_json::json!({"contract_id": r.contract_id, "name": r.name, "email": r.email,
                "party": r.party, "status": r.status, "decline_reason": r.decline_reason,
                "signature": r.signed_at.map(|at| serde_json::json!({"typed_name": r.typed_name,
                    "ip": r.ip, "user_agent": r.user_agent, "signed_at": at, "version": r.version_number}))}),
        );
    }
    for r in sqlx::query!(
        "SELECT contract_id, seq, value FROM contract_audit_personal
          WHERE value #>> '{}' ILIKE ANY($1) ORDER BY contract_id, seq",
        &patterns
    )
    .fetch_all(&mut *conn)
    .await?
    {
        push(
            "contracts",
            "contract_audit_personal",
            format!("{}/{}", r.contract_id, r.seq),
            serde_json::json!({"contract_id": r.contract_id, "audit_seq": r.seq, "value": r.value}),
        );
    }
    for (area, table, column) in [
        ("logistics", "booking_logistics", "sheet"),
        ("logistics", "logistics_proposals", "content"),
        ("booking", "booking_activity", "details"),
    ] {
        let sql = format!(
            "SELECT {key} AS key, {column} AS doc FROM {table} WHERE {column}::text ILIKE ANY($1) ORDER BY 1",
            key = key_expr(table)
        );
        for row in sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(&patterns)
            .fetch_all(&mut *conn)
            .await?
        {
            let doc: Value = row.try_get("doc")?;
            let mut found = Vec::new();
            matching_fields(subject, &doc, String::new(), &mut found);
            push(
                area,
                table,
                row.try_get("key")?,
                serde_json::json!({ column: found }),
            );
        }
    }
    for l in free_text_locations() {
        let sql = format!(
            "SELECT {key} AS key, {column} AS text FROM {table} WHERE {column} ILIKE ANY($1) ORDER BY 1",
            key = key_expr(l.table),
            column = l.column,
            table = l.table
        );
        for row in sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(&patterns)
            .fetch_all(&mut *conn)
            .await?
        {
            let text: String = row.try_get("text")?;
            push(
                l.area,
                l.table,
                row.try_get("key")?,
                serde_json::json!({ l.column: text }),
            );
        }
    }
    out.sort_by(|a, b| (&a.area, &a.table, &a.id).cmp(&(&b.area, &b.table, &b.id)));
    // One record per key: a row found through two columns is listed once,
    // with both.
    out.dedup_by(|later, earlier| {
        if (&later.area, &later.table, &later.id) != (&earlier.area, &earlier.table, &earlier.id) {
            return false;
        }
        if let (Value::Object(e), Value::Object(l)) = (&mut earlier.data, later.data.take()) {
            e.extend(l);
        }
        true
    });
    Ok(out)
}

/// The JSON paths and values of `doc` that hold an identifier.
fn matching_fields(subject: &Subject, doc: &Value, path: String, out: &mut Vec<Value>) {
    match doc {
        Value::String(s) if subject.appears_in(s) => {
            out.push(serde_json::json!({"path": path, "value": s}));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                matching_fields(subject, item, format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                matching_fields(subject, v, p, out);
            }
        }
        _ => {}
    }
}

/// One page of [`records`].
pub async fn export(
    conn: &mut PgConnection,
    input: &SubjectIn,
    page: PageRequest<(String, String, String)>,
) -> Result<Export, DomainError> {
    let subject = resolve(&mut *conn, input).await?;
    let all = records(&mut *conn, &subject).await?;
    let rows: Vec<Record> = all
        .into_iter()
        .filter(|r| {
            page.after
                .as_ref()
                .is_none_or(|(a, t, i)| (&r.area, &r.table, &r.id) > (a, t, i))
        })
        .take(usize::try_from(page.fetch_limit()).unwrap_or(usize::MAX))
        .collect();
    let page = Page::from_rows(rows, page.limit, |r| {
        (r.area.clone(), r.table.clone(), r.id.clone())
    });
    Ok(Export {
        identifiers: Identifiers {
            emails: subject.emails,
            phones: subject.phones,
            names: subject.names,
            person_ids: subject.person_ids,
        },
        records: page.items,
        next_cursor: page.next_cursor,
    })
}
