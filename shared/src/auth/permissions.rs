//! `artist.*` permission keys, one per capability and verb, and the table
//! that applies when a membership carries only a role.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Role;

macro_rules! permissions {
    ($($variant:ident => $key:literal),+ $(,)?) => {
        /// A capability and verb in the `artist.*` namespace.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        pub enum Permission {
            $(#[serde(rename = $key)] $variant,)+
        }

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant,)+];

            pub fn key(self) -> &'static str {
                match self { $(Permission::$variant => $key,)+ }
            }

            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions! {
    DirectoryRead => "artist.directory.read",
    DirectoryWrite => "artist.directory.write",
    RosterRead => "artist.roster.read",
    RosterWrite => "artist.roster.write",
    AvailabilityRead => "artist.availability.read",
    AvailabilityWrite => "artist.availability.write",
    BookingRead => "artist.booking.read",
    BookingWrite => "artist.booking.write",
    ContractsRead => "artist.contracts.read",
    ContractsWrite => "artist.contracts.write",
    ContractsSign => "artist.contracts.sign",
    TouringRead => "artist.touring.read",
    TouringWrite => "artist.touring.write",
    LogisticsRead => "artist.logistics.read",
    LogisticsWrite => "artist.logistics.write",
    LogisticsApprove => "artist.logistics.approve",
    RelationshipsRead => "artist.relationships.read",
    RelationshipsWrite => "artist.relationships.write",
    ShortlistsRead => "artist.shortlists.read",
    ShortlistsWrite => "artist.shortlists.write",
    FinanceRead => "artist.finance.read",
}

impl Permission {
    /// Whether the key only reads.
    pub fn is_read(self) -> bool {
        self.key().ends_with(".read")
    }

    /// The role-to-permissions table (documented in docs/http-api.md):
    /// owner and admin hold every key; member holds every read key and the
    /// day-to-day writes, but not representation/ownership changes, contract
    /// signing or finance; viewer holds the read keys except finance.
    pub fn granted_to(self, role: Role) -> bool {
        use Permission::*;
        match role {
            Role::Owner | Role::Admin => true,
            Role::Member => !matches!(self, RosterWrite | ContractsSign | FinanceRead),
            Role::Viewer => self.is_read() && self != FinanceRead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_are_namespaced() {
        for p in Permission::ALL {
            assert!(p.key().starts_with("artist."));
            assert_eq!(Permission::from_key(p.key()), Some(*p));
        }
        assert_eq!(Permission::from_key("venue.booking.write"), None);
    }

    #[test]
    fn viewer_only_reads() {
        for p in Permission::ALL {
            if Permission::granted_to(*p, Role::Viewer) {
                assert!(p.is_read(), "{p:?}");
            }
        }
        assert!(Permission::BookingWrite.granted_to(Role::Member));
        assert!(!Permission::ContractsSign.granted_to(Role::Member));
        assert!(Permission::ContractsSign.granted_to(Role::Admin));
    }
}
