-- The queue's wake-ups and indexes, cheaper per job.
--
-- apalis notifies `apalis::job::insert` from a row trigger: one
-- notification, built in PL/pgSQL, per inserted job, each delivered to and
-- parsed by every listening worker process. A worker only needs to know
-- which queues got due jobs, so the trigger now fires once per statement
-- and sends one notification per queue among the rows it inserted. The
-- payload keeps apalis's `job_type` field. It keeps apalis's trigger name,
-- so a later apalis migration that recreates its trigger replaces this one
-- instead of adding a second.
CREATE FUNCTION apalis.notify_inserted_queues() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('apalis::job::insert', json_build_object('job_type', q.job_type)::text)
       FROM (SELECT DISTINCT job_type FROM inserted WHERE run_at <= now()) AS q;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS notify_workers ON apalis.jobs;
CREATE TRIGGER notify_workers AFTER INSERT ON apalis.jobs
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION apalis.notify_inserted_queues();

-- Two indexes of apalis's first migration that its later ones duplicate:
-- `unique_job_id` is the primary key again and `lidx` is
-- `idx_apalis_jobs_lock_by` again. Every insert, claim and acknowledgement
-- wrote both twice.
DROP INDEX IF EXISTS apalis.unique_job_id;
DROP INDEX IF EXISTS apalis.lidx;
