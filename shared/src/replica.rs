//! Reads on a streaming replica, with read-your-writes (SPEC 5.11).
//!
//! Writes always go to the primary. A read that tolerates lag asks
//! [`Reads`] for a connection: the replica's (`DATABASE_READ_URL`) when it
//! can answer as the caller needs, else the primary's.
//!
//! - A write's response carries a consistency token: the primary's WAL
//!   position after its commit ([`Reads::token`]). A read that sends it back
//!   uses the replica only once the replica has replayed past it (as last
//!   seen, or asked once), and the primary otherwise, so a client reads its
//!   own writes.
//! - A read without a token uses the replica while its lag is within
//!   `REPLICA_MAX_LAG_MS`. The lag is measured as the primary's WAL moves:
//!   [`Reads::monitor`] samples the primary's position and the replica's
//!   replay position every [`Reads::interval`]; the lag is how long ago the
//!   primary was at the oldest sampled position the replica has not
//!   replayed (zero when it replayed them all: an idle primary leaves
//!   nothing to miss). The bound holds within one interval.
//! - A replica that is down or refusing is skipped at once: a failed check
//!   marks it down until the monitor reaches it again, and a read that
//!   fails on it for want of the database ([`DomainError::Unavailable`])
//!   runs again on the primary (the API's `replica_read!`; reads change
//!   nothing, so running one twice is safe).
//!
//! The state here is each process's own view of the replica, rebuilt by its
//! monitor; nothing depends on another process seeing the same.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};

use crate::DomainError;

/// The header a write answers with and a read may send back.
pub const HEADER: &str = "consistency-token";

/// A position in the primary's write-ahead log (`pg_lsn`), written as
/// Postgres writes it (`16/B374D848`): the consistency token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl FromStr for Lsn {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (hi, lo) = s.split_once('/').ok_or(())?;
        let part = |p: &str| {
            if p.is_empty() || p.len() > 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(());
            }
            u32::from_str_radix(p, 16).map_err(|_| ())
        };
        Ok(Self((u64::from(part(hi)?) << 32) | u64::from(part(lo)?)))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Which server answered a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Primary,
    Replica,
}

/// The primary, and the replica when one is configured.
#[derive(Clone)]
pub struct Reads {
    primary: PgPool,
    replica: Option<Arc<Replica>>,
}

/// What this process last saw of the replica.
struct Replica {
    pool: PgPool,
    max_lag: Duration,
    /// The replay position last seen (`u64::MAX` for a server not in
    /// recovery: it has everything).
    replayed: AtomicU64,
    /// Whether the lag was within `max_lag` when last measured.
    fresh: AtomicBool,
    /// Whether the replica answered its last check.
    up: AtomicBool,
}

impl Replica {
    fn note(&self, replayed: u64) {
        self.replayed.fetch_max(replayed, Ordering::Relaxed);
        self.up.store(true, Ordering::Relaxed);
    }

    fn down(&self) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!("read replica unreachable; reading from the primary");
        }
    }
}

/// The replay position of the server a connection reaches (`u64::MAX`
/// when it is not a standby: it has every write).
async fn replayed(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let (recovering, lsn): (bool, Option<String>) =
        sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
            .fetch_one(conn)
            .await?;
    if !recovering {
        return Ok(u64::MAX);
    }
    Ok(lsn.and_then(|l| l.parse::<Lsn>().ok()).map_or(0, |l| l.0))
}

impl Reads {
    /// Every read on the primary (no `DATABASE_READ_URL`).
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// Reads on `replica` as the rules above allow. Until the monitor has
    /// measured it, a tokenless read uses the primary.
    pub fn with_replica(primary: PgPool, replica: PgPool, max_lag: Duration) -> Self {
        Self {
            primary,
            replica: Some(Arc::new(Replica {
                pool: replica,
                max_lag,
                replayed: AtomicU64::new(0),
                fresh: AtomicBool::new(false),
                up: AtomicBool::new(true),
            })),
        }
    }

    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The consistency token of the writes committed so far: the primary's
    /// WAL position now, at or past the commit of each.
    pub async fn token(&self) -> Result<Lsn, DomainError> {
        let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
            .fetch_one(&self.primary)
            .await?;
        lsn.parse()
            .map_err(|()| DomainError::Internal(anyhow::anyhow!("unreadable WAL position {lsn}")))
    }

    /// A connection for a read that tolerates lag: the replica's when it
    /// can answer as `token` needs, else the primary's. A replica whose
    /// pool is busy leaves the read to the primary; one that cannot be
    /// reached is marked down.
    pub async fn acquire(
        &self,
        token: Option<Lsn>,
    ) -> Result<(PoolConnection<Postgres>, Server), DomainError> {
        if let Some(r) = self.replica.as_deref()
            && r.up.load(Ordering::Relaxed)
        {
            let known = match token {
                None => r.fresh.load(Ordering::Relaxed),
                Some(t) => r.replayed.load(Ordering::Relaxed) >= t.0,
            };
            if known || token.is_some() {
                match r.pool.acquire().await {
                    Ok(mut conn) => {
                        // Behind the token as last seen: ask once.
                        let past = match token {
                            Some(t) if !known => replayed_past(&mut conn, r, t).await,
                            _ => true,
                        };
                        if past {
                            return Ok((conn, Server::Replica));
                        }
                    }
                    Err(sqlx::Error::PoolTimedOut) => {}
                    Err(_) => r.down(),
                }
            }
        }
        Ok((self.primary.acquire().await?, Server::Primary))
    }

    /// A read on the replica failed for want of the database: reads go to
    /// the primary until the monitor reaches the replica again.
    pub fn replica_failed(&self) {
        if let Some(r) = self.replica.as_deref() {
            r.down();
        }
    }

    /// How often [`Reads::monitor`] measures: a quarter of the lag bound,
    /// between 20 and 250 ms.
    pub fn interval(&self) -> Duration {
        self.replica
            .as_deref()
            .map_or(Duration::from_millis(250), |r| {
                (r.max_lag / 4).clamp(Duration::from_millis(20), Duration::from_millis(250))
            })
    }

    /// Measures the replica's replay position and lag every
    /// [`Reads::interval`], forever; returns at once without a replica.
    pub async fn monitor(self) {
        let Some(r) = self.replica.clone() else {
            return;
        };
        let interval = self.interval();
        // The primary's positions over the last `max_lag` and a bit.
        let mut samples: VecDeque<(Instant, u64)> = VecDeque::new();
        loop {
            let now = Instant::now();
            let primary: Result<String, _> =
                sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
                    .fetch_one(&self.primary)
                    .await;
            if let Some(lsn) = primary.ok().and_then(|l| l.parse::<Lsn>().ok()) {
                samples.push_back((now, lsn.0));
            }
            let keep = r.max_lag + interval * 4;
            while samples
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > keep)
                && samples.len() > 1
            {
                samples.pop_front();
            }
            let checked = tokio::time::timeout(interval.max(Duration::from_millis(200)), async {
                let mut conn = r.pool.acquire().await?;
                replayed(&mut conn).await
            })
            .await;
            match checked {
                Ok(Ok(replayed)) => {
                    r.replayed.store(replayed, Ordering::Relaxed);
                    r.up.store(true, Ordering::Relaxed);
                    let behind = samples.iter().find(|(_, lsn)| *lsn > replayed);
                    let lag = behind.map_or(Duration::ZERO, |(at, _)| now.duration_since(*at));
                    r.fresh.store(lag <= r.max_lag, Ordering::Relaxed);
                }
                _ => {
                    r.fresh.store(false, Ordering::Relaxed);
                    r.down();
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// Whether the replica behind `conn` has replayed past `token`, asked
/// now. A failed check marks the replica down.
async fn replayed_past(conn: &mut PgConnection, r: &Replica, token: Lsn) -> bool {
    match replayed(conn).await {
        Ok(pos) => {
            r.note(pos);
            pos >= token.0
        }
        Err(_) => {
            r.down();
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_reads_and_writes_as_postgres_does() {
        let lsn: Lsn = "16/B374D848".parse().unwrap();
        assert_eq!(lsn.0, (0x16 << 32) | 0xB374_D848);
        assert_eq!(lsn.to_string(), "16/B374D848");
        assert_eq!("0/0".parse::<Lsn>(), Ok(Lsn(0)));
        assert!("0/1".parse::<Lsn>().unwrap() < "1/0".parse::<Lsn>().unwrap());
        for bad in [
            "",
            "16",
            "/1",
            "1/",
            "g/1",
            "1/123456789",
            "1/2/3",
            " 1/2",
            "-1/2",
        ] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad:?}");
        }
    }
}
