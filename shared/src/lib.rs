//! Everything the API and the worker share: configuration, the database pool
//! and migrations, auth primitives, the error type, job payloads and the
//! domain rules. A rule lives here once; binaries only call it.

pub mod access;
pub mod auth;
pub mod client_addr;
pub mod codes;
pub mod config;
pub mod db;
/// Only with the `demo` feature: local runs, tests and benchmarks build it,
/// the production binaries do not.
#[cfg(feature = "demo")]
pub mod demo;
pub mod domain;
pub mod error;
pub mod history;
pub mod idempotency;
pub mod jobs;
pub mod money;
pub mod ops;
pub mod pagination;
pub mod privacy;
pub mod rate_limit;
pub mod reference;
pub mod replica;
pub mod serde_util;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod unnamed;
pub mod validate;
pub mod webhooks;

pub use codes::Code;
pub use error::{DomainError, FieldError};
