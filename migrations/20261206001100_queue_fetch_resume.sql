-- The worker's fetch reads the queue's open jobs in claim order (highest
-- priority first, then oldest) and resumes each fetch where its previous
-- claim ended, reading from the start only once a second (worker/src/queue.rs).
-- Every job a worker claims leaves an index entry behind it that stays until
-- vacuum, and while a long transaction holds the cluster's xmin (a stuck
-- session, a report on a replica with hot_standby_feedback) vacuum removes
-- none of them: a fetch that always starts at the beginning walks all of them.
--
-- A position in that order is one btree key, (-priority, run_at), so "from
-- here on" is a single range of this index. apalis's index orders priority
-- descending and run_at ascending, which no row comparison can start from;
-- it is replaced. The priority is widened before negation (no overflow) and
-- read as 0 when null, as apalis's default.
CREATE INDEX IF NOT EXISTS kisum_jobs_fetch_idx
    ON apalis.jobs (job_type, (-(coalesce(priority, 0)::bigint)), run_at)
    WHERE status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts);
DROP INDEX IF EXISTS apalis.idx_apalis_jobs_fetch_partial;

-- Each job leaves two dead row versions (its claim and its result). With
-- the default thresholds (20% of a table that keeps every finished job
-- for the retention period) autovacuum reaches the queue table rarely and
-- then has millions of versions to clear; now it comes whenever a few
-- thousand have piled up, and without pausing.
ALTER TABLE apalis.jobs SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);
