-- Personal data that can be erased without breaking what must stay
-- verifiable (`shared::privacy`).

-- Contract audit entries keep personal values (names, emails, typed
-- signatures, IPs, user agents, free-text reasons) beside the chain: the
-- hashed details hold `{"$personal": sha256(salt || value)}` in their place
-- and `contract_audit_personal` holds the salt and the value. Erasing a
-- value deletes its row; the entry, its hash and the seal over the chain
-- are untouched. Entries written before this (format 1) hold the values
-- inline; `shared::domain::contracts::audit::upgrade` moves them out once,
-- recomputes the chain and reseals a sealed contract.
ALTER TABLE contract_audit ADD COLUMN format smallint NOT NULL DEFAULT 1
    CONSTRAINT contract_audit_format_check CHECK (format IN (1, 2));
ALTER TABLE contract_audit ALTER COLUMN format SET DEFAULT 2;
CREATE INDEX contract_audit_format_1_idx ON contract_audit (contract_id) WHERE format = 1;

CREATE TABLE contract_audit_personal (
    contract_id uuid    NOT NULL REFERENCES contracts (id),
    seq         integer NOT NULL,
    digest      text    NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
    salt        text    NOT NULL CHECK (salt ~ '^[0-9a-f]{32}$'),
    value       jsonb   NOT NULL,
    PRIMARY KEY (contract_id, seq, digest)
);

-- The one change an audit entry may undergo: its upgrade, once, from
-- format 1 to format 2, keeping its place, time, actor and action.
CREATE OR REPLACE FUNCTION contract_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.format = 1 AND NEW.format = 2
       AND NEW.contract_id = OLD.contract_id AND NEW.seq = OLD.seq AND NEW.at = OLD.at
       AND NEW.actor = OLD.actor AND NEW.action = OLD.action
       AND NEW.from_status IS NOT DISTINCT FROM OLD.from_status
       AND NEW.to_status IS NOT DISTINCT FROM OLD.to_status
       AND NEW.org_id IS NOT DISTINCT FROM OLD.org_id THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'contract_audit is append-only';
END $$;

-- The activity trail is append-only too, except that an erasure
-- (`shared::privacy::erase`, which sets `kisum.erasure` for its own
-- transaction) may rewrite an entry's details, and nothing else of it.
CREATE OR REPLACE FUNCTION booking_activity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('kisum.erasure', true) = 'on'
       AND (to_jsonb(NEW) - 'details') = (to_jsonb(OLD) - 'details') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'booking_activity is append-only';
END $$;

-- What each erasure did and why, without the data it erased. `subject`
-- is `person:<uuid>` or `email-sha256:<hex of the lowercased address>`.
CREATE TABLE privacy_erasures (
    id           uuid        PRIMARY KEY,
    subject      text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    reason       text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    erased       jsonb       NOT NULL,
    retained     jsonb       NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX privacy_erasures_subject_idx ON privacy_erasures (subject, requested_at);

-- Retention pruning finds old signatures and cancelled bookings by time.
CREATE INDEX contract_signatures_evidence_idx ON contract_signatures (signed_at)
    WHERE ip IS NOT NULL OR user_agent IS NOT NULL;
-- When retention removed a cancelled booking's personal data.
ALTER TABLE bookings ADD COLUMN personal_data_pruned_at timestamptz;
CREATE INDEX bookings_cancelled_unpruned_idx ON bookings (ended_at)
    WHERE status = 'cancelled' AND personal_data_pruned_at IS NULL;
