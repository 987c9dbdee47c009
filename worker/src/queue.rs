//! The storage each queue's worker polls: apalis-postgres's tables and
//! worker protocol (registration, heartbeats, orphan re-run, re-enqueue of
//! unstarted jobs on shutdown, the same job states and results), with three
//! changes that keep a busy queue fast and an idle one prompt:
//!
//! - Fetch and acknowledgement statements that reach jobs through the
//!   primary key. apalis's `get_jobs` is planned for a generic batch size,
//!   so behind a backlog it hash-joins the whole jobs table, done jobs
//!   included, on every fetch; its acknowledgement finds jobs by `lock_by`,
//!   which matches every job the worker has ever run.
//! - Acknowledgements are written by a background task, everything that
//!   finished since the last write in one statement, while the worker goes
//!   on fetching and running jobs. At most four batches' worth of results
//!   wait; closing the storage (shutdown) waits until all are written; a
//!   failed write stops the worker (its unacknowledged jobs are then re-run
//!   as orphans), as a failed acknowledgement did before.
//! - A fetch that comes back empty while a wake-up for its queue arrived
//!   fetches again: the job may have committed after the fetch's snapshot,
//!   and the wake-up that announced it is spent.
//! - A fetch resumes reading the queue where the worker's previous claim
//!   ended (less a margin for jobs committed late), and reads from the start
//!   once a second. Every claimed job leaves an index entry behind until
//!   vacuum removes it, and while a long transaction holds back the
//!   cluster's xmin none is removed: a fetch that always started at the
//!   beginning walked them all, ever more of them, on every claim. Jobs that
//!   become due behind the resume point (a late commit, an orphan re-run, a
//!   higher priority) are claimed by the next read from the start.
//! - A fetch claims about 100 ms of work at the rate the worker got through
//!   its previous batch: at least the worker's concurrency, at most the
//!   configured batch size. Fast jobs come in large batches; slow ones are
//!   not hoarded by one process while others idle.
//! - A job is not written again when it starts (apalis's `Running`): the
//!   claim already marks it `Queued` by this worker, which every reader
//!   (operators' `running`, orphan re-run, re-enqueue on shutdown, cancel)
//!   treats the same, so a job costs the claim and its result, two writes.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::prelude::{
    Backend, MetadataStore, Status, TaskBuilder, TaskId, TaskResult, WorkerContext,
};
use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer};
use apalis_core::backend::{BackendConfig, WireFormatBackend};
use apalis_postgres::{Config, Error, PgTask, queries};
use futures::future::BoxFuture;
use futures::ready;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::types::PgHstore;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// The queue storage of job type `J`; see the module docs.
pub struct QueueStorage<J> {
    persisted: Persisted<QueuePersistence>,
    codec: JsonCodec,
    /// On close, the wait for every acknowledgement to be written.
    flushing: Option<BoxFuture<'static, Result<(), Error>>>,
    _job: PhantomData<fn() -> J>,
}

impl<J> QueueStorage<J> {
    /// `wakeups` counts the wake-ups of this queue (see `wakeup::Wakeups`);
    /// `concurrency` is how many of its jobs the worker runs at once. Must
    /// be called inside the runtime: it starts the acknowledgement writer.
    pub fn new(pool: &PgPool, config: Config, concurrency: usize, wakeups: Arc<AtomicU64>) -> Self {
        let held = Arc::new(Mutex::new(HashSet::new()));
        let acks = Acks::spawn(
            pool.clone(),
            config.batch_size.saturating_mul(4).max(64),
            held.clone(),
        );
        Self {
            persisted: Persisted::new(QueuePersistence {
                pool: pool.clone(),
                fetch_size: Arc::new(FetchSize::new(concurrency, config.batch_size)),
                fetch_from: Arc::new(FetchFrom::default()),
                config,
                wakeups,
                acks,
                held,
                uncertain: Arc::new(AtomicBool::new(false)),
            }),
            codec: JsonCodec::default(),
            flushing: None,
            _job: PhantomData,
        }
    }
}

impl<J> Backend for QueueStorage<J> {
    type Task = PgTask;
    type Error = Error;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Error>> {
        let heartbeat = self.persisted.config.heartbeat_interval;
        self.persisted.poll_ready(cx, worker, heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<PgTask, Error>>> {
        self.persisted.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Error>> {
        if self.flushing.is_none() {
            ready!(self.persisted.poll_close(cx, worker))?;
            let acks = self.persisted.acks.clone();
            self.flushing = Some(Box::pin(async move { acks.flush().await }));
        }
        match self.flushing.as_mut().map(|f| f.as_mut().poll(cx)) {
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(result)) => Poll::Ready(result),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl<J> BackendConfig for QueueStorage<J> {
    type Args = J;
    type Id = TaskId;
    type Kind = Durable;
    type Config = Config;
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &Config {
        &self.persisted.config
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        let (batch_size, persist_results, lock_tasks) = (
            self.persisted.config.batch_size,
            self.persisted.config.persist_results,
            self.persisted.config.lock_tasks,
        );
        self.persisted
            .layer(JsonCodec::<Value>::default(), batch_size)
            .persist_results(persist_results)
            .lock_tasks(lock_tasks)
    }
}

impl<J> WireFormatBackend for QueueStorage<J> {
    type Codec = JsonCodec;
    type Compact = Vec<u8>;

    fn codec(&self) -> &JsonCodec {
        &self.codec
    }
}

#[derive(Clone)]
struct QueuePersistence {
    pool: PgPool,
    config: Config,
    fetch_size: Arc<FetchSize>,
    fetch_from: Arc<FetchFrom>,
    wakeups: Arc<AtomicU64>,
    acks: Acks,
    /// The jobs this worker claimed whose results are not written yet.
    held: Arc<Mutex<HashSet<String>>>,
    /// A claim failed for want of the database: it may have committed
    /// after all, its answer lost with the connection.
    uncertain: Arc<AtomicBool>,
}

impl QueuePersistence {
    fn orphaned_after_secs(&self) -> u64 {
        self.config.orphaned_duration().as_secs()
    }
}

impl Persistence for QueuePersistence {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = Error;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        let queue = self.config.queue.as_ref();
        let mut wait = RETRY_FIRST;
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let registered = async {
                let mut tx = self.pool.begin().await?;
                queries::reenqueue_orphaned(&mut *tx, queue, self.orphaned_after_secs()).await?;
                queries::register_worker(&mut *tx, queue, worker, &From::from(now), "PgStorage")
                    .await?;
                tx.commit().await.map_err(Error::from)
            };
            match registered.await {
                // Nothing is claimed yet: wait, as for the acknowledgements.
                Err(error) if unavailable(&error) => {
                    tracing::warn!(%error, worker = worker.name(), "worker not registered; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
                result => return result,
            }
        }
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), Error> {
        self.acks.check()?;
        let queue = self.config.queue.as_ref();
        let beat = async {
            let mut tx = self.pool.begin().await.map_err(Error::from)?;
            queries::keep_alive(&mut *tx, queue, worker).await?;
            queries::reenqueue_orphaned(&mut *tx, queue, self.orphaned_after_secs()).await?;
            tx.commit().await.map_err(Error::from)
        };
        match beat.await {
            // The next beat tries again; a worker whose beats fail past the
            // orphan timeout has its jobs re-run elsewhere, as if it died.
            Err(error) if unavailable(&error) => {
                tracing::warn!(%error, worker = worker.name(), "heartbeat not written; the database is out of reach");
                Ok(())
            }
            result => result,
        }
    }

    async fn fetch_next(&mut self, worker: &WorkerContext) -> Result<Vec<PgTask>, Error> {
        self.acks.check()?;
        let started = Instant::now();
        let size = self.fetch_size.next(started);
        if self.uncertain.load(Ordering::Acquire) {
            let held: Vec<String> = self
                .held
                .lock()
                .map_or_else(|_| Vec::new(), |held| held.iter().cloned().collect());
            match release_unknown_claims(&self.pool, worker.name(), &held).await {
                Ok(released) => {
                    self.uncertain.store(false, Ordering::Release);
                    if released > 0 {
                        tracing::info!(
                            released,
                            worker = worker.name(),
                            "claims whose answer was lost are pending again"
                        );
                    }
                }
                Err(error) if unavailable(&error) => return Ok(Vec::new()),
                Err(error) => return Err(error),
            }
        }
        loop {
            let seen = self.wakeups.load(Ordering::Acquire);
            let from = self.fetch_from.start(Instant::now());
            let fetched = fetch(&self.pool, &self.config, worker.name(), size, from).await;
            let (tasks, last) = match fetched {
                // The next poll (or wake-up) fetches again, first releasing
                // what this claim took if it committed after all.
                Err(error) if unavailable(&error) => {
                    self.uncertain.store(true, Ordering::Release);
                    tracing::warn!(%error, worker = worker.name(), "fetch failed; the database is out of reach");
                    return Ok(Vec::new());
                }
                result => result?,
            };
            self.fetch_from.claimed(last);
            if let Ok(mut held) = self.held.lock() {
                held.extend(
                    tasks
                        .iter()
                        .filter_map(|t| t.task_id().map(ToString::to_string)),
                );
            }
            if !tasks.is_empty() || self.wakeups.load(Ordering::Acquire) == seen {
                self.fetch_size.fetched(started, tasks.len());
                return Ok(tasks);
            }
        }
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<Value>>,
        worker: &WorkerContext,
    ) -> Result<(), Error> {
        self.acks.submit(worker.name(), events).await
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<PgTask>,
        worker: &WorkerContext,
    ) -> Result<u64, Error> {
        let ids: Vec<String> = tasks
            .iter()
            .filter_map(|t| t.task_id().map(ToString::to_string))
            .collect();
        let mut tx = self.pool.begin().await?;
        let count =
            queries::reenqueue_abandoned(&mut *tx, self.config.queue.as_ref(), worker.name(), &ids)
                .await?;
        if usize::try_from(count).ok() != Some(tasks.len()) {
            return Err(Error::ReenqueueMismatch {
                queued: tasks.len(),
                abandoned: usize::try_from(count).unwrap_or(usize::MAX),
            });
        }
        tx.commit().await?;
        Ok(count)
    }

    async fn push_tasks(&mut self, tasks: Vec<PgTask>) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        queries::push_tasks(&mut *tx, self.config.queue.as_ref(), tasks).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// How much work a fetch claims.
const FETCH_WINDOW: Duration = Duration::from_millis(100);

/// The size of the next fetch, from how fast the previous batch went.
struct FetchSize {
    min: usize,
    max: usize,
    /// The size, and when the previous fetch started and how many it got.
    state: Mutex<(usize, Option<(Instant, usize)>)>,
}

impl FetchSize {
    fn new(concurrency: usize, batch_size: usize) -> Self {
        let min = concurrency.clamp(1, batch_size.max(1));
        Self {
            min,
            max: batch_size.max(1),
            state: Mutex::new((min, None)),
        }
    }

    /// The size of a fetch starting `now`.
    fn next(&self, now: Instant) -> usize {
        let Ok(mut state) = self.state.lock() else {
            return self.min;
        };
        if let Some((at, got)) = state.1.take()
            && got > 0
        {
            let secs = now.duration_since(at).as_secs_f64().max(1e-6);
            let want = got as f64 / secs * FETCH_WINDOW.as_secs_f64();
            state.0 = (want.min(self.max as f64) as usize).clamp(self.min, self.max);
        }
        state.0
    }

    fn fetched(&self, started: Instant, got: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.1 = Some((started, got));
        }
    }
}

/// How often a fetch reads the queue from its start rather than from where
/// the previous claim ended.
const FROM_START_EVERY: Duration = Duration::from_secs(1);

/// How far before the last claimed job's `run_at` the next fetch resumes:
/// `run_at` is when the enqueueing transaction started, so a job committed
/// up to this much later than one already claimed is still read at once.
const RESUME_MARGIN_MICROS: i64 = 250_000;

/// A position in claim order: `(-priority, run_at in Unix microseconds)`,
/// the key of `kisum_jobs_fetch_idx` after the queue's name.
type Position = (i64, f64);

/// The start of claim order: before every position.
const QUEUE_START: Position = (i64::MIN, f64::NEG_INFINITY);

/// Where the next fetch starts reading; see the module docs.
#[derive(Default)]
struct FetchFrom {
    /// Where the last claim ended, and when a fetch last read from the start.
    state: Mutex<(Option<Position>, Option<Instant>)>,
}

impl FetchFrom {
    /// The position a fetch starting `now` reads from.
    fn start(&self, now: Instant) -> Position {
        let Ok(mut state) = self.state.lock() else {
            return QUEUE_START;
        };
        match *state {
            (Some(resume), Some(at)) if now.duration_since(at) < FROM_START_EVERY => resume,
            _ => {
                state.1 = Some(now);
                QUEUE_START
            }
        }
    }

    /// A fetch claimed up to `last` (nothing when `None`: the resume point
    /// stays, as the due jobs ahead of it are all claimed).
    fn claimed(&self, last: Option<Position>) {
        if let (Some((key, micros)), Ok(mut state)) = (last, self.state.lock()) {
            state.0 = Some((key, micros - RESUME_MARGIN_MICROS as f64));
        }
    }
}

/// A job row as fetched; timestamps in Unix seconds, as apalis keeps them.
struct FetchedJob {
    job: Vec<u8>,
    id: String,
    job_type: String,
    status: String,
    attempts: i32,
    max_attempts: i32,
    run_at: i64,
    lock_at: Option<i64>,
    lock_by: Option<String>,
    done_at: Option<i64>,
    priority: Option<i32>,
    idempotency_key: Option<String>,
    metadata: Option<PgHstore>,
    /// Its position in claim order.
    order_key: i64,
    run_at_micros: f64,
}

fn seconds(ts: Option<i64>) -> Option<u64> {
    ts.and_then(|t| u64::try_from(t).ok())
}

impl TryFrom<FetchedJob> for PgTask {
    type Error = Error;

    fn try_from(row: FetchedJob) -> Result<Self, Error> {
        let metadata: HashMap<String, String> = row
            .metadata
            .map(|m| {
                m.into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let task = TaskBuilder::new(row.job)
            .task_id(TaskId::from_str(&row.id).map_err(Error::TaskIdError)?)
            .queue(row.job_type.into())
            .status(Status::from_str(&row.status).map_err(Error::StatusError)?)
            .attempt(usize::try_from(row.attempts).unwrap_or_default())
            .max_attempts(usize::try_from(row.max_attempts).unwrap_or_default())
            .run_at_timestamp(seconds(Some(row.run_at)).unwrap_or_default())
            .lock_at(seconds(row.lock_at))
            .done_at(seconds(row.done_at))
            .lock_by(row.lock_by)
            .priority(usize::try_from(row.priority.unwrap_or_default()).unwrap_or_default())
            .with_metadata(MetadataStore::from_map(metadata));
        Ok(match row.idempotency_key {
            Some(key) => task.idempotency_key(key),
            None => task,
        }
        .build())
    }
}

/// Claims up to a batch of due jobs of the queue, highest priority and
/// oldest first, exactly as apalis's `get_jobs` does, in one statement,
/// reading from position `from` on; returns them and the position of the
/// last.
///
/// The claim commits without waiting for its WAL flush: a claim lost with
/// a Postgres crash leaves the job pending, as if never fetched, and any
/// durable effect of running it (the job's own writes, its acknowledgement)
/// commits later and so flushes the claim first.
async fn fetch(
    pool: &PgPool,
    config: &Config,
    worker: &str,
    size: usize,
    from: Position,
) -> Result<(Vec<PgTask>, Option<Position>), Error> {
    let limit = i64::try_from(size).unwrap_or(i64::MAX);
    let rows = sqlx::query_as!(
        FetchedJob,
        r#"WITH fetched AS (
               UPDATE apalis.jobs
                  SET status = 'Queued', lock_by = $1, lock_at = now()
                WHERE id = ANY (ARRAY(
                        SELECT id FROM apalis.jobs
                         WHERE (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))
                           AND run_at < now() AND job_type = $2
                           AND (-(coalesce(priority, 0)::bigint), run_at)
                               >= ($4::bigint, to_timestamp($5::float8 / 1e6))
                         ORDER BY -(coalesce(priority, 0)::bigint), run_at
                         LIMIT $3
                           FOR UPDATE SKIP LOCKED))
            RETURNING *),
           claim_without_flush AS (SELECT set_config('synchronous_commit', 'off', true))
           SELECT job, id, job_type, status, attempts, max_attempts,
                  floor(extract(epoch FROM run_at))::bigint AS "run_at!",
                  floor(extract(epoch FROM lock_at))::bigint AS lock_at, lock_by,
                  floor(extract(epoch FROM done_at))::bigint AS done_at,
                  priority, idempotency_key, metadata AS "metadata: PgHstore",
                  -(coalesce(priority, 0)::bigint) AS "order_key!",
                  extract(epoch FROM run_at)::float8 * 1e6 AS "run_at_micros!"
             FROM fetched, claim_without_flush
            ORDER BY -(coalesce(priority, 0)::bigint), run_at"#,
        worker,
        config.queue.as_ref(),
        limit,
        from.0,
        from.1,
    )
    .fetch_all(pool)
    .await?;
    let last = rows.last().map(|row| (row.order_key, row.run_at_micros));
    let tasks = rows
        .into_iter()
        .map(PgTask::try_from)
        .collect::<Result<_, _>>()?;
    Ok((tasks, last))
}

enum AckRequest {
    /// A worker's events, and the permits of room they hold.
    Events(String, Vec<TaskEvent<Value>>, usize),
    /// Answered once everything sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// The handle of a queue's acknowledgement writer.
#[derive(Clone)]
struct Acks {
    sender: mpsc::UnboundedSender<AckRequest>,
    /// One permit per event that may wait to be written.
    room: Arc<Semaphore>,
    max_unacked: usize,
    failure: Arc<OnceLock<String>>,
}

fn ack_failure(message: &str) -> Error {
    Error::Database(sqlx::Error::Protocol(format!(
        "acknowledgements failed: {message}"
    )))
}

impl Acks {
    /// Starts the writer; it ends once every handle is dropped and what was
    /// sent is written.
    fn spawn(pool: PgPool, max_unacked: usize, held: Arc<Mutex<HashSet<String>>>) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let acks = Self {
            sender,
            room: Arc::new(Semaphore::new(max_unacked)),
            max_unacked,
            failure: Arc::new(OnceLock::new()),
        };
        tokio::spawn(write_acks(
            pool,
            receiver,
            acks.room.clone(),
            acks.failure.clone(),
            held,
        ));
        acks
    }

    fn check(&self) -> Result<(), Error> {
        match self.failure.get() {
            Some(message) => Err(ack_failure(message)),
            None => Ok(()),
        }
    }

    /// Hands `events` to the writer, first waiting for room when too many
    /// are outstanding.
    async fn submit(&self, worker: &str, events: Vec<TaskEvent<Value>>) -> Result<(), Error> {
        self.check()?;
        let permits = events.len().min(self.max_unacked);
        self.room
            .acquire_many(u32::try_from(permits).unwrap_or(u32::MAX))
            .await
            .map_err(|_| ack_failure("writer stopped"))?
            .forget();
        self.sender
            .send(AckRequest::Events(worker.to_owned(), events, permits))
            .map_err(|_| ack_failure("writer stopped"))
    }

    /// Waits until everything submitted so far is written.
    async fn flush(&self) -> Result<(), Error> {
        let (done, written) = oneshot::channel();
        self.sender
            .send(AckRequest::Flush(done))
            .map_err(|_| ack_failure("writer stopped"))?;
        written.await.map_err(|_| ack_failure("writer stopped"))?;
        self.check()
    }
}

/// Whether `error` is the database out of reach for a while (a terminated
/// backend, a restart, a failover) rather than a wrong statement. The queue
/// then waits and tries again instead of stopping the worker: a worker that
/// stops is restarted under a new name, and the jobs its old name had
/// claimed would wait for the orphan timeout.
fn unavailable(error: &Error) -> bool {
    matches!(error, Error::Database(e)
        if shared::error::is_unavailable(e) && !matches!(e, sqlx::Error::PoolClosed))
}

/// How long the writer (and a registration) waits before trying again
/// after the database was out of reach: doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// Makes the jobs `worker` claimed but does not hold pending again: a
/// claim whose answer was lost with its connection after it committed.
/// Their attempts are not counted: they never started.
async fn release_unknown_claims(
    pool: &PgPool,
    worker: &str,
    held: &[String],
) -> Result<u64, Error> {
    let released = sqlx::query!(
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL
          WHERE lock_by = $1 AND status = 'Queued' AND NOT (id = ANY ($2))",
        worker,
        held,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Writes everything sent since its last write in one transaction. While
/// the database is out of reach it tries again, for as long as it takes:
/// the writes are guarded by the worker's claim, so one that did commit
/// before its connection dropped changes nothing the second time, and
/// meanwhile the room for unwritten events fills and the worker stops
/// fetching.
async fn write_acks(
    pool: PgPool,
    mut receiver: mpsc::UnboundedReceiver<AckRequest>,
    room: Arc<Semaphore>,
    failure: Arc<OnceLock<String>>,
    held: Arc<Mutex<HashSet<String>>>,
) {
    while let Some(first) = receiver.recv().await {
        let mut worker = String::new();
        let mut events = Vec::new();
        let mut flushes = Vec::new();
        let mut permits = 0;
        let mut next = Some(first);
        while let Some(request) = next {
            match request {
                AckRequest::Events(name, batch, held) => {
                    worker = name;
                    events.extend(batch);
                    permits += held;
                }
                AckRequest::Flush(done) => flushes.push(done),
            }
            next = receiver.try_recv().ok();
        }
        if !events.is_empty() && failure.get().is_none() {
            match write_events_until_reached(&pool, &worker, &events).await {
                Ok(()) => {
                    // Written: the worker no longer holds these.
                    if let Ok(mut held) = held.lock() {
                        for event in &events {
                            if let TaskEvent::Complete(result) = event {
                                held.remove(&result.task_id.to_string());
                            }
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(%error, worker, "could not acknowledge jobs; the worker restarts");
                    let _ = failure.set(error.to_string());
                }
            }
        }
        room.add_permits(permits);
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn write_events_until_reached(
    pool: &PgPool,
    worker: &str,
    events: &[TaskEvent<Value>],
) -> Result<(), Error> {
    let mut wait = RETRY_FIRST;
    loop {
        match write_events(pool, worker, events).await {
            Err(error) if unavailable(&error) => {
                tracing::warn!(%error, worker, "acknowledgements not written; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
            result => return result,
        }
    }
}

/// Results per statement. sqlx leaves Nagle's algorithm on and TLS sends
/// at most 16 KiB per record, so a larger request goes out in two writes
/// and the second waits for the server's delayed ACK (40 ms on Linux); 128
/// results make about 12 KiB.
const ACK_CHUNK: usize = 128;

/// Results and starts of jobs, as apalis writes them: a job that finished
/// is not also marked running. The `lock_by` test is written so that no
/// index serves it: the rows are reached by id, never through `lock_by`.
async fn write_events(
    pool: &PgPool,
    worker: &str,
    events: &[TaskEvent<Value>],
) -> Result<(), Error> {
    let results: Vec<&TaskResult<Value>> = events
        .iter()
        .filter_map(|e| match e {
            TaskEvent::Complete(result) => Some(result),
            _ => None,
        })
        .collect();
    let finished: HashSet<String> = results.iter().map(|r| r.task_id.to_string()).collect();
    let started: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            TaskEvent::Lock { task_id } => Some(task_id.to_string()),
            _ => None,
        })
        .filter(|id| !finished.contains(id))
        .collect();
    if results.is_empty() && started.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for results in results.chunks(ACK_CHUNK) {
        let payload = serde_json::to_value(results).map_err(Error::JsonError)?;
        sqlx::query!(
            "WITH r AS (
                 SELECT value ->> 'task_id' AS id, (value ->> 'attempt')::integer AS attempt,
                        value -> 'result' AS result, value ->> 'status' AS status
                   FROM jsonb_array_elements($1::jsonb) AS value
             ),
             locked AS (
                 SELECT id FROM apalis.jobs
                  WHERE id = ANY (ARRAY(SELECT id FROM r)) AND lock_by IS NOT DISTINCT FROM $2
                  ORDER BY id
                    FOR UPDATE
             )
             UPDATE apalis.jobs AS jobs
                SET status = r.status, attempts = r.attempt, last_result = r.result, done_at = now()
               FROM r JOIN locked ON locked.id = r.id
              WHERE jobs.id = locked.id",
            payload,
            worker,
        )
        .execute(&mut *tx)
        .await?;
    }
    for started in started.chunks(ACK_CHUNK) {
        queries::lock_tasks(&mut *tx, started, worker).await?;
    }
    tx.commit().await?;
    Ok(())
}
