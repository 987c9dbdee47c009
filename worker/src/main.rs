//! `kisum-worker` runs the background jobs until SIGTERM or SIGINT.

use std::process::ExitCode;

use shared::config::{Env, WorkerConfig};

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init("info,sqlx=warn");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match WorkerConfig::from_env(&Env::from_process()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kisum-worker: {e}");
            return ExitCode::from(78);
        }
    };
    match worker::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kisum-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}
