-- Ownership (SPEC 5.2): company claims in-app, agency provisioning, audit.

-- At most one pending claim per (company, org).
CREATE UNIQUE INDEX artists_company_claims_pending_uniq
    ON artists_company_claims (company_id, org_id) WHERE status = 'pending';

-- An org owns at most one agency. The claim carries whether its company is
-- an agency (set from the company by trigger; a company's kind never changes).
ALTER TABLE artists_company_claims ADD COLUMN is_agency boolean NOT NULL DEFAULT false;
UPDATE artists_company_claims cl SET is_agency = (c.kind = 'agency') FROM companies c WHERE c.id = cl.company_id;
CREATE FUNCTION artists_company_claims_set_is_agency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.is_agency := EXISTS (SELECT 1 FROM companies WHERE id = NEW.company_id AND kind = 'agency');
    RETURN NEW;
END $$;
CREATE TRIGGER artists_company_claims_is_agency BEFORE INSERT OR UPDATE OF company_id ON artists_company_claims
    FOR EACH ROW EXECUTE FUNCTION artists_company_claims_set_is_agency();
CREATE UNIQUE INDEX artists_company_claims_one_agency_per_org
    ON artists_company_claims (org_id) WHERE status = 'approved' AND is_agency;

CREATE TABLE artists_provisioning_requests (
    id                uuid        PRIMARY KEY,
    org_id            uuid        NOT NULL,
    kind              text        NOT NULL CHECK (kind IN ('takeover', 'creation')),
    target_company_id uuid        REFERENCES companies (id),
    spec              jsonb,
    message           text        CHECK (length(message) <= 2000),
    status            text        NOT NULL DEFAULT 'pending'
                                  CHECK (status IN ('pending', 'approved', 'rejected', 'cancelled')),
    requested_by      text        NOT NULL,
    decided_by        text,
    reason            text        CHECK (length(reason) <= 2000),
    decided_at        timestamptz,
    company_id        uuid        REFERENCES companies (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'takeover') = (target_company_id IS NOT NULL)),
    CHECK ((kind = 'creation') = (spec IS NOT NULL)),
    CHECK ((status = 'approved') = (company_id IS NOT NULL))
);
-- One pending request per org, across kinds.
CREATE UNIQUE INDEX artists_provisioning_requests_pending_org_uniq
    ON artists_provisioning_requests (org_id) WHERE status = 'pending';
-- One pending takeover per (target company, requester org).
CREATE UNIQUE INDEX artists_provisioning_requests_pending_takeover_uniq
    ON artists_provisioning_requests (target_company_id, org_id) WHERE status = 'pending' AND kind = 'takeover';
CREATE INDEX artists_provisioning_requests_status_idx ON artists_provisioning_requests (status, id);
CREATE INDEX artists_provisioning_requests_org_idx ON artists_provisioning_requests (org_id, id);
CREATE INDEX artists_provisioning_requests_target_idx ON artists_provisioning_requests (target_company_id) WHERE status = 'pending';

-- Every ownership state change: who, when, from-to, why.
CREATE TABLE ownership_audit (
    id          uuid        PRIMARY KEY,
    entity_type text        NOT NULL CHECK (entity_type IN ('company_claim', 'provisioning_request', 'company')),
    entity_id   uuid        NOT NULL,
    action      text        NOT NULL,
    from_status text,
    to_status   text,
    org_id      uuid,
    actor       text        NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ownership_audit_entity_idx ON ownership_audit (entity_type, entity_id, at);
