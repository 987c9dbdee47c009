//! `trust_score` and the nightly `trust_sweep`: recompute trust and
//! relationship memory (rules in `shared::domain::relationships`).

use apalis::prelude::{BoxDynError, Data};
use chrono::Utc;
use shared::domain::relationships::refresh;
use shared::jobs::{TrustScore, TrustSweep};

use crate::WorkerState;
use crate::jobs::Handler;

/// Dirty companies recomputed per transaction.
const DRAIN_BATCH: i64 = 100;
/// Companies per transaction of the full sweep.
const SWEEP_BATCH: i64 = 500;

/// Drains the dirty set: each batch is taken off it, recomputed and
/// stored in one transaction, so a failure leaves it dirty for the retry.
impl Handler for TrustScore {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let mut total = 0;
        loop {
            let mut tx = state.pool.begin().await?;
            let ids = refresh::drain(&mut tx, DRAIN_BATCH).await?;
            if ids.is_empty() {
                break;
            }
            refresh::refresh(&mut tx, &ids, Utc::now()).await?;
            tx.commit().await?;
            let mut tx = state.pool.begin().await?;
            refresh::mark_artists_of(&mut tx, &ids).await?;
            tx.commit().await?;
            total += ids.len();
        }
        // Companies a writer still held were skipped: they get another run.
        let mut conn = state.pool.acquire().await?;
        refresh::requeue_if_pending(&mut conn).await?;
        tracing::debug!(woken_by = %self.company_id, recomputed = total, "trust_score done");
        Ok(())
    }
}

/// Every company, in id order, a batch per transaction.
impl Handler for TrustSweep {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let now = Utc::now();
        let mut after = None;
        let mut batches = 0;
        loop {
            let mut tx = state.pool.begin().await?;
            let swept = refresh::sweep_batch(&mut tx, after, SWEEP_BATCH, now).await?;
            tx.commit().await?;
            let Some(&last) = swept.last() else {
                break;
            };
            let mut tx = state.pool.begin().await?;
            refresh::mark_artists_of(&mut tx, &swept).await?;
            tx.commit().await?;
            after = Some(last);
            batches += 1;
        }
        tracing::info!(tick = self.tick, batches, "trust_sweep done");
        Ok(())
    }
}
