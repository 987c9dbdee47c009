-- Representation (SPEC 5.2): roster links, team assignments,
-- representation claims and disputes.
--
-- A territory is `worldwide`, or a set of areas: ISO 3166-1 country codes
-- ("NL") and ISO 3166-2 region codes ("US-CA"), as given or expanded from
-- markets; `market_ids` keeps the markets a request named.

CREATE TABLE roster_links (
    id          uuid        PRIMARY KEY,
    company_id  uuid        NOT NULL REFERENCES companies (id),
    artist_id   uuid        NOT NULL REFERENCES artists (id),
    role        text        NOT NULL CHECK (role IN ('booking', 'management')),
    worldwide   boolean     NOT NULL DEFAULT false,
    areas       text[]      NOT NULL DEFAULT '{}',
    market_ids  uuid[]      NOT NULL DEFAULT '{}',
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (worldwide OR cardinality(areas) > 0)
);
CREATE UNIQUE INDEX roster_links_company_artist_role_uniq ON roster_links (company_id, artist_id, role);
CREATE INDEX roster_links_artist_idx ON roster_links (artist_id);

CREATE TABLE team_assignments (
    id          uuid        PRIMARY KEY,
    artist_id   uuid        NOT NULL REFERENCES artists (id),
    company_id  uuid        NOT NULL REFERENCES companies (id),
    person_id   uuid        NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    role        text        NOT NULL CHECK (role IN ('responsible_agent', 'assistant', 'tour_manager', 'manager')),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX team_assignments_uniq ON team_assignments (artist_id, person_id, role);
CREATE INDEX team_assignments_artist_idx ON team_assignments (artist_id);

CREATE TABLE representation_claims (
    id           uuid        PRIMARY KEY,
    artist_id    uuid        NOT NULL REFERENCES artists (id),
    company_id   uuid        NOT NULL REFERENCES companies (id),
    org_id       uuid        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('booking', 'management')),
    worldwide    boolean     NOT NULL DEFAULT false,
    areas        text[]      NOT NULL DEFAULT '{}',
    market_ids   uuid[]      NOT NULL DEFAULT '{}',
    status       text        NOT NULL CHECK (status IN ('pending', 'disputed', 'approved', 'rejected', 'withdrawn')),
    message      text        CHECK (length(message) <= 2000),
    reason       text        CHECK (length(reason) <= 2000),
    requested_by text        NOT NULL,
    decided_by   text,
    decided_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (worldwide OR cardinality(areas) > 0)
);
-- One open claim per (artist, company, role).
CREATE UNIQUE INDEX representation_claims_open_uniq
    ON representation_claims (artist_id, company_id, role) WHERE status IN ('pending', 'disputed');
CREATE INDEX representation_claims_org_idx ON representation_claims (org_id, id);
CREATE INDEX representation_claims_artist_idx ON representation_claims (artist_id);

CREATE TABLE representation_disputes (
    id                   uuid        PRIMARY KEY,
    claim_id             uuid        NOT NULL REFERENCES representation_claims (id),
    opened_by_company_id uuid        REFERENCES companies (id),
    opened_by_org        uuid        NOT NULL,
    reason               text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    status               text        NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution           text        CHECK (resolution IN ('claim_upheld', 'claim_rejected')),
    resolution_note      text        CHECK (length(resolution_note) <= 2000),
    resolved_by          text,
    resolved_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'resolved') = (resolution IS NOT NULL))
);
-- One open dispute per claim.
CREATE UNIQUE INDEX representation_disputes_open_uniq ON representation_disputes (claim_id) WHERE status = 'open';
CREATE INDEX representation_disputes_org_idx ON representation_disputes (opened_by_org);

ALTER TABLE ownership_audit DROP CONSTRAINT ownership_audit_entity_type_check;
ALTER TABLE ownership_audit ADD CONSTRAINT ownership_audit_entity_type_check
    CHECK (entity_type IN ('company_claim', 'provisioning_request', 'company', 'representation_claim',
                           'representation_dispute', 'roster_link', 'team_assignment'));
