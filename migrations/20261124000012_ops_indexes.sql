-- The last run of each cron schedule is found by this small index (one row
-- per tick) instead of walking the queue's jobs.
CREATE INDEX IF NOT EXISTS kisum_jobs_ticks_idx ON apalis.jobs (job_type, run_at)
    WHERE idempotency_key LIKE 'tick:%';
