//! Where personal data lives: every table column and JSON field that can
//! hold it, its category, how long it is kept and what an erasure does to
//! it. The export and the erasure read only what this lists, and a test
//! (`privacy::every_personal_column_is_mapped`) fails when a migration adds
//! a column of a listed kind (a name, email, phone, IP address, user
//! agent) that neither this map nor [`NOT_PERSONAL`] mentions.

use serde::Serialize;
use utoipa::ToSchema;

/// What kind of personal data a location holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// A person's name, email, phone or role, kept to reach them.
    Contact,
    /// Who signed, from where: typed signature, IP address, user agent.
    SignatureEvidence,
    /// Names on guest lists and hotel rooms, crews on sheets.
    GuestList,
    /// Text people typed, which may name anyone.
    FreeText,
    /// The network address a request came from, tied to no one here.
    ClientAddress,
}

/// One place personal data is kept.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Location {
    /// The area of the product, as the export groups records.
    pub area: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    /// Inside a JSON column: the fields, as JSON paths (`[]` for each
    /// element); `None` for a plain column.
    pub fields: Option<&'static str>,
    pub category: Category,
    /// How long it is kept.
    pub retention: &'static str,
    /// What an erasure of the subject does to it.
    pub erasure: &'static str,
}

const UNTIL_ERASED: &str = "while the record is in use, until its subject's erasure";
const REDACTED: &str = "each occurrence of the subject's email, phone or name becomes [erased]";

macro_rules! free_text {
    ($area:literal, $table:literal, $column:literal) => {
        Location {
            area: $area,
            table: $table,
            column: $column,
            fields: None,
            category: Category::FreeText,
            retention: UNTIL_ERASED,
            erasure: REDACTED,
        }
    };
}

/// Every location of personal data.
pub const PERSONAL_DATA: &[Location] = &[
    Location {
        area: "directory",
        table: "people",
        column: "name",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "the subject's own row: becomes \"Erased contact\"",
    },
    Location {
        area: "directory",
        table: "people",
        column: "email",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "the subject's own row: emptied",
    },
    Location {
        area: "directory",
        table: "people",
        column: "phone",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "the subject's own row: emptied",
    },
    Location {
        area: "directory",
        table: "people",
        column: "title",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "the subject's own row: emptied",
    },
    Location {
        area: "directory",
        table: "people",
        column: "notes",
        fields: None,
        category: Category::FreeText,
        retention: UNTIL_ERASED,
        erasure: "the subject's own row: emptied; other rows: redacted",
    },
    Location {
        area: "directory",
        table: "companies",
        column: "email",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "emptied where it is the subject's address",
    },
    Location {
        area: "directory",
        table: "companies",
        column: "phone",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "emptied where it is the subject's number",
    },
    Location {
        area: "contracts",
        table: "contract_signers",
        column: "name",
        fields: None,
        category: Category::SignatureEvidence,
        retention: "signed contracts: for legal claims, as the signed document shows it; others: until erased",
        erasure: "kept on a sealed contract (its signature block); otherwise becomes \"Erased signer\"",
    },
    Location {
        area: "contracts",
        table: "contract_signers",
        column: "email",
        fields: None,
        category: Category::Contact,
        retention: UNTIL_ERASED,
        erasure: "becomes erased+<signer id>@erased.invalid",
    },
    Location {
        area: "contracts",
        table: "contract_signatures",
        column: "typed_name",
        fields: None,
        category: Category::SignatureEvidence,
        retention: "signed contracts: for legal claims; others: until erased",
        erasure: "kept on a sealed contract; otherwise becomes \"Erased signer\"",
    },
    Location {
        area: "contracts",
        table: "contract_signatures",
        column: "ip",
        fields: None,
        category: Category::SignatureEvidence,
        retention: "SIGNATURE_EVIDENCE_RETENTION_DAYS after signing (default 1095)",
        erasure: "emptied",
    },
    Location {
        area: "contracts",
        table: "contract_signatures",
        column: "user_agent",
        fields: None,
        category: Category::SignatureEvidence,
        retention: "SIGNATURE_EVIDENCE_RETENTION_DAYS after signing (default 1095)",
        erasure: "emptied",
    },
    Location {
        area: "contracts",
        table: "contract_audit_personal",
        column: "value",
        fields: Some(
            "the values of the audit details' keys name, email, signer_email, typed_name, ip, user_agent, reason, note",
        ),
        category: Category::SignatureEvidence,
        retention: "ip and user_agent: SIGNATURE_EVIDENCE_RETENTION_DAYS; the rest until erased",
        erasure: "the subject's values, and the IP and user agent beside them, deleted with their salts; the chain and seal stay valid",
    },
    Location {
        area: "contracts",
        table: "contract_versions",
        column: "body",
        fields: None,
        category: Category::FreeText,
        retention: "the contract's text: kept for legal claims",
        erasure: "kept: it is the document the parties agreed (or were offered); its hash is what signatures and the seal cover",
    },
    Location {
        area: "logistics",
        table: "booking_logistics",
        column: "sheet",
        fields: Some(
            "contacts[].name, contacts[].email, contacts[].phone, hotel.rooms[].guest_names[], guest_list.names[], and every notes field",
        ),
        category: Category::GuestList,
        retention: "CANCELLED_DEAL_RETENTION_DAYS after the booking is cancelled (default 365); otherwise until erased",
        erasure: "the subject's contact entries and list names removed; free text redacted",
    },
    Location {
        area: "logistics",
        table: "logistics_proposals",
        column: "content",
        fields: Some("the same fields as the sheet's section"),
        category: Category::GuestList,
        retention: "CANCELLED_DEAL_RETENTION_DAYS after the booking is cancelled (default 365); otherwise until erased",
        erasure: "the subject's contact entries and list names removed; free text redacted",
    },
    Location {
        area: "booking",
        table: "booking_activity",
        column: "details",
        fields: Some("any string (entries written before contract details were kept out of it)"),
        category: Category::FreeText,
        retention: "with the activity history",
        erasure: REDACTED,
    },
    Location {
        area: "platform",
        table: "idempotency_keys",
        column: "response_body",
        fields: Some("a stored response, for 24 hours"),
        category: Category::Contact,
        retention: "24 hours",
        erasure: "a stored response holding the subject's email, phone or name is deleted",
    },
    Location {
        area: "platform",
        table: "rate_limit_buckets",
        column: "bucket",
        fields: Some("client:<address or IPv6 /64> of the unauthenticated routes' limit"),
        category: Category::ClientAddress,
        retention: "until the bucket is full again (about a minute), then pruned by the maintenance job",
        erasure: "not searched: an address names no subject here, and it is gone within minutes",
    },
    free_text!("directory", "companies", "description"),
    free_text!("availability", "availabilities", "notes"),
    free_text!("availability", "holds", "note"),
    free_text!("booking", "offer_versions", "note"),
    free_text!("booking", "bookings", "cancel_reason"),
    free_text!("contracts", "contract_versions", "note"),
    free_text!("contracts", "contract_signers", "decline_reason"),
    free_text!("contracts", "contracts", "status_reason"),
    free_text!("contracts", "contract_templates", "description"),
    free_text!("touring", "tours", "notes"),
    free_text!("touring", "tour_stops", "notes"),
    free_text!("touring", "itinerary_items", "title"),
    free_text!("touring", "itinerary_items", "location"),
    free_text!("touring", "itinerary_items", "notes"),
    free_text!("logistics", "logistics_proposals", "note"),
    free_text!("logistics", "logistics_proposals", "comment"),
    free_text!("relationships", "relationship_notes", "body"),
    free_text!("relationships", "relationship_flags", "note"),
    free_text!("relationships", "booking_ratings", "comment"),
    free_text!("shortlists", "shortlists", "description"),
    free_text!("shortlists", "shortlist_items", "note"),
    free_text!("ownership", "artists_company_claims", "reason"),
    free_text!("ownership", "artists_provisioning_requests", "reason"),
    free_text!("ownership", "representation_claims", "reason"),
    free_text!("ownership", "representation_disputes", "reason"),
    free_text!("ownership", "representation_disputes", "resolution_note"),
];

/// Columns whose names look like personal data but hold none, and why.
pub const NOT_PERSONAL: &[(&str, &str)] = &[
    ("artists.name", "an artist's public stage name"),
    ("artists.search_name", "derived from the stage name"),
    ("artist_search.name", "read model of the stage name"),
    ("artist_search.city_name", "a city"),
    ("companies.name", "a company's trading name"),
    ("companies.search_name", "derived from the trading name"),
    ("contract_attachments.name", "a file name"),
    ("contract_templates.name", "a template's title"),
    ("cities.name", "reference data"),
    ("countries.name", "reference data"),
    ("countries.official_name", "reference data"),
    ("currencies.name", "reference data"),
    ("genres.name", "reference data"),
    ("markets.name", "reference data"),
    ("regions.name", "reference data"),
    ("history_partitions.name", "a table name"),
    ("deal_percentages_unconverted.table_name", "a table name"),
    ("ops_snapshots.name", "a snapshot's label"),
    ("shortlists.name", "a list's title"),
    ("tours.name", "a tour's title"),
];

/// Whether a column's name is of a kind that holds personal data.
pub fn is_personal_kind(column: &str) -> bool {
    const KINDS: &[&str] = &[
        "email",
        "phone",
        "name",
        "ip",
        "user_agent",
        "address",
        "guest",
    ];
    let parts: Vec<&str> = column.split('_').collect();
    KINDS.iter().any(|kind| {
        let kind_parts: Vec<&str> = kind.split('_').collect();
        parts.windows(kind_parts.len()).any(|w| {
            w.iter()
                .zip(&kind_parts)
                .all(|(p, k)| *p == *k || p.strip_suffix('s') == Some(k))
        })
    })
}

/// Whether the map mentions `table.column`, as personal or not.
pub fn mentions(table: &str, column: &str) -> bool {
    PERSONAL_DATA
        .iter()
        .any(|l| l.table == table && l.column == column)
        || NOT_PERSONAL
            .iter()
            .any(|(name, _)| *name == format!("{table}.{column}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kinds_match_whole_words() {
        for yes in [
            "email",
            "signer_email",
            "phone",
            "name",
            "typed_name",
            "ip",
            "user_agent",
            "guest_names",
            "emails",
        ] {
            assert!(is_personal_kind(yes), "{yes}");
        }
        for no in [
            "description",
            "zip",
            "shipping",
            "renamed",
            "version",
            "ip_count_x",
        ] {
            assert_eq!(is_personal_kind(no), no == "ip_count_x", "{no}");
        }
    }
}
