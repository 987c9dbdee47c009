//! `contract_reminder`: expires contracts past their `expires_at`, creates
//! the signature reminders due (the database refuses a second one per
//! interval), and delivers each as a Standard Webhooks POST in its own job.

use apalis::prelude::{BoxDynError, Data};
use chrono::{Duration, Utc};
use shared::domain::contracts::{contracts, reminders};
use shared::jobs::{self, ContractReminder, ContractReminderDelivery, Schedule};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::WorkerState;
use crate::jobs::Handler;

const ACTOR: &str = "system:contract_reminder";

/// Most overdue contracts one sweep expires.
const SWEEP_BATCH: i64 = 1000;

async fn enqueue_deliveries(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), BoxDynError> {
    for id in ids {
        jobs::enqueue(
            &mut *conn,
            &ContractReminderDelivery { reminder_id: *id },
            Schedule::now(),
        )
        .await?;
    }
    Ok(())
}

impl Handler for ContractReminder {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let policy = state.contract_reminders;
        match self.contract_id {
            Some(id) => {
                let mut tx = state.pool.begin().await?;
                let expired = contracts::expire_if_due(&mut tx, id, ACTOR).await?;
                let created = reminders::plan(&mut tx, policy, Some(id)).await?;
                enqueue_deliveries(&mut tx, &created).await?;
                if let Some(at) = reminders::next_due(&mut tx, policy, id).await? {
                    let at = at.max(Utc::now() + Duration::seconds(1));
                    ContractReminder::enqueue_for(&mut tx, id, Some(at)).await?;
                }
                tx.commit().await?;
                tracing::debug!(contract = %id, expired, reminders = created.len(), "contract reminder");
            }
            None => {
                let overdue = {
                    let mut conn = state.pool.acquire().await?;
                    contracts::overdue(&mut conn, SWEEP_BATCH).await?
                };
                let mut expired = 0;
                for id in overdue {
                    let mut tx = state.pool.begin().await?;
                    expired += usize::from(contracts::expire_if_due(&mut tx, id, ACTOR).await?);
                    tx.commit().await?;
                }
                let mut tx = state.pool.begin().await?;
                let created = reminders::plan(&mut tx, policy, None).await?;
                enqueue_deliveries(&mut tx, &created).await?;
                tx.commit().await?;
                tracing::info!(
                    expired,
                    reminders = created.len(),
                    "contract reminder sweep"
                );
            }
        }
        Ok(())
    }
}

/// Delivers one reminder. The row lock is not held during the POST; the
/// reminder's id is the `webhook-id` of every attempt, so a receiver that
/// saw an attempt whose answer was lost can drop the repeat.
impl Handler for ContractReminderDelivery {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let max = state.contract_reminders.max;
        let notice = {
            let mut conn = state.pool.acquire().await?;
            reminders::pending_notice(&mut conn, self.reminder_id, max).await?
        };
        let Some(notice) = notice else {
            return Ok(());
        };
        let Some(url) = &state.notifications.url else {
            tracing::info!(
                reminder = %notice.reminder_id,
                contract = %notice.contract_id,
                signer = %notice.signer_id,
                number = notice.reminder_number,
                "signature reminder (NOTIFICATIONS_WEBHOOK_URL is unset, so it is only logged)"
            );
            let mut tx = state.pool.begin().await?;
            reminders::delivered(&mut tx, &notice, ACTOR, "log", None).await?;
            tx.commit().await?;
            return Ok(());
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "type": "contract.signature_reminder",
            "timestamp": Utc::now(),
            "data": notice,
        }))?;
        let id = notice.reminder_id.to_string();
        let outcome = shared::webhooks::post(
            &state.http,
            url,
            &state.notifier,
            &id,
            body,
            state.notifications.timeout,
        )
        .await;
        let mut tx = state.pool.begin().await?;
        let result = match outcome {
            Ok(attempt) if attempt.succeeded() => {
                reminders::delivered(&mut tx, &notice, ACTOR, "webhook", Some(attempt.status))
                    .await?;
                Ok(())
            }
            Ok(attempt) => {
                let error = format!(
                    "the notification endpoint answered {}: {}",
                    attempt.status, attempt.excerpt
                );
                reminders::failed(&mut tx, notice.reminder_id, &error).await?;
                Err(error)
            }
            Err(e) => {
                let error = format!("the notification endpoint did not answer: {e}");
                reminders::failed(&mut tx, notice.reminder_id, &error).await?;
                Err(error)
            }
        };
        tx.commit().await?;
        result.map_err(Into::into)
    }
}
