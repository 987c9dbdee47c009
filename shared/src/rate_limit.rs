//! The per-org request rate limit, shared by every API replica through
//! Postgres (`rate_limit_take`, a generic cell rate algorithm over one
//! timestamp per org): N replicas allow the limit once, not N times.
//!
//! A bucket holds `per_minute` requests and refills one every
//! `60 s / per_minute`, so an idle org may burst its whole minute at once
//! and a busy one is held to its rate.
//!
//! Each replica first checks a bucket of its own with the same quota
//! (governor). It counts every request the replica checks, and the shared
//! bucket counts those of every replica, so a request refused locally would
//! be refused by the shared bucket too: what one replica sees beyond the
//! quota is refused without a round trip and without queueing on the org's
//! row. (Locally it may refuse a little early only after shared takes
//! failed, having counted requests the shared bucket never saw.)

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::PgPool;
use sqlx::postgres::types::PgInterval;
use uuid::Uuid;

use crate::DomainError;

pub struct OrgRateLimit {
    /// Refill period of one request; `None` when the limit is off.
    interval: Option<Duration>,
    burst: Duration,
    /// This replica's own bucket per org.
    local: Option<DefaultKeyedRateLimiter<Uuid>>,
}

impl OrgRateLimit {
    /// `per_minute = 0` turns the limit off.
    pub fn per_minute(per_minute: u32) -> Self {
        let Some(n) = NonZeroU32::new(per_minute) else {
            return Self {
                interval: None,
                burst: Duration::ZERO,
                local: None,
            };
        };
        let interval = Duration::from_secs(60) / per_minute;
        Self {
            interval: Some(interval),
            burst: interval * per_minute,
            local: Some(RateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Takes one request from the org's buckets, this replica's first:
    /// `None` when it may go ahead, else how long until it may.
    pub async fn take(&self, pool: &PgPool, org_id: Uuid) -> Result<Option<Duration>, DomainError> {
        let (Some(interval), Some(local)) = (self.interval, &self.local) else {
            return Ok(None);
        };
        if let Err(not_until) = local.check_key(&org_id) {
            return Ok(Some(not_until.wait_time_from(local.clock().now())));
        }
        let wait: PgInterval = sqlx::query_scalar!(
            r#"SELECT rate_limit_take($1, $2, $3) AS "wait!""#,
            org_id,
            interval_of(interval),
            interval_of(self.burst),
        )
        .fetch_one(pool)
        .await?;
        let micros = wait.microseconds
            + i64::from(wait.days) * 86_400_000_000
            + i64::from(wait.months) * 30 * 86_400_000_000;
        Ok((micros > 0).then(|| Duration::from_micros(micros.unsigned_abs())))
    }

    /// Drops this replica's buckets that are full again, so idle orgs cost
    /// no memory. The API runs it every minute.
    pub fn prune_local(&self) {
        if let Some(local) = &self.local {
            local.retain_recent();
        }
    }
}

fn interval_of(d: Duration) -> PgInterval {
    PgInterval {
        months: 0,
        days: 0,
        microseconds: i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    }
}

/// Drops the rows of orgs whose bucket is full again (they would start
/// full anyway), so idle orgs cost nothing. Run by the maintenance job.
pub async fn prune(pool: &PgPool) -> Result<u64, DomainError> {
    Ok(
        sqlx::query!("DELETE FROM rate_limits WHERE tat < now() - interval '1 minute'")
            .execute(pool)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_a_minute_and_refills_evenly() {
        let limit = OrgRateLimit::per_minute(1200);
        assert_eq!(limit.interval, Some(Duration::from_millis(50)));
        assert_eq!(limit.burst, Duration::from_secs(60));
        assert!(!OrgRateLimit::per_minute(0).enabled());
    }
}
