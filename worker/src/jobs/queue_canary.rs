//! Runs a queue canary (see `shared::ops::canary`).

use apalis::prelude::{BoxDynError, Data};
use shared::jobs::QueueCanary;
use shared::ops::canary;

use crate::WorkerState;

pub async fn run(job: QueueCanary, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    canary::run(&state.pool, job.canary_id, &state.instance).await?;
    Ok(())
}
