//! Contract documents as HTML and PDF.
//!
//! A contract version's body is Markdown; its exact bytes are what signers
//! sign. Both renderings show the body with the contract id, the version
//! and the SHA-256 of those bytes, and one block per signer, so a printed
//! or downloaded copy can be matched to the version it claims to be. Raw
//! HTML inside the body is shown as text in both, never interpreted.
//!
//! The PDF is laid out here on top of krilla with the bundled DejaVu faces
//! (`shared/assets/fonts`) and is byte-for-byte deterministic: the same
//! document always gives the same file.

mod fonts;
mod html;
mod layout;
mod pdf;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use html::{STYLE as HTML_STYLE, html};
pub use pdf::pdf;

/// What a document shows: one version of a contract and where its signers stand.
#[derive(Clone, Copy, Debug)]
pub struct Document<'a> {
    pub title: &'a str,
    /// Markdown: the exact text of the version.
    pub body: &'a str,
    pub contract_id: Uuid,
    pub version: i32,
    /// Hex SHA-256 of `body`'s bytes.
    pub content_sha256: &'a str,
    /// The contract's status word, e.g. `signed`.
    pub status: &'a str,
    /// Shown in `order`; equal orders keep the slice's order.
    pub signers: &'a [SignatureBlock<'a>],
}

/// One signer as the document shows them.
#[derive(Clone, Copy, Debug)]
pub struct SignatureBlock<'a> {
    pub name: &'a str,
    /// Display label of the party, e.g. `Promoter` or `Agency`.
    pub party: &'a str,
    pub company: &'a str,
    pub order: i32,
    pub state: BlockState<'a>,
}

#[derive(Clone, Copy, Debug)]
pub enum BlockState<'a> {
    Awaiting,
    Signed {
        /// The name the signer typed to sign.
        typed_name: &'a str,
        at: DateTime<Utc>,
    },
    Declined {
        at: DateTime<Utc>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("a bundled font could not be read")]
    Font,
    #[error("writing the PDF failed: {0}")]
    Pdf(String),
}

/// The signers in the order the document shows them.
fn ordered<'d, 'a>(doc: &'d Document<'a>) -> Vec<&'d SignatureBlock<'a>> {
    let mut signers: Vec<_> = doc.signers.iter().collect();
    signers.sort_by_key(|signer| signer.order);
    signers
}

/// The one line saying where a signer stands, the same in HTML and PDF.
fn state_line(state: &BlockState) -> String {
    match state {
        BlockState::Awaiting => "Awaiting signature".to_owned(),
        BlockState::Signed { typed_name, at } => {
            format!(
                "Signed as \u{201c}{typed_name}\u{201d} on {}",
                timestamp(at)
            )
        }
        BlockState::Declined { at } => format!("Declined on {}", timestamp(at)),
    }
}

fn timestamp(at: &DateTime<Utc>) -> impl std::fmt::Display + use<> {
    at.format("%Y-%m-%d %H:%M:%S UTC")
}

/// The Markdown dialect of contract bodies: CommonMark, no extensions, so
/// both renderings read the same text the same way.
fn parser(body: &str) -> pulldown_cmark::Parser<'_> {
    pulldown_cmark::Parser::new_ext(body, pulldown_cmark::Options::empty())
}
