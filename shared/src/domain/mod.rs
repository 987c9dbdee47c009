//! Domain rules by capability area: pure types and state machines, plus a
//! repository of the area's SQL. Handlers and jobs call these; they hold no
//! rules of their own.

pub mod booking;
pub mod changes;
pub mod claims;
pub mod consequences;
pub mod contracts;
pub mod directory;
pub mod events;
pub mod finance;
pub mod logistics;
pub mod machine;
pub mod read_models;
pub mod relationships;
pub mod shortlists;
pub mod touring;

use crate::Code;
use crate::DomainError;

/// The `If-Match` precondition, checked before the request's own rules as
/// HTTP orders it (RFC 9110 13.2.2): a named version that is not the
/// record's is 412. The guarded update still decides a race.
pub fn precondition(if_match: Option<i32>, version: i32) -> Result<(), DomainError> {
    match if_match {
        Some(v) if v != version => Err(DomainError::StaleVersion),
        _ => Ok(()),
    }
}

/// What a guarded transition `UPDATE ... WHERE id = $id AND status = $from
/// AND version = $v` means when it changed `rows`: one row is the
/// transition; none means the record changed since it was read, a stale
/// `If-Match` (412) when the caller named a version, a lost race (409)
/// otherwise. Never a silent overwrite.
pub fn guarded(rows: u64, if_match: Option<i32>) -> Result<(), DomainError> {
    match (rows, if_match) {
        (1, _) => Ok(()),
        (_, Some(_)) => Err(DomainError::StaleVersion),
        (_, None) => Err(DomainError::conflict(
            Code::ConcurrentUpdate,
            "a concurrent change won; read the record again",
        )),
    }
}
