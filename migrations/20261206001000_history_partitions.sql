-- The activity trail and the contract audit become monthly partitions of
-- their `at`, in steps that never hold a long lock (this migration and the
-- next four): here, the bookkeeping, the function that adds a month, and a
-- CHECK (NOT VALID, so no scan) bounding each table's existing rows; then
-- the CHECK is validated without blocking writes, the keys the partitioned
-- tables need are built concurrently, and the tables are swapped for
-- partitioned ones that take the old ones as their first partition (the
-- validated CHECK spares that attach its scan).

CREATE SCHEMA IF NOT EXISTS archive;

-- The partitioned history tables, and where each one's legacy partition
-- (every row from before partitioning) ends: at the start of the month
-- after the one this runs in (or the one after that, in a month's last
-- week), so rows written while the migrations run still fit it.
CREATE TABLE history_tables (
    parent       text        PRIMARY KEY,
    legacy_until timestamptz NOT NULL
);
INSERT INTO history_tables (parent, legacy_until)
SELECT t, (date_trunc('month', (now() + interval '7 days') AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
  FROM unnest(ARRAY['booking_activity', 'contract_audit']) t;

-- Every partition of a history table and its range (`from_at` NULL: from
-- the beginning); `archived_at` once it is detached into `archive`.
CREATE TABLE history_partitions (
    name        text        PRIMARY KEY,
    parent      text        NOT NULL REFERENCES history_tables (parent),
    from_at     timestamptz,
    until_at    timestamptz NOT NULL,
    archived_at timestamptz
);
CREATE INDEX history_partitions_until_idx ON history_partitions (until_at) WHERE archived_at IS NULL;

-- Adds the partition of `history_table` for the month (UTC) holding `in_month`,
-- named `<table>_YYYY_MM`, with the table's TRUNCATE guard (row triggers
-- are cloned from the parent; statement triggers are not). Returns whether
-- it created one: a month that exists or that the legacy partition holds is
-- left alone. Callers at once serialize on a transaction advisory lock, so
-- two workers creating the same month cannot collide.
CREATE FUNCTION kisum_history_partition(history_table text, in_month timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first_day timestamp   := date_trunc('month', in_month AT TIME ZONE 'UTC');
    from_at   timestamptz := first_day AT TIME ZONE 'UTC';
    until_at  timestamptz := (first_day + interval '1 month') AT TIME ZONE 'UTC';
    part      text        := history_table || '_' || to_char(first_day, 'YYYY_MM');
    legacy    timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('kisum.history_partitions'));
    SELECT t.legacy_until INTO legacy FROM history_tables t WHERE t.parent = history_table;
    IF legacy IS NULL THEN
        RAISE EXCEPTION '% is not a history table', history_table;
    END IF;
    IF from_at < legacy OR EXISTS (SELECT 1 FROM history_partitions p WHERE p.name = part) THEN
        RETURN false;
    END IF;
    -- Created apart and attached: ATTACH takes SHARE UPDATE EXCLUSIVE on
    -- the parent, which reads and writes pass, where CREATE TABLE ...
    -- PARTITION OF would take ACCESS EXCLUSIVE. Cloning the foreign key
    -- briefly locks the referenced table against writes: never wait long.
    PERFORM set_config('lock_timeout', '10s', true);
    EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part, history_table);
    EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (%L) TO (%L)',
                   history_table, part, from_at, until_at);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON public.%I FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                   history_table || '_no_truncate', part, history_table || '_append_only');
    INSERT INTO history_partitions (name, parent, from_at, until_at) VALUES (part, history_table, from_at, until_at);
    RETURN true;
END $$;

-- Makes sure every history table has its partitions from the month (UTC)
-- of `from_month` through `ahead` months later; returns how many it created.
CREATE FUNCTION kisum_history_ensure(from_month timestamptz, ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    t       text;
    i       integer;
BEGIN
    FOR t IN SELECT parent FROM history_tables ORDER BY parent LOOP
        FOR i IN 0..ahead LOOP
            IF kisum_history_partition(t, (date_trunc('month', from_month AT TIME ZONE 'UTC') + make_interval(months => i)) AT TIME ZONE 'UTC') THEN
                created := created + 1;
            END IF;
        END LOOP;
    END LOOP;
    RETURN created;
END $$;

-- Moves a detached partition to `archive` (same name) with its table's
-- UPDATE/DELETE guard (the parent's cloned trigger left with the detach;
-- its TRUNCATE guard stays) and marks it archived; returns whether it did.
-- Idempotent; refuses a partition still attached.
CREATE FUNCTION kisum_history_archive(part text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    history_table text;
    rel           regclass := to_regclass(format('public.%I', part));
BEGIN
    SELECT p.parent INTO history_table FROM history_partitions p
     WHERE p.name = part AND p.archived_at IS NULL FOR UPDATE;
    IF history_table IS NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = rel) THEN
        RAISE EXCEPTION '% is still a partition of %', part, history_table;
    END IF;
    IF rel IS NOT NULL THEN
        EXECUTE format('ALTER TABLE public.%I SET SCHEMA archive', part);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON archive.%I FOR EACH ROW EXECUTE FUNCTION %I()',
                       history_table || '_no_update', part, history_table || '_append_only');
    END IF;
    UPDATE history_partitions SET archived_at = now() WHERE name = part;
    RETURN true;
END $$;

-- Bound the existing rows (no scan: validated by the next migration).
DO $$
DECLARE
    until_at timestamptz;
BEGIN
    SELECT legacy_until INTO until_at FROM history_tables WHERE parent = 'booking_activity';
    EXECUTE format('ALTER TABLE booking_activity ADD CONSTRAINT booking_activity_legacy_range CHECK (at < %L) NOT VALID', until_at);
    SELECT legacy_until INTO until_at FROM history_tables WHERE parent = 'contract_audit';
    EXECUTE format('ALTER TABLE contract_audit ADD CONSTRAINT contract_audit_legacy_range CHECK (at < %L) NOT VALID', until_at);
END $$;
