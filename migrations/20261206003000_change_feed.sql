-- The change feed (SPEC 5.10): one row per state change of a booking-linked
-- record, derived from `booking_activity` by a trigger (so in the same
-- transaction as the change, whichever statement records it), with the two
-- companies whose orgs may see it and the record's version after it. Served in the order of
-- (xid, seq), and only below the oldest transaction still running
-- (`pg_snapshot_xmin`), so a transaction that took its id early and
-- commits late is never passed over by a reader paging with `after=`.
CREATE TABLE org_events (
    xid                 xid8        NOT NULL DEFAULT pg_current_xact_id(),
    seq                 bigint      GENERATED ALWAYS AS IDENTITY,
    at                  timestamptz NOT NULL DEFAULT now(),
    type                text        NOT NULL,
    subject_type        text        NOT NULL,
    subject_id          uuid        NOT NULL,
    version             integer,
    agency_company_id   uuid        NOT NULL,
    promoter_company_id uuid        NOT NULL,
    data                jsonb       NOT NULL,
    PRIMARY KEY (xid, seq)
);
CREATE INDEX org_events_agency_idx ON org_events (agency_company_id, xid, seq);
CREATE INDEX org_events_promoter_idx ON org_events (promoter_company_id, xid, seq);
CREATE INDEX org_events_at_idx ON org_events (at);

-- The newest position pruned (one row): an `after=` below it may have
-- missed events, and is answered 410 `events_expired`.
CREATE TABLE org_events_pruned (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    xid  xid8    NOT NULL,
    seq  bigint  NOT NULL
);

-- One notification per inserting statement wakes each API process's
-- follower; it is delivered at commit.
CREATE FUNCTION org_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('org_events', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER org_events_notify AFTER INSERT ON org_events
    FOR EACH STATEMENT EXECUTE FUNCTION org_events_notify();

-- The event of one activity entry: `<subject>.<action>` (a logistics
-- proposal is `logistics_proposal`; an offer written is `offer.sent` or
-- `offer.drafted`), the parties and version the record has now, and only
-- the statuses in `data` (details may hold what a party may not read).
CREATE FUNCTION org_events_from_activity() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    subject  text := CASE NEW.subject_type WHEN 'proposal' THEN 'logistics_proposal' ELSE NEW.subject_type END;
    action   text := NEW.action;
    v        integer;
    agency   uuid;
    promoter uuid;
BEGIN
    IF NEW.subject_type = 'offer' AND NEW.action = 'written' THEN
        action := CASE NEW.to_status WHEN 'sent' THEN 'sent' ELSE 'drafted' END;
    END IF;
    IF NEW.subject_type = 'offer' THEN
        SELECT version, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM offers WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'request' THEN
        SELECT version, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM booking_requests WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'hold' THEN
        SELECT version, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM holds WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'booking' THEN
        SELECT version, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM bookings WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'finance' THEN
        SELECT NULL, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM bookings WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'contract' THEN
        SELECT version, agency_company_id, promoter_company_id INTO v, agency, promoter
          FROM contracts WHERE id = NEW.subject_id;
    ELSIF NEW.subject_type = 'proposal' THEN
        SELECT p.version, b.agency_company_id, b.promoter_company_id INTO v, agency, promoter
          FROM logistics_proposals p JOIN bookings b ON b.id = p.booking_id WHERE p.id = NEW.subject_id;
    END IF;
    IF agency IS NOT NULL THEN
        INSERT INTO org_events (at, type, subject_type, subject_id, version, agency_company_id, promoter_company_id, data)
        VALUES (NEW.at, subject || '.' || action, subject, NEW.subject_id, v, agency, promoter,
                jsonb_build_object('from', NEW.from_status, 'to', NEW.to_status));
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER booking_activity_events AFTER INSERT ON booking_activity
    FOR EACH ROW EXECUTE FUNCTION org_events_from_activity();
