//! Background jobs: the registry of every job type, their payloads, and
//! the queue they go through ([`queue`]).
//!
//! A job is written into the queue on the caller's connection, so it
//! commits or rolls back with the state change that caused it. Queue names
//! are constants here, never Rust type paths, so renaming code cannot strand
//! jobs. Payloads are JSON and change by adding fields only. Handlers must be
//! idempotent: acknowledgements are batched, and a worker that dies right
//! after finishing a job may have it run again.
//!
//! # The registry
//! Each job type is declared once: its payload struct and its [`Job`]
//! impl (queue, attempts, and for a cron job its [`Scheduled`] impl) here,
//! its name in [`for_each_job!`](crate::for_each_job), and its handler in
//! the worker. Everything else derives from that list: [`QUEUES`],
//! [`SCHEDULES`], the worker's registrations and cron schedules, its
//! LISTEN wake-ups, and the queue list of `/ops`. A type missing from the
//! list cannot be enqueued (the [`Job`] trait is sealed by the list), and a
//! listed type without a handler does not compile in the worker.

pub mod queue;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgConnection;
use uuid::Uuid;

pub use queue::{Batch, enqueue, enqueue_many, enqueue_tick};

/// The registry: every job type, by name. `jobs` lists them all; those in
/// `scheduled` are also enqueued by a cron schedule (they implement
/// [`Scheduled`]). Calls `$callback! { jobs: ...; scheduled: ...; }`, so
/// each place that needs every job type (the derived constants here, the
/// worker's registration) expands from this one list.
#[macro_export]
macro_rules! for_each_job {
    ($callback:ident) => {
        $callback! {
            jobs: QueueCanary, Noop, Maintenance, HoldExpiry, OfferExpiry, RequestExpiry,
                  ExpirySweep, ContractReminder, ContractReminderDelivery, FinanceHandoff,
                  TrustScore, TrustSweep, ReadModelRefresh, ReadModelRebuild;
            scheduled: ExpirySweep, Maintenance, ContractReminder, TrustSweep, ReadModelRebuild;
        }
    };
}

mod sealed {
    /// Implemented for exactly the types in [`for_each_job!`](crate::for_each_job).
    pub trait Registered {}
}

macro_rules! derive_registry {
    (jobs: $($job:ident),* ; scheduled: $($cron:ident),* ;) => {
        $(impl sealed::Registered for $job {})*

        /// Every queue the worker serves, one per job type, in registry order.
        pub const QUEUES: &[&str] = &[$(<$job as Job>::QUEUE,)*];

        /// The cron schedules: (queue, cron expression with seconds, UTC).
        /// Each tick enqueues one job in the queue through [`enqueue_tick`].
        pub const SCHEDULES: &[(&str, &str)] = &[
            $((<$cron as Job>::QUEUE, <$cron as Scheduled>::SCHEDULE),)*
        ];
    };
}

crate::for_each_job!(derive_registry);

/// A job type: its payload and where it queues. Sealed: only the types of
/// the registry ([`for_each_job!`](crate::for_each_job)) implement it.
pub trait Job:
    Clone + Serialize + DeserializeOwned + Send + Sync + Unpin + 'static + sealed::Registered
{
    /// The queue (apalis `job_type`); one worker per queue.
    const QUEUE: &'static str;
    /// Attempts before the job is left failed (dead) with its last error.
    const MAX_ATTEMPTS: u32 = 8;
    /// The payload field holding the id of the record a job is about, for
    /// [`queue::in_flight_for`]; `None` when jobs are not about one record.
    const SUBJECT: Option<&'static str> = None;
}

/// A job type that a cron schedule also enqueues: every worker replica
/// fires each tick, and [`enqueue_tick`]'s idempotency key keeps one run.
pub trait Scheduled: Job {
    /// A cron expression with seconds, in UTC.
    const SCHEDULE: &'static str;

    /// The payload of the run for tick `tick` (Unix seconds).
    fn for_tick(tick: i64) -> Self;
}

/// When and how a job is enqueued.
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    /// Run no earlier than this; now when `None`.
    pub run_at: Option<DateTime<Utc>>,
    /// At most one job per (queue, key) ever exists; a second enqueue with
    /// the same key is a no-op (used for cron ticks and per-subject jobs).
    pub idempotency_key: Option<String>,
    /// Higher runs first among due jobs.
    pub priority: i32,
}

impl Schedule {
    pub fn now() -> Self {
        Self::default()
    }

    pub fn at(run_at: DateTime<Utc>) -> Self {
        Self {
            run_at: Some(run_at),
            ..Self::default()
        }
    }

    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// Proves the queue end to end: counts its runs on a `queue_canaries` row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct QueueCanary {
    pub canary_id: Uuid,
}

impl Job for QueueCanary {
    const QUEUE: &'static str = "queue_canary";
    const MAX_ATTEMPTS: u32 = 5;
}

/// Does nothing: the queue's own cost, for benchmarks and smoke checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Noop {
    #[serde(default)]
    pub n: u64,
}

impl Job for Noop {
    const QUEUE: &'static str = "noop";
    const MAX_ATTEMPTS: u32 = 1;
}

/// Housekeeping run on a schedule: adds the history tables' coming
/// partitions, prunes expired idempotency records, and more (see its
/// handler).
/// `tick` is the scheduled time (Unix seconds) it runs for; every worker
/// replica enqueues it at each tick, and the tick's idempotency key keeps
/// exactly one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Maintenance {
    pub tick: i64,
}

impl Job for Maintenance {
    const QUEUE: &'static str = "maintenance";
    const MAX_ATTEMPTS: u32 = 3;
}

impl Scheduled for Maintenance {
    /// Every fifteen minutes.
    const SCHEDULE: &'static str = "0 */15 * * * *";

    fn for_tick(tick: i64) -> Self {
        Self { tick }
    }
}

/// Expires one hold when it comes due (enqueued with the hold, scheduled
/// for its `expires_at`); a no-op for a hold released or extended meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct HoldExpiry {
    pub hold_id: Uuid,
}

impl Job for HoldExpiry {
    const QUEUE: &'static str = "hold_expiry";
    const MAX_ATTEMPTS: u32 = 10;
}

/// Expires one sent or countered offer when it comes due (enqueued when the
/// offer is sent or countered, scheduled for its `expires_at`); a no-op for
/// an offer answered or countered with a later expiry meanwhile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OfferExpiry {
    pub offer_id: Uuid,
}

impl Job for OfferExpiry {
    const QUEUE: &'static str = "offer_expiry";
    const MAX_ATTEMPTS: u32 = 10;
}

/// Expires one open booking request when it comes due (enqueued with the
/// request); a no-op once the request is answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestExpiry {
    pub request_id: Uuid,
}

impl Job for RequestExpiry {
    const QUEUE: &'static str = "request_expiry";
    const MAX_ATTEMPTS: u32 = 10;
}

/// The backstop of the expiry jobs: expires every overdue hold, offer and
/// request, once per tick across replicas.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExpirySweep {
    pub tick: i64,
}

impl Job for ExpirySweep {
    const QUEUE: &'static str = "expiry_sweep";
    const MAX_ATTEMPTS: u32 = 3;
}

impl Scheduled for ExpirySweep {
    /// Every minute.
    const SCHEDULE: &'static str = "0 * * * * *";

    fn for_tick(tick: i64) -> Self {
        Self { tick }
    }
}

/// Signature reminders and contract expiry. With `contract_id`, for one
/// contract: enqueued when it is sent (and for its `expires_at`), it
/// expires the contract when due, creates the reminders due, and enqueues
/// itself for the contract's next due time. With `tick`, the cron sweep
/// over every contract, backing up the per-contract chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContractReminder {
    #[serde(default)]
    pub contract_id: Option<Uuid>,
    #[serde(default)]
    pub tick: Option<i64>,
}

impl Job for ContractReminder {
    const QUEUE: &'static str = "contract_reminder";
    const MAX_ATTEMPTS: u32 = 10;
}

impl Scheduled for ContractReminder {
    /// Every five minutes.
    const SCHEDULE: &'static str = "0 */5 * * * *";

    fn for_tick(tick: i64) -> Self {
        Self {
            contract_id: None,
            tick: Some(tick),
        }
    }
}

impl ContractReminder {
    /// The contract's run at `at`; one job per (contract, time) ever.
    pub async fn enqueue_for(
        conn: &mut PgConnection,
        contract_id: Uuid,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, sqlx::Error> {
        let key = format!(
            "contract:{contract_id}:{}",
            at.map_or_else(|| Utc::now().timestamp_micros(), |t| t.timestamp_micros())
        );
        let schedule = match at {
            Some(at) => Schedule::at(at),
            None => Schedule::now(),
        };
        enqueue(
            conn,
            &Self {
                contract_id: Some(contract_id),
                tick: None,
            },
            schedule.dedupe(key),
        )
        .await
    }
}

/// Delivers one signature reminder (a Standard Webhooks POST to
/// `NOTIFICATIONS_WEBHOOK_URL`), retried until it is accepted; its
/// `webhook-id` is the reminder's id on every attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContractReminderDelivery {
    pub reminder_id: Uuid,
}

impl Job for ContractReminderDelivery {
    const QUEUE: &'static str = "contract_reminder_delivery";
    const MAX_ATTEMPTS: u32 = 8;
}

/// One delivery attempt of a Finance handoff (`attempt` counts from 1).
/// Each attempt is its own job, enqueued for when it is due; the handler
/// records it and enqueues the next one, so a retry schedule of hours holds
/// no worker. The last attempt's failure dead-letters the job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FinanceHandoff {
    pub handoff_id: Uuid,
    pub attempt: i32,
}

impl Job for FinanceHandoff {
    const QUEUE: &'static str = "finance_handoff";
    const SUBJECT: Option<&'static str> = Some("handoff_id");
    /// Retries are the handoff's own schedule, one job per attempt.
    const MAX_ATTEMPTS: u32 = 1;
}

impl FinanceHandoff {
    /// Enqueues attempt `attempt` of a handoff, once ever.
    pub async fn enqueue_attempt(
        conn: &mut PgConnection,
        handoff_id: Uuid,
        attempt: i32,
        at: Option<DateTime<Utc>>,
    ) -> Result<bool, sqlx::Error> {
        let schedule = match at {
            Some(at) => Schedule::at(at),
            None => Schedule::now(),
        };
        enqueue(
            conn,
            &Self {
                handoff_id,
                attempt,
            },
            schedule.dedupe(format!("handoff:{handoff_id}:{attempt}")),
        )
        .await
    }

    /// Enqueues the same attempt again at `at`, for a handoff waiting for
    /// an earlier one of its booking.
    pub async fn enqueue_waiting(
        conn: &mut PgConnection,
        handoff_id: Uuid,
        attempt: i32,
        at: DateTime<Utc>,
    ) -> Result<bool, sqlx::Error> {
        let key = format!(
            "handoff:{handoff_id}:{attempt}:waiting:{}",
            at.timestamp_micros()
        );
        enqueue(
            conn,
            &Self {
                handoff_id,
                attempt,
            },
            Schedule::at(at).dedupe(key),
        )
        .await
    }

    /// Enqueues the next attempt of a handoff that waited while the
    /// endpoint was disabled: its attempt's job may already have run (and
    /// paused it), so the key names the resumption.
    pub async fn enqueue_resumed(
        conn: &mut PgConnection,
        handoff_id: Uuid,
        attempt: i32,
    ) -> Result<bool, sqlx::Error> {
        let key = format!(
            "handoff:{handoff_id}:{attempt}:resumed:{}",
            Utc::now().timestamp_micros()
        );
        enqueue(
            conn,
            &Self {
                handoff_id,
                attempt,
            },
            Schedule::now().dedupe(key),
        )
        .await
    }
}

/// Recomputes the trust and relationships of the companies in
/// `trust_dirty`, in batches (`FOR UPDATE SKIP LOCKED`). Enqueued, a few
/// seconds ahead, by the write that marks the first company of a burst;
/// later marks of a company still dirty enqueue nothing, so a burst is
/// recomputed once. `company_id` is the company whose mark woke it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TrustScore {
    pub company_id: Uuid,
}

impl Job for TrustScore {
    const QUEUE: &'static str = "trust_score";
    const MAX_ATTEMPTS: u32 = 8;
}

/// The nightly full recomputation of every company's trust and
/// relationships: repairs drift, and lets old events decay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TrustSweep {
    pub tick: i64,
}

impl Job for TrustSweep {
    const QUEUE: &'static str = "trust_sweep";
    const MAX_ATTEMPTS: u32 = 3;
}

impl Scheduled for TrustSweep {
    /// 03:30 UTC every night.
    const SCHEDULE: &'static str = "0 30 3 * * *";

    fn for_tick(tick: i64) -> Self {
        Self { tick }
    }
}

/// Drains the dirty keys of one read model (`model`: `artist_search` or
/// `company_dashboard`) in batches and rewrites their rows. Enqueued, a
/// moment ahead, by the write that marks the first key of a burst.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReadModelRefresh {
    pub model: String,
}

impl Job for ReadModelRefresh {
    const QUEUE: &'static str = "read_model_refresh";
    const MAX_ATTEMPTS: u32 = 8;
}

/// The nightly full rebuild of every read model: repairs drift, and moves
/// the open dates of the search table past midnight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReadModelRebuild {
    pub tick: i64,
}

impl Job for ReadModelRebuild {
    const QUEUE: &'static str = "read_model_rebuild";
    const MAX_ATTEMPTS: u32 = 3;
}

impl Scheduled for ReadModelRebuild {
    /// 00:10 UTC every night.
    const SCHEDULE: &'static str = "0 10 0 * * *";

    fn for_tick(tick: i64) -> Self {
        Self { tick }
    }
}
