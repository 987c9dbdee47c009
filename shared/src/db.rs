//! The Postgres pool and the schema: our migrations plus the job queue's
//! (from [`crate::jobs::queue`]).

use std::collections::HashSet;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::DatabaseConfig;

/// Our forward-only migrations, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A pooled connection idle this long is checked before it is used.
const CHECK_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// A pool that connects lazily, so a binary can start (and report not ready)
/// before the database answers.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config
        .url
        .expose_secret()
        .parse()
        .context("DATABASE_URL is not a valid Postgres URL")?;
    Ok(lazy_pool(
        options,
        "kisum",
        config.max_connections,
        config.acquire_timeout,
    ))
}

/// How long a read waits for a replica connection before it reads on the
/// primary instead: a replica that is down or saturated is skipped, not
/// waited for.
const REPLICA_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The reads' pools: the replica's from `DATABASE_READ_URL` beside the
/// primary's, or the primary alone ([`crate::replica`]).
pub fn reads(config: &DatabaseConfig, primary: PgPool) -> anyhow::Result<crate::replica::Reads> {
    let Some(url) = &config.read_url else {
        return Ok(crate::replica::Reads::primary_only(primary));
    };
    let options: PgConnectOptions = url
        .expose_secret()
        .parse()
        .context("DATABASE_READ_URL is not a valid Postgres URL")?;
    let replica = lazy_pool(
        options,
        "kisum-read",
        config.max_connections,
        REPLICA_ACQUIRE_TIMEOUT.min(config.acquire_timeout),
    );
    Ok(crate::replica::Reads::with_replica(
        primary,
        replica,
        config.replica_max_lag,
    ))
}

fn lazy_pool(
    options: PgConnectOptions,
    name: &str,
    max_connections: u32,
    acquire_timeout: std::time::Duration,
) -> PgPool {
    let options = options.application_name(name).log_slow_statements(
        tracing::log::LevelFilter::Warn,
        std::time::Duration::from_millis(500),
    );
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // sqlx checks every connection it hands out with a round trip of
        // its own (and again when it takes one back): one more round trip
        // per request than the statement. A connection in steady use has
        // just passed the check on its return, so only one that sat idle
        // (which a restarted or failed-over server may have dropped) is
        // checked again before use; a failed check opens another.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options)
}

/// Creates the database named by `DATABASE_URL` when the server lacks it.
pub async fn create_database_if_missing(config: &DatabaseConfig) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    let url = config.url.expose_secret();
    if !sqlx::Postgres::database_exists(url)
        .await
        .context("connecting to Postgres (DATABASE_URL)")?
    {
        sqlx::Postgres::create_database(url)
            .await
            .context("creating the database")?;
        tracing::info!("database created");
    }
    Ok(())
}

/// Applies the job queue's migrations, then ours (which index the queue's
/// tables), loads the shipped reference data and adds the history tables'
/// partitions of the coming months ([`crate::history`]).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    // The queue's tables first: ours index them.
    crate::jobs::queue::migrator()
        .run(pool)
        .await
        .context("setting up the job queue tables")?;
    MIGRATOR.run(pool).await.context("applying migrations")?;
    crate::reference::load(pool).await?;
    // Not a reason to refuse to start: the maintenance job tries again
    // within 15 minutes, months before a partition is needed.
    let mut conn = pool.acquire().await?;
    if let Err(error) = crate::history::ensure_partitions(&mut conn, chrono::Utc::now()).await {
        tracing::warn!(%error, "adding the history tables' partitions failed");
    }
    Ok(())
}

/// Whether the database answers and every embedded migration (ours and the
/// queue's) has been applied. Drives `GET /readyz`.
pub async fn schema_ready(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let ours: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text")
            .fetch_one(&mut *conn)
            .await?;
    if ours.is_none() {
        return Ok(false);
    }
    let Some(queue) = crate::jobs::queue::applied_migrations(&mut conn).await? else {
        return Ok(false);
    };
    let ours: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM public._sqlx_migrations WHERE success")
            .fetch_all(&mut *conn)
            .await?;
    Ok(all_applied(&MIGRATOR, ours) && all_applied(&crate::jobs::queue::migrator(), queue))
}

fn all_applied(migrator: &Migrator, versions: Vec<i64>) -> bool {
    let versions: HashSet<i64> = versions.into_iter().collect();
    migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| versions.contains(&m.version))
}

/// Failed probes in a row that mark the database down: one slow probe on a
/// loaded machine is not an outage.
pub const PROBE_FAILURES: u32 = 2;

/// Whether the database answers, as a probe on its own connection sees it
/// ([`DbHealth::probe`]). Requests consult it as they arrive so that,
/// while the database is down, they answer at once instead of each waiting
/// out the pool's acquire timeout.
#[derive(Clone)]
pub struct DbHealth {
    up: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl DbHealth {
    /// Up until a probe says otherwise.
    pub fn new() -> Self {
        Self {
            up: std::sync::Arc::new(tokio::sync::watch::Sender::new(true)),
        }
    }

    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    fn set(&self, up: bool) {
        self.up.send_if_modified(|current| {
            if *current == up {
                return false;
            }
            *current = up;
            if up {
                tracing::info!("database reachable again");
            } else {
                tracing::warn!("database unreachable; answering 503 until it returns");
            }
            true
        });
    }

    /// Probes forever: `SELECT 1` on a connection of its own every
    /// `interval`, each within `timeout` (a new connection within twice
    /// that). A failure drops the connection, so the next probe connects
    /// anew; [`PROBE_FAILURES`] failures in a row mark the database down,
    /// one success marks it up. A server refusing only for want of
    /// connection slots (53300) counts as up: the pool's connections still
    /// work. Runs until the task is dropped.
    pub async fn probe(
        self,
        options: PgConnectOptions,
        interval: std::time::Duration,
        timeout: std::time::Duration,
    ) {
        let mut conn: Option<sqlx::PgConnection> = None;
        let mut failures = 0;
        loop {
            let limit = if conn.is_some() { timeout } else { timeout * 2 };
            let checked = tokio::time::timeout(limit, async {
                if conn.is_none() {
                    conn = Some(options.connect().await?);
                }
                match conn.as_mut() {
                    Some(c) => sqlx::query("SELECT 1").execute(c).await.map(|_| ()),
                    None => Ok(()),
                }
            })
            .await;
            let up = match checked {
                Ok(Ok(())) => true,
                Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("53300") => true,
                _ => false,
            };
            if up {
                failures = 0;
                self.set(true);
            } else {
                conn = None;
                failures += 1;
                if failures >= PROBE_FAILURES {
                    self.set(false);
                }
            }
            tokio::time::sleep(interval).await;
        }
    }
}
