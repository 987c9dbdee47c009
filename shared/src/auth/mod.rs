//! Auth primitives. Auth (another service) issues tokens and owns
//! memberships; we verify tokens, resolve the caller's effective access to
//! the org named by `x-org`, and enforce `artist.*` permissions.

pub mod access;
pub mod internal;
pub mod jwt;
pub mod permissions;

pub use access::{AccessError, AccessResolver, OrgAccess, Role};
pub use internal::InternalKeys;
pub use jwt::{Claims, JwtError, JwtVerifier};
pub use permissions::Permission;
