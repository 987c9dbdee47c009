//! SPEC 5.9: the ops dashboard's JSON API, its sign-in and session, the
//! metrics endpoint, and retention, against the real worker.

use std::time::Duration;

use kisum_tests::queue::Ending;
use kisum_tests::{INTERNAL_KEY, Org, TestApp, WorkerProcess, dead_job, eventually, internal_call};
use reqwest::Method;
use serde_json::{Value, json};

async fn call(app: &TestApp, method: Method, path: &str) -> (u16, Value) {
    internal_call(app, method, path, None).await
}

fn queue<'a>(queues: &'a Value, name: &str) -> &'a Value {
    queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == name)
        .unwrap_or_else(|| panic!("queue {name} in {queues}"))
}

#[tokio::test]
async fn the_job_api_counts_lists_retries_and_cancels() {
    let app = TestApp::spawn().await;
    // A canary failing every attempt ends dead; a job for tomorrow waits.
    let (status, canary) = internal_call(
        &app,
        Method::POST,
        "/internal/ops/canaries",
        Some(&json!({"fail_attempts": 5})),
    )
    .await;
    assert_eq!(status, 201, "{canary}");
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue(
        &mut conn,
        &shared::jobs::Noop { n: 1 },
        shared::jobs::Schedule::at(chrono::Utc::now() + chrono::Duration::days(1)),
    )
    .await
    .unwrap();
    drop(conn);

    let (_, queues) = call(&app, Method::GET, "/internal/ops/queues").await;
    assert_eq!(queue(&queues, "queue_canary")["pending"], 1, "{queues}");
    assert_eq!(queue(&queues, "noop")["scheduled"], 1, "{queues}");
    assert_eq!(
        queue(&queues, "hold_expiry")["pending"],
        0,
        "every queue is listed"
    );

    let _worker = WorkerProcess::spawn(&app.db.url, &[]);
    let dead = dead_job(&app, "queue_canary").await;
    let id = dead["id"].as_str().unwrap().to_owned();
    let (status, detail) = call(&app, Method::GET, &format!("/internal/ops/jobs/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(detail["payload"]["canary_id"], canary["id"], "{detail}");
    assert_eq!(
        (detail["attempts"].as_i64(), detail["max_attempts"].as_i64()),
        (Some(5), Some(5))
    );
    let errors = detail["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 5, "every attempt's error is kept: {detail}");
    assert!(
        errors[4]["error"]
            .as_str()
            .unwrap()
            .contains("planned failures"),
        "{detail}"
    );
    let (_, queues) = call(&app, Method::GET, "/internal/ops/queues").await;
    let canaries = queue(&queues, "queue_canary");
    assert_eq!(
        (canaries["dead"].as_i64(), canaries["pending"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(canaries["failures_last_hour"], 5);

    // Filters: text in an error, queue, state; a wrong state is 422.
    let (_, found) = call(&app, Method::GET, "/internal/ops/jobs?q=PLANNED%20failure").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    let (_, none) = call(&app, Method::GET, "/internal/ops/jobs?q=no%20such%20words").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let (status, problem) = call(&app, Method::GET, "/internal/ops/jobs?state=stuck").await;
    assert_eq!(
        (status, problem["errors"][0]["field"].as_str()),
        (422, Some("state"))
    );
    let (status, _) = call(&app, Method::GET, "/internal/ops/jobs/01NOSUCHJOB").await;
    assert_eq!(status, 404);

    // Cancel the scheduled job; it cannot be cancelled twice.
    let (_, page) = call(
        &app,
        Method::GET,
        "/internal/ops/jobs?queue=noop&state=scheduled",
    )
    .await;
    let noop = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, cancelled) = call(
        &app,
        Method::POST,
        &format!("/internal/ops/jobs/{noop}/cancel"),
    )
    .await;
    assert_eq!(
        (status, cancelled["state"].as_str()),
        (200, Some("killed")),
        "{cancelled}"
    );
    assert_eq!(
        cancelled["audit"][0],
        json!({"action": "cancel", "from_state": "scheduled", "to_state": "killed",
               "actor": "internal-key", "at": cancelled["audit"][0]["at"]})
    );
    let (status, problem) = call(
        &app,
        Method::POST,
        &format!("/internal/ops/jobs/{noop}/cancel"),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // Retry the dead job, twice at once: one retry wins, the other finds
    // it no longer dead. It runs again, and succeeds this time.
    let retry_path = format!("/internal/ops/jobs/{id}/retry");
    let (a, b) = tokio::join!(
        call(&app, Method::POST, &retry_path),
        call(&app, Method::POST, &retry_path)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let retried = if a.0 == 200 { a.1 } else { b.1 };
    assert_eq!(retried["audit"].as_array().unwrap().len(), 1, "{retried}");
    assert_eq!(retried["audit"][0]["action"], "retry");
    eventually(
        Duration::from_secs(20),
        "the retried job is done",
        || async {
            let (_, job) = call(&app, Method::GET, &format!("/internal/ops/jobs/{id}")).await;
            (job["state"] == "done").then_some(())
        },
    )
    .await;
    let completions: i32 =
        sqlx::query_scalar("SELECT completions FROM queue_canaries WHERE id = $1::uuid")
            .bind(canary["id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(completions, 1);
    let (status, problem) = call(
        &app,
        Method::POST,
        &format!("/internal/ops/jobs/{id}/retry"),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("invalid_transition")),
        "a done job is not retried"
    );
    let (_, queues) = call(&app, Method::GET, "/internal/ops/queues").await;
    let canaries = queue(&queues, "queue_canary");
    assert_eq!(
        (
            canaries["dead"].as_i64(),
            canaries["done_last_hour"].as_i64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(queue(&queues, "noop")["killed"], 1);

    // Schedules: each cron job with its next run.
    let (_, schedules) = call(&app, Method::GET, "/internal/ops/schedules").await;
    let names: Vec<&str> = schedules
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "expiry_sweep",
            "maintenance",
            "contract_reminder",
            "trust_sweep",
            "read_model_rebuild"
        ]
    );
    for s in schedules.as_array().unwrap() {
        let next: chrono::DateTime<chrono::Utc> = s["next_run"].as_str().unwrap().parse().unwrap();
        assert!(next > chrono::Utc::now(), "{s}");
    }

    // Only the internal key (or a dashboard session) opens these routes.
    let user = Org::new();
    let (status, _) = user.get(&app, "/internal/ops/queues").await;
    assert_eq!(status, 401);
    let response = app
        .post(&format!("/internal/ops/jobs/{id}/retry"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_signs_in_with_the_key_into_a_strict_session() {
    let app = TestApp::spawn().await;
    let http = no_redirects();
    let page = http.get(app.url("/ops")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let body = page.text().await.unwrap();
    assert!(
        body.contains(r#"name="key""#) && !body.contains("data-testid=\"queues\""),
        "a sign-in form"
    );

    let wrong = http
        .post(app.url("/ops/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("key=not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("That key is not valid."),
        "the sign-in page again, with the reason"
    );

    let signed_in = http
        .post(app.url("/ops/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={INTERNAL_KEY}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/ops");
    let set_cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["kisum_ops=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(part), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains(INTERNAL_KEY),
        "the key never travels back"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let dashboard = http
        .get(app.url("/ops"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains(r#"data-testid="queues""#)
    );
    for asset in ["/ops/app.js", "/ops/app.css", "/ops/favicon.svg"] {
        assert_eq!(
            http.get(app.url(asset)).send().await.unwrap().status(),
            200,
            "{asset}"
        );
    }
    let queues = http
        .get(app.url("/internal/ops/queues"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(queues.status(), 200);
    // Writes with the cookie also need the header a cross-site form cannot send.
    let (_, page) = call(&app, Method::GET, "/internal/ops/jobs").await;
    assert_eq!(page["items"], json!([]));
    let forged = http
        .post(app.url("/internal/ops/jobs/01ANYJOB/cancel"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let allowed = http
        .post(app.url("/internal/ops/jobs/01ANYJOB/cancel"))
        .header("cookie", &cookie)
        .header("x-ops-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 404, "past the checks, the job is unknown");
    // The session opens only the ops routes, not the other internal ones.
    let other = http
        .post(app.url(&format!(
            "/internal/admin/artist-company-requests/{}/approve",
            uuid::Uuid::now_v7()
        )))
        .header("cookie", &cookie)
        .header("x-ops-csrf", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);

    let out = http
        .post(app.url("/ops/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = http
        .get(app.url("/internal/ops/queues"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session ended on the server too");
}

#[tokio::test]
async fn metrics_are_prometheus_text_behind_the_key() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/metrics").send().await.unwrap().status(), 401);
    // Some traffic to count.
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    let response = app.internal(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for needle in [
        r#"kisum_jobs{queue="hold_expiry",state="pending"} 0"#,
        "kisum_job_oldest_pending_seconds{",
        r#"http_requests_total{method="GET",route="/healthz",status="200"}"#,
        "http_request_duration_seconds_bucket{",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

#[tokio::test]
async fn maintenance_prunes_old_done_jobs_and_keeps_dead_ones() {
    let app = TestApp::spawn().await;
    let mut conn = app.pool.acquire().await.unwrap();
    for n in 0..3 {
        shared::jobs::enqueue(
            &mut conn,
            &shared::jobs::Noop { n },
            shared::jobs::Schedule::now(),
        )
        .await
        .unwrap();
    }
    // One done long ago, one done just now, one dead long ago.
    let hours = |h: u64| Duration::from_secs(h * 3600);
    kisum_tests::queue::end_jobs(
        &app.pool,
        "noop",
        &[
            Ending::done(hours(3)),
            Ending::done(Duration::ZERO),
            Ending::dead(hours(3)),
        ],
    )
    .await;
    let _worker = WorkerProcess::spawn(&app.db.url, &[("JOB_RETENTION_HOURS", "2")]);
    shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    let left: Vec<String> = eventually(
        Duration::from_secs(20),
        "the old done job is pruned",
        || async {
            let left: Vec<String> = kisum_tests::queue::jobs(&app.pool, "noop")
                .await
                .into_iter()
                .map(|j| j.state)
                .collect();
            (left.len() == 2).then_some(left)
        },
    )
    .await;
    assert_eq!(left, vec!["done".to_owned(), "dead".to_owned()]);
}

/// Failed, dead and killed jobs stay until an operator purges them: the
/// job and its errors go, the purge is audited; done jobs (retention's)
/// and waiting ones are refused.
#[tokio::test]
async fn a_dead_job_is_purged_with_its_errors_and_audited() {
    let app = TestApp::spawn().await;
    let mut conn = app.pool.acquire().await.unwrap();
    for n in 0..3 {
        shared::jobs::enqueue(
            &mut conn,
            &shared::jobs::Noop { n },
            shared::jobs::Schedule::now(),
        )
        .await
        .unwrap();
    }
    kisum_tests::queue::end_jobs(
        &app.pool,
        "noop",
        &[Ending::dead(Duration::ZERO), Ending::done(Duration::ZERO)],
    )
    .await;
    let jobs = kisum_tests::queue::jobs(&app.pool, "noop").await;
    let id_in = |state: &str| {
        jobs.iter()
            .find(|j| j.state == state)
            .map(|j| j.id.clone())
            .unwrap_or_else(|| panic!("a {state} job in {jobs:?}"))
    };
    let (dead, done, pending) = (id_in("dead"), id_in("done"), id_in("pending"));
    sqlx::query(
        "INSERT INTO job_errors (job_id, queue, attempt, error, worker) VALUES ($1, 'noop', 1, 'boom', 'w')",
    )
    .bind(&dead)
    .execute(&app.pool)
    .await
    .unwrap();

    for (id, status) in [
        (&done, 409),
        (&pending, 409),
        (&"no-such-job".to_owned(), 404),
    ] {
        let (got, body) = call(
            &app,
            Method::POST,
            &format!("/internal/ops/jobs/{id}/purge"),
        )
        .await;
        assert_eq!(got, status, "{id}: {body}");
    }
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/internal/ops/jobs/{dead}/purge"),
    )
    .await;
    assert_eq!(status, 204);
    let left: Vec<String> = kisum_tests::queue::jobs(&app.pool, "noop")
        .await
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(!left.contains(&dead) && left.len() == 2, "{left:?}");
    let errors: i64 = sqlx::query_scalar("SELECT count(*) FROM job_errors WHERE job_id = $1")
        .bind(&dead)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(errors, 0);
    let audit: (String, String, String) =
        sqlx::query_as("SELECT action, from_status, to_status FROM ops_audit WHERE job_id = $1")
            .bind(&dead)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        audit,
        ("purge".to_owned(), "dead".to_owned(), "purged".to_owned())
    );
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/internal/ops/jobs/{dead}/purge"),
    )
    .await;
    assert_eq!(status, 404, "purged once");
}

/// What operators of many replicas see: the worker processes with their
/// heartbeats (long-gone ones pruned unless a job still names them),
/// per-minute throughput, a bulk retry of a queue's dead jobs (audited),
/// and queue counts for `/metrics` computed once for every replica.
#[tokio::test]
async fn ops_shows_worker_processes_throughput_and_retries_dead_jobs_by_queue() {
    let app = TestApp::spawn().await;
    let mut conn = app.pool.acquire().await.unwrap();
    for n in 0..7 {
        shared::jobs::enqueue(
            &mut conn,
            &shared::jobs::Noop { n },
            shared::jobs::Schedule::now(),
        )
        .await
        .unwrap();
    }
    drop(conn);
    // Two pods long gone: one a done job still names, one nothing names.
    let hours = |h: u64| Duration::from_secs(h * 3600);
    for pod in ["noop@gone-pod-a:1#0", "noop@gone-pod-b:1#0"] {
        kisum_tests::queue::add_worker(&app.pool, pod, "noop", hours(3), hours(4)).await;
    }
    // Ended 1 to 7 minutes ago: four done (the first by the gone pod a),
    // three dead.
    let endings: Vec<Ending> = (1..=7)
        .map(|n: u64| {
            let ago = Duration::from_secs(n * 60);
            match n {
                1 => Ending::done(ago).by("noop@gone-pod-a:1#0"),
                2..=4 => Ending::done(ago),
                _ => Ending::dead(ago),
            }
        })
        .collect();
    kisum_tests::queue::end_jobs(&app.pool, "noop", &endings).await;

    let (status, series) = call(&app, Method::GET, "/internal/ops/throughput").await;
    assert_eq!(status, 200);
    let noop = queue(&series, "noop");
    let done: Vec<i64> = noop["done_per_minute"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect();
    assert_eq!(done.len(), 60);
    assert_eq!(done.iter().sum::<i64>(), 4, "{noop}");
    assert_eq!(done[59], 0, "nothing finished this minute");
    assert_eq!(
        done[55..59],
        [1, 1, 1, 1],
        "one a minute, 1 to 4 minutes ago"
    );

    // Scrapes within 10 s share one count of the queue.
    let scrape = |app: &TestApp| {
        let request = app.internal(Method::GET, "/metrics");
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let first = scrape(&app).await;
    assert!(
        first.contains(r#"kisum_jobs{queue="noop",state="dead"} 3"#),
        "{first}"
    );
    let taken: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT taken_at FROM ops_snapshots WHERE name = 'queue_stats'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    scrape(&app).await;
    let again: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT taken_at FROM ops_snapshots WHERE name = 'queue_stats'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(taken, again, "the second scrape reads the shared snapshot");

    let (status, _) = call(
        &app,
        Method::POST,
        "/internal/ops/queues/no_such_queue/retry-dead",
    )
    .await;
    assert_eq!(status, 404);
    let (status, outcome) = call(&app, Method::POST, "/internal/ops/queues/noop/retry-dead").await;
    assert_eq!(status, 200, "{outcome}");
    assert_eq!(outcome, json!({"queue": "noop", "retried": 3}));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ops_audit WHERE queue = 'noop' AND action = 'retry' AND from_status = 'dead'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 3);
    let (_, outcome) = call(&app, Method::POST, "/internal/ops/queues/noop/retry-dead").await;
    assert_eq!(outcome["retried"], 0, "nothing dead is left");

    let worker = WorkerProcess::spawn(&app.db.url, &[]);
    let pid = worker.pid();
    eventually(Duration::from_secs(30), "the retried jobs run", || async {
        let jobs = kisum_tests::queue::jobs(&app.pool, "noop").await;
        let left = jobs.iter().filter(|j| j.state != "done").count();
        (left == 0).then_some(())
    })
    .await;
    let mut conn = app.pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, 1_790_000_900)
        .await
        .unwrap();
    drop(conn);
    let workers = eventually(Duration::from_secs(20), "maintenance prunes", || async {
        let (_, workers) = call(&app, Method::GET, "/internal/ops/workers").await;
        let left: Vec<String> = kisum_tests::queue::workers(&app.pool)
            .await
            .into_iter()
            .filter(|w| w.id.contains("gone-pod"))
            .map(|w| w.id)
            .collect();
        (left == ["noop@gone-pod-a:1#0"]).then_some(workers)
    })
    .await;
    let workers = workers.as_array().unwrap();
    assert_eq!(workers.len(), 1, "gone pods are not shown: {workers:?}");
    let live = &workers[0];
    assert_eq!(live["status"], "live");
    assert!(
        live["instance"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{pid}"))
    );
    assert!(live["queues"].as_array().unwrap().contains(&json!("noop")));
    assert!(live["last_heartbeat"].is_string());
}
