-- Swaps each history table for a table partitioned by month of `at`, the
-- old table becoming its legacy partition (everything before
-- history_tables.legacy_until). Only catalog changes: the old table's
-- bound was validated and its new key built concurrently before, so the
-- ACCESS EXCLUSIVE locks taken here last as long as the catalog updates.
--
-- Constraints keep the old tables' names: an attached partition must have
-- its parent's CHECKs by name.
--
-- Keys: a partitioned table's primary key holds the partition column. No
-- foreign key points at either table, and nothing looks a row up by its
-- key alone. `booking_activity.id` is a UUIDv7 drawn per row; the key
-- (id, at) no longer proves it unique across months, which nothing relies
-- on. `contract_audit` (contract_id, seq) stays unique because its one
-- writer (`domain::contracts::audit::append`) holds the contract's row
-- lock and takes the next number; a repeated number would also fail the
-- hash chain's verification (`seq` must count 1, 2, 3, ...).

-- The activity trail.
ALTER TABLE booking_activity RENAME TO booking_activity_legacy;
ALTER TABLE booking_activity_legacy
    DROP CONSTRAINT booking_activity_pkey,
    ADD CONSTRAINT booking_activity_legacy_pkey PRIMARY KEY USING INDEX booking_activity_id_at_key;
ALTER INDEX booking_activity_subject_idx RENAME TO booking_activity_legacy_subject_idx;
ALTER INDEX booking_activity_booking_idx RENAME TO booking_activity_legacy_booking_idx;
-- The parent's row trigger is cloned onto every partition, this one included.
DROP TRIGGER booking_activity_no_update ON booking_activity_legacy;

CREATE TABLE booking_activity (
    id           uuid        NOT NULL,
    artist_id    uuid        NOT NULL CONSTRAINT booking_activity_artist_id_fkey REFERENCES artists (id),
    subject_type text        NOT NULL CONSTRAINT booking_activity_subject_type_check CHECK (subject_type IN ('request', 'offer', 'hold', 'booking', 'contract', 'proposal', 'finance')),
    subject_id   uuid        NOT NULL,
    booking_id   uuid,
    action       text        NOT NULL,
    from_status  text,
    to_status    text,
    actor        text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT booking_activity_pkey PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX booking_activity_subject_idx ON booking_activity (subject_type, subject_id, at);
CREATE INDEX booking_activity_booking_idx ON booking_activity (booking_id, at) WHERE booking_id IS NOT NULL;
CREATE TRIGGER booking_activity_no_update BEFORE UPDATE OR DELETE ON booking_activity
    FOR EACH ROW EXECUTE FUNCTION booking_activity_append_only();
-- TRUNCATE triggers are not cloned: each partition gets its own
-- (`kisum_history_partition`), the parent this one.
CREATE TRIGGER booking_activity_no_truncate BEFORE TRUNCATE ON booking_activity
    FOR EACH STATEMENT EXECUTE FUNCTION booking_activity_append_only();
CREATE TRIGGER booking_activity_no_truncate BEFORE TRUNCATE ON booking_activity_legacy
    FOR EACH STATEMENT EXECUTE FUNCTION booking_activity_append_only();

-- The contract audit (its legacy table keeps its own TRUNCATE trigger).
ALTER TABLE contract_audit RENAME TO contract_audit_legacy;
ALTER TABLE contract_audit_legacy
    DROP CONSTRAINT contract_audit_pkey,
    ADD CONSTRAINT contract_audit_legacy_pkey PRIMARY KEY USING INDEX contract_audit_seq_at_key;
DROP TRIGGER contract_audit_no_update ON contract_audit_legacy;

CREATE TABLE contract_audit (
    contract_id uuid        NOT NULL CONSTRAINT contract_audit_contract_id_fkey REFERENCES contracts (id),
    seq         integer     NOT NULL CONSTRAINT contract_audit_seq_check CHECK (seq >= 1),
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    org_id      uuid,
    action      text        NOT NULL,
    from_status text,
    to_status   text,
    details     jsonb       NOT NULL,
    prev_hash   text        NOT NULL CONSTRAINT contract_audit_prev_hash_check CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL CONSTRAINT contract_audit_hash_check CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT contract_audit_pkey PRIMARY KEY (contract_id, seq, at)
) PARTITION BY RANGE (at);
CREATE TRIGGER contract_audit_no_update BEFORE UPDATE OR DELETE ON contract_audit
    FOR EACH ROW EXECUTE FUNCTION contract_audit_append_only();
CREATE TRIGGER contract_audit_no_truncate BEFORE TRUNCATE ON contract_audit
    FOR EACH STATEMENT EXECUTE FUNCTION contract_audit_append_only();

-- Attach the old tables (their validated CHECK implies the bound: no scan)
-- and add the months from this one through three ahead.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT parent, legacy_until FROM history_tables ORDER BY parent LOOP
        EXECUTE format('ALTER TABLE public.%I ATTACH PARTITION public.%I FOR VALUES FROM (MINVALUE) TO (%L)',
                       t.parent, t.parent || '_legacy', t.legacy_until);
        INSERT INTO history_partitions (name, parent, from_at, until_at)
        VALUES (t.parent || '_legacy', t.parent, NULL, t.legacy_until);
    END LOOP;
END $$;
SELECT kisum_history_ensure(now(), 3);
