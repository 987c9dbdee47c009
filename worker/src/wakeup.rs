//! One `LISTEN` connection for all queues. Every statement that inserts due
//! jobs notifies `apalis::job::insert` once per queue among them, with the
//! queue's name (a statement trigger); this wakes that queue's worker to
//! fetch at once instead of at its next interval poll. A fetch that finds
//! jobs fetches again, so one wake-up serves a batch of any size.
//!
//! apalis-postgres's own `Pubsub` opens a listener per queue, each holding a
//! pooled connection for good, so the pool shrinks as queues are added.
//! Here one task holds one connection and wakes queues through `Notify`,
//! which keeps a wake-up that arrives while the worker is busy. After the
//! listener reconnects, every queue is woken, since notifications sent
//! while it was down are lost.
//!
//! Each queue also counts its wake-ups: apalis spends a wake-up on whatever
//! fetch is in flight, even one whose snapshot predates the job, so the
//! queue's storage compares the count before and after an empty fetch and
//! fetches again when it moved (see `queue`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::Stream;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;

const CHANNEL: &str = "apalis::job::insert";

#[derive(Clone)]
pub struct Wakeups {
    queues: Arc<HashMap<&'static str, Queue>>,
}

#[derive(Default)]
struct Queue {
    notify: Arc<Notify>,
    count: Arc<AtomicU64>,
}

impl Queue {
    /// Counts first, so a fetch that sees the wake-up's effect cannot miss
    /// its count.
    fn wake(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
        self.notify.notify_one();
    }
}

#[derive(Deserialize)]
struct InsertEvent {
    job_type: String,
}

impl Wakeups {
    /// Starts the listener task for `queues`.
    pub fn spawn(pool: PgPool, queues: &[&'static str]) -> Self {
        let wakeups = Self {
            queues: Arc::new(queues.iter().map(|q| (*q, Queue::default())).collect()),
        };
        tokio::spawn(wakeups.clone().listen(pool));
        wakeups
    }

    /// The wake-ups of `queue`, as a stream for a poll strategy.
    pub fn stream(&self, queue: &str) -> impl Stream<Item = ()> + Unpin + Send + Sync + 'static {
        let notify = self
            .queues
            .get(queue)
            .map(|q| q.notify.clone())
            .unwrap_or_default();
        Box::pin(futures::stream::unfold(notify, |notify| async move {
            notify.notified().await;
            Some(((), notify))
        }))
    }

    /// How many wake-ups `queue` has had.
    pub fn count(&self, queue: &str) -> Arc<AtomicU64> {
        self.queues
            .get(queue)
            .map(|q| q.count.clone())
            .unwrap_or_default()
    }

    fn wake_all(&self) {
        for queue in self.queues.values() {
            queue.wake();
        }
    }

    async fn listen(self, pool: PgPool) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.listen_once(&pool).await {
                Ok(()) => delay = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?delay, "job notification listener lost");
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    /// Listens until the connection fails.
    async fn listen_once(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        self.wake_all();
        loop {
            let notification = listener.recv().await?;
            match serde_json::from_str::<InsertEvent>(notification.payload()) {
                Ok(event) => {
                    if let Some(queue) = self.queues.get(event.job_type.as_str()) {
                        queue.wake();
                    }
                }
                Err(error) => tracing::debug!(%error, "unreadable job notification"),
            }
        }
    }
}
