//! Runs a queue canary (see `shared::ops::canary`).

use apalis::prelude::{BoxDynError, Data};
use shared::jobs::QueueCanary;
use shared::ops::canary;

use crate::WorkerState;
use crate::jobs::Handler;

impl Handler for QueueCanary {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        canary::run(&state.pool, self.canary_id, &state.instance).await?;
        Ok(())
    }
}
