-- Operations on the job queue (SPEC 5.9): fast counts, every error of every
-- attempt, an audit of operator actions, and browser sessions for /ops.
-- The queue's tables (schema apalis) are created before these migrations.

-- Counting jobs by state must not scan millions of done jobs: open states
-- come from a partial index, done ones by completion time.
CREATE INDEX IF NOT EXISTS kisum_jobs_open_idx ON apalis.jobs (job_type, status, run_at)
    WHERE status <> 'Done';
CREATE INDEX IF NOT EXISTS kisum_jobs_done_idx ON apalis.jobs (done_at, job_type)
    WHERE status = 'Done';

-- apalis keeps only a job's last result; the worker appends each failed
-- attempt here.
CREATE TABLE job_errors (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     text        NOT NULL,
    queue      text        NOT NULL,
    attempt    integer     NOT NULL,
    error      text        NOT NULL,
    worker     text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_errors_job_idx ON job_errors (job_id, id);
CREATE INDEX job_errors_failed_at_idx ON job_errors (failed_at);

-- Every operator action on a job.
CREATE TABLE ops_audit (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      text        NOT NULL,
    queue       text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('retry', 'cancel')),
    from_status text        NOT NULL,
    to_status   text        NOT NULL,
    actor       text        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ops_audit_job_idx ON ops_audit (job_id, id);

-- Browser sessions of the ops dashboard: the SHA-256 of the cookie value.
CREATE TABLE ops_sessions (
    token_sha256 bytea       PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX ops_sessions_expires_idx ON ops_sessions (expires_at);

-- The state a job is in, as operators see it: `pending` (due), `scheduled`
-- (due later), `running`, `done`, `failed` (an attempt failed; it will be
-- fetched again), `dead` (every attempt failed) or `killed` (cancelled).
CREATE FUNCTION kisum_job_state(status text, attempts integer, max_attempts integer, run_at timestamptz)
    RETURNS text LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE
                   WHEN status = 'Pending' AND run_at > now() THEN 'scheduled'
                   WHEN status = 'Pending' THEN 'pending'
                   WHEN status IN ('Queued', 'Running') THEN 'running'
                   WHEN status = 'Done' THEN 'done'
                   WHEN status = 'Failed' AND attempts < max_attempts THEN 'failed'
                   WHEN status = 'Failed' THEN 'dead'
                   ELSE 'killed'
                 END $$;
