//! What every status machine shares (STYLE.md, "State machines are
//! types"): its states, one `apply`, and the from-state guard of a
//! set-based update derived from `apply`, so that the SQL and the enum
//! cannot disagree about which rows an event may move.

use crate::DomainError;

/// A status enum mirrored by a text column with a CHECK constraint.
pub trait Machine: Copy + Eq + std::fmt::Debug + 'static {
    type Event: Copy + std::fmt::Debug;
    /// Every state, in the order of the column's CHECK.
    const ALL: &'static [Self];
    /// The state's name in the column.
    fn name(self) -> &'static str;
    /// The one transition function.
    fn step(self, event: Self::Event) -> Result<Self, DomainError>;

    /// The states `event` may leave, by name, to bind as `status = ANY($n)`.
    fn sources(event: Self::Event) -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|s| s.step(event).is_ok())
            .map(|s| s.name())
            .collect()
    }

    /// The guard of a set-based update: the states `event` may leave and
    /// the one state it leads to from each of them.
    fn set_transition(event: Self::Event) -> Result<SetTransition<Self>, DomainError> {
        let mut to = None;
        for from in Self::ALL {
            if let Ok(next) = from.step(event) {
                match to {
                    Some(seen) if seen != next => {
                        return Err(DomainError::Internal(anyhow::anyhow!(
                            "{event:?} leads to more than one state; it cannot be one set-based update"
                        )));
                    }
                    _ => to = Some(next),
                }
            }
        }
        let to =
            to.ok_or_else(|| DomainError::Internal(anyhow::anyhow!("{event:?} leaves no state")))?;
        Ok(SetTransition {
            from: Self::sources(event),
            to,
        })
    }
}

/// `UPDATE ... SET status = to WHERE ... AND status = ANY(from)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetTransition<S> {
    pub from: Vec<&'static str>,
    pub to: S,
}

/// Checks a machine exhaustively: every state under every event leads
/// exactly where `allowed` says, and is refused with a 409 and a problem
/// code everywhere else.
#[cfg(test)]
pub fn assert_exhaustive<S: Machine>(events: &[S::Event], allowed: &[(S, S::Event, S)])
where
    S::Event: PartialEq,
{
    for &from in S::ALL {
        for &event in events {
            let expected = allowed
                .iter()
                .find(|(f, e, _)| *f == from && *e == event)
                .map(|(_, _, to)| *to);
            match (from.step(event), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want, "{from:?} {event:?}"),
                (Err(DomainError::Conflict { .. }), None) => {}
                (got, want) => panic!("{from:?} {event:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
