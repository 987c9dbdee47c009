//! Hold expiry: the per-hold job and the sweep that backs it up.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use shared::domain::booking::holds;
use shared::jobs::{HoldExpiry, HoldSweep};

use crate::WorkerState;

/// Most overdue holds one sweep run expires.
const SWEEP_BATCH: i64 = 5000;

pub async fn expire(job: HoldExpiry, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let expired = holds::expire_if_due(&mut tx, job.hold_id, "system:hold_expiry").await?;
    tx.commit().await?;
    tracing::debug!(hold = %job.hold_id, expired, "hold expiry");
    Ok(())
}

pub async fn tick(tick: Tick, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let at = i64::try_from(tick.get_timestamp())?;
    let mut conn = state.pool.acquire().await?;
    HoldSweep::enqueue_tick(&mut conn, at).await?;
    Ok(())
}

/// Expires every overdue hold, each in its own transaction.
pub async fn sweep(job: HoldSweep, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let due = {
        let mut conn = state.pool.acquire().await?;
        holds::overdue(&mut conn, SWEEP_BATCH).await?
    };
    let mut expired = 0;
    for id in &due {
        let mut tx = state.pool.begin().await?;
        if holds::expire_if_due(&mut tx, *id, "system:hold_sweep").await? {
            expired += 1;
        }
        tx.commit().await?;
    }
    if expired > 0 {
        tracing::info!(tick = job.tick, expired, "hold sweep");
    }
    Ok(())
}
