-- Holds (SPEC 5.4) and the append-only booking activity trail.

CREATE TABLE holds (
    id                  uuid        PRIMARY KEY,
    artist_id           uuid        NOT NULL REFERENCES artists (id),
    hold_date           date        NOT NULL,
    agency_company_id   uuid        NOT NULL REFERENCES companies (id),
    promoter_company_id uuid        NOT NULL REFERENCES companies (id),
    offer_id            uuid,
    priority            integer     NOT NULL CHECK (priority >= 1),
    status              text        NOT NULL CHECK (status IN ('active', 'challenged', 'released', 'expired', 'converted')),
    expires_at          timestamptz NOT NULL,
    note                text        CHECK (length(note) <= 2000),
    version             integer     NOT NULL DEFAULT 1,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    ended_at            timestamptz
);
-- At most one live hold per (artist, date, priority).
CREATE UNIQUE INDEX holds_live_priority_uniq
    ON holds (artist_id, hold_date, priority) WHERE status IN ('active', 'challenged');
CREATE INDEX holds_artist_date_idx ON holds (artist_id, hold_date);
CREATE INDEX holds_due_idx ON holds (expires_at) WHERE status IN ('active', 'challenged');
CREATE INDEX holds_agency_idx ON holds (agency_company_id, id);
CREATE INDEX holds_promoter_idx ON holds (promoter_company_id, id);

-- Every state change of a request, offer, hold, booking, contract or
-- proposal; never updated or deleted.
CREATE TABLE booking_activity (
    id           uuid        PRIMARY KEY,
    artist_id    uuid        NOT NULL REFERENCES artists (id),
    subject_type text        NOT NULL CHECK (subject_type IN ('request', 'offer', 'hold', 'booking', 'contract', 'proposal')),
    subject_id   uuid        NOT NULL,
    booking_id   uuid,
    action       text        NOT NULL,
    from_status  text,
    to_status    text,
    actor        text        NOT NULL,
    details      jsonb       NOT NULL DEFAULT '{}',
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_activity_subject_idx ON booking_activity (subject_type, subject_id, at);
CREATE INDEX booking_activity_booking_idx ON booking_activity (booking_id, at) WHERE booking_id IS NOT NULL;

CREATE FUNCTION booking_activity_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'booking_activity is append-only';
END $$;
CREATE TRIGGER booking_activity_no_update BEFORE UPDATE OR DELETE ON booking_activity
    FOR EACH ROW EXECUTE FUNCTION booking_activity_append_only();
