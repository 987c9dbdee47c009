-- Foundation: idempotency records, org shortlists, queue canaries.

CREATE TABLE idempotency_keys (
    org_id            uuid        NOT NULL,
    key               text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash      bytea       NOT NULL,
    state             text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
    response_status   smallint,
    response_headers  jsonb,
    response_body     bytea,
    locked_at         timestamptz NOT NULL DEFAULT now(),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    PRIMARY KEY (org_id, key),
    CHECK (state = 'in_progress' OR response_status IS NOT NULL)
);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

CREATE TABLE shortlists (
    id          uuid        PRIMARY KEY,
    org_id      uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
    description text        CHECK (length(description) <= 2000),
    version     integer     NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX shortlists_org_name_uniq ON shortlists (org_id, lower(name));
CREATE INDEX shortlists_org_id_idx ON shortlists (org_id, id DESC);

-- A canary proves the queue end to end: the row and its job commit together;
-- the worker counts each run, so "exactly once" is observable.
CREATE TABLE queue_canaries (
    id            uuid        PRIMARY KEY,
    requested_by  text        NOT NULL,
    work_ms       integer     NOT NULL DEFAULT 0 CHECK (work_ms BETWEEN 0 AND 600000),
    fail_attempts integer     NOT NULL DEFAULT 0 CHECK (fail_attempts BETWEEN 0 AND 20),
    attempts      integer     NOT NULL DEFAULT 0,
    completions   integer     NOT NULL DEFAULT 0,
    last_worker   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
