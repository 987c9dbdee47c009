//! Scheduled housekeeping.

use apalis::prelude::{BoxDynError, Data};
use shared::jobs::Maintenance;

use crate::WorkerState;
use crate::jobs::Handler;

/// Done jobs deleted per statement, so pruning a backlog never holds long
/// locks or one huge transaction.
const PRUNE_BATCH: i64 = 5000;

/// Most stranded Finance handoffs one run resumes.
const STRANDED_BATCH: i64 = 1000;

/// Once per tick across replicas: add the history tables' partitions of the
/// coming months and, when configured, archive old ones
/// ([`shared::history`]); prune expired idempotency records, done
/// jobs past the retention period, expired dashboard sessions, full rate
/// limit buckets, the rows of worker processes long gone and personal
/// data past its retention ([`shared::privacy::retention`]) and change-feed
/// events past theirs ([`shared::domain::events`]), and
/// resume Finance handoffs, trust recomputations and read-model refreshes
/// no job would move.
impl Handler for Maintenance {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let partitions_created = {
            let mut conn = state.pool.acquire().await?;
            shared::history::ensure_partitions(&mut conn, chrono::Utc::now()).await?
        };
        let pruned = shared::idempotency::prune_expired(&state.pool).await?;
        let retention = chrono::Duration::from_std(state.job_retention)?;
        let mut jobs_pruned = 0;
        loop {
            let mut conn = state.pool.acquire().await?;
            let n = shared::ops::prune_done(&mut conn, retention, PRUNE_BATCH).await?;
            jobs_pruned += n;
            if n < u64::try_from(PRUNE_BATCH).unwrap_or(u64::MAX) {
                break;
            }
        }
        let handoffs_resumed = {
            let mut tx = state.pool.begin().await?;
            let found = shared::domain::finance::handoff::stranded(
                &mut tx,
                state.finance.url.is_some(),
                STRANDED_BATCH,
            )
            .await?;
            tx.commit().await?;
            found.len()
        };
        let trust_resumed = {
            let mut conn = state.pool.acquire().await?;
            shared::domain::relationships::refresh::resume_stranded(&mut conn).await?
        };
        let personal_data = {
            let mut tx = state.pool.begin().await?;
            let pruned =
                shared::privacy::retention::prune(&mut tx, state.retention, chrono::Utc::now())
                    .await?;
            tx.commit().await?;
            pruned
        };
        let events_pruned = {
            let mut conn = state.pool.acquire().await?;
            shared::domain::events::prune(&mut conn, state.event_retention, chrono::Utc::now())
                .await?
        };
        let rate_limits_pruned = shared::rate_limit::prune(&state.pool).await?;
        let workers_pruned = shared::ops::fleet::prune_workers(&state.pool).await?;
        let read_models_resumed = {
            let mut conn = state.pool.acquire().await?;
            shared::domain::read_models::resume_stranded(&mut conn).await?
        };
        // Last: a detach waits for the transactions already using its table.
        let partitions_archived = match state.history_detach_after_months {
            Some(months) => shared::history::archive_older(&state.pool, months, chrono::Utc::now())
                .await?
                .len(),
            None => 0,
        };
        tracing::info!(
            partitions_created,
            partitions_archived,
            read_models_resumed,
            rate_limits_pruned,
            events_pruned,
            workers_pruned,
            tick = self.tick,
            pruned,
            jobs_pruned,
            handoffs_resumed,
            trust_resumed,
            signature_evidence_pruned = personal_data.signatures,
            audit_values_pruned = personal_data.audit_values,
            cancelled_bookings_pruned = personal_data.cancelled_bookings,
            "maintenance done"
        );
        Ok(())
    }
}
