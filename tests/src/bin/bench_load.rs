//! Load test on loopback: the release `kisum-api` process (and a release
//! worker consuming the jobs the writes cause) on a generated world, the
//! main read and write paths each driven by 16 and then 64 concurrent
//! clients for `DURATION_S` seconds. Reports per path and concurrency:
//! requests/s, p50/p95/p99, errors, the API's resident memory (RSS, and its
//! peak), the jobs/s the worker finished during the write phases, and the
//! database round trips of one request (statements sqlx logs, measured on
//! a second API process with statement logging on, sequentially), each
//! beside its anchor from the same run: pgbench `-S` for reads and the
//! TPC-B-like script for writes, on a scratch database of the same server
//! (`kisum_tests::pgbench`), as a ratio.
//!
//! With `REPLICA=1` the run has servers of its own: a durable primary and
//! a hot standby streaming from it (`pg_basebackup -R`), the API reading
//! from the standby through `DATABASE_READ_URL` as in Kubernetes. Each
//! stage then also reports the CPU of each server's processes, and the
//! statements of one request are counted on each server from
//! `pg_stat_statements` (loaded on both): the statements the API's
//! background tasks run meanwhile (the replica monitor, the index
//! follower, the health probe), measured while idle, are taken off.
//!
//! Run: `./deploy/bench.sh load` (`./deploy/bench.sh load-replica` for
//! `REPLICA=1`). Knobs: `ARTISTS` (20000), `WINDOWS_PER_ARTIST` (3),
//! `HOLDS` (10000), `BOOKINGS` (5000), `DURATION_S` (10), `CLIENTS`
//! ("16,64"), `DATABASE_MAX_CONNECTIONS` (20), `REPLICA` (0).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::processes::{ApiProcess, ReplicaPair};
use kisum_tests::world::{
    AGENCY, AGENCY_ORG, PROMOTER, PROMOTER_ORG, booking_world, exec, rebuild_read_model,
};
use kisum_tests::{TestDb, Token, WorkerProcess};
use serde_json::{Value, json};
use shared::domain::read_models::Model;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// Per org and minute, when statements are counted: on, and far above
/// what the count sends.
const RATE_LIMIT: &str = "100000000";

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| (kb / 1024.0 * 10.0).round() / 10.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th fields, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds a Postgres server has used so far: its postmaster and the
/// processes it started (backends, WAL sender and receiver, startup).
fn server_cpu(postmaster: u32) -> f64 {
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The parent's pid is the second field after the command.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            rest.split_whitespace().nth(1) == Some(&postmaster.to_string())
        });
    cpu_seconds(postmaster) + children.map(cpu_seconds).sum::<f64>()
}

/// Busy and total CPU seconds of the whole machine so far.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

#[derive(Clone, Copy, Debug)]
enum Path {
    BookingList,
    Marketplace,
    ArtistDetail,
    ArtistNotModified,
    CreateHold,
    CreateOffer,
}

impl Path {
    const ALL: [Self; 6] = [
        Self::BookingList,
        Self::Marketplace,
        Self::ArtistDetail,
        Self::ArtistNotModified,
        Self::CreateHold,
        Self::CreateOffer,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::BookingList => "GET /api/v1/bookings?limit=50",
            Self::Marketplace => "GET /api/v1/marketplace/artists (text + genre + window)",
            Self::ArtistDetail => "GET /api/v1/artists/{id}",
            Self::ArtistNotModified => "GET /api/v1/artists/{id} (If-None-Match: 304)",
            Self::CreateHold => "POST /api/v1/holds",
            Self::CreateOffer => "POST /api/v1/offers (sent)",
        }
    }

    fn writes(self) -> bool {
        matches!(self, Self::CreateHold | Self::CreateOffer)
    }
}

struct World {
    artists: Vec<(Uuid, String)>,
    agency: String,
    promoter: String,
}

/// A request of `path`; `n` varies the artist and date.
fn request(
    http: &reqwest::Client,
    base: &str,
    world: &World,
    path: Path,
    n: u64,
) -> reqwest::RequestBuilder {
    let (artist, name) = &world.artists[usize::try_from(n).unwrap() % world.artists.len()];
    // At least five days ahead: a hold's expiry (three days) must not run
    // past its day.
    let day = Utc::now().date_naive() + chrono::Duration::days(5 + i64::try_from(n % 700).unwrap());
    let agency = |r: reqwest::RequestBuilder| {
        r.bearer_auth(&world.agency)
            .header("x-org", AGENCY_ORG.to_string())
    };
    match path {
        Path::BookingList => agency(http.get(format!("{base}/api/v1/bookings?limit=50"))),
        Path::Marketplace => {
            // A typo in the name: the trigram path.
            let mut chars: Vec<char> = name.chars().collect();
            let i = chars.len() / 2;
            if i + 1 < chars.len() {
                chars.swap(i, i + 1);
            }
            let q: String = chars.into_iter().collect();
            agency(
                http.get(format!("{base}/api/v1/marketplace/artists"))
                    .query(&[
                        ("q", q.as_str()),
                        ("available_from", &day.to_string()),
                        (
                            "available_to",
                            &(day + chrono::Duration::days(60)).to_string(),
                        ),
                    ]),
            )
        }
        Path::ArtistDetail => agency(http.get(format!("{base}/api/v1/artists/{artist}"))),
        // The generated artists are at version 1: every answer is a 304.
        Path::ArtistNotModified => agency(
            http.get(format!("{base}/api/v1/artists/{artist}"))
                .header("if-none-match", "\"1\""),
        ),
        Path::CreateHold => agency(http.post(format!("{base}/api/v1/holds")).json(&json!({
            "artist_id": artist, "date": day, "promoter_company_id": PROMOTER,
            "expires_at": Utc::now() + chrono::Duration::days(3),
        }))),
        Path::CreateOffer => http
            .post(format!("{base}/api/v1/offers"))
            .bearer_auth(&world.promoter)
            .header("x-org", PROMOTER_ORG.to_string())
            .json(&json!({
                "artist_id": artist, "promoter_company_id": PROMOTER, "event_date": day,
                "venue": {"name": "Bench Hall", "city_id": 2759794, "capacity": 900},
                "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 250_000},
                "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
            })),
    }
}

/// Whether `status` is the answer `path` expects.
fn answered(path: Path, status: reqwest::StatusCode) -> bool {
    match path {
        Path::ArtistNotModified => status == reqwest::StatusCode::NOT_MODIFIED,
        _ => status.is_success(),
    }
}

/// `clients` loops sending `path` for `duration`; latencies and errors.
async fn drive(
    api: &ApiProcess,
    world: &Arc<World>,
    path: Path,
    clients: usize,
    duration: Duration,
    counter: &Arc<AtomicU64>,
) -> (Vec<Duration>, usize, Option<String>) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let http = http.clone();
            let base = api.base.clone();
            let world = world.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut errors = 0;
                let mut sample = None;
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let begun = Instant::now();
                    let response = request(&http, &base, &world, path, n).send().await;
                    match response {
                        Ok(r) if answered(path, r.status()) => {
                            let _ = r.bytes().await;
                            times.push(begun.elapsed());
                        }
                        Ok(r) => {
                            errors += 1;
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            sample.get_or_insert_with(|| format!("{status}: {body}"));
                        }
                        Err(e) => {
                            errors += 1;
                            sample.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (times, errors, sample)
            })
        })
        .collect();
    let mut times = Vec::new();
    let mut errors = 0;
    let mut sample = None;
    for task in tasks {
        let (t, e, s) = task.await.unwrap();
        times.extend(t);
        errors += e;
        sample = sample.or(s);
    }
    (times, errors, sample)
}

fn summary(mut times: Vec<Duration>, errors: usize, seconds: f64) -> Value {
    times.sort();
    let p = |q: f64| {
        if times.is_empty() {
            return 0.0;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        ms(times[i])
    };
    #[allow(clippy::cast_precision_loss)]
    let rps = (times.len() as f64 / seconds).round();
    json!({
        "requests": times.len(), "errors": errors, "rps": rps,
        "p50_ms": p(0.5), "p95_ms": p(0.95), "p99_ms": p(0.99), "max_ms": p(1.0),
    })
}

/// Calls of each statement a server has run in the benchmark's database,
/// by `pg_stat_statements` query id; transaction control (which sqlx does
/// not log either) and this sampling itself left out.
async fn statement_calls(conn: &mut PgConnection) -> Calls {
    sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT queryid, calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 90)
           FROM pg_stat_statements
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND query !~* '^\\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)'
            AND query NOT LIKE '%pg_stat_statements%'",
    )
    .fetch_all(conn)
    .await
    .unwrap()
    .into_iter()
    .map(|(id, calls, query)| (id, (calls, query)))
    .collect()
}

/// Calls of each statement by query id, with the statement's start.
type Calls = HashMap<i64, (i64, String)>;

/// Calls per statement between two samples.
fn calls_between(before: &Calls, after: &Calls) -> HashMap<i64, f64> {
    #[allow(clippy::cast_precision_loss)]
    after
        .iter()
        .map(|(id, (calls, _))| (*id, (calls - before.get(id).map_or(0, |b| b.0)) as f64))
        .filter(|(_, n)| *n > 0.0)
        .collect()
}

/// Counts the statements one request costs on the primary and on the
/// standby. The API's background statements, measured per second while
/// it is idle, are taken off each count for the time the requests took.
struct ServerStatements {
    primary: PgConnection,
    standby: PgConnection,
    /// Calls per second of each statement while the API is idle.
    idle: [HashMap<i64, f64>; 2],
}

impl ServerStatements {
    async fn connect(pair: &ReplicaPair) -> Self {
        Self {
            primary: PgConnection::connect(&pair.primary_url()).await.unwrap(),
            standby: PgConnection::connect(&pair.standby_url()).await.unwrap(),
            idle: [HashMap::new(), HashMap::new()],
        }
    }

    async fn sample(&mut self) -> [Calls; 2] {
        [
            statement_calls(&mut self.primary).await,
            statement_calls(&mut self.standby).await,
        ]
    }

    /// Measures the background rates over `window` with no requests.
    async fn measure_idle(&mut self, window: Duration) {
        let before = self.sample().await;
        let begun = Instant::now();
        tokio::time::sleep(window).await;
        let after = self.sample().await;
        let seconds = begun.elapsed().as_secs_f64();
        for (i, rates) in self.idle.iter_mut().enumerate() {
            *rates = calls_between(&before[i], &after[i])
                .into_iter()
                .map(|(id, n)| (id, n / seconds))
                .collect();
        }
    }

    /// Statements per request on each server, over `requests` requests
    /// that took `seconds` between `before` and `after`: the total and
    /// each statement's share (`{"total", "statements": {start: calls}}`).
    fn per_request(
        &self,
        before: &[Calls; 2],
        after: &[Calls; 2],
        seconds: f64,
        requests: u64,
    ) -> [Value; 2] {
        let round = |v: f64| (v * 100.0).round() / 100.0;
        std::array::from_fn(|i| {
            #[allow(clippy::cast_precision_loss)]
            let each: Vec<(String, f64)> = calls_between(&before[i], &after[i])
                .into_iter()
                .map(|(id, n)| {
                    let background = self.idle[i].get(&id).copied().unwrap_or(0.0) * seconds;
                    let text = after[i].get(&id).map(|c| c.1.clone()).unwrap_or_default();
                    (text, (n - background).max(0.0) / requests as f64)
                })
                .collect();
            let total: f64 = each.iter().map(|(_, per)| per).sum();
            // Each statement's share, leaving out what rounds to nothing.
            let statements: serde_json::Map<String, Value> = each
                .into_iter()
                .filter(|(_, per)| *per >= 0.05)
                .map(|(text, per)| (text, json!(round(per))))
                .collect();
            json!({"total": round(total), "statements": statements})
        })
    }
}

/// What the database is running `after` from now, other than this query:
/// `{"<backend type>: <query's start>": count}`, to tell what else loads
/// the server during a stage.
async fn active_after(pool: sqlx::PgPool, after: Duration) -> Value {
    tokio::time::sleep(after).await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT backend_type || ': ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 70), count(*)
           FROM pg_stat_activity
          WHERE state = 'active' AND pid <> pg_backend_pid()
          GROUP BY 1 ORDER BY 2 DESC LIMIT 8",
    )
    .fetch_all(&pool)
    .await
    .unwrap_or_default();
    json!(
        rows.into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect::<serde_json::Map<String, Value>>()
    )
}

/// Waits until the work earlier writes caused is done: no read-model or
/// trust mark waiting, no job due. Each stage starts from there, so it is
/// not charged for the stage before.
async fn settle(pool: &sqlx::PgPool) {
    kisum_tests::eventually(Duration::from_secs(300), "the marks drain", || async {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM read_model_dirty) + (SELECT count(*) FROM trust_dirty)",
        )
        .fetch_one(pool)
        .await
        .ok()?;
        (waiting == 0).then_some(())
    })
    .await;
    for queue in shared::jobs::QUEUES {
        kisum_tests::wait_queue_drained(pool, queue).await;
    }
}

/// Rows of the queue and of the activity trail, to count what a write adds.
async fn growth_counts(pool: &sqlx::PgPool) -> (i64, i64) {
    let jobs = kisum_tests::queue::count_all(pool).await;
    let activity: i64 = sqlx::query_scalar("SELECT count(*) FROM booking_activity")
        .fetch_one(pool)
        .await
        .unwrap();
    (jobs, activity)
}

/// Statements sqlx logs per request of `path`, over `samples` sequential
/// requests (numbered from `first`: the artist and the date) on an API
/// process logging every statement; with `servers`,
/// also those each server ran (`{"logged", "primary", "standby"}`).
async fn round_trips(
    api: &ApiProcess,
    world: &Arc<World>,
    path: Path,
    samples: u64,
    first: u64,
    servers: Option<&mut ServerStatements>,
) -> Value {
    let http = reqwest::Client::new();
    let count = || {
        api.log_lines()
            .iter()
            .filter(|l| l["target"] == "sqlx::query")
            .count()
    };
    let before = count();
    let mut servers = servers;
    let mut on_servers = None;
    if let Some(s) = servers.as_deref_mut() {
        on_servers = Some(s.sample().await);
    }
    let begun = Instant::now();
    for n in 0..samples {
        let r = request(&http, &api.base, world, path, first + n)
            .send()
            .await
            .unwrap();
        assert!(answered(path, r.status()), "{}", r.text().await.unwrap());
    }
    let seconds = begun.elapsed().as_secs_f64();
    let split = match (servers, on_servers) {
        (Some(s), Some(first)) => {
            let last = s.sample().await;
            Some(s.per_request(&first, &last, seconds, samples))
        }
        _ => None,
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    #[allow(clippy::cast_precision_loss)]
    let per = (count() - before) as f64 / samples as f64;
    let logged = (per * 10.0).round() / 10.0;
    match split {
        Some([primary, standby]) => {
            json!({"logged": logged, "primary": primary, "standby": standby})
        }
        None => json!(logged),
    }
}

#[tokio::main]
async fn main() {
    let artists = env_num("ARTISTS", 20_000);
    let windows = env_num("WINDOWS_PER_ARTIST", 3);
    let holds = env_num("HOLDS", 10_000);
    let bookings = env_num("BOOKINGS", 5_000);
    let duration = Duration::from_secs(u64::try_from(env_num("DURATION_S", 10)).unwrap());
    let clients: Vec<usize> = std::env::var("CLIENTS")
        .unwrap_or_else(|_| "16,64".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let max_connections = env_num("DATABASE_MAX_CONNECTIONS", 20).to_string();
    let replica = env_num("REPLICA", 0) == 1;

    // Declared before the database, so dropped after it.
    let pair = if replica {
        Some(
            ReplicaPair::start_with(&[
                ("fsync", "on"),
                ("shared_preload_libraries", "pg_stat_statements"),
            ])
            .await,
        )
    } else {
        None
    };
    let db = match &pair {
        Some(pair) => pair.database(),
        None => TestDb::migrated().await,
    };
    let pool = db.pool().await;
    if pair.is_some() {
        exec(&pool, "CREATE EXTENSION pg_stat_statements").await;
    }
    booking_world(&pool, artists, windows, holds, bookings).await;
    for model in Model::ALL {
        rebuild_read_model(&pool, model).await;
    }
    exec(&pool, "DELETE FROM read_model_dirty").await;
    kisum_tests::queue::delete_all(&pool).await;
    exec(&pool, "VACUUM ANALYZE").await;
    // The hardware's ceiling, on the same server with nothing else running.
    let ceiling = match &pair {
        Some(pair) => {
            let url = pair.primary.url("pgbench_ceiling");
            let mut admin = PgConnection::connect(&pair.primary.url("postgres"))
                .await
                .unwrap();
            sqlx::Executor::execute(&mut admin, "CREATE DATABASE pgbench_ceiling")
                .await
                .unwrap();
            let ceiling = kisum_tests::pgbench::ceiling_in(&url, &clients, duration);
            sqlx::Executor::execute(&mut admin, "DROP DATABASE pgbench_ceiling")
                .await
                .unwrap();
            // The standby starts the load with everything replayed.
            pair.caught_up().await;
            ceiling
        }
        None => kisum_tests::pgbench::ceiling(&clients, duration).await,
    };
    eprintln!("{ceiling}");
    let artist_rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, name FROM artists ORDER BY id LIMIT 5000")
            .fetch_all(&pool)
            .await
            .unwrap();
    let token = |org: Uuid| {
        Token::user("bench")
            .org(org, "owner")
            .claim("exp", json!(Utc::now().timestamp() + 86_400))
            .hs256()
    };
    let world = Arc::new(World {
        artists: artist_rows,
        agency: token(AGENCY_ORG),
        promoter: token(PROMOTER_ORG),
    });
    let _ = AGENCY;

    // The rate limit is off here: every request comes from one org, whose
    // shared bucket row would serialise them all (in production an org is
    // held to RATE_LIMIT_PER_MINUTE, 20 a second by default). Its cost, one
    // statement per tenant request, is in the statement counts below.
    let standby_url = pair.as_ref().map(ReplicaPair::standby_url);
    let with_reads = |mut vars: Vec<(&'static str, String)>| {
        if let Some(url) = &standby_url {
            vars.push(("DATABASE_READ_URL", url.clone()));
        }
        vars
    };
    let vars = with_reads(vec![
        ("DATABASE_MAX_CONNECTIONS", max_connections.clone()),
        ("RUST_LOG", "warn".into()),
        ("RATE_LIMIT_PER_MINUTE", "0".into()),
    ]);
    let vars_ref: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let api = ApiProcess::spawn(&db.url, &vars_ref).await;
    let postmasters = pair.as_ref().map(|p| {
        (
            p.primary.pid().expect("the primary runs"),
            p.standby.pid().expect("the standby runs"),
        )
    });
    let worker = WorkerProcess::spawn(&db.url, &[]);
    let worker_pid = worker.pid();
    let (rss_idle, _) = memory_mib(api.pid());
    let counter = Arc::new(AtomicU64::new(0));
    let mut results = Vec::new();
    // Warm-up: caches, prepared statements, connections.
    for path in Path::ALL {
        drive(&api, &world, path, 4, Duration::from_secs(1), &counter).await;
    }
    for &n in &clients {
        for path in Path::ALL {
            settle(&pool).await;
            let since = Utc::now();
            let rows_before = growth_counts(&pool).await;
            let begun = Instant::now();
            let me = std::process::id();
            let (api_cpu, worker_cpu, own_cpu, machine) = (
                cpu_seconds(api.pid()),
                cpu_seconds(worker_pid),
                cpu_seconds(me),
                machine_cpu(),
            );
            let servers_cpu = postmasters.map(|(p, s)| (server_cpu(p), server_cpu(s)));
            let midway = tokio::spawn(active_after(pool.clone(), duration / 2));
            let (times, errors, sample) = drive(&api, &world, path, n, duration, &counter).await;
            let seconds = begun.elapsed().as_secs_f64();
            let api_cpu = cpu_seconds(api.pid()) - api_cpu;
            let worker_cpu = cpu_seconds(worker_pid) - worker_cpu;
            let own_cpu = cpu_seconds(me) - own_cpu;
            let machine_after = machine_cpu();
            let mut row = summary(times, errors, seconds);
            let round2 = |v: f64| (v * 100.0).round() / 100.0;
            row["api_cores"] = json!(round2(api_cpu / seconds));
            row["worker_cores"] = json!(round2(worker_cpu / seconds));
            let busy = (machine_after.0 - machine.0) / seconds;
            row["machine_busy_cores"] = json!(round2(busy));
            row["load_generator_cores"] = json!(round2(own_cpu / seconds));
            if let (Some((p, s)), Some((before_p, before_s))) = (postmasters, servers_cpu) {
                row["primary_cores"] = json!(round2((server_cpu(p) - before_p) / seconds));
                row["standby_cores"] = json!(round2((server_cpu(s) - before_s) / seconds));
            }
            // Postgres and whatever else runs: the rest of the busy time.
            row["postgres_cores"] =
                json!(round2(busy - (api_cpu + worker_cpu + own_cpu) / seconds));
            if api_cpu > 0.0 {
                row["requests_per_api_core_s"] =
                    json!((row["rps"].as_f64().unwrap_or(0.0) * seconds / api_cpu).round());
            }
            let rps = row["rps"].as_f64().unwrap_or(0.0);
            if rps > 0.0 {
                let pg_ms = busy - (api_cpu + worker_cpu + own_cpu) / seconds;
                row["postgres_cpu_ms_per_request"] = json!(round2(pg_ms * 1000.0 / rps));
            }
            // Reads against pgbench -S, writes against its TPC-B-like
            // script, at the same client count.
            let anchor = if path.writes() {
                "tpcb_like"
            } else {
                "select_only"
            };
            let anchor_tps = ceiling[anchor][n.to_string()].as_f64().unwrap_or(0.0);
            row["anchor"] = json!(format!("pgbench {anchor}"));
            if anchor_tps > 0.0 {
                row["ratio_to_anchor"] = json!((rps / anchor_tps * 1000.0).round() / 1000.0);
            }
            let (rss, peak) = memory_mib(api.pid());
            // What else the primary did: jobs the worker finished, and what
            // ran on the primary halfway through the stage.
            row["jobs_done"] = json!(kisum_tests::queue::done_by_queue_since(&pool, since).await);
            row["primary_active_midway"] = midway.await.unwrap();
            row["path"] = json!(path.name());
            row["clients"] = json!(n);
            row["api_rss_mib"] = json!(rss);
            row["api_peak_rss_mib"] = json!(peak);
            if path.writes() {
                // Jobs the writes caused, finished by the worker meanwhile.
                let done = kisum_tests::queue::count_done_since(&pool, since).await;
                #[allow(clippy::cast_precision_loss)]
                let jobs_per_s = (done as f64 / seconds).round();
                row["jobs_done_per_s"] = json!(jobs_per_s);
                let rows_after = growth_counts(&pool).await;
                let ok = row["requests"].as_f64().unwrap_or(0.0).max(1.0);
                #[allow(clippy::cast_precision_loss)]
                let per = |before: i64, after: i64| {
                    ((after - before) as f64 / ok * 100.0).round() / 100.0
                };
                row["jobs_enqueued_per_write"] = json!(per(rows_before.0, rows_after.0));
                row["activity_rows_per_write"] = json!(per(rows_before.1, rows_after.1));
                if worker_cpu > 0.0 {
                    #[allow(clippy::cast_precision_loss)]
                    let per_core = (done as f64 / worker_cpu).round();
                    row["jobs_per_worker_core_s"] = json!(per_core);
                }
            }
            if let Some(sample) = sample {
                row["error_sample"] = json!(sample.chars().take(300).collect::<String>());
            }
            eprintln!("{row}");
            results.push(row);
        }
    }
    let (_, peak) = memory_mib(api.pid());
    drop(api);
    // Bytes per row (table, indexes and TOAST) of what grows with writes;
    // the activity trail is partitioned by month: its partitions' sizes.
    let tables: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT t, n, COALESCE((SELECT sum(pg_total_relation_size(relid))::bigint
                                  FROM pg_partition_tree(t::regclass)),
                               pg_total_relation_size(t::regclass)) FROM (VALUES
             ('booking_activity', (SELECT count(*) FROM booking_activity)),
             ('holds', (SELECT count(*) FROM holds)),
             ('offers', (SELECT count(*) FROM offers))) v(t, n)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let sizes = std::iter::once(kisum_tests::queue::footprint(&pool).await).chain(tables);
    let bytes_per_row: serde_json::Map<String, Value> = sizes
        .map(|(t, n, bytes)| (t, json!(if n > 0 { bytes / n } else { 0 })))
        .collect();

    // Round trips per request, on a process logging every statement, with
    // the worker stopped: on the servers, what is counted is the API's.
    drop(worker);
    let vars = with_reads(vec![
        ("RUST_LOG", "warn,sqlx::query=debug".into()),
        ("DATABASE_MAX_CONNECTIONS", "4".into()),
        ("RATE_LIMIT_PER_MINUTE", RATE_LIMIT.into()),
    ]);
    let vars_ref: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let logged = ApiProcess::spawn(&db.url, &vars_ref).await;
    let mut servers = match &pair {
        Some(pair) => {
            // Warm: prepared statements, connections, the replica measured.
            for path in Path::ALL {
                round_trips(&logged, &world, path, 20, 2_000_000, None).await;
            }
            let mut servers = ServerStatements::connect(pair).await;
            servers.measure_idle(Duration::from_secs(3)).await;
            Some(servers)
        }
        None => None,
    };
    let samples = if servers.is_some() { 200 } else { 50 };
    let mut trips = serde_json::Map::new();
    for path in Path::ALL {
        trips.insert(
            path.name().to_owned(),
            round_trips(&logged, &world, path, samples, 1_000_000, servers.as_mut()).await,
        );
    }
    println!(
        "{}",
        json!({
            "bench": "load",
            "world": {"artists": artists, "windows_per_artist": windows, "holds": holds, "bookings": bookings},
            "duration_s": duration.as_secs(),
            "database_max_connections": max_connections,
            "cores": std::thread::available_parallelism().map(std::num::NonZero::get).unwrap_or(1),
            "replica": replica,
            "api_rss_idle_mib": rss_idle,
            "api_peak_rss_mib": peak,
            "pgbench": ceiling,
            "results": results,
            "statements_per_request": trips,
            "bytes_per_row": bytes_per_row,
        })
    );
}
