//! Scheduled housekeeping, and the cron tick that enqueues it.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use shared::jobs::Maintenance;

use crate::WorkerState;

/// On every replica at each tick: enqueue the tick's run (deduplicated).
pub async fn tick(tick: Tick, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let at = i64::try_from(tick.get_timestamp())?;
    let mut conn = state.pool.acquire().await?;
    let enqueued = Maintenance::enqueue_tick(&mut conn, at).await?;
    tracing::debug!(tick = at, enqueued, "maintenance tick");
    Ok(())
}

/// Once per tick across replicas: prune what has expired.
pub async fn run(job: Maintenance, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let pruned = shared::idempotency::prune_expired(&state.pool).await?;
    tracing::info!(tick = job.tick, pruned, "maintenance done");
    Ok(())
}
