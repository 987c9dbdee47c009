//! `read_model_refresh` and the nightly `read_model_rebuild`: keep the
//! read models current (rules in `shared::domain::read_models`).

use apalis::prelude::{BoxDynError, Data};
use shared::domain::read_models::{self, Model};
use shared::jobs::{ReadModelRebuild, ReadModelRefresh};

use crate::WorkerState;
use crate::jobs::Handler;

/// Dirty keys rewritten per transaction.
const DRAIN_BATCH: i64 = 200;
/// Keys per transaction of the full rebuild.
const REBUILD_BATCH: i64 = 1000;

fn model(name: &str) -> Result<Model, BoxDynError> {
    Model::ALL
        .into_iter()
        .find(|m| m.as_str() == name)
        .ok_or_else(|| format!("unknown read model {name:?}").into())
}

/// Drains one model's dirty set: each batch is taken off it and rewritten
/// in one transaction, so a failure leaves it dirty for the retry.
impl Handler for ReadModelRefresh {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        let model = model(&self.model)?;
        let mut total = 0;
        loop {
            let mut tx = state.pool.begin().await?;
            let keys = read_models::drain(&mut tx, model, DRAIN_BATCH).await?;
            if keys.is_empty() {
                break;
            }
            read_models::refresh(&mut tx, model, &keys).await?;
            tx.commit().await?;
            total += keys.len();
        }
        // Keys a writer still held were skipped: they get another run.
        let mut conn = state.pool.acquire().await?;
        if read_models::pending(&mut conn, model).await? {
            read_models::enqueue_refresh(&mut conn, model).await?;
        }
        tracing::debug!(
            model = self.model,
            refreshed = total,
            "read_model_refresh done"
        );
        Ok(())
    }
}

/// Every key of every model, a batch per transaction.
impl Handler for ReadModelRebuild {
    async fn run(self, state: Data<WorkerState>) -> Result<(), BoxDynError> {
        for model in Model::ALL {
            let mut after = None;
            let mut batches = 0;
            loop {
                let mut tx = state.pool.begin().await?;
                let last = read_models::rebuild_batch(&mut tx, model, after, REBUILD_BATCH).await?;
                tx.commit().await?;
                match last {
                    Some(key) => {
                        after = Some(key);
                        batches += 1;
                    }
                    None => break,
                }
            }
            tracing::info!(
                tick = self.tick,
                model = model.as_str(),
                batches,
                "read_model_rebuild done"
            );
        }
        Ok(())
    }
}
