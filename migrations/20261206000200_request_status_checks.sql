-- Company claims and provisioning requests share one state machine
-- (`RequestStatus`: pending, approved, rejected, withdrawn, cancelled), but
-- their CHECKs each listed a different set: the claims' allowed `revoked`,
-- which nothing writes or reads, and lacked `cancelled`; the requests' lacked
-- `withdrawn`. Both now allow exactly the machine's states. A row in a state
-- the machine does not know stops the migration, naming its table and id.

DO $$
DECLARE
    stray record;
BEGIN
    SELECT 'artists_company_claims' AS tbl, id, status INTO stray FROM artists_company_claims
     WHERE status NOT IN ('pending', 'approved', 'rejected', 'withdrawn', 'cancelled')
    UNION ALL
    SELECT 'artists_provisioning_requests', id, status FROM artists_provisioning_requests
     WHERE status NOT IN ('pending', 'approved', 'rejected', 'withdrawn', 'cancelled')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '% % has status %, which RequestStatus does not know; decide its state first',
            stray.tbl, stray.id, stray.status;
    END IF;
END $$;

ALTER TABLE artists_company_claims
    DROP CONSTRAINT artists_company_claims_status_check,
    ADD CONSTRAINT artists_company_claims_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn', 'cancelled'));

ALTER TABLE artists_provisioning_requests
    DROP CONSTRAINT artists_provisioning_requests_status_check,
    ADD CONSTRAINT artists_provisioning_requests_status_check
        CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn', 'cancelled'));
