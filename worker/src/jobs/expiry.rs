//! Expiry of holds, offers and booking requests: one job per record,
//! scheduled for its due time, and the sweep that backs them up.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use shared::domain::booking::{holds, offers, requests};
use shared::jobs::{ExpirySweep, HoldExpiry, OfferExpiry, RequestExpiry};

use crate::WorkerState;

/// Most overdue offers and requests one sweep run expires.
const SWEEP_BATCH: i64 = 5000;

/// Holds expired per transaction by the sweep, and by a hold's own job on
/// top of its hold, so a burst of holds due at once costs a commit per
/// batch rather than per hold.
const HOLD_BATCH: i64 = 100;

pub async fn hold(job: HoldExpiry, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    const ACTOR: &str = "system:hold_expiry";
    let mut tx = state.pool.begin().await?;
    let expired = holds::expire_if_due(&mut tx, job.hold_id, ACTOR).await?;
    let others = if expired {
        holds::expire_due(&mut tx, HOLD_BATCH, ACTOR).await?
    } else {
        0
    };
    tx.commit().await?;
    tracing::debug!(hold = %job.hold_id, expired, others, "hold expiry");
    Ok(())
}

pub async fn offer(job: OfferExpiry, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let expired = offers::expire_if_due(&mut tx, job.offer_id, "system:offer_expiry").await?;
    tx.commit().await?;
    tracing::debug!(offer = %job.offer_id, expired, "offer expiry");
    Ok(())
}

pub async fn request(job: RequestExpiry, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let mut tx = state.pool.begin().await?;
    let expired = requests::expire_if_due(&mut tx, job.request_id, "system:request_expiry").await?;
    tx.commit().await?;
    tracing::debug!(request = %job.request_id, expired, "request expiry");
    Ok(())
}

pub async fn tick(tick: Tick, state: Data<WorkerState>) -> Result<(), BoxDynError> {
    let at = i64::try_from(tick.get_timestamp())?;
    let mut conn = state.pool.acquire().await?;
    ExpirySweep::enqueue_tick(&mut conn, at).await?;
    Ok(())
}

/// Expires every overdue hold (in batches of `HOLD_BATCH` per transaction),
/// offer and request (each in its own transaction).
pub async fn sweep(job: ExpirySweep, state: Data<WorkerState>) -> Result<(), BoxDynError> {
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
            tick = job.tick,
            holds = expired[0],
            offers = expired[1],
            requests = expired[2],
            "expiry sweep"
        );
    }
    Ok(())
}
