//! The Postgres pool and the schema: our migrations plus apalis's job tables.

use std::collections::HashSet;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

use crate::config::DatabaseConfig;

/// Our forward-only migrations, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// A pool that connects lazily, so a binary can start (and report not ready)
/// before the database answers.
pub fn pool(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = config
        .url
        .parse()
        .context("DATABASE_URL is not a valid Postgres URL")?;
    let options = options.application_name("kisum").log_slow_statements(
        tracing::log::LevelFilter::Warn,
        std::time::Duration::from_millis(500),
    );
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect_lazy_with(options))
}

/// Creates the database named by `DATABASE_URL` when the server lacks it.
pub async fn create_database_if_missing(config: &DatabaseConfig) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase;
    if !sqlx::Postgres::database_exists(&config.url)
        .await
        .context("connecting to Postgres (DATABASE_URL)")?
    {
        sqlx::Postgres::create_database(&config.url)
            .await
            .context("creating the database")?;
        tracing::info!("database created");
    }
    Ok(())
}

/// Applies our migrations, sets up the job queue's tables (schema `apalis`,
/// tracked in its own `apalis._sqlx_migrations`) and loads the shipped
/// reference data.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    // The queue's tables first: ours index them.
    queue_migrator()
        .run(pool)
        .await
        .context("setting up the job queue tables")?;
    MIGRATOR.run(pool).await.context("applying migrations")?;
    crate::reference::load(pool).await?;
    Ok(())
}

/// Whether the database answers and every embedded migration (ours and the
/// queue's) has been applied. Drives `GET /readyz`.
pub async fn schema_ready(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let tables: (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT to_regclass('public._sqlx_migrations')::text, \
                to_regclass('apalis._sqlx_migrations')::text",
    )
    .fetch_one(pool)
    .await?;
    if tables.0.is_none() || tables.1.is_none() {
        return Ok(false);
    }
    let ours: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM public._sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?;
    let queue: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM apalis._sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?;
    Ok(all_applied(&MIGRATOR, ours) && all_applied(&queue_migrator(), queue))
}

fn all_applied(migrator: &Migrator, versions: Vec<i64>) -> bool {
    let versions: HashSet<i64> = versions.into_iter().collect();
    migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .all(|m| versions.contains(&m.version))
}

/// The job queue's migrations (schema `apalis`, own history table).
pub fn queue_migrator() -> Migrator {
    apalis_postgres::PostgresStorage::migrations()
}
