//! Contract documents as HTML and PDF.
use chrono::{DateTime, Utc};
use uuid::Uuid;
pub struct Document<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub contract_id: Uuid,
    pub version: i32,
    pub content_sha256: &'a str,
    pub status: &'a str,
    pub signers: &'a [SignatureBlock<'a>],
}
pub struct SignatureBlock<'a> {
    pub name: &'a str,
    pub party: &'a str,
    pub company: &'a str,
    pub order: i32,
    pub state: BlockState<'a>,
}
pub enum BlockState<'a> {
    Awaiting,
    Signed {
        typed_name: &'a str,
        at: DateTime<Utc>,
    },
    Declined {
        at: DateTime<Utc>,
    },
}
#[derive(Debug, thiserror::Error)]
#[error("pdf")]
pub struct DocumentError;
pub fn html(doc: &Document) -> String {
    doc.body.to_owned()
}
pub fn pdf(doc: &Document) -> Result<Vec<u8>, DocumentError> {
    Ok(doc.body.as_bytes().to_vec())
}
