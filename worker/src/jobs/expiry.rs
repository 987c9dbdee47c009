//! Expiry of holds, offers and booking requests: one job per record,
//! scheduled for its due time, and the sweep that backs them up.

use apalis::prelude::{BoxDynError, Data};
use shared::domain::booking::{holds, offers, requests};
use shared::jobs::{ExpirySweep, HoldExpiry, OfferExpiry, RequestExpiry};

use crate::WorkerState;
use crate::jobs::Handler;

/// Most overdue offers and requests one sweep run expires.
const SWEEP_BATCH: i64 = 5000;

/// Holds expired per transaction by the sweep, and by a hold's own job on
/// top of its hold, so a burst of holds due at once costs a commit per
/// batch rather than per hold.
const HOLD_BATCH: i64 = 100;

impl Handler for HoldExpiry {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        const ACTOR: &str = "system:hold_expiry";
        let mut tx = state.pool.begin().await?;
        let expired = holds::expire_if_due(&mut tx, self.hold_id, ACTOR).await?;
        let others = if expired {
            holds::expire_due(&mut tx, HOLD_BATCH, ACTOR).await?
        } else {
            0
        };
        tx.commit().await?;
        tracing::debug!(hold = %self.hold_id, expired, others, "hold expiry");
        Ok(())
    }
}

impl Handler for OfferExpiry {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let mut tx = state.pool.begin().await?;
        let expired = offers::expire_if_due(&mut tx, self.offer_id, "system:offer_expiry").await?;
        tx.commit().await?;
        tracing::debug!(offer = %self.offer_id, expired, "offer expiry");
        Ok(())
    }
}

impl Handler for RequestExpiry {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let mut tx = state.pool.begin().await?;
        let expired =
            requests::expire_if_due(&mut tx, self.request_id, "system:request_expiry").await?;
        tx.commit().await?;
        tracing::debug!(request = %self.request_id, expired, "request expiry");
        Ok(())
    }
}

/// Expires every overdue hold (in batches of `HOLD_BATCH` per transaction),
/// offer and request (each in its own transaction).
impl Handler for ExpirySweep {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        const ACTOR: &str = "system:expiry_sweep";
        let mut expired = [0usize; 3];
        loop {
            let mut tx = state.pool.begin().await?;
            let n = holds::expire_due(&mut tx, HOLD_BATCH, ACTOR).await?;
            tx.commit().await?;
            expired[0] += n;
            if n == 0 {
                break;
            }
        }
        let (due_offers, due_requests) = {
            let mut conn = state.pool.acquire().await?;
            (
                offers::overdue(&mut conn, SWEEP_BATCH).await?,
                requests::overdue(&mut conn, SWEEP_BATCH).await?,
            )
        };
        for id in &due_offers {
            let mut tx = state.pool.begin().await?;
            expired[1] += usize::from(offers::expire_if_due(&mut tx, *id, ACTOR).await?);
            tx.commit().await?;
        }
        for id in &due_requests {
            let mut tx = state.pool.begin().await?;
            expired[2] += usize::from(requests::expire_if_due(&mut tx, *id, ACTOR).await?);
            tx.commit().await?;
        }
        if expired.iter().any(|n| *n > 0) {
            tracing::info!(
                tick = self.tick,
                holds = expired[0],
                offers = expired[1],
                requests = expired[2],
                "expiry sweep"
            );
        }
        Ok(())
    }
}
