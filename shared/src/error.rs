//! The domain error: what went wrong in terms a client can act on.
//!
//! Policy: domain and repository code return [`DomainError`]; the API renders
//! it once as RFC 9457 problem+json. Database constraint violations are mapped
//! to stable codes in one table ([`constraint_code`]), never per handler.
//! `Internal` carries the cause for the log and shows nothing of it to clients.

use serde::Serialize;
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
    Conflict { code: &'static str, detail: String },
    #[error("precondition failed: the record changed since it was read")]
    StaleVersion,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unprocessable ({code}): {detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl DomainError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// Stable problem codes for named database constraints: the constraint is
/// what makes an invariant true under concurrency, this table is what a client
/// is told when it trips. Add a row with each constraint a migration adds.
const CONSTRAINT_CODES: &[(&str, &str, &str)] = &[
    (
        "idempotency_keys_pkey",
        "idempotency_conflict",
        "a request with this Idempotency-Key is already recorded",
    ),
    (
        "shortlists_org_name_uniq",
        "shortlist_name_taken",
        "this org already has a shortlist with that name",
    ),
];

/// The problem code and message for a violated constraint, if it is known.
pub fn constraint_code(constraint: &str) -> Option<(&'static str, &'static str)> {
    CONSTRAINT_CODES
        .iter()
        .find(|(name, _, _)| *name == constraint)
        .map(|(_, code, detail)| (*code, *detail))
}

impl From<sqlx::Error> for DomainError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::RowNotFound = err {
            return Self::NotFound;
        }
        if let Some(db) = err.as_database_error() {
            if let Some((code, detail)) = db.constraint().and_then(constraint_code) {
                return Self::conflict(code, detail);
            }
            match db.code().as_deref() {
                // unique_violation, exclusion_violation
                Some("23505" | "23P01") => {
                    return Self::conflict(
                        "conflict",
                        "the change conflicts with an existing record",
                    );
                }
                // serialization_failure, deadlock_detected
                Some("40001" | "40P01") => {
                    return Self::conflict(
                        "concurrent_update",
                        "a concurrent change won; retry the request",
                    );
                }
                _ => {}
            }
        }
        Self::Internal(err.into())
    }
}
