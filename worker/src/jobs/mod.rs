//! Job handlers, one module per job: decode, call `shared::domain`, done.

pub mod contracts;
pub mod expiry;
pub mod finance;
pub mod maintenance;
pub mod queue_canary;
pub mod read_models;
pub mod trust;

/// `shared::jobs::Noop`: nothing to do.
pub async fn noop(
    _job: shared::jobs::Noop,
    _state: apalis::prelude::Data<crate::WorkerState>,
) -> Result<(), apalis::prelude::BoxDynError> {
    Ok(())
}
