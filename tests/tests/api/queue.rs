//! The job queue end to end, with the real worker binary: jobs commit or
//! roll back with their transaction, run once, retry, and survive SIGKILL.

use std::time::Duration;

use kisum_tests::{TestApp, WorkerProcess, eventually};
use reqwest::Method;
use serde_json::{Value, json};
use shared::ops::canary::{self, Canary, CanaryIn};
use uuid::Uuid;

async fn canary_now(app: &TestApp, id: &str) -> Canary {
    let mut conn = app.pool.acquire().await.unwrap();
    canary::get(&mut conn, Uuid::parse_str(id).unwrap())
        .await
        .unwrap()
}

async fn request_canary(app: &TestApp, body: Value) -> String {
    let response = app
        .internal(Method::POST, "/internal/ops/canaries")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let canary: Value = response.json().await.unwrap();
    canary["id"].as_str().unwrap().to_owned()
}

/// The canary jobs: each one's state and attempts.
async fn job_rows(app: &TestApp) -> Vec<(String, i32)> {
    kisum_tests::queue::jobs(&app.pool, "queue_canary")
        .await
        .into_iter()
        .map(|j| (j.state, j.attempts))
        .collect()
}

#[tokio::test]
async fn a_rolled_back_job_never_runs_and_a_committed_one_runs_once() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);

    let mut tx = app.pool.begin().await.unwrap();
    let rolled_back = canary::request(&mut tx, "test", &CanaryIn::default())
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    let id = request_canary(&app, json!({})).await;
    let done = eventually(Duration::from_secs(20), "the canary completes", || async {
        let c = canary_now(&app, &id).await;
        c.completed_at.is_some().then_some(c)
    })
    .await;
    // No canary job is due, running or retrying: a duplicate delivery
    // would have run by now.
    let queue = kisum_tests::wait_queue_drained(&app.pool, "queue_canary").await;
    assert_eq!(queue.scheduled, 0);
    let after = canary_now(&app, &id).await;
    assert_eq!((done.attempts, after.attempts), (1, 1), "ran exactly once");
    assert_eq!(after.completions, 1);

    let jobs = job_rows(&app).await;
    assert_eq!(
        jobs,
        vec![("done".to_owned(), 1)],
        "only the committed job exists"
    );
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(canary::get(&mut conn, rolled_back.id).await.is_err());
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_until_it_succeeds() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let id = request_canary(&app, json!({"fail_attempts": 2})).await;
    let done = eventually(Duration::from_secs(30), "the canary completes", || async {
        let c = canary_now(&app, &id).await;
        c.completed_at.is_some().then_some(c)
    })
    .await;
    assert_eq!(done.attempts, 3);
    assert_eq!(done.completions, 1);
    let elapsed = done.completed_at.unwrap() - done.created_at;
    assert!(
        elapsed >= chrono::Duration::milliseconds(500),
        "retries wait (backoff), took {elapsed}"
    );
    let jobs = eventually(
        Duration::from_secs(10),
        "the job is acknowledged",
        || async {
            let jobs = job_rows(&app).await;
            (jobs.first().map(|j| j.0.as_str()) == Some("done")).then_some(jobs)
        },
    )
    .await;
    assert_eq!(jobs.len(), 1);
}

#[tokio::test]
async fn a_job_of_a_killed_worker_is_completed_by_another() {
    let app = TestApp::spawn().await;
    let mut first = WorkerProcess::spawn(&app.db.url, &[]);
    let first_pid = first.pid();
    let id = request_canary(&app, json!({"work_ms": 8000})).await;
    let started = eventually(
        Duration::from_secs(20),
        "the first worker starts the job",
        || async {
            let c = canary_now(&app, &id).await;
            (c.attempts == 1).then_some(c)
        },
    )
    .await;
    assert!(
        started
            .last_worker
            .unwrap()
            .ends_with(&format!(":{first_pid}"))
    );
    first.kill9().await;

    let second = WorkerProcess::spawn(&app.db.url, &[]);
    let second_pid = second.pid();
    let done = eventually(
        Duration::from_secs(60),
        "the second worker completes the job",
        || async {
            let c = canary_now(&app, &id).await;
            c.completed_at.is_some().then_some(c)
        },
    )
    .await;
    assert_eq!(done.completions, 1);
    assert!(done.attempts >= 2);
    assert!(
        done.last_worker
            .unwrap()
            .ends_with(&format!(":{second_pid}"))
    );
}

#[tokio::test]
async fn the_worker_stops_cleanly_on_sigterm() {
    let app = TestApp::spawn().await;
    let mut worker = WorkerProcess::spawn(&app.db.url, &[]);
    let id = request_canary(&app, json!({})).await;
    eventually(Duration::from_secs(20), "the canary completes", || async {
        canary_now(&app, &id).await.completed_at.map(|_| ())
    })
    .await;
    let status = worker.terminate().await;
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn canary_input_is_validated() {
    let app = TestApp::spawn().await;
    let response = app
        .internal(Method::POST, "/internal/ops/canaries")
        .json(&json!({"work_ms": -1, "fail_attempts": 99}))
        .send()
        .await
        .unwrap();
    let body = kisum_tests::problem(response, 422, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    assert!(job_rows(&app).await.is_empty());
}

#[tokio::test]
async fn cron_ticks_from_several_replicas_enqueue_one_run() {
    let app = TestApp::spawn().await;
    let tick = 1_790_000_100;
    let mut tx = app.pool.begin().await.unwrap();
    assert!(
        shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut tx, tick)
            .await
            .unwrap()
    );
    // The second replica's enqueue is a no-op and leaves its transaction usable.
    assert!(
        !shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut tx, tick)
            .await
            .unwrap()
    );
    let still_usable: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(still_usable, 1);
    assert!(
        shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut tx, tick + 900)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let count = kisum_tests::queue::count(&app.pool, "maintenance").await;
    assert_eq!(count, 2);
}

#[tokio::test]
async fn maintenance_prunes_expired_idempotency_records() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    for (key, expires) in [
        ("old", "now() - interval '1 hour'"),
        ("fresh", "now() + interval '1 hour'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO idempotency_keys (org_id, key, request_hash, state, response_status, response_headers, response_body, expires_at)
             VALUES ($1, $2, '\\x00', 'completed', 201, '[]', '\\x7b7d', {expires})"
        )))
        .bind(org)
        .bind(key)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    let keys: Vec<String> = eventually(
        Duration::from_secs(20),
        "expired keys are pruned",
        || async {
            let keys: Vec<String> =
                sqlx::query_scalar("SELECT key FROM idempotency_keys ORDER BY key")
                    .fetch_all(&app.pool)
                    .await
                    .unwrap();
            (keys.len() == 1).then_some(keys)
        },
    )
    .await;
    assert_eq!(keys, vec!["fresh".to_owned()]);
}

#[tokio::test]
async fn jobs_enqueued_in_bulk_commit_together_and_all_run() {
    let app = TestApp::spawn().await;
    let jobs: Vec<shared::jobs::Noop> = (0..250).map(|n| shared::jobs::Noop { n }).collect();
    let mut tx = app.pool.begin().await.unwrap();
    let inserted = shared::jobs::enqueue_many(&mut tx, &jobs, None)
        .await
        .unwrap();
    assert_eq!(inserted, 250);
    tx.rollback().await.unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_many(&mut conn, &jobs, None)
        .await
        .unwrap();
    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let done = eventually(Duration::from_secs(20), "every job runs", || async {
        let jobs = kisum_tests::queue::jobs(&app.pool, "noop").await;
        let done = jobs.iter().filter(|j| j.state == "done").count();
        (done == jobs.len()).then_some(done)
    })
    .await;
    assert_eq!(done, 250, "the rolled-back batch left nothing behind");
}

/// With the interval poll a minute away, only the insert's notification can
/// bring a job to the idle worker within seconds: a single job, then a batch
/// of several statements, each of which notifies its queue once.
#[tokio::test]
async fn an_idle_worker_is_woken_by_each_enqueue() {
    let app = TestApp::spawn().await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[("WORKER_POLL_INTERVAL_MS", "60000")]);
    let done = |n: usize| {
        let app = &app;
        async move {
            let jobs = kisum_tests::queue::jobs(&app.pool, "noop").await;
            (jobs.iter().filter(|j| j.state == "done").count() == n).then_some(())
        }
    };
    let mut conn = app.pool.acquire().await.unwrap();
    // The first job may be taken by the worker's first fetch; the later ones
    // arrive while it is idle.
    for n in 0..3 {
        shared::jobs::enqueue(
            &mut conn,
            &shared::jobs::Noop { n },
            shared::jobs::Schedule::now(),
        )
        .await
        .unwrap();
        eventually(Duration::from_secs(10), "the job runs", || {
            done(usize::try_from(n + 1).unwrap())
        })
        .await;
    }
    let batch: Vec<shared::jobs::Noop> = (3..503).map(|n| shared::jobs::Noop { n }).collect();
    shared::jobs::enqueue_many(&mut conn, &batch, None)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the batch runs", || done(503)).await;
}

/// Postgres terminating the worker's connections again and again (an
/// operator's `pg_terminate_backend`, a failover's cut) costs retries, not
/// jobs: with the orphan timeout an hour away, every job still finishes
/// soon after the terminations stop, so none was left claimed by a worker
/// that gave up on it, nor by a claim whose answer was lost after it
/// committed; and the worker never restarted.
#[tokio::test]
async fn terminated_backends_leave_no_job_waiting_for_the_orphan_timeout() {
    let db = kisum_tests::TestDb::migrated().await;
    let pool = db.pool().await;
    let _worker = WorkerProcess::spawn(
        &db.url,
        &[
            ("WORKER_ORPHAN_TIMEOUT_SECONDS", "3600"),
            ("WORKER_POLL_INTERVAL_MS", "100"),
        ],
    );
    let jobs = 3_000;
    let mut conn = pool.acquire().await.unwrap();
    let mut terminated = 0_i64;
    for start in (0..jobs).step_by(100) {
        let batch: Vec<shared::jobs::Noop> = (start..start + 100)
            .map(|n| shared::jobs::Noop { n })
            .collect();
        shared::jobs::enqueue_many(&mut conn, &batch, None)
            .await
            .unwrap();
        // Every connection of the worker, whatever it was doing: fetching,
        // acknowledging, heartbeating or listening.
        terminated += sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
               FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'kisum'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        // Let the worker reconnect and take some of the batch first.
        eventually(Duration::from_secs(10), "the worker reconnects", || async {
            (kisum_tests::queue::worker_connections(&pool).await > 0).then_some(())
        })
        .await;
    }
    assert!(terminated >= 30, "terminated {terminated} connections");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let states = kisum_tests::queue::states_by_holder(&pool, "noop").await;
        if states.len() == 1 && states[0].0 == "Done" {
            assert_eq!(states[0].2, 3_000);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs not done a minute after the terminations: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One registration of the queue's worker: it never stopped and came back
    // under another name (a restart registers `noop@host:pid#1.boot`, ...).
    let noop: Vec<String> = kisum_tests::queue::workers(&pool)
        .await
        .into_iter()
        .filter(|w| w.queue == "noop")
        .map(|w| w.id)
        .collect();
    assert_eq!(noop.len(), 1, "{noop:?}");
}

/// Index entries the fetches have read from the queue's fetch index, as far
/// as the statistics of closed connections tell.
async fn fetch_index_reads(pool: &sqlx::PgPool) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT coalesce(sum(idx_tup_read), 0)::bigint FROM pg_stat_user_indexes
          WHERE schemaname = 'apalis' AND indexrelname = 'kisum_jobs_fetch_idx'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap()
}

/// A transaction left open (here one holding an xid, as the public queue
/// benchmark's idle-in-transaction phase does) keeps every row version the
/// worker's claims leave behind, and their index entries, from being
/// removed. A fetch that read the queue from its start walked all of them
/// on every claim, so each fetch cost more than the one before (claim
/// latency grew for as long as the transaction stayed open). A fetch now
/// resumes where the previous claim ended: running 5,000 jobs ten at a time
/// reads a few index entries per job, not hundreds. A job that
/// becomes due behind the resume point (here one a day old, enqueued after
/// the worker went past it) is still run, by the next read from the start.
#[tokio::test]
async fn a_held_xmin_does_not_make_each_fetch_walk_every_claimed_job() {
    let db = kisum_tests::TestDb::migrated().await;
    let pool = db.pool().await;
    let mut holder = pool.begin().await.unwrap();
    sqlx::query("SELECT txid_current()")
        .execute(&mut *holder)
        .await
        .unwrap();

    // 50 batches of 100, a second apart, all due.
    let jobs = 5_000;
    let start = chrono::Utc::now() - chrono::Duration::seconds(120);
    let mut conn = pool.acquire().await.unwrap();
    for batch in 0..50_u64 {
        let noops: Vec<shared::jobs::Noop> = (batch * 100..batch * 100 + 100)
            .map(|n| shared::jobs::Noop { n })
            .collect();
        let run_at = start + chrono::Duration::seconds(i64::try_from(batch).unwrap());
        shared::jobs::enqueue_many(&mut conn, &noops, Some(run_at))
            .await
            .unwrap();
    }
    drop(conn);
    let before = fetch_index_reads(&pool).await;

    let mut worker = WorkerProcess::spawn(
        &db.url,
        &[("WORKER_CONCURRENCY", "2"), ("WORKER_BUFFER_SIZE", "10")],
    );
    let done = |expected: i64| {
        let pool = pool.clone();
        async move {
            let states = kisum_tests::queue::states_by_holder(&pool, "noop").await;
            (states.len() == 1 && states[0].0 == "Done" && states[0].2 == expected).then_some(())
        }
    };
    eventually(Duration::from_secs(120), "every job runs", || done(jobs)).await;
    let mut conn = pool.acquire().await.unwrap();
    shared::jobs::enqueue_many(
        &mut conn,
        &[shared::jobs::Noop { n: 5_000 }],
        Some(start - chrono::Duration::days(1)),
    )
    .await
    .unwrap();
    drop(conn);
    eventually(
        Duration::from_secs(20),
        "the job behind the resume point runs",
        || done(jobs + 1),
    )
    .await;

    // The worker's connections report their statistics as they close.
    assert!(worker.terminate().await.success());
    eventually(
        Duration::from_secs(20),
        "the worker's connections close",
        || async { (kisum_tests::queue::worker_connections(&pool).await == 0).then_some(()) },
    )
    .await;
    let reads = fetch_index_reads(&pool).await - before;
    // About 8 a job here (each fetch of ten passes the claimed jobs of its
    // batch of 100, and a read from the start each second). Reading from
    // the start every time, this test read 1.58 million entries of the
    // queue's indexes, most of them by the fetches.
    assert!(
        reads > 0 && reads < 20 * jobs,
        "{reads} index entries read for {jobs} jobs"
    );
    holder.rollback().await.unwrap();
}
