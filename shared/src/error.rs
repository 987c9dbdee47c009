//! The domain error: what went wrong in terms a client can act on.
//!
//! Policy: domain and repository code return [`DomainError`]; the API renders
//! it once as RFC 9457 problem+json. Database constraint violations are mapped
//! to stable codes in one table ([`constraint_meaning`]); the codes themselves
//! are the table of [`crate::Code`].
//! `Internal` carries the cause for the log and shows nothing of it to clients.

use serde::Serialize;

use crate::Code;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict ({code}): {detail}")]
    Conflict { code: Code, detail: String },
    #[error("precondition failed: the record changed since it was read")]
    StaleVersion,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unprocessable ({code}): {detail}")]
    Unprocessable { code: Code, detail: String },
    /// What the caller asks for is no longer kept (410).
    #[error("gone ({code}): {detail}")]
    Gone { code: Code, detail: String },
    /// The database cannot be reached (down, restarting, out of
    /// connections): nothing was written, and the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    pub fn conflict(code: Code, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// What a violated constraint means to a client.
#[derive(Clone, Copy, Debug)]
pub enum ConstraintMeaning {
    /// 409 with a stable code.
    Conflict(Code, &'static str),
    /// 422 on one field (a reference that does not exist, a bad value).
    Field(&'static str, &'static str),
}

/// Named database constraints and what they mean: the constraint is what
/// makes an invariant true under concurrency, this table is what a client is
/// told when it trips. Add a row with each constraint a migration adds.
const CONSTRAINTS: &[(&str, ConstraintMeaning)] = {
    use ConstraintMeaning::{Conflict, Field};
    &[
        (
            "idempotency_keys_pkey",
            Conflict(
                Code::IdempotencyConflict,
                "a request with this Idempotency-Key is already recorded",
            ),
        ),
        (
            "shortlists_org_name_uniq",
            Conflict(
                Code::ShortlistNameTaken,
                "this org already has a shortlist with that name",
            ),
        ),
        (
            "artists_company_claims_approved_uniq",
            Conflict(
                Code::CompanyAlreadyClaimed,
                "another org already owns this company",
            ),
        ),
        (
            "representation_claims_open_uniq",
            Conflict(
                Code::ClaimAlreadyOpen,
                "this company already has an open claim for this artist and role",
            ),
        ),
        (
            "representation_disputes_open_uniq",
            Conflict(
                Code::DisputeAlreadyOpen,
                "this claim already has an open dispute",
            ),
        ),
        (
            "team_assignments_uniq",
            Conflict(
                Code::AlreadyAssigned,
                "this person already has this role on the artist's team",
            ),
        ),
        (
            "bookings_one_per_artist_day",
            Conflict(
                Code::DateAlreadyBooked,
                "the artist already has a confirmed booking on this date",
            ),
        ),
        (
            "booking_ratings_once",
            Conflict(
                Code::RatingExists,
                "this party has already rated the booking",
            ),
        ),
        (
            "relationship_flags_once",
            Conflict(
                Code::FlagExists,
                "this org already has this flag on the company (for that booking)",
            ),
        ),
        (
            "tour_stops_booking_uniq",
            Conflict(
                Code::BookingOnTour,
                "this booking is already a stop of the tour",
            ),
        ),
        (
            "contracts_one_live_per_booking",
            Conflict(
                Code::ContractAlreadyExists,
                "the booking already has a live contract; void it first",
            ),
        ),
        (
            "logistics_proposals_one_open",
            Conflict(
                Code::ProposalOpen,
                "the booking already has an open proposal for this section; revise it",
            ),
        ),
        (
            "contract_signers_email_uniq",
            Conflict(
                Code::SignerEmailTaken,
                "the contract already has a signer with this email",
            ),
        ),
        (
            "contract_signatures_once",
            Conflict(
                Code::AlreadySigned,
                "this signer has already signed this version",
            ),
        ),
        (
            "bookings_offer_id_key",
            Conflict(Code::OfferAlreadyBooked, "this offer is already confirmed"),
        ),
        (
            "holds_offer_fkey",
            Field("offer_id", "is not a known offer"),
        ),
        (
            "offers_booking_request_id_fkey",
            Field("booking_request_id", "is not a known booking request"),
        ),
        (
            "holds_live_priority_uniq",
            Conflict(
                Code::HoldPriorityTaken,
                "another live hold has this priority; retry",
            ),
        ),
        (
            "artists_company_claims_pending_uniq",
            Conflict(
                Code::ClaimAlreadyPending,
                "this org already has a pending claim for this company",
            ),
        ),
        (
            "artists_company_claims_one_agency_per_org",
            Conflict(Code::OrgAlreadyHasAgency, "this org already owns an agency"),
        ),
        (
            "artists_provisioning_requests_pending_org_uniq",
            Conflict(
                Code::RequestAlreadyPending,
                "this org already has a pending agency request",
            ),
        ),
        (
            "artists_provisioning_requests_pending_takeover_uniq",
            Conflict(
                Code::RequestAlreadyPending,
                "this org already asked to take over this agency",
            ),
        ),
        (
            "platform_accounts_artist_handle_uniq",
            Conflict(
                Code::PlatformHandleTaken,
                "another artist already has this platform handle",
            ),
        ),
        (
            "platform_accounts_company_handle_uniq",
            Conflict(
                Code::PlatformHandleTaken,
                "another company already has this platform handle",
            ),
        ),
        (
            "provider_references_uniq",
            Conflict(
                Code::ProviderReferenceTaken,
                "this provider id already points at a record of that type",
            ),
        ),
        (
            "companies_country_code_fkey",
            Field("country", "is not an ISO 3166-1 alpha-2 country code"),
        ),
        (
            "companies_city_id_fkey",
            Field("city_id", "is not a known city"),
        ),
        (
            "artists_country_code_fkey",
            Field("country", "is not an ISO 3166-1 alpha-2 country code"),
        ),
        (
            "artists_city_id_fkey",
            Field("city_id", "is not a known city"),
        ),
        (
            "artist_profiles_fee_currency_fkey",
            Field("fee_currency", "is not an ISO 4217 currency code"),
        ),
        (
            "availabilities_currency_fkey",
            Field("currency", "is not an ISO 4217 currency code"),
        ),
        (
            "offer_versions_deal_currency_fkey",
            Field("deal.currency", "is not an ISO 4217 currency code"),
        ),
        (
            "bookings_deal_currency_fkey",
            Field("deal.currency", "is not an ISO 4217 currency code"),
        ),
        (
            "offers_venue_city_fkey",
            Field("venue.city_id", "is not a known city"),
        ),
        (
            "booking_requests_venue_city_fkey",
            Field("venue.city_id", "is not a known city"),
        ),
        (
            "artist_profiles_territories_fkey",
            Field("territories", "names a country that is not in ISO 3166-1"),
        ),
        (
            "artist_profiles_draw_by_market_fkey",
            Field("draw_by_market", "names a market that does not exist"),
        ),
        (
            "availabilities_areas_fkey",
            Field("territory", "names a country or region that does not exist"),
        ),
        (
            "availabilities_market_ids_fkey",
            Field("territory.market_ids", "names a market that does not exist"),
        ),
        (
            "roster_links_areas_fkey",
            Field("territory", "names a country or region that does not exist"),
        ),
        (
            "roster_links_market_ids_fkey",
            Field("territory.market_ids", "names a market that does not exist"),
        ),
        (
            "representation_claims_areas_fkey",
            Field("territory", "names a country or region that does not exist"),
        ),
        (
            "representation_claims_market_ids_fkey",
            Field("territory.market_ids", "names a market that does not exist"),
        ),
        (
            "tour_calendar_subscriptions_live_owner_uniq",
            Conflict(
                Code::ConcurrentUpdate,
                "a concurrent request of yours subscribed to the tour; read it again",
            ),
        ),
    ]
};

/// The meaning of a violated constraint, if it is known.
pub fn constraint_meaning(constraint: &str) -> Option<ConstraintMeaning> {
    CONSTRAINTS
        .iter()
        .find(|(name, _)| *name == constraint)
        .map(|(_, meaning)| *meaning)
}

impl From<sqlx::Error> for DomainError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = err {
            return Self::NotFound;
        }
        if is_unavailable(&err) {
            return Self::Unavailable(err.to_string());
        }
        if let Some(db) = err.as_database_error() {
            match db.constraint().and_then(constraint_meaning) {
                Some(ConstraintMeaning::Conflict(code, detail)) => {
                    return Self::conflict(code, detail);
                }
                Some(ConstraintMeaning::Field(field, message)) => {
                    return Self::invalid(field, message);
                }
                None => {}
            }
            match db.code().as_deref() {
                // foreign_key_violation on an unmapped reference
                Some("23503") => {
                    return Self::Unprocessable {
                        code: Code::UnknownReference,
                        detail: "the request refers to a record that does not exist".into(),
                    };
                }
                // Data exceptions: a value Postgres cannot store (NUL in
                // text, out-of-range number or date, too long), and values
                // a CHECK constraint refuses.
                Some(code) if code.starts_with("22") || code == "23514" => {
                    return Self::Unprocessable {
                        code: Code::InvalidValue,
                        detail: "a value in the request cannot be stored (out of range or invalid characters)".into(),
                    };
                }
                // unique_violation, exclusion_violation
                Some("23505" | "23P01") => {
                    return Self::conflict(
                        Code::Conflict,
                        "the change conflicts with an existing record",
                    );
                }
                // serialization_failure, deadlock_detected
                Some("40001" | "40P01") => {
                    return Self::conflict(
                        Code::ConcurrentUpdate,
                        "a concurrent change won; retry the request",
                    );
                }
                _ => {}
            }
        }
        Self::Internal(err.into())
    }
}

/// Whether `err` means the database cannot be reached (refused or dropped
/// connections, no connection within the pool's timeout, a server shutting
/// down, starting up, out of connections, or read-only during a
/// switchover) rather than that the statement was wrong. Retrying later
/// is the remedy; a failure while committing leaves the outcome unknown,
/// which a create's `Idempotency-Key` resolves on the retry.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01-57P03: admin shutdown,
            // crash shutdown, cannot connect now; 53300: too many
            // connections; 25006: read-only transaction (a demoted primary).
            code.starts_with("08")
                || matches!(
                    code.as_ref(),
                    "57P01" | "57P02" | "57P03" | "53300" | "25006"
                )
        }),
        _ => false,
    }
}
