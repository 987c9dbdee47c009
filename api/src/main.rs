//! `kisum-api` serves HTTP; `kisum-api migrate` applies migrations and exits;
//! `kisum-api seed-demo` loads demo data and prints its ids as `NAME=value`
//! lines (only in a build with the `demo` feature: the production image
//! carries no demo code); `kisum-api openapi` prints the OpenAPI document;
//! `kisum-api contract-signing-key` prints a new `CONTRACT_SIGNING_KEY`.

use std::process::ExitCode;

use shared::config::{ApiConfig, DatabaseConfig, Env};

fn main() -> ExitCode {
    match api::runtime() {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("kisum-api: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    shared::telemetry::init("info,sqlx=warn,tower_http=info");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env = Env::from_process();
    let command = std::env::args().nth(1);
    let outcome = match command.as_deref() {
        None | Some("serve") => match ApiConfig::from_env(&env) {
            Ok(config) => api::run(config).await,
            Err(e) => return config_error(&e),
        },
        Some("migrate") => match DatabaseConfig::from_env(&env) {
            Ok(config) => migrate(&config).await,
            Err(e) => return config_error(&e),
        },
        Some("seed-demo") => match DatabaseConfig::from_env(&env) {
            Ok(config) => seed_demo(&config).await,
            Err(e) => return config_error(&e),
        },
        Some("openapi") => match ApiConfig::from_env(&env) {
            Ok(config) => print_openapi(config),
            Err(e) => return config_error(&e),
        },
        Some("contract-signing-key") => {
            println!("{}", shared::domain::contracts::seal::SealKey::generate());
            Ok(())
        }
        Some(other) => {
            eprintln!(
                "unknown command {other:?}; use serve, migrate, seed-demo, openapi or contract-signing-key"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kisum-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(e: &shared::config::ConfigError) -> ExitCode {
    eprintln!("kisum-api: {e}");
    ExitCode::from(78)
}

async fn migrate(config: &DatabaseConfig) -> anyhow::Result<()> {
    shared::db::create_database_if_missing(config).await?;
    let pool = shared::db::pool(config)?;
    shared::db::migrate(&pool).await?;
    tracing::info!("migrations applied");
    Ok(())
}

fn print_openapi(config: ApiConfig) -> anyhow::Result<()> {
    let pool = shared::db::pool(&config.database)?;
    let state = api::AppState::new(config, pool)?;
    println!("{}", api::openapi_document(&state).to_pretty_json()?);
    Ok(())
}

#[cfg(feature = "demo")]
async fn seed_demo(config: &DatabaseConfig) -> anyhow::Result<()> {
    let pool = shared::db::pool(config)?;
    let story = shared::demo::seed(&pool).await?;
    tracing::info!("demo data loaded");
    print!("{}", story.env_lines());
    Ok(())
}

#[cfg(not(feature = "demo"))]
async fn seed_demo(_config: &DatabaseConfig) -> anyhow::Result<()> {
    anyhow::bail!(
        "this build has no demo data; build with `cargo build -p kisum-api --features demo` \
         (deploy/dev.sh run does) or use `docker compose --profile demo up`"
    )
}
