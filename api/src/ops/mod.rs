//! Operations, in one place: the job dashboard's pages and compiled-in
//! assets (`/ops`, [`pages`]) and its JSON API with the queue canaries
//! (`/internal/ops/*`, [`api`], mounted behind the internal key). The SQL
//! behind both is `shared::ops`.

pub mod api;
pub mod pages;

pub use pages::router;
