//! One process's follower of the change feed, shared by all its streams.
//!
//! The hub holds one `LISTEN org_events` connection per process; on each
//! notification (and every [`POLL_INTERVAL`], for a transaction that held
//! the feed back and ended without writing an event) it reads the new
//! events of every org once and hands them to every stream of the process,
//! each of which keeps what its org may see. So what Postgres does grows
//! with the events written, not with the streams open.
//!
//! A stream first catches up from its cursor with [`super::page`], then
//! takes the hub's batches, skipping what it already sent: the hub only
//! hands out events below the horizon it read under, which a stream's own
//! catch-up (run after it subscribed) has reached too, so nothing falls
//! between the two and nothing is sent twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use super::{Event, Position, Stored, Viewer};
use crate::DomainError;

const CHANNEL: &str = "org_events";

/// How often the hub reads without a notification.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Events the hub reads per statement.
const BATCH: i64 = 1000;

/// Batches a slow stream may fall behind before it catches up from
/// Postgres instead.
const BACKLOG: usize = 256;

/// Events a stream catches up per statement.
const CATCH_UP: i64 = super::MAX_LIMIT;

type Batch = Arc<Vec<Stored>>;

/// The process's follower; see the module docs.
pub struct Hub {
    sender: broadcast::Sender<Batch>,
    ready: watch::Sender<bool>,
    closing: watch::Sender<bool>,
    streams: Mutex<HashMap<Uuid, usize>>,
    per_org: usize,
}

/// A stream's place among its org's streams; dropping it frees the place.
pub struct Slot {
    hub: Arc<Hub>,
    org_id: Uuid,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut streams) = self.hub.streams.lock()
            && let Some(n) = streams.get_mut(&self.org_id)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                streams.remove(&self.org_id);
            }
        }
    }
}

impl Hub {
    /// A hub allowing `per_org` streams of one org at once.
    pub fn new(per_org: usize) -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
            ready: watch::channel(false).0,
            closing: watch::channel(false).0,
            streams: Mutex::new(HashMap::new()),
            per_org,
        }
    }

    /// A place for one more stream of `org_id`, or `None` when it has
    /// `per_org` already.
    pub fn admit(self: &Arc<Self>, org_id: Uuid) -> Option<Slot> {
        let mut streams = self.streams.lock().ok()?;
        let n = streams.entry(org_id).or_default();
        if *n >= self.per_org {
            return None;
        }
        *n += 1;
        Some(Slot {
            hub: self.clone(),
            org_id,
        })
    }

    /// Ends every stream of the process (it is shutting down); clients
    /// reconnect to another replica with `Last-Event-ID`.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`Hub::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closing = self.closing.subscribe();
        async move {
            let _ = closing.wait_for(|c| *c).await;
        }
    }

    /// Reads new events on each notification and every
    /// [`POLL_INTERVAL`], and hands them to the streams. Runs until
    /// dropped.
    pub async fn follow(self: Arc<Self>, pool: PgPool) {
        let mut position = loop {
            let head = async {
                let mut conn = pool.acquire().await?;
                super::head(&mut conn).await
            };
            match head.await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: reading the head failed; retrying");
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
            }
        };
        let mut listener = None;
        loop {
            if listener.is_none() {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => listener = Some(l),
                        Err(e) => tracing::warn!(error = %e, "change feed: LISTEN failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "change feed: LISTEN failed"),
                }
            }
            // Ready once listening: a stream admitted from now on misses
            // no wake-up.
            self.ready.send_replace(true);
            match self.read(&pool, &mut position).await {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "change feed: reading events failed"),
            }
            match listener.as_mut() {
                Some(l) => {
                    tokio::select! {
                        r = l.try_recv() => if r.is_err() { listener = None },
                        () = tokio::time::sleep(POLL_INTERVAL) => {}
                    }
                }
                None => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    async fn read(&self, pool: &PgPool, position: &mut Position) -> Result<(), DomainError> {
        let mut conn = pool.acquire().await?;
        loop {
            let batch = super::since(&mut conn, *position, BATCH).await?;
            let full = i64::try_from(batch.len()).unwrap_or(i64::MAX) >= BATCH;
            let Some(last) = batch.last() else {
                return Ok(());
            };
            *position = last.position;
            // No receiver is not an error: no stream is open.
            let _ = self.sender.send(Arc::new(batch));
            if !full {
                return Ok(());
            }
        }
    }

    /// Subscribes a stream of `viewer` that has sent everything up to
    /// `after` (the head when `None`), once the hub follows the feed.
    pub async fn subscribe(
        &self,
        pool: &PgPool,
        viewer: Viewer,
        after: Option<Position>,
    ) -> Result<Subscription, DomainError> {
        let mut ready = self.ready.subscribe();
        let _ = ready.wait_for(|r| *r).await;
        let receiver = self.sender.subscribe();
        let mut conn = pool.acquire().await?;
        let sent = match after {
            Some(p) => {
                super::require_retained(&mut conn, p).await?;
                p
            }
            None => super::head(&mut conn).await?,
        };
        Ok(Subscription {
            receiver,
            viewer,
            sent,
            caught_up: false,
        })
    }
}

/// One stream's view of the feed.
pub struct Subscription {
    receiver: broadcast::Receiver<Batch>,
    viewer: Viewer,
    sent: Position,
    caught_up: bool,
}

impl Subscription {
    /// The next events of the stream, oldest first (never empty); `None`
    /// when the hub is gone.
    pub async fn next(&mut self, pool: &PgPool) -> Result<Option<Vec<Event>>, DomainError> {
        loop {
            if !self.caught_up {
                let mut conn = pool.acquire().await?;
                let page = super::page(&mut conn, &self.viewer, Some(self.sent), CATCH_UP).await?;
                let full = i64::try_from(page.len()).unwrap_or(i64::MAX) >= CATCH_UP;
                self.caught_up = !full;
                if let Some(last) = page.last() {
                    self.sent = last.id.parse()?;
                    return Ok(Some(page));
                }
                continue;
            }
            match self.receiver.recv().await {
                Ok(batch) => {
                    let events: Vec<Event> = batch
                        .iter()
                        .filter(|s| s.position > self.sent && self.viewer.sees(s))
                        .map(|s| s.event.clone())
                        .collect();
                    if let Some(last) = batch.last() {
                        self.sent = self.sent.max(last.position);
                    }
                    if !events.is_empty() {
                        return Ok(Some(events));
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => self.caught_up = false,
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }
}
