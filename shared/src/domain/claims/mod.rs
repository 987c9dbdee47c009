//! Ownership (SPEC 5.2): in-app company claims and agency provisioning, with
//! an audit row for every state change. Who owns what is read through
//! `crate::access`.

pub mod company_claims;
pub mod provisioning;
pub mod representation;
pub mod territory;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::DomainError;

/// A company claim or a provisioning request moves through these states;
/// both tables' CHECKs allow exactly these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[schema(as = OwnershipRequestStatus)]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    Withdrawn,
    Cancelled,
}

/// What happens to a pending request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    /// By the requester.
    Withdraw,
    /// By the system: the target was taken by someone else.
    Cancel,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Cancelled => "cancelled",
        }
    }

    /// The one transition function: only a pending request is decided.
    pub fn apply(self, decision: Decision) -> Result<Self, DomainError> {
        match (self, decision) {
            (Self::Pending, Decision::Approve) => Ok(Self::Approved),
            (Self::Pending, Decision::Reject) => Ok(Self::Rejected),
            (Self::Pending, Decision::Withdraw) => Ok(Self::Withdrawn),
            (Self::Pending, Decision::Cancel) => Ok(Self::Cancelled),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!(
                    "the request is {} and can no longer be decided",
                    from.as_str()
                ),
            )),
        }
    }
}

impl crate::domain::machine::Machine for RequestStatus {
    type Event = Decision;
    const ALL: &'static [Self] = &[
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::Withdrawn,
        Self::Cancelled,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, decision: Decision) -> Result<Self, DomainError> {
        self.apply(decision)
    }
}

/// The reason an operator gives to reject: required, at most 2000 characters.
pub fn rejection_reason(reason: Option<&str>) -> Result<String, DomainError> {
    let mut check = crate::validate::Check::new();
    let reason = check.opt_text("reason", reason, 2000);
    if reason.is_none() {
        check.add("reason", "is required to reject");
    }
    check.finish()?;
    Ok(reason.unwrap_or_default())
}

/// One row of the ownership audit: an entity's change, with the states it
/// moved between (by name; `None` where the entity has no state, such as a
/// roster link), who did it, for which org and why. Claims, provisioning
/// requests, representation claims and disputes, roster links and team
/// assignments all record this one shape.
#[derive(Clone, Copy, Debug)]
pub struct Audit<'a> {
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub org_id: Option<Uuid>,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
}

/// Appends an audit row.
pub async fn audit(conn: &mut PgConnection, entry: Audit<'_>) -> Result<(), DomainError> {
    sqlx::query!(
        "INSERT INTO ownership_audit (id, entity_type, entity_id, action, from_status, to_status, org_id, actor, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Uuid::now_v7(),
        entry.entity_type,
        entry.entity_id,
        entry.action,
        entry.from,
        entry.to,
        entry.org_id,
        entry.actor,
        entry.reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_requests_are_decided() {
        use Decision::*;
        use RequestStatus::*;
        assert_eq!(Pending.apply(Approve).unwrap(), Approved);
        assert_eq!(Pending.apply(Reject).unwrap(), Rejected);
        assert_eq!(Pending.apply(Withdraw).unwrap(), Withdrawn);
        assert_eq!(Pending.apply(Cancel).unwrap(), Cancelled);
        crate::domain::machine::assert_exhaustive(
            &[Approve, Reject, Withdraw, Cancel],
            &[
                (Pending, Approve, Approved),
                (Pending, Reject, Rejected),
                (Pending, Withdraw, Withdrawn),
                (Pending, Cancel, Cancelled),
            ],
        );
        // `close_competitors` rejects and cancels as set-based updates.
        use crate::domain::machine::Machine;
        for (decision, to) in [(Reject, Rejected), (Cancel, Cancelled)] {
            let set = RequestStatus::set_transition(decision).unwrap();
            assert_eq!((set.from, set.to), (vec!["pending"], to));
        }
    }
}
