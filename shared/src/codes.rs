//! The problem-code table: every stable `code` a problem+json answer can
//! carry, with the status it comes with and what it means. Clients switch
//! on these strings, so a code is never renamed or reused; docs/http-api.md
//! lists them all (a test keeps that list in step).

macro_rules! codes {
    ($($variant:ident => $code:literal, $status:literal, $meaning:literal;)*) => {
        /// A stable problem code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as clients see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// The HTTP status this code is answered with.
            pub fn status(self) -> u16 {
                match self {
                    $(Code::$variant => $status,)*
                }
            }

            /// What the code means.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    NotFound => "not_found", 404, "the record does not exist, or the caller may not see it (other tenants' ids answer exactly like unknown ones)";
    RouteNotFound => "route_not_found", 404, "no such route";
    MethodNotAllowed => "method_not_allowed", 405, "the route does not take this method";
    Forbidden => "forbidden", 403, "the caller's org may see the record but not do this to it (for example, it is not the party whose turn it is)";
    PermissionDenied => "permission_denied", 403, "the caller's role or permissions lack the `artist.*` key this needs";
    NotAMember => "not_a_member", 403, "the caller is not a member of the org named by `x-org`";
    MissingToken => "missing_token", 401, "no bearer token";
    InvalidToken => "invalid_token", 401, "the bearer token is malformed, forged, expired or not yet valid";
    InternalKeyRequired => "internal_key_required", 401, "an `/internal` route called without the internal key";
    InvalidInternalKey => "invalid_internal_key", 401, "the internal key does not match";
    WebhookSignatureInvalid => "webhook_signature_invalid", 401, "an inbound webhook (`/internal/finance/events`) lacks a `webhook-*` header, its signature matches no configured secret, or its timestamp is more than 5 minutes off";
    CsrfHeaderRequired => "csrf_header_required", 403, "an ops write with the session cookie lacks the `x-ops-csrf` header";
    MissingOrgHeader => "missing_org_header", 400, "a tenant route called without `x-org`";
    InvalidOrgHeader => "invalid_org_header", 400, "`x-org` is not a UUID";
    InvalidConsistencyToken => "invalid_consistency_token", 400, "`Consistency-Token` is not a token a write answered";
    BadRequest => "bad_request", 400, "the request is malformed";
    InvalidJson => "invalid_json", 400, "the body is not JSON";
    InvalidBody => "invalid_body", 422, "the JSON does not fit the request schema (wrong type, unknown field or enum value)";
    InvalidPath => "invalid_path", 400, "a path parameter is malformed (for example, not a UUID)";
    InvalidQuery => "invalid_query", 400, "a query parameter is malformed";
    InvalidIdempotencyKey => "invalid_idempotency_key", 400, "`Idempotency-Key` is empty, too long or not visible ASCII";
    UnsupportedMediaType => "unsupported_media_type", 415, "the body is not `application/json`";
    BodyTooLarge => "body_too_large", 413, "the body is larger than `BODY_LIMIT_BYTES`";
    ValidationFailed => "validation_failed", 422, "fields are invalid; `errors` names each one";
    UnknownReference => "unknown_reference", 422, "the request refers to a record that does not exist";
    InvalidValue => "invalid_value", 422, "a value cannot be stored (out of range, or invalid characters)";
    NotAnAgency => "not_an_agency", 422, "a takeover names a company that is not an agency";
    NotARepresentingCompany => "not_a_representing_company", 422, "only agencies and management companies represent artists";
    AgencyRequiresProvisioning => "agency_requires_provisioning", 422, "an agency comes into being only through provisioning, never by a plain create or claim";
    IdempotencyKeyReused => "idempotency_key_reused", 422, "the `Idempotency-Key` was used with a different request";
    IdempotencyInProgress => "idempotency_in_progress", 409, "a request with this `Idempotency-Key` is still running";
    IdempotencyConflict => "idempotency_conflict", 409, "a request with this `Idempotency-Key` is already recorded";
    StaleVersion => "stale_version", 412, "`If-Match` names a version the record no longer has";
    InvalidTransition => "invalid_transition", 409, "the record's state does not allow this change";
    ConcurrentUpdate => "concurrent_update", 409, "a concurrent change won; read the record and retry";
    Conflict => "conflict", 409, "the change conflicts with an existing record";
    ShortlistNameTaken => "shortlist_name_taken", 409, "the org already has a shortlist with that name";
    CompanyAlreadyClaimed => "company_already_claimed", 409, "another org already owns the company";
    ClaimAlreadyPending => "claim_already_pending", 409, "the org already has a pending claim for the company";
    ClaimAlreadyOpen => "claim_already_open", 409, "the company already has an open representation claim for this artist and role";
    ClaimDisputed => "claim_disputed", 409, "a disputed claim is approved only by resolving its dispute";
    DisputeAlreadyOpen => "dispute_already_open", 409, "the claim already has an open dispute";
    RepresentationConflict => "representation_conflict", 409, "another company represents the artist in an overlapping territory";
    AlreadyAssigned => "already_assigned", 409, "the person already has this role on the artist's team";
    OrgAlreadyHasAgency => "org_already_has_agency", 409, "the org already owns an agency";
    RequestAlreadyPending => "request_already_pending", 409, "the org already has a pending agency request";
    PlatformHandleTaken => "platform_handle_taken", 409, "another artist or company already has this platform handle";
    ProviderReferenceTaken => "provider_reference_taken", 409, "this provider id already points at a record of that type";
    RequestNotOpen => "request_not_open", 409, "the booking request is no longer open";
    RequestExpired => "request_expired", 409, "the booking request expired unanswered";
    OfferExpired => "offer_expired", 409, "the offer expired; write a new one";
    OfferNotAccepted => "offer_not_accepted", 409, "only an accepted offer is confirmed into a booking";
    OfferAlreadyBooked => "offer_already_booked", 409, "the offer is already confirmed";
    DateAlreadyBooked => "date_already_booked", 409, "the artist already has a confirmed booking on this date";
    HoldPriorityTaken => "hold_priority_taken", 409, "another live hold took this priority at the same moment; retry";
    ChallengeNotPossible => "challenge_not_possible", 409, "only a live hold below a live first hold can challenge";
    ChallengeNeedsAcceptedOffer => "challenge_needs_accepted_offer", 409, "a challenge is backed by an accepted offer on the challenging hold";
    BookingInFuture => "booking_in_future", 409, "a booking is completed on or after its date";
    BookingNotConfirmed => "booking_not_confirmed", 409, "contracts and logistics are made for a confirmed booking";
    ContractAlreadyExists => "contract_already_exists", 409, "the booking already has a live contract; void it first";
    TemplateArchived => "template_archived", 409, "the contract template is archived";
    ContractNeedsSigners => "contract_needs_signers", 409, "a contract is sent with at least one signer of each party";
    SignerEmailTaken => "signer_email_taken", 409, "the contract already has a signer with this email";
    SigningOutOfOrder => "signing_out_of_order", 409, "signers of a lower order sign first";
    AlreadySigned => "already_signed", 409, "the signer has already signed or declined this version";
    ContractVersionChanged => "contract_version_changed", 409, "the signature names a version that is no longer current; read the new one";
    BookingOnTour => "booking_on_tour", 409, "the booking is already a stop of this tour";
    TourFull => "tour_full", 409, "a tour holds at most 500 stops";
    ProposalOpen => "proposal_open", 409, "the booking already has an open logistics proposal for this section; revise it or wait for its answer";
    BookingNotCompleted => "booking_not_completed", 409, "a booking is rated once it is completed";
    RatingExists => "rating_exists", 409, "this party has already rated the booking";
    FlagExists => "flag_exists", 409, "this org already has this flag on the company (for that booking)";
    AlreadyShortlisted => "already_shortlisted", 409, "the artist is already on this shortlist";
    ShortlistFull => "shortlist_full", 409, "a shortlist holds at most 500 artists";
    PlannedFailure => "planned_failure", 422, "a queue canary failing on purpose: seen among job errors on the ops page, never in an HTTP answer";
    EventsExpired => "events_expired", 410, "`after` or `Last-Event-ID` names an event older than the change feed keeps (`EVENT_RETENTION_DAYS`): reload the state and follow the feed from its head";
    TooManyStreams => "too_many_streams", 429, "the org has `EVENT_STREAMS_PER_ORG` change-feed streams open on this API process already; close one or wait `Retry-After` seconds";
    RateLimited => "rate_limited", 429, "the org sent more than `RATE_LIMIT_PER_MINUTE`; wait `Retry-After` seconds";
    ClientRateLimited => "client_rate_limited", 429, "the client address sent more than `PUBLIC_RATE_LIMIT_PER_MINUTE` to the unauthenticated routes; wait `Retry-After` seconds";
    InternalError => "internal_error", 500, "the request failed on our side; it is logged with the request id";
    AuthUnavailable => "auth_unavailable", 503, "the token's keys (JWKS) cannot be fetched";
    AccessUnavailable => "access_unavailable", 503, "Auth cannot answer for the caller's effective access";
    FinanceEventsDisabled => "finance_events_disabled", 503, "`FINANCE_EVENTS_SECRET` is not set, so Finance events cannot be verified and are refused";
    RequestTimeout => "request_timeout", 503, "the request took longer than `REQUEST_TIMEOUT_SECONDS`";
    DatabaseUnavailable => "database_unavailable", 503, "the database does not answer (down, restarting or out of connections): retry after `Retry-After` seconds, a create with its `Idempotency-Key`";
    MigrationsPending => "migrations_pending", 503, "`/readyz`: the database is not migrated to this build";
}
impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_and_map_to_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{s}"
            );
            assert!((400..600).contains(&code.status()), "{s}");
            assert!(!code.meaning().is_empty(), "{s}");
        }
    }

    #[test]
    fn the_docs_list_every_code() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/http-api.md"));
        for code in Code::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.status());
            assert!(docs.contains(&row), "docs/http-api.md lacks the row {row}");
        }
    }
}
