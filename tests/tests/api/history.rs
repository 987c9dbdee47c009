//! The history tables (`booking_activity`, `contract_audit`) partitioned by
//! month: partitions ahead of every write, append-only on every partition,
//! pruning of a time window, creation raced by two workers, and archiving
//! only when asked.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Datelike, Months, Utc};
use kisum_tests::{TestDb, WorkerProcess, eventually};
use shared::history::{MONTHS_AHEAD, archive_older, ensure_partitions};
use sqlx::{PgPool, Row};

const TABLES: [&str; 2] = ["booking_activity", "contract_audit"];

/// The partitions of `table` attached now, oldest first.
async fn partitions(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = $1::regclass
          ORDER BY (SELECT p.until_at FROM history_partitions p WHERE p.name = c.relname)",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The first instant of the month (UTC) `months` after the one of `at`.
fn month_start(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    let first = at
        .date_naive()
        .with_day0(0)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    first + Months::new(months)
}

/// One row in `table` dated `at`, behind the API's back (foreign keys off
/// for the insert only).
async fn insert_row(pool: &PgPool, table: &str, at: DateTime<Utc>) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    let sql = match table {
        "booking_activity" => {
            "INSERT INTO booking_activity (id, artist_id, subject_type, subject_id, action, actor, at)
             VALUES (gen_random_uuid(), gen_random_uuid(), 'hold', gen_random_uuid(), 'placed', 'test', $1)"
        }
        _ => {
            "INSERT INTO contract_audit (contract_id, seq, at, actor, action, details, prev_hash, hash)
             VALUES (gen_random_uuid(), 1, $1, 'test', 'created', '{}', repeat('0', 64), repeat('a', 64))"
        }
    };
    sqlx::query(sql).bind(at).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn the_current_month_and_three_ahead_always_have_a_partition() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    // The migrate run that built the database made them (unless it ran
    // in an earlier month); a second run has nothing to add.
    ensure_partitions(&mut conn, now).await.unwrap();
    assert_eq!(ensure_partitions(&mut conn, now).await.unwrap(), 0);
    for table in TABLES {
        // From now through the last microsecond of the third month ahead.
        insert_row(&pool, table, now).await;
        let last = month_start(now, 4) - chrono::Duration::microseconds(1);
        insert_row(&pool, table, last).await;
    }

    // Years later, one run of the job adds that time's months, once.
    let later = now + Months::new(30);
    let created = ensure_partitions(&mut conn, later).await.unwrap();
    assert_eq!(created, 2 * (MONTHS_AHEAD + 1));
    assert_eq!(ensure_partitions(&mut conn, later).await.unwrap(), 0);
    for table in TABLES {
        insert_row(&pool, table, later).await;
        let names = partitions(&pool, table).await;
        let expected = format!("{table}_{}", month_start(later, 3).format("%Y_%m"));
        assert!(names.contains(&expected), "{names:?}");
    }
}

#[tokio::test]
async fn two_workers_adding_partitions_at_once_add_each_month_once() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    for years in 1..=5u32 {
        let at = Utc::now() + Months::new(12 * years + 6);
        let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        let (first, second) =
            tokio::join!(ensure_partitions(&mut a, at), ensure_partitions(&mut b, at));
        assert_eq!(first.unwrap() + second.unwrap(), 2 * (MONTHS_AHEAD + 1));
    }
    let registered: i64 = sqlx::query_scalar("SELECT count(*) FROM history_partitions")
        .fetch_one(&pool)
        .await
        .unwrap();
    let attached: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_inherits WHERE inhparent IN ('booking_activity'::regclass, 'contract_audit'::regclass)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(registered, attached);
}

/// UPDATE, DELETE and TRUNCATE of `relation` (a parent, a partition or an
/// archived table holding a row) are refused by the append-only guard.
async fn assert_append_only(pool: &PgPool, relation: &str) {
    for statement in [
        format!("UPDATE {relation} SET actor = 'someone else'"),
        format!("DELETE FROM {relation}"),
        format!("TRUNCATE {relation}"),
    ] {
        let refused = sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
            .execute(pool)
            .await
            .expect_err(&statement);
        assert!(
            refused.to_string().contains("is append-only"),
            "{statement}: {refused}"
        );
    }
}

#[tokio::test]
async fn every_partition_is_append_only_including_later_and_archived_ones() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    // Months the job adds later, as it would in a year.
    assert!(
        ensure_partitions(&mut conn, now + Months::new(12))
            .await
            .unwrap()
            > 0
    );
    for table in TABLES {
        let names = partitions(&pool, table).await;
        assert!(names.contains(&format!("{table}_legacy")), "{names:?}");
        assert!(names.len() >= 8, "{names:?}");
        // A row in every partition: the legacy one, this month's, later ones.
        let bounds = sqlx::query(
            "SELECT name, COALESCE(from_at, until_at - interval '1 day') AS at FROM history_partitions WHERE parent = $1",
        )
        .bind(table)
        .fetch_all(&pool)
        .await
        .unwrap();
        for row in &bounds {
            insert_row(&pool, table, row.get("at")).await;
        }
        assert_append_only(&pool, table).await;
        for name in &names {
            assert_append_only(&pool, name).await;
        }
    }
    let archived = archive_older(&pool, 1, now + Months::new(30))
        .await
        .unwrap();
    assert!(archived.len() >= 16, "{archived:?}");
    for name in &archived {
        assert_append_only(&pool, &format!("archive.{name}")).await;
    }
}

#[tokio::test]
async fn a_24_month_window_reads_only_its_partitions() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let mut conn = pool.acquire().await.unwrap();
    // Three years of months after the legacy partition.
    let now = Utc::now() + Months::new(36);
    for months in (0..=36).step_by(4) {
        ensure_partitions(&mut conn, now - Months::new(months))
            .await
            .unwrap();
    }
    let all = partitions(&pool, "booking_activity").await;
    assert!(all.len() > 30, "{all:?}");
    let since = now - Months::new(24);
    let first_read = format!("booking_activity_{}", since.format("%Y_%m"));
    let plan_of = |rows: Vec<String>| -> BTreeSet<String> {
        all.iter()
            .filter(|p| rows.iter().any(|line| line.contains(&format!(" on {p} "))))
            .cloned()
            .collect()
    };
    // Pruned when planned with the window's start known...
    let planned: Vec<String> = sqlx::query_scalar(
        "EXPLAIN (COSTS OFF) SELECT subject_type, count(*) FROM booking_activity WHERE at >= $1 GROUP BY subject_type",
    )
    .bind(since)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let read = plan_of(planned.clone());
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|p| *p != "booking_activity_legacy" && p.as_str() >= first_read.as_str())
        .cloned()
        .collect();
    assert_eq!(read, expected, "{}", planned.join("\n"));
    assert!(!read.contains("booking_activity_legacy"));
    assert!(read.len() <= 25 + MONTHS_AHEAD as usize, "{read:?}");

    // ...and when a generic plan of the statement prunes at execution.
    sqlx::raw_sql(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE window_read(timestamptz) AS
             SELECT subject_type, count(*) FROM booking_activity WHERE at >= $1 GROUP BY subject_type",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    let executed: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE window_read('{}')",
        since.to_rfc3339()
    )))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let removed = executed
        .iter()
        .find_map(|line| line.trim().strip_prefix("Subplans Removed: "))
        .unwrap_or_else(|| panic!("no run-time pruning:\n{}", executed.join("\n")));
    assert_eq!(
        removed.parse::<usize>().unwrap(),
        all.len() - expected.len(),
        "{}",
        executed.join("\n")
    );
}

#[tokio::test]
async fn old_partitions_are_archived_only_when_asked() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let now = Utc::now();
    let mut conn = pool.acquire().await.unwrap();
    insert_row(&pool, "booking_activity", now).await;
    let before = partitions(&pool, "booking_activity").await;

    // Nothing has ended two years ago yet.
    assert!(archive_older(&pool, 24, now).await.unwrap().is_empty());

    // Three years on: the legacy partition and the first months have.
    let later = now + Months::new(36);
    ensure_partitions(&mut conn, later).await.unwrap();
    let (a, b) = tokio::join!(
        archive_older(&pool, 24, later),
        archive_older(&pool, 24, later)
    );
    let mut archived = a.unwrap();
    archived.extend(b.unwrap());
    let cutoff = month_start(later, 0) - Months::new(24);
    let expected: i64 =
        sqlx::query_scalar("SELECT count(*) FROM history_partitions WHERE until_at <= $1")
            .bind(cutoff)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(archived.len() as i64, expected, "each once: {archived:?}");
    for table in TABLES {
        assert!(
            archived.contains(&format!("{table}_legacy")),
            "{archived:?}"
        );
    }
    let after = partitions(&pool, "booking_activity").await;
    for name in &before {
        assert!(!after.contains(name), "{name} still attached: {after:?}");
        let schema: String = sqlx::query_scalar(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = $1",
        )
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(schema, "archive", "{name}");
    }
    // The rows left the parent and wait in the archive, whole.
    let (live, kept): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM booking_activity), (SELECT count(*) FROM archive.booking_activity_legacy)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let this_month = format!("booking_activity_{}", now.format("%Y_%m"));
    let in_month: i64 = if before.contains(&this_month) {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM archive.{this_month}"
        )))
        .fetch_one(&pool)
        .await
        .unwrap()
    } else {
        0
    };
    assert_eq!((live, kept + in_month), (0, 1));
    assert!(archive_older(&pool, 24, later).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_maintenance_job_adds_a_missing_month() {
    let db = TestDb::migrated().await;
    let pool = db.pool().await;
    let month = format!(
        "booking_activity_{}",
        month_start(Utc::now(), MONTHS_AHEAD as u32).format("%Y_%m")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {month}; DELETE FROM history_partitions WHERE name = '{month}'"
    )))
    .execute(&pool)
    .await
    .unwrap();
    let _worker = WorkerProcess::spawn(&db.url, &[]);
    let mut conn = pool.acquire().await.unwrap();
    shared::jobs::enqueue_tick::<shared::jobs::Maintenance>(&mut conn, 1_790_000_000)
        .await
        .unwrap();
    eventually(Duration::from_secs(60), "the month's partition", || async {
        partitions(&pool, "booking_activity")
            .await
            .contains(&month)
            .then_some(())
    })
    .await;
}
