//! The per-org request rate limit, shared by every API replica through
//! Postgres (`rate_limit_take`, a generic cell rate algorithm over one
//! timestamp per org): N replicas allow the limit once, not N times.
//!
//! A bucket holds `per_minute` requests and refills one every
//! `60 s / per_minute`, so an idle org may burst its whole minute at once
//! and a busy one is held to its rate.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::types::PgInterval;
use uuid::Uuid;

use crate::DomainError;

#[derive(Clone, Copy, Debug)]
pub struct OrgRateLimit {
    /// Refill period of one request; `None` when the limit is off.
    interval: Option<Duration>,
    burst: Duration,
}

impl OrgRateLimit {
    /// `per_minute = 0` turns the limit off.
    pub fn per_minute(per_minute: u32) -> Self {
        if per_minute == 0 {
            return Self {
                interval: None,
                burst: Duration::ZERO,
            };
        }
        let interval = Duration::from_secs(60) / per_minute;
        Self {
            interval: Some(interval),
            burst: interval * per_minute,
        }
    }

    pub fn enabled(&self) -> bool {
        self.interval.is_some()
    }

    /// Takes one request from the org's bucket: `None` when it may go
    /// ahead, else how long until it may.
    pub async fn take(&self, pool: &PgPool, org_id: Uuid) -> Result<Option<Duration>, DomainError> {
        let Some(interval) = self.interval else {
            return Ok(None);
        };
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
