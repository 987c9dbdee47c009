//! Many replicas on one database, and the faults they meet: two API and
//! two worker processes racing on the same dates, the rate limit shared by
//! replicas, SIGTERM under load, a worker killed mid-delivery, and the
//! database stopping under load. Real processes, real Postgres.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use kisum_tests::fakes::{Answer, FakeWebhooks};
use kisum_tests::processes::{ApiProcess, PgServer, ReplicaPair};
use kisum_tests::{BookingParties, Org, TestApp, WorkerProcess, eventually};
use reqwest::Method;
use serde_json::{Value, json};

const FINANCE_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn finance_env(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("FINANCE_BASE_URL", url.to_owned()),
        ("FINANCE_WEBHOOK_SECRET", FINANCE_SECRET.to_owned()),
        ("FINANCE_RETRY_SCHEDULE_SECONDS", "0,1,1,1,1".to_owned()),
        ("FINANCE_TIMEOUT_SECONDS", "2".to_owned()),
    ]
}

fn worker(db: &str, env: &[(&'static str, String)]) -> WorkerProcess {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    WorkerProcess::spawn(db, &pairs)
}

/// A replica sized for a burst: the pool waits rather than failing fast.
async fn replica(db: &str, extra: &[(&str, &str)]) -> ApiProcess {
    let mut env = vec![
        ("DATABASE_MAX_CONNECTIONS", "20"),
        ("DATABASE_ACQUIRE_TIMEOUT_SECONDS", "60"),
        ("REQUEST_TIMEOUT_SECONDS", "120"),
    ];
    env.extend_from_slice(extra);
    ApiProcess::spawn(db, &env).await
}

async fn send(
    api: &ApiProcess,
    org: &Org,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = api
        .http
        .request(method, api.url(path))
        .bearer_auth(&org.token)
        .header("x-org", org.id.to_string());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn day(n: i64) -> chrono::NaiveDate {
    Utc::now().date_naive() + chrono::Duration::days(n)
}

/// An accepted offer for `date`, ready to be confirmed.
async fn accepted_offer(app: &TestApp, p: &BookingParties, date: chrono::NaiveDate) -> String {
    let offer = json!({
        "artist_id": p.artist, "promoter_company_id": p.promoter_company, "event_date": date,
        "venue": {"name": "Melkweg", "city_id": 2759794, "capacity": 700},
        "deal": {"type": "flat", "currency": "EUR", "guarantee_amount": 500_000},
        "expires_at": Utc::now() + chrono::Duration::days(7), "send": true,
    });
    let (status, offer) = p
        .promoter
        .send(app, Method::POST, "/api/v1/offers", Some(offer))
        .await;
    assert_eq!(status, 201, "{offer}");
    let id = offer["id"].as_str().unwrap().to_owned();
    let (status, body) = p
        .agency
        .send(
            app,
            Method::POST,
            &format!("/api/v1/offers/{id}/accept"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    id
}

/// Two API and two worker processes on one primary, the APIs reading from
/// its streaming replica: 1,000 hold and
/// confirm requests at once, spread over both APIs, on five dates of one
/// artist. Afterwards every invariant holds: one confirmed booking per
/// date, live holds numbered 1..n per date with one per 201, only 201 or
/// 409 answered; each Finance handoff delivered once; each cron tick run
/// once; both worker processes visible to ops.
#[tokio::test]
async fn two_apis_and_two_workers_keep_every_invariant_under_1000_racing_requests() {
    // The deployment's shape: a primary and a streaming read replica.
    let pair = ReplicaPair::start().await;
    let standby = pair.standby_url();
    let app = TestApp::builder()
        .database(pair.database())
        .env("DATABASE_READ_URL", &standby)
        .spawn()
        .await;
    let db = app.db.url.clone();
    let (fake, finance_url) = FakeWebhooks::start().await;
    let mut env = finance_env(&finance_url);
    // Heartbeats and orphan timeout at their defaults: a heartbeat late by
    // a second under this load must not count as a dead worker here.
    env.push(("WORKER_HEARTBEAT_SECONDS", "5".to_owned()));
    env.push(("WORKER_ORPHAN_TIMEOUT_SECONDS", "30".to_owned()));
    let started = Utc::now();
    let _w1 = worker(&db, &env);
    let _w2 = worker(&db, &env);
    let a = replica(&db, &[("DATABASE_READ_URL", standby.as_str())]).await;
    let b = replica(&db, &[("DATABASE_READ_URL", standby.as_str())]).await;
    let p = kisum_tests::booking_parties(&app, "Replica Agency", "Replica Artist", &[]).await;

    let dates: Vec<chrono::NaiveDate> = (40..45).map(day).collect();
    let mut offers = Vec::new();
    for date in &dates {
        for _ in 0..8 {
            offers.push((*date, accepted_offer(&app, &p, *date).await));
        }
    }
    // 960 holds and 40 confirms, interleaved, alternating replicas.
    let mut requests: Vec<(bool, chrono::NaiveDate, Option<String>)> = Vec::new();
    for i in 0..1000 {
        if i % 25 == 0 {
            let (date, offer) = offers[i / 25].clone();
            requests.push((true, date, Some(offer)));
        } else {
            requests.push((false, dates[i % 5], None));
        }
    }
    let sends = requests
        .iter()
        .enumerate()
        .map(|(i, (confirm, date, offer))| {
            let api = if i % 2 == 0 { &a } else { &b };
            let p = &p;
            async move {
                let (status, body) = if *confirm {
                    send(
                        api,
                        &p.promoter,
                        Method::POST,
                        "/api/v1/bookings",
                        Some(json!({"offer_id": offer})),
                    )
                    .await
                } else {
                    send(
                        api,
                        &p.agency,
                        Method::POST,
                        "/api/v1/holds",
                        Some(json!({
                            "artist_id": p.artist, "date": date,
                            "promoter_company_id": p.promoter_company,
                            "expires_at": Utc::now() + chrono::Duration::days(3),
                        })),
                    )
                    .await
                };
                (*confirm, *date, status, body)
            }
        });
    let answers = futures::future::join_all(sends).await;

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    let mut holds_created: HashMap<chrono::NaiveDate, usize> = HashMap::new();
    let mut bookings_created: HashMap<chrono::NaiveDate, usize> = HashMap::new();
    for (confirm, date, status, body) in &answers {
        *by_status.entry(*status).or_default() += 1;
        assert!(
            *status == 201 || *status == 409,
            "answered {status}: {body}"
        );
        if *status == 201 {
            let counter = if *confirm {
                &mut bookings_created
            } else {
                &mut holds_created
            };
            *counter.entry(*date).or_default() += 1;
        }
    }
    for date in &dates {
        assert_eq!(
            bookings_created.get(date),
            Some(&1),
            "one confirm wins on {date}"
        );
        // The confirmation converted the offer's hold and released the
        // date's other live holds; those placed after it are live again,
        // numbered 1..k without gaps.
        let holds: Vec<(String, i32)> = sqlx::query_as(
            "SELECT status::text, priority FROM holds WHERE artist_id = $1::uuid AND hold_date = $2
              ORDER BY status IN ('active', 'challenged') DESC, priority",
        )
        .bind(&p.artist)
        .bind(date)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let n = holds_created.get(date).copied().unwrap_or(0);
        assert_eq!(holds.len(), n, "one hold stored per 201 on {date}");
        let live: Vec<i32> = holds
            .iter()
            .filter(|(s, _)| s == "active" || s == "challenged")
            .map(|(_, p)| *p)
            .collect();
        let expected: Vec<i32> = (1..=i32::try_from(live.len()).unwrap()).collect();
        assert_eq!(live, expected, "live holds of {date} are 1..k");
        assert!(
            holds
                .iter()
                .all(|(s, _)| ["active", "challenged", "released", "converted"]
                    .contains(&s.as_str())),
            "{holds:?}"
        );
    }
    let confirmed: Vec<(chrono::NaiveDate, i64)> = sqlx::query_as(
        "SELECT event_date, count(*) FROM bookings WHERE artist_id = $1::uuid AND status = 'confirmed'
          GROUP BY 1 ORDER BY 1",
    )
    .bind(&p.artist)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(confirmed, dates.iter().map(|d| (*d, 1)).collect::<Vec<_>>());
    // Every booking's confirmation is in its activity trail exactly once.
    let trails: Vec<i64> = sqlx::query_scalar(
        "SELECT count(a.*) FROM bookings b
           LEFT JOIN booking_activity a ON a.subject_type = 'booking' AND a.subject_id = b.id AND a.action = 'confirmed'
          WHERE b.artist_id = $1::uuid GROUP BY b.id",
    )
    .bind(&p.artist)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(trails, vec![1; 5], "statuses {by_status:?}");

    // Each booking's Finance handoff reaches Finance once, whichever
    // worker took it.
    eventually(
        Duration::from_secs(60),
        "five handoffs delivered",
        || async { (fake.received().len() >= 5).then_some(()) },
    )
    .await;
    // A cron tick fired on both workers while they ran: enqueued and run once.
    let ticks: Vec<(String, i64, i32)> = eventually(
        Duration::from_secs(75),
        "an expiry_sweep tick after the workers started runs",
        || async {
            // Per tick: its done runs, and the most attempts of one.
            let mut runs: std::collections::BTreeMap<String, (i64, i32)> = Default::default();
            for job in kisum_tests::queue::jobs(&app.pool, "expiry_sweep").await {
                if job.state == "done" && job.run_at >= started {
                    let tick = runs.entry(job.payload["tick"].to_string()).or_default();
                    *tick = (tick.0 + 1, tick.1.max(job.attempts));
                }
            }
            let rows: Vec<(String, i64, i32)> =
                runs.into_iter().map(|(t, (n, a))| (t, n, a)).collect();
            (!rows.is_empty()).then_some(rows)
        },
    )
    .await;
    for (tick, runs, attempts) in &ticks {
        assert_eq!((*runs, *attempts), (1, 1), "tick {tick} ran once");
    }
    // Every handoff job has run to its end: a second delivery would be in.
    kisum_tests::wait_queue_drained(&app.pool, "finance_handoff").await;
    let received = fake.received();
    let mut ids: Vec<String> = received
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap().to_owned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (received.len(), ids.len()),
        (5, 5),
        "one delivery per webhook id"
    );

    let workers: Vec<Value> = a
        .internal(Method::GET, "/internal/ops/workers")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live: Vec<&Value> = workers.iter().filter(|w| w["status"] == "live").collect();
    assert_eq!(live.len(), 2, "{workers:?}");
    for w in live {
        assert!(w["queues"].as_array().unwrap().len() >= 10, "{w}");
        assert!(w["host"].as_str().is_some_and(|h| !h.is_empty()));
    }
}

/// The per-org limit is one bucket in Postgres: two replicas together
/// allow it once, and a 429 says when to retry.
#[tokio::test]
async fn the_rate_limit_holds_across_replicas() {
    let app = TestApp::spawn().await;
    let limit = [("RATE_LIMIT_PER_MINUTE", "20")];
    let a = replica(&app.db.url, &limit).await;
    let b = replica(&app.db.url, &limit).await;
    let org = Org::new();
    let other = Org::new();
    let started = Instant::now();
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..40 {
        let api = if i % 2 == 0 { &a } else { &b };
        let response = api
            .http
            .get(api.url("/api/v1/me"))
            .bearer_auth(&org.token)
            .header("x-org", org.id.to_string())
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            429 => {
                let retry: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&retry));
                kisum_tests::problem(response, 429, "rate_limited").await;
                limited += 1;
            }
            s => panic!("answered {s}"),
        }
    }
    // 20 at once, plus one per 3 s that passed.
    let refilled = usize::try_from(started.elapsed().as_secs() / 3).unwrap();
    assert!(
        (20..=20 + refilled).contains(&ok),
        "{ok} allowed across two replicas"
    );
    assert_eq!(ok + limited, 40);
    // Another org has its own bucket.
    let (status, _) = send(&b, &other, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, 200);
}

/// A replica leases a batch of the org's quota per round trip: a stream
/// of reads costs the rate limit a handful of statements, not one each.
#[tokio::test]
async fn the_rate_limit_costs_a_round_trip_per_batch_not_per_request() {
    let app = TestApp::spawn().await;
    // 60,000 a minute: leases of up to 1,000 requests.
    let api = replica(
        &app.db.url,
        &[
            ("RATE_LIMIT_PER_MINUTE", "60000"),
            ("RUST_LOG", "warn,sqlx::query=debug"),
        ],
    )
    .await;
    let org = Org::new();
    let leases = || {
        api.log_lines()
            .iter()
            .filter(|l| l["target"] == "sqlx::query" && l.to_string().contains("rate_limit_lease"))
            .count()
    };
    for _ in 0..100 {
        let (status, _) = send(&api, &org, Method::GET, "/api/v1/me", None).await;
        assert_eq!(status, 200);
    }
    let (status, _) = send(&api, &org, Method::GET, "/api/v1/shortlists", None).await;
    assert_eq!(status, 200);
    eventually(
        Duration::from_secs(5),
        "the statements are logged",
        || async { (leases() > 0).then_some(()) },
    )
    .await;
    // Batches of 1, 2, 4, ... 64, 128: eight round trips for 101 requests.
    let trips = leases();
    assert!(trips <= 10, "{trips} leases for 101 requests");
}

/// Two replicas leasing from one org's bucket at once, each with 16
/// requests in flight: never more than the quota (plus what refilled),
/// and at most one batch per replica short of it.
#[tokio::test]
async fn racing_leases_never_exceed_the_quota() {
    let app = TestApp::spawn().await;
    // 600 a minute: a bucket of 600, leases of up to 10.
    let replicas = Arc::new([
        shared::rate_limit::RateLimit::per_minute(600),
        shared::rate_limit::RateLimit::per_minute(600),
    ]);
    let org = uuid::Uuid::now_v7();
    let started = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|n| {
            let (replicas, pool) = (replicas.clone(), app.pool.clone());
            tokio::spawn(async move {
                let mut allowed = 0usize;
                for _ in 0..40 {
                    if replicas[n % 2].take(&pool, org).await.unwrap().is_none() {
                        allowed += 1;
                    }
                }
                allowed
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        allowed += task.await.unwrap();
    }
    // One request refills every 100 ms.
    let refilled = usize::try_from(started.elapsed().as_millis() / 100).unwrap();
    assert!(allowed <= 600 + refilled, "{allowed} of 1,280 let through");
    assert!(allowed >= 600 - 2 * 10, "{allowed} of 1,280 let through");
    let trips = replicas[0].round_trips() + replicas[1].round_trips();
    assert!(trips < 300, "{trips} round trips for 1,280 requests");
}

/// SIGTERM while 16 writes are in flight (each waiting on a row lock the
/// test holds, so they are surely inside the API when the signal lands):
/// the API stops taking connections, every write in flight still gets its
/// 201 once the lock goes, nothing else is stored, and the process exits
/// cleanly within its grace period.
#[tokio::test]
async fn sigterm_to_an_api_under_load_loses_no_request_in_flight() {
    let app = TestApp::spawn().await;
    let mut api = replica(&app.db.url, &[("SHUTDOWN_GRACE_SECONDS", "10")]).await;
    let org = Org::new();
    // The test's own uncommitted lists take the 16 names first: the API's
    // inserts of the same names wait on the unique index.
    let mut blocker = app.pool.begin().await.unwrap();
    for n in 0..16 {
        sqlx::query(
            "INSERT INTO shortlists (id, org_id, name, created_by) VALUES (gen_random_uuid(), $1, $2, 'test')",
        )
        .bind(org.id)
        .bind(format!("in flight {n}"))
        .execute(&mut *blocker)
        .await
        .unwrap();
    }
    let writes: Vec<_> = (0..16)
        .map(|n| {
            let request = api
                .http
                .post(api.url("/api/v1/shortlists"))
                .bearer_auth(&org.token)
                .header("x-org", org.id.to_string())
                .json(&json!({"name": format!("in flight {n}")}));
            tokio::spawn(async move {
                let response = request
                    .send()
                    .await
                    .expect("an accepted request is answered");
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("the answer is whole");
                (status, body)
            })
        })
        .collect();
    eventually(
        Duration::from_secs(20),
        "16 writes wait on the lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&app.pool)
            .await
            .unwrap();
            (waiting == 16).then_some(())
        },
    )
    .await;

    let signalled = Instant::now();
    api.sigterm();
    // Draining: new connections are refused while the 16 wait.
    let refused = eventually(Duration::from_secs(5), "the listener closes", || async {
        match reqwest::get(api.url("/healthz")).await {
            Err(e) if e.is_connect() => Some(()),
            _ => None,
        }
    })
    .await;
    let () = refused;
    assert!(api.child.try_wait().unwrap().is_none(), "still draining");
    blocker.rollback().await.unwrap();

    for write in writes {
        let (status, body) = write.await.unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let exit = tokio::time::timeout(Duration::from_secs(12), api.child.wait())
        .await
        .expect("the API exits within its grace period")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "{:?}",
        signalled.elapsed()
    );
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists WHERE org_id = $1")
        .bind(org.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 16, "each answer is one stored list");
}

/// SIGTERM to a worker running a 2-second job: it finishes the job (or
/// returns it for another process) and exits within its grace period; the
/// job's effect happens once.
#[tokio::test]
async fn sigterm_to_a_worker_mid_job_finishes_it_once() {
    let app = TestApp::spawn().await;
    let mut first = WorkerProcess::spawn(&app.db.url, &[]);
    let response = app
        .internal(Method::POST, "/internal/ops/canaries")
        .json(&json!({"work_ms": 2000}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let canary: Value = response.json().await.unwrap();
    let id = uuid::Uuid::parse_str(canary["id"].as_str().unwrap()).unwrap();
    let canary_now = || async {
        let mut conn = app.pool.acquire().await.unwrap();
        shared::ops::canary::get(&mut conn, id).await.unwrap()
    };
    eventually(
        Duration::from_secs(20),
        "the worker starts the job",
        || async { (canary_now().await.attempts == 1).then_some(()) },
    )
    .await;
    let signalled = Instant::now();
    let status = first.terminate().await;
    assert!(status.success(), "{status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "within SHUTDOWN_GRACE_SECONDS"
    );
    // Whether it finished or returned the job, a second process leaves
    // exactly one completion.
    let _second = WorkerProcess::spawn(&app.db.url, &[]);
    let done = eventually(Duration::from_secs(30), "the canary completes", || async {
        let c = canary_now().await;
        c.completed_at.is_some().then_some(c)
    })
    .await;
    // No canary job is due, running or retrying: a second run would be in.
    kisum_tests::wait_queue_drained(&app.pool, "queue_canary").await;
    assert_eq!(done.completions, 1);
    assert_eq!(canary_now().await.completions, 1);
}

/// A worker SIGKILLed while Finance is answering its delivery: another
/// process delivers the handoff again under the same webhook id and body,
/// so Finance accepts it once, and the handoff ends delivered once.
#[tokio::test]
async fn a_worker_killed_mid_delivery_is_replaced_and_finance_accepts_once() {
    let app = TestApp::spawn().await;
    let (fake, url) = FakeWebhooks::scripted(vec![Answer::Hang(Duration::from_secs(30))]).await;
    let mut env = finance_env(&url);
    env.retain(|(k, _)| *k != "FINANCE_TIMEOUT_SECONDS");
    env.push(("FINANCE_TIMEOUT_SECONDS", "30".to_owned()));
    let mut first = worker(&app.db.url, &env);
    let p = kisum_tests::booking_parties(&app, "Killed Agency", "Killed Artist", &[]).await;
    let offer = accepted_offer(&app, &p, day(50)).await;
    let (status, booking) = p
        .promoter
        .send(
            &app,
            Method::POST,
            "/api/v1/bookings",
            Some(json!({"offer_id": offer})),
        )
        .await;
    assert_eq!(status, 201, "{booking}");
    eventually(
        Duration::from_secs(30),
        "the delivery is in flight",
        || async { (!fake.received().is_empty()).then_some(()) },
    )
    .await;
    first.kill9().await;
    let _second = worker(&app.db.url, &env);
    eventually(
        Duration::from_secs(60),
        "another process delivers",
        || async { (fake.received().len() >= 2).then_some(()) },
    )
    .await;
    let status: String = eventually(
        Duration::from_secs(20),
        "the handoff is delivered",
        || async {
            let status: String = sqlx::query_scalar(
                "SELECT status FROM finance_handoffs WHERE booking_id = $1::uuid",
            )
            .bind(booking["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
            (status == "delivered").then_some(status)
        },
    )
    .await;
    assert_eq!(status, "delivered");
    // The killed worker's job included: every handoff job has run to its
    // end, so a third delivery would be in.
    kisum_tests::wait_queue_drained(&app.pool, "finance_handoff").await;
    let received = fake.received();
    assert_eq!(received.len(), 2, "the cut delivery and its replacement");
    assert_eq!(
        received[0].0["webhook-id"], received[1].0["webhook-id"],
        "Finance dedupes by webhook id"
    );
    assert_eq!(received[0].1, received[1].1, "the same body");
}

/// Postgres stopped under load: tenant calls answer 503
/// `database_unavailable` with `Retry-After` within a second, `/readyz`
/// 503 within a second, `/healthz` 200; nothing is half-written; when
/// Postgres returns, both recover without a restart.
#[tokio::test]
async fn a_database_outage_answers_503_at_once_and_recovers() {
    let server = PgServer::start().await;
    let db = server.migrated_database("kisum_outage").await;
    let api = ApiProcess::spawn(&db, &[]).await;
    let org = Org::new();
    let create = |name: String| {
        api.http
            .post(api.url("/api/v1/shortlists"))
            .bearer_auth(&org.token)
            .header("x-org", org.id.to_string())
            .json(&json!({"name": name}))
            .send()
    };
    let (status, _) = send(&api, &org, Method::GET, "/api/v1/shortlists", None).await;
    assert_eq!(status, 200);

    // Load from 8 clients throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let loaders: Vec<_> = (0..8)
        .map(|c| {
            let url = api.url("/api/v1/shortlists");
            let (id, token) = (org.id, org.token.clone());
            let stop = stop.clone();
            let answered = answered.clone();
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answers: Vec<u16> = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let response = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("x-org", id.to_string())
                        .json(&json!({"name": format!("load {c}-{n}")}))
                        .send()
                        .await
                        .unwrap();
                    answers.push(response.status().as_u16());
                    answered.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                answers
            })
        })
        .collect();
    eventually(Duration::from_secs(10), "the load is running", || async {
        (answered.load(Ordering::SeqCst) >= 16).then_some(())
    })
    .await;
    server.stop();
    let stopped = Instant::now();

    // Within a second of the stop, every tenant call is a prompt 503.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for i in 0..5 {
        let sent = Instant::now();
        let response = create(format!("during {i}")).await.unwrap();
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "answered in {:?}",
            sent.elapsed()
        );
        assert_eq!(response.headers()["retry-after"], "1");
        let body = kisum_tests::problem(response, 503, "database_unavailable").await;
        let request_id = body["request_id"].as_str().unwrap().to_owned();
        // Logged with the request id as a plain string.
        let logged = api
            .log_lines()
            .into_iter()
            .any(|l| l["request_id"] == request_id || l["span"]["request_id"] == request_id);
        assert!(logged, "the failure is logged with request id {request_id}");
        let sent = Instant::now();
        let ready = reqwest::get(api.url("/readyz")).await.unwrap();
        assert!(sent.elapsed() < Duration::from_secs(1));
        kisum_tests::problem(ready, 503, "database_unavailable").await;
        let health = reqwest::get(api.url("/healthz")).await.unwrap();
        assert_eq!(health.status(), 200);
    }
    assert!(stopped.elapsed() < Duration::from_secs(10));
    assert!(
        !api.log_lines()
            .iter()
            .any(|l| l.to_string().contains("Some(\\\"")),
        "no request id is logged as Some(...)"
    );

    server.start_again().await;
    eventually(
        Duration::from_secs(10),
        "the API is ready again",
        || async {
            let ready = reqwest::get(api.url("/readyz")).await.ok()?;
            (ready.status() == 200).then_some(())
        },
    )
    .await;
    let response = create("after".into()).await.unwrap();
    assert_eq!(response.status(), 201);
    stop.store(true, Ordering::SeqCst);
    let mut created = 1;
    for loader in loaders {
        for status in loader.await.unwrap() {
            assert!(
                status == 201 || status == 503,
                "answered {status} under the outage"
            );
            if status == 201 {
                created += 1;
            }
        }
    }
    // Nothing half-written: each stored list is whole, and there is one
    // per 201 (a commit cut by the stop itself is rolled back).
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM shortlists WHERE org_id = $1")
        .bind(org.id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        (created..=created + 8).contains(&usize::try_from(stored).unwrap()),
        "{stored} stored for {created} created"
    );
    pool.close().await;
    // The process never restarted.
    assert!(api.child.id().is_some());
}
