-- Contracts (SPEC 5.5): template libraries, booking-linked contracts with
-- versions, signers and signatures, a hash-chained append-only audit,
-- rendered documents and signature reminders.

-- A company's template library; an edit makes a new version, never an
-- overwrite, so a contract can always say which text it came from.
CREATE TABLE contract_templates (
    id              uuid        PRIMARY KEY,
    company_id      uuid        NOT NULL REFERENCES companies (id),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description     text        CHECK (length(description) <= 2000),
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    current_version integer     NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    version         integer     NOT NULL DEFAULT 1,
    created_by      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_templates_company_idx ON contract_templates (company_id, id);

CREATE TABLE contract_template_versions (
    template_id uuid        NOT NULL REFERENCES contract_templates (id),
    number      integer     NOT NULL CHECK (number >= 1),
    body        text        NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 204800),
    variables   text[]      NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, number)
);

CREATE TABLE contracts (
    id                  uuid        PRIMARY KEY,
    booking_id          uuid        NOT NULL REFERENCES bookings (id),
    artist_id           uuid        NOT NULL REFERENCES artists (id),
    agency_company_id   uuid        NOT NULL REFERENCES companies (id),
    promoter_company_id uuid        NOT NULL REFERENCES companies (id),
    template_id         uuid,
    template_version    integer,
    title               text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    status              text        NOT NULL CHECK (status IN ('draft', 'out_for_signature', 'partially_signed', 'signed', 'declined', 'void')),
    current_version     integer     NOT NULL DEFAULT 1 CHECK (current_version >= 1),
    expires_at          timestamptz,
    sent_at             timestamptz,
    signed_at           timestamptz,
    -- Why it was declined or voided.
    status_reason       text        CHECK (length(status_reason) <= 2000),
    -- The platform's Ed25519 signature over the chain head and the final
    -- version's hash, set when the contract becomes signed.
    seal                jsonb,
    version             integer     NOT NULL DEFAULT 1,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (template_id, template_version) REFERENCES contract_template_versions (template_id, number),
    CHECK ((status = 'signed') = (seal IS NOT NULL))
);
-- One live contract per booking: a new one only after the last is void or declined.
CREATE UNIQUE INDEX contracts_one_live_per_booking
    ON contracts (booking_id) WHERE status IN ('draft', 'out_for_signature', 'partially_signed', 'signed');
CREATE INDEX contracts_booking_idx ON contracts (booking_id, id);
CREATE INDEX contracts_agency_idx ON contracts (agency_company_id, id);
CREATE INDEX contracts_promoter_idx ON contracts (promoter_company_id, id);
CREATE INDEX contracts_awaiting_idx ON contracts (sent_at) WHERE status IN ('out_for_signature', 'partially_signed');
CREATE INDEX contracts_expiring_idx ON contracts (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('draft', 'out_for_signature', 'partially_signed');

-- Each version's exact text and the SHA-256 of its UTF-8 bytes: what is signed.
CREATE TABLE contract_versions (
    contract_id    uuid        NOT NULL REFERENCES contracts (id),
    number         integer     NOT NULL CHECK (number >= 1),
    body           text        NOT NULL CHECK (octet_length(body) BETWEEN 1 AND 1048576),
    content_sha256 text        NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    source         text        NOT NULL CHECK (source IN ('template', 'edited')),
    note           text        CHECK (length(note) <= 2000),
    created_by     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, number)
);
CREATE INDEX contract_versions_sha_idx ON contract_versions (content_sha256);

CREATE TABLE contract_signers (
    id               uuid        PRIMARY KEY,
    contract_id      uuid        NOT NULL REFERENCES contracts (id),
    name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email            text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    party            text        NOT NULL CHECK (party IN ('agency', 'promoter')),
    signing_order    integer     NOT NULL CHECK (signing_order BETWEEN 1 AND 20),
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'signed', 'declined')),
    decline_reason   text        CHECK (length(decline_reason) <= 2000),
    created_by       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contract_signers_email_uniq ON contract_signers (contract_id, lower(email));
CREATE INDEX contract_signers_contract_idx ON contract_signers (contract_id, signing_order, id);

-- A signature binds one signer to one version's exact bytes (its hash).
-- Signatures of earlier versions stay as history; only the current
-- version's count.
CREATE TABLE contract_signatures (
    id                uuid        PRIMARY KEY,
    contract_id       uuid        NOT NULL,
    signer_id         uuid        NOT NULL REFERENCES contract_signers (id),
    version_number    integer     NOT NULL,
    content_sha256    text        NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    typed_name        text        NOT NULL CHECK (length(typed_name) BETWEEN 1 AND 200),
    consent_statement text        NOT NULL,
    user_id           text        NOT NULL,
    org_id            uuid        NOT NULL,
    ip                text        CHECK (length(ip) <= 64),
    user_agent        text        CHECK (length(user_agent) <= 1000),
    signed_at         timestamptz NOT NULL,
    FOREIGN KEY (contract_id, version_number) REFERENCES contract_versions (contract_id, number),
    CONSTRAINT contract_signatures_once UNIQUE (signer_id, version_number)
);
CREATE INDEX contract_signatures_contract_idx ON contract_signatures (contract_id, version_number);

-- Attachments (rider, stage plot) as metadata: the file lives elsewhere,
-- its hash pins which file was meant.
CREATE TABLE contract_attachments (
    id          uuid        PRIMARY KEY,
    contract_id uuid        NOT NULL REFERENCES contracts (id),
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    url         text        NOT NULL CHECK (length(url) <= 2000),
    media_type  text        NOT NULL CHECK (length(media_type) <= 200),
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes  bigint      CHECK (size_bytes >= 0),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contract_attachments_contract_idx ON contract_attachments (contract_id, id);

-- The audit trail: append-only and hash-chained. Each entry's hash covers
-- the previous entry's hash and a canonical encoding of its own fields, so
-- an edit anywhere breaks every later link.
CREATE TABLE contract_audit (
    contract_id uuid        NOT NULL REFERENCES contracts (id),
    seq         integer     NOT NULL CHECK (seq >= 1),
    at          timestamptz NOT NULL,
    actor       text        NOT NULL,
    org_id      uuid,
    action      text        NOT NULL,
    from_status text,
    to_status   text,
    details     jsonb       NOT NULL,
    prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (contract_id, seq)
);

CREATE FUNCTION contract_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'contract_audit is append-only';
END $$;
CREATE TRIGGER contract_audit_no_update BEFORE UPDATE OR DELETE ON contract_audit
    FOR EACH ROW EXECUTE FUNCTION contract_audit_append_only();
CREATE TRIGGER contract_audit_no_truncate BEFORE TRUNCATE ON contract_audit
    FOR EACH STATEMENT EXECUTE FUNCTION contract_audit_append_only();

-- Rendered documents, once per version and what the page shows besides
-- the body (the signature blocks): served from here afterwards.
CREATE TABLE contract_documents (
    contract_id    uuid        NOT NULL,
    version_number integer     NOT NULL,
    format         text        NOT NULL CHECK (format IN ('pdf', 'html')),
    render_key     text        NOT NULL CHECK (render_key ~ '^[0-9a-f]{64}$'),
    bytes          bytea       NOT NULL,
    sha256         text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contract_id, version_number, format, render_key),
    FOREIGN KEY (contract_id, version_number) REFERENCES contract_versions (contract_id, number)
);
CREATE INDEX contract_documents_sha_idx ON contract_documents (sha256);
-- PDFs are compressed already: store them out of line without trying again.
ALTER TABLE contract_documents ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- Signature reminders: one row per (signer, version, interval), so two
-- workers can never remind a signer twice in one interval.
CREATE TABLE contract_reminders (
    id             uuid        PRIMARY KEY,
    contract_id    uuid        NOT NULL REFERENCES contracts (id),
    signer_id      uuid        NOT NULL REFERENCES contract_signers (id),
    version_number integer     NOT NULL,
    slot           integer     NOT NULL CHECK (slot >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    delivered_at   timestamptz,
    attempts       integer     NOT NULL DEFAULT 0,
    last_error     text,
    CONSTRAINT contract_reminders_once UNIQUE (signer_id, version_number, slot)
);
