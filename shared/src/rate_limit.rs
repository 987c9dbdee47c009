//! Request rate limits shared by every API replica through Postgres
//! (`rate_limit_lease_bucket`, a generic cell rate algorithm over one
//! timestamp per bucket): N replicas allow the limit once, not N times.
//! Two limits use it, each with its own quota: the per-org limit of the
//! tenant routes ([`Bucket::Org`], `RATE_LIMIT_PER_MINUTE`) and the
//! per-address limit of the unauthenticated routes ([`Bucket::Client`],
//! `PUBLIC_RATE_LIMIT_PER_MINUTE`). "Org" below stands for either bucket.
//!
//! A bucket holds `per_minute` requests and refills one every
//! `60 s / per_minute`, so an idle org may burst its whole minute at once
//! and a busy one is held to its rate.
//!
//! A replica does not take one request per round trip: it leases a small
//! batch from the org's shared bucket and lets that many requests through
//! without asking again, so a read costs its own statement and nothing
//! more, and the org's row is written once per batch. The batch grows
//! (doubling) while the org uses it up within [`LEASE_TTL`] and shrinks
//! (halving) when it lapses unused; it is at most a second's worth of the
//! quota ([`RateLimit::max_batch`]) and at least one request.
//!
//! Tolerance, across any number of replicas: an org is never let through
//! more than its quota, because every request let through was first taken
//! from the shared bucket. Leased requests a replica does not use within
//! [`LEASE_TTL`] lapse, so an org may be refused early by at most one
//! batch per replica (a second's quota at most). When the shared bucket
//! says how long until a request is free, the replica refuses the org's
//! requests until then without a round trip: no replica could be given one
//! sooner.
//!
//! Requests of one org on one replica wait for one another only while a
//! lease is being fetched (one round trip), never on the org's row.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::types::PgInterval;
use uuid::Uuid;

use crate::DomainError;
use crate::client_addr::ClientKey;

/// How long leased requests stay usable on the replica that leased them.
pub const LEASE_TTL: Duration = Duration::from_secs(1);

/// Whose requests one shared bucket counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// A tenant's requests on the tenant routes.
    Org(Uuid),
    /// One client address's requests on the unauthenticated routes.
    Client(ClientKey),
}

impl Bucket {
    /// The bucket's row key, unique across kinds.
    fn key(&self) -> String {
        match self {
            Self::Org(id) => format!("org:{id}"),
            Self::Client(client) => format!("client:{client}"),
        }
    }
}

impl From<Uuid> for Bucket {
    fn from(org_id: Uuid) -> Self {
        Self::Org(org_id)
    }
}

pub struct RateLimit {
    /// Refill period of one request; `None` when the limit is off.
    interval: Option<Duration>,
    burst: Duration,
    max_batch: u32,
    /// This replica's lease per bucket.
    leases: Mutex<HashMap<Bucket, Arc<tokio::sync::Mutex<Lease>>>>,
    round_trips: AtomicU64,
}

/// Requests leased from an org's shared bucket and not used yet.
#[derive(Debug)]
struct Lease {
    left: u32,
    /// When `left` lapses.
    until: Instant,
    /// The shared bucket had nothing until then.
    refused_until: Option<Instant>,
    /// How many the next round trip asks for.
    batch: u32,
}

impl Lease {
    fn new(now: Instant) -> Self {
        Self {
            left: 0,
            until: now,
            refused_until: None,
            batch: 1,
        }
    }

    /// Takes a leased request if one is usable: `Ok(())` to go ahead,
    /// `Err(Some(wait))` to refuse, `Err(None)` to lease more first.
    fn take(&mut self, now: Instant) -> Result<(), Option<Duration>> {
        if let Some(until) = self.refused_until {
            if now < until {
                return Err(Some(until - now));
            }
            self.refused_until = None;
        }
        if self.left > 0 && now < self.until {
            self.left -= 1;
            return Ok(());
        }
        Err(None)
    }

    /// Sizes the next batch from how the last one went.
    fn next_batch(&mut self, now: Instant, max_batch: u32) -> u32 {
        if self.left == 0 && now < self.until {
            // Used up before it lapsed: the org sends more than a batch
            // per lease period.
            self.batch = self.batch.saturating_mul(2);
        } else if self.left > 0 {
            self.batch /= 2;
        }
        self.batch = self.batch.clamp(1, max_batch);
        self.batch
    }

    /// Records a round trip's answer and takes one request of it.
    fn leased(&mut self, now: Instant, granted: u32, wait: Duration) -> Option<Duration> {
        if granted == 0 {
            self.left = 0;
            self.refused_until = Some(now + wait);
            return Some(wait);
        }
        self.left = granted - 1;
        self.until = now + LEASE_TTL;
        None
    }

    fn idle(&self, now: Instant) -> bool {
        now >= self.until && self.refused_until.is_none_or(|t| now >= t)
    }
}

impl RateLimit {
    /// `per_minute = 0` turns the limit off.
    pub fn per_minute(per_minute: u32) -> Self {
        let (interval, burst, max_batch) = match NonZeroU32::new(per_minute) {
            None => (None, Duration::ZERO, 1),
            Some(n) => {
                // Postgres intervals count microseconds: a quota above
                // 60,000,000 a minute is held to that.
                let interval = (Duration::from_secs(60) / n.get()).max(Duration::from_micros(1));
                (Some(interval), interval * n.get(), (n.get() / 60).max(1))
            }
        };
        Self {
            interval,
            burst,
            max_batch,
            leases: Mutex::new(HashMap::new()),
            round_trips: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// The most requests one round trip leases: a second's worth of the
    /// quota, at least one.
    pub fn max_batch(&self) -> u32 {
        self.max_batch
    }

    /// Round trips to the shared bucket so far.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Takes one request from the bucket: `None` when it may go ahead,
    /// else how long until it may.
    pub async fn take(
        &self,
        pool: &PgPool,
        bucket: impl Into<Bucket>,
    ) -> Result<Option<Duration>, DomainError> {
        let Some(interval) = self.interval else {
            return Ok(None);
        };
        let bucket = bucket.into();
        let lease = self
            .leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(bucket)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Lease::new(Instant::now()))))
            .clone();
        // Held across the round trip: the org's other requests on this
        // replica wait for this lease rather than each fetching one.
        let mut lease = lease.lock().await;
        match lease.take(Instant::now()) {
            Ok(()) => return Ok(None),
            Err(Some(wait)) => return Ok(Some(wait)),
            Err(None) => {}
        }
        let want = lease.next_batch(Instant::now(), self.max_batch);
        let row = sqlx::query!(
            r#"SELECT granted AS "granted!", wait AS "wait!" FROM rate_limit_lease_bucket($1, $2, $3, $4)"#,
            bucket.key(),
            interval_of(interval),
            interval_of(self.burst),
            i32::try_from(want).unwrap_or(i32::MAX),
        )
        .fetch_one(pool)
        .await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let granted = u32::try_from(row.granted).unwrap_or(0);
        Ok(lease.leased(Instant::now(), granted, duration_of(&row.wait)))
    }

    /// Drops this replica's leases that have lapsed, so idle orgs cost no
    /// memory. The API runs it every minute.
    pub fn prune_local(&self) {
        let now = Instant::now();
        self.leases
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, lease| {
                Arc::strong_count(lease) > 1 || lease.try_lock().map_or(true, |l| !l.idle(now))
            });
    }
}

fn interval_of(d: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    }
}

fn duration_of(i: &PgInterval) -> Duration {
    let micros = i.microseconds
        + i64::from(i.days) * 86_400_000_000
        + i64::from(i.months) * 30 * 86_400_000_000;
    Duration::from_micros(micros.max(0).unsigned_abs())
}

/// Drops the rows of buckets that are full again (they would start full
/// anyway), so idle orgs and clients cost nothing. Run by the maintenance
/// job. `rate_limits` is the per-org table of the previous release, kept
/// while its replicas may still run.
pub async fn prune(pool: &PgPool) -> Result<u64, DomainError> {
    let buckets =
        sqlx::query!("DELETE FROM rate_limit_buckets WHERE tat < now() - interval '1 minute'")
            .execute(pool)
            .await?
            .rows_affected();
    let previous = sqlx::query!("DELETE FROM rate_limits WHERE tat < now() - interval '1 minute'")
        .execute(pool)
        .await?
        .rows_affected();
    Ok(buckets + previous)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_a_minute_and_refills_evenly() {
        let limit = RateLimit::per_minute(1200);
        assert_eq!(limit.interval, Some(Duration::from_millis(50)));
        assert_eq!(limit.burst, Duration::from_secs(60));
        assert_eq!(limit.max_batch(), 20);
        assert_eq!(RateLimit::per_minute(20).max_batch(), 1);
        // Never a zero interval, which the bucket would divide by.
        assert_eq!(
            RateLimit::per_minute(100_000_000).interval,
            Some(Duration::from_micros(1))
        );
        assert!(!RateLimit::per_minute(0).enabled());
    }

    #[test]
    fn bucket_keys_never_collide_across_kinds() {
        let org = Uuid::nil();
        let client = ClientKey::from(std::net::IpAddr::from([192, 0, 2, 1]));
        assert_eq!(
            Bucket::Org(org).key(),
            "org:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(Bucket::Client(client).key(), "client:192.0.2.1");
    }

    #[test]
    fn a_lease_grows_while_used_up_and_shrinks_when_it_lapses() {
        let start = Instant::now();
        let mut lease = Lease::new(start);
        assert_eq!(lease.take(start), Err(None), "nothing leased yet");
        assert_eq!(lease.next_batch(start, 16), 1);
        assert_eq!(lease.leased(start, 1, Duration::ZERO), None);
        // Used up within the lease period: the next batch doubles, to the cap.
        for expected in [2, 4, 8, 16, 16] {
            assert_eq!(lease.take(start), Err(None));
            assert_eq!(lease.next_batch(start, 16), expected);
            assert_eq!(lease.leased(start, expected, Duration::ZERO), None);
            for _ in 1..expected {
                assert_eq!(lease.take(start), Ok(()));
            }
        }
        // Three left when it lapses: they are gone and the batch halves.
        assert_eq!(lease.leased(start, 4, Duration::ZERO), None);
        let later = start + LEASE_TTL;
        assert_eq!(lease.take(later), Err(None));
        assert_eq!(lease.next_batch(later, 16), 8);
    }

    #[test]
    fn an_empty_shared_bucket_refuses_locally_until_it_refills() {
        let start = Instant::now();
        let mut lease = Lease::new(start);
        let wait = Duration::from_secs(3);
        assert_eq!(lease.leased(start, 0, wait), Some(wait));
        let soon = start + Duration::from_secs(1);
        assert_eq!(lease.take(soon), Err(Some(Duration::from_secs(2))));
        assert!(!lease.idle(soon));
        assert_eq!(lease.take(start + wait), Err(None), "asks again once due");
    }
}
