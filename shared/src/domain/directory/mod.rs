//! Directory and identity (SPEC 5.1): companies, artists and their
//! profiles, people, platform accounts, provider references, and the
//! reference data they point at (geo, genres).

pub mod artists;
pub mod companies;
pub mod geo;
pub mod people;
pub mod platform;
pub mod provider_refs;
