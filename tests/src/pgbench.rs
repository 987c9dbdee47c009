//! The hardware's own ceiling, measured beside a benchmark in the same run:
//! pgbench (from the Postgres binaries) on a scratch database of the same
//! server, with prepared statements, `-S` (one primary-key read per
//! transaction) and the default TPC-B-like script (three updates, a select
//! and an insert per transaction) at each client count.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::TestDb;

/// The scale factor: 1,600,000 accounts and 16 branches, so 16 clients
/// of the TPC-B-like script do not all queue on one branch row.
pub const SCALE: u32 = 16;

/// Transactions per second of `-S` and of the TPC-B-like script at each
/// client count, `duration` each:
/// `{"scale": 16, "select_only": {"16": tps, ...}, "tpcb_like": {...}}`.
pub async fn ceiling(clients: &[usize], duration: Duration) -> Value {
    let db = TestDb::empty().await;
    ceiling_in(&db.url, clients, duration)
}

/// [`ceiling`] in the empty database at `url` (on a server of the
/// benchmark's own, say).
pub fn ceiling_in(url: &str, clients: &[usize], duration: Duration) -> Value {
    let pgbench = pgbench_binary();
    let status = Command::new(&pgbench)
        .args(["-i", "-q", "-s", &SCALE.to_string(), url])
        .output()
        .expect("pgbench runs");
    assert!(
        status.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut select_only = serde_json::Map::new();
    let mut tpcb_like = serde_json::Map::new();
    for &n in clients {
        select_only.insert(n.to_string(), json!(run(&pgbench, url, n, duration, true)));
        tpcb_like.insert(n.to_string(), json!(run(&pgbench, url, n, duration, false)));
    }
    json!({"scale": SCALE, "select_only": select_only, "tpcb_like": tpcb_like})
}

/// `pgbench` on `PATH`, else the newest under `/usr/lib/postgresql`.
fn pgbench_binary() -> String {
    if Command::new("pgbench").arg("--version").output().is_ok() {
        return "pgbench".into();
    }
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pgbench"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("pgbench, from the Postgres binaries")
        .display()
        .to_string()
}

fn run(pgbench: &str, url: &str, clients: usize, duration: Duration, select_only: bool) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut args = vec![
        "-M".to_owned(),
        "prepared".to_owned(),
        "-c".to_owned(),
        clients.to_string(),
        "-j".to_owned(),
        threads.min(clients).to_string(),
        "-T".to_owned(),
        duration.as_secs().max(1).to_string(),
    ];
    if select_only {
        args.push("-S".into());
    }
    args.push(url.into());
    let out = Command::new(pgbench)
        .args(&args)
        .output()
        .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok());
    let Some(tps) = tps else {
        panic!(
            "pgbench {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    tps.round()
}
