//! Runs a queue canary (see `shared::domain::canary`).

use apalis::prelude::{BoxDynError, Data};
use shared::domain::canary;
use shared::jobs::QueueCanary;

use crate::WorkerState;

pub async fn run(job: QueueCanary, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    canary::run(&state.pool, job.canary_id, &state.instance).await?;
    Ok(())
}
