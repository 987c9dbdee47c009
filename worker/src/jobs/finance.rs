//! `finance_handoff`: delivers one attempt of a booking's handoff to
//! Finance (a Standard Webhooks POST), records it, and enqueues the next
//! attempt when it failed; the rules are in
//! `shared::domain::finance::handoff`.

use std::time::Instant;

use apalis::prelude::{BoxDynError, Data};
use chrono::Utc;
use shared::config::WorkerConfig;
use shared::domain::finance::handoff::{self, AttemptRecord, Outcome};
use shared::jobs::FinanceHandoff;

use crate::WorkerState;
use crate::jobs::Handler;

/// How long a handoff waits for an earlier one of its booking before it
/// looks again.
const EARLIER_WAIT_SECONDS: i64 = 5;

impl Handler for FinanceHandoff {
    /// `FINANCE_CONCURRENCY`: a delivery mostly waits for Finance.
    fn concurrency(config: &WorkerConfig) -> usize {
        config.finance.concurrency
    }

    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let mut conn = state.pool.acquire().await?;
        let Some(delivery) = handoff::delivery(&mut conn, self.handoff_id).await? else {
            return Ok(());
        };
        if !delivery.is_due(self.attempt) {
            return Ok(());
        }
        let attempt = delivery.attempts + 1;
        let Some(url) =
            handoff::destination(&mut conn, &delivery, state.finance.url.as_ref()).await?
        else {
            return Ok(());
        };
        // A booking's changes reach Finance in order: wait for an earlier one.
        if delivery.earlier_in_flight {
            let at = Utc::now() + chrono::Duration::seconds(EARLIER_WAIT_SECONDS);
            FinanceHandoff::enqueue_waiting(&mut conn, delivery.id, self.attempt, at).await?;
            return Ok(());
        }
        drop(conn);
        let started = Instant::now();
        let result = shared::webhooks::post(
            &state.http,
            url,
            &state.finance_signer,
            &delivery.webhook_id,
            delivery.payload,
            state.finance.timeout,
        )
        .await;
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let (status, retry_after, excerpt, error) = match &result {
            Ok(a) => (
                Some(a.status),
                a.retry_after,
                Some(a.excerpt.as_str()),
                (!a.succeeded()).then(|| format!("Finance answered {}", a.status)),
            ),
            Err(e) => (None, None, None, Some(format!("no answer: {e:#}"))),
        };
        let outcome = handoff::outcome(
            status,
            retry_after,
            attempt,
            &state.finance.retry_schedule,
            Utc::now(),
        );
        let mut conn = state.pool.acquire().await?;
        handoff::settle(
            &mut conn,
            delivery.id,
            delivery.status,
            AttemptRecord {
                attempt,
                status_code: status.map(i32::from),
                duration_ms,
                error: error.as_deref(),
                excerpt,
                worker: &state.instance,
            },
            &outcome,
        )
        .await?;
        drop(conn);
        match outcome {
            Outcome::Dead => Err(format!(
                "finance handoff {} failed its last attempt ({}): {}",
                delivery.webhook_id,
                attempt,
                error.unwrap_or_default()
            )
            .into()),
            _ => Ok(()),
        }
    }
}
