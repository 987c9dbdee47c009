//! Handlers, one module per capability area.

pub mod artists;
pub mod availability;
pub mod bookings;
pub mod companies;
pub mod contracts;
pub mod dashboards;
pub mod events;
pub mod finance;
pub mod health;
pub mod holds;
pub mod imports;
pub mod itinerary;
pub mod logistics;
pub mod me;
pub mod offers;
pub mod ownership;
pub mod ownership_admin;
pub mod people;
pub mod privacy;
pub mod provider_refs;
pub mod reference;
pub mod relationships;
pub mod representation;
pub mod requests;
pub mod shortlists;
pub mod tours;
