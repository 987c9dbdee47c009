//! Job handlers, one module per area: each implements [`Handler`] for its
//! job types (decode, call `shared::domain`, done). The registry in
//! `shared::jobs` lists every job type; the worker registers a handler for
//! each, so a listed type without a [`Handler`] impl does not compile.

use std::future::Future;

use apalis::prelude::{BoxDynError, Data};
use shared::config::WorkerConfig;
use shared::jobs::Job;

use crate::WorkerState;

pub mod contracts;
pub mod expiry;
pub mod finance;
pub mod maintenance;
pub mod queue_canary;
pub mod read_models;
pub mod trust;

/// How the worker runs one job type. Idempotent: a job may run twice
/// (see `shared::jobs`).
pub trait Handler: Job {
    fn run(self, state: Data<WorkerState>) -> impl Future<Output = Result<(), BoxDynError>> + Send;

    /// Jobs of this type the process runs at once.
    fn concurrency(config: &WorkerConfig) -> usize {
        config.concurrency
    }
}

/// `shared::jobs::Noop`: nothing to do.
impl Handler for shared::jobs::Noop {
    async fn run(self, _state: Data<WorkerState>) -> Result<(), BoxDynError> {
        Ok(())
    }
}
